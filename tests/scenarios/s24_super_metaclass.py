"""Super().m() overrides (the qualname MRO scan must not stop at the first name
match); metaclass __call__."""


class Base:
    def m(self):
        return "base"


class Mid(Base):
    def m(self):
        return "mid+" + super().m()


class Leaf(Mid):
    def m(self):
        return "leaf+" + super().m()


class Meta(type):
    def __call__(cls, *args):
        obj = super().__call__(*args)
        obj.tagged = True
        return obj


class Made(metaclass=Meta):
    def __init__(self, v):
        self.v = v


def main():
    return Leaf().m(), Made(2).tagged
