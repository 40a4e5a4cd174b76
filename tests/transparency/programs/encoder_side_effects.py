"""Objects that count every special method a value encoder might call (``__str__``,
``__format__``, ``__len__``, ``__iter__``, ``__getattr__``, ``__getattribute__``, ``__eq__``,
``__hash__``, ``__bool__``, a property, ``__class__``), containers that override them, an
iterator and a generator kept in locals: nothing is called, nothing is consumed."""
import collections

calls = collections.Counter()


class Probe:
    def __str__(self):
        calls["__str__"] += 1
        return "probe"

    def __format__(self, spec):
        calls["__format__"] += 1
        return "probe"

    def __len__(self):
        calls["__len__"] += 1
        return 1

    def __iter__(self):
        calls["__iter__"] += 1
        return iter(())

    def __getattr__(self, name):
        calls["__getattr__ " + name] += 1
        raise AttributeError(name)

    def __eq__(self, other):
        calls["__eq__"] += 1
        return self is other

    def __hash__(self):
        calls["__hash__"] += 1
        return 1

    def __bool__(self):
        calls["__bool__"] += 1
        return True

    @property
    def prop(self):
        calls["prop"] += 1
        return 1


class Watched(Probe):
    def __getattribute__(self, name):
        if not name.startswith("__"):
            calls["__getattribute__ " + name] += 1
        return object.__getattribute__(self, name)


class Sneaky:
    @property
    def __class__(self):
        calls["__class__"] += 1
        return int


class CountingList(list):
    def __iter__(self):
        calls["list.__iter__"] += 1
        return list.__iter__(self)

    def __len__(self):
        calls["list.__len__"] += 1
        return list.__len__(self)


class CountingDict(dict):
    def items(self):
        calls["dict.items"] += 1
        return dict.items(self)

    def keys(self):
        calls["dict.keys"] += 1
        return dict.keys(self)


def numbers():
    yield 1
    yield 2


def hold(probe, watched, sneaky):
    items = CountingList([probe, watched])
    mapping = CountingDict(a=probe)
    iterator = iter([10, 20, 30])
    generator = numbers()
    total = 0
    total += 1
    return [next(iterator), next(generator), len(mapping), total]


print(hold(Probe(), Watched(), Sneaky()))
print("calls", sorted(calls.items()))
