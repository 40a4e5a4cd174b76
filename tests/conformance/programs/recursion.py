"""Recursion: fib, factorial, mutual recursion, a recursive data walk."""


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def factorial(n):
    return 1 if n <= 1 else n * factorial(n - 1)


def is_even(n):
    return True if n == 0 else is_odd(n - 1)


def is_odd(n):
    return False if n == 0 else is_even(n - 1)


def depth(tree):
    if not isinstance(tree, list):
        return 0
    return 1 + max([depth(child) for child in tree] or [0])


print(fib(7), factorial(6), is_even(5), depth([1, [2, [3, []]], [4]]))
