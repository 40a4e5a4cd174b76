"""Runaway recursion nobody catches: the traceback python prints (the repeated-line
summary), the exit status 1."""


def down(n):
    return down(n + 1)


print("going down")
down(0)
