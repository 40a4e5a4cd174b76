"""Generators driven with ``send``, ``throw`` and ``close`` (``finally`` and ``GeneratorExit``
run), ``yield from`` delegation with a return value, closures that rebind ``nonlocal``
variables, a closure cell shared by two functions, and ``gi_frame.f_locals`` read by the
program itself."""


def accumulator():
    total = 0
    try:
        while True:
            value = yield total
            if value is None:
                break
            total += value
    except KeyError as exc:
        yield "caught %s" % exc
    finally:
        print("  accumulator finally, total", total)
    return total


def delegate():
    result = yield from accumulator()
    yield "delegate got %s" % result


def counter():
    count = 0

    def increment(by=1):
        nonlocal count
        count += by
        return count

    def read():
        return count

    return increment, read


gen = accumulator()
print("start", next(gen), gen.send(5), gen.send(7))
print("throw", gen.throw(KeyError("k")))
gen.close()
print("closed", gen.gi_frame)
d = delegate()
print("delegate", next(d), d.send(3), d.send(None))
g2 = accumulator()
next(g2)
g2.send(4)
print("frame locals", {k: v for k, v in g2.gi_frame.f_locals.items() if k != "value"})
del g2
increment, read = counter()
print("closure", increment(), increment(10), read(),
      [c.cell_contents for c in increment.__closure__])
squares = (n * n for n in range(5))
print("genexp", next(squares), list(squares))
