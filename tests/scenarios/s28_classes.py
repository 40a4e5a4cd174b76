"""Class bodies, a class inside a function, nested classes, name-mangled methods."""


def make():
    class Local:
        kind = "local"

        def get(self):
            return self.kind

        class Nested:
            def __hidden(self):
                return "hidden"

            def show(self):
                return self.__hidden()

    return Local


def main():
    Local = make()

    class Inline:
        def __private(self):
            return "private"

        def call(self):
            return self.__private()

    return Local().get(), Local.Nested().show(), Inline().call()
