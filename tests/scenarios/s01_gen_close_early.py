"""Generators closed early, suspended outside any try (3.13 close fast path) and
inside try/finally; by close(), by break in a for loop."""


def plain():
    yield 1
    yield 2


def guarded():
    try:
        yield 1
        yield 2
    finally:
        cleanup()


def cleanup():
    return "cleaned"


def main():
    g = plain()
    next(g)
    g.close()
    h = guarded()
    next(h)
    h.close()
    for _ in plain():
        break
    for _ in guarded():
        break
    return "done"
