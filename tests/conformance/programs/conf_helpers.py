"""A local module imported by imports.py."""

GREETING = "hello"


def greet(name):
    return "%s, %s" % (GREETING, name)


class Registry:
    def __init__(self):
        self.items = []

    def add(self, item):
        self.items.append(item)
        return len(self.items)


DEFAULT = Registry()
DEFAULT.add("builtin")
