"""Leaves with sys.exit(3) from inside a function (exit status 3)."""
import sys


def check(values):
    for value in values:
        if value < 0:
            finish(3)
    return True


def finish(code):
    print("exiting with", code)
    sys.exit(code)


check([1, 2])
check([4, -1, 5])
print("not reached")
