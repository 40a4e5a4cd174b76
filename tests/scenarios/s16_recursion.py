"""The recursion limit hit while tracing: the tracer must survive."""
import sys


def down(n):
    return down(n + 1)


def after():
    return "after"


def depth():
    n, f = 0, sys._getframe()
    while f is not None:
        n, f = n + 1, f.f_back
    return n


def main():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth() + 40)
    try:
        down(0)
    except RecursionError:
        caught = True
    finally:
        sys.setrecursionlimit(old)
    return caught, after()
