"""§7.25: __del__ triggered by del, by rebinding, and by the garbage collector."""
import gc


class Dropped:
    def __del__(self):
        finalised.append("dropped")


class Rebound:
    def __del__(self):
        finalised.append("rebound")


class Cyclic:
    def __init__(self):
        self.me = self

    def __del__(self):
        finalised.append("cyclic")


finalised = []


def main():
    x = Dropped()
    del x
    y = Rebound()
    y = None
    z = Cyclic()
    z = None
    gc.collect()
    return sorted(finalised), y
