"""Runaway recursion caught by the program, twice, then normal work: the RecursionError's
message, that the program recovers, and that the recursion limit is unchanged."""
import sys


def down(n):
    return down(n + 1)


def depth_reached():
    try:
        down(0)
    except RecursionError as exc:
        return str(exc)


print("limit", sys.getrecursionlimit())
print("caught", depth_reached())
print("caught again", depth_reached())
print("limit", sys.getrecursionlimit(), "and then", sum(range(10)))
