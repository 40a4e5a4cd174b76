"""CPU-bound workloads shared by the benchmarks: plain calls, lines, generators, exceptions."""
from __future__ import annotations


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def loop(n: int) -> int:
    total = 0
    for i in range(n):
        if i % 3:
            total += i
        else:
            total -= 1
    return total


def gen(n: int):
    for i in range(n):
        yield i * 2


def catches(n: int) -> int:
    caught = 0
    for i in range(n):
        try:
            if i % 2:
                raise ValueError(i)
        except ValueError:
            caught += 1
    return caught


def main(scale: int = 1) -> int:
    return fib(20 + scale) + loop(100_000 * scale) + sum(gen(50_000 * scale)) + catches(20_000 * scale)
