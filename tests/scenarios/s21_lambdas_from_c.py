"""Lambdas and functions called back from C: sorted(key=...), map, filter."""


def key_of(v):
    return -v


def main():
    a = sorted([3, 1, 2], key=lambda v: -v)
    b = list(map(lambda v: v * 2, [1, 2]))
    c = sorted([5, 4], key=key_of)
    d = list(filter(None, map(key_of, [0, 1])))
    return a, b, c, d
