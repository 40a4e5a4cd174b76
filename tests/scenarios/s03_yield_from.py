"""Yield from delegation, with throw() and close() passed through."""


def inner():
    try:
        yield "a"
        yield "b"
    except ValueError:
        yield "inner caught"
    finally:
        note()


def note():
    return 1


def outer():
    result = yield from inner()
    yield "outer after %r" % (result,)


def main():
    g = outer()
    first = next(g)
    thrown = g.throw(ValueError("t"))
    g2 = outer()
    next(g2)
    g2.close()
    return first, thrown
