"""List/set/dict comprehensions (inlined by PEP 709 on 3.12+), nested and raising;
generator expressions (which keep their frame)."""


def square(x):
    return x * x


def inverse(x):
    return 1 / x


def main():
    a = [square(x) for x in range(3)]
    b = {x % 2 for x in range(4)}
    c = {k: square(k) for k in range(2)}
    d = [[square(i) for i in range(j)] for j in range(3)]
    e = sum(square(x) for x in range(3))
    f = [(lambda: y)() for y in range(2)]
    try:
        [inverse(x) for x in range(-1, 2)]
    except ZeroDivisionError:
        g = "raised"
    try:
        list(inverse(x) for x in (0,))
    except ZeroDivisionError:
        g += "+genexpr"
    return a, sorted(b), c, d, e, f, g
