"""Recording started mid-stack: install from deep inside a call stack, with
suspended generators alive that are resumed (next, throw) and finished afterwards."""

SELF_INSTALL = True


def counter():
    n = 0
    while n < 3:
        yield n
        n += 1


def catcher():
    try:
        yield "waiting"
    except ValueError:
        yield "caught"


def deepest(gens, waiter):
    RECORDER.start()  # noqa: F821 (set by the runner)
    got = [next(gens[0]), next(gens[1])]
    return got + [waiter.throw(ValueError("late"))]


def deeper(gens, waiter):
    got = deepest(gens, waiter)
    return got + [sum(gens[0])]


def deep():
    gens = [counter(), counter()]
    next(gens[0])
    next(gens[1])
    waiter = catcher()
    next(waiter)
    return deeper(gens, waiter)


def main():
    result = deep()
    RECORDER.stop()  # noqa: F821
    return result
