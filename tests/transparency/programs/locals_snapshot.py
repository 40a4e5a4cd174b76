"""``locals()`` is a snapshot: a dict taken before more names are bound does not grow (on
3.8-3.12 ``locals()`` returns the frame's one dict, refreshed only by the next call); writes
to it do not change the variables; a class body's namespace and ``vars()`` likewise."""


def snapshot():
    first = 1
    taken = locals()
    second = 2
    taken["first"] = 100
    return sorted(taken), first, second


def twice():
    a = 1
    one = locals()
    b = 2
    two = locals()
    return sorted(one), sorted(two), one is two


def from_a_closure():
    outer = "o"

    def inner():
        return sorted(locals()), outer

    result = inner()
    return result, sorted(locals())


class Body:
    x = 1
    names = sorted(locals())
    y = 2


print("snapshot", snapshot())
print("twice", twice())
print("closure", from_a_closure())
print("class body", Body.names)
