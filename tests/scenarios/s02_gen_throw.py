"""Gen.throw() caught then yielding again; throw() not caught."""


def catcher():
    while True:
        try:
            yield "ready"
        except ValueError as exc:
            yield "caught %s" % exc


def fragile():
    yield 1
    yield 2


def main():
    g = catcher()
    next(g)
    got = g.throw(ValueError("x"))
    after = next(g)
    f = fragile()
    next(f)
    try:
        f.throw(KeyError("k"))
    except KeyError:
        pass
    return got, after
