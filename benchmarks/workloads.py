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


def containers(n: int) -> int:
    """n*n iterations with a list and a dict in scope that grow: what a Step costs when
    every visible container is re-read."""
    squares = []
    seen = {}
    total = 0
    for i in range(n):
        for j in range(n):
            k = (i * j) % 97
            if k in seen:
                seen[k] += 1
            else:
                seen[k] = 1
            total += k
        squares.append(i * i)
    return total + len(squares) + len(seen)


async def _job(i: int) -> int:
    import asyncio
    await asyncio.sleep(0)
    return i * 2


def gathered(n: int) -> int:
    """asyncio.gather of n coroutines: coroutine resumes through the event loop."""
    import asyncio

    async def run() -> int:
        return sum(await asyncio.gather(*(_job(i) for i in range(n))))

    return asyncio.run(run())


def main(scale: int = 1) -> int:
    return fib(20 + scale) + loop(100_000 * scale) + sum(gen(50_000 * scale)) + catches(20_000 * scale)


class Point:
    """A small class with its own ``__repr__``: what the ``objects`` workload records."""

    def __init__(self, x: int, y: int) -> None:
        self.x = x
        self.y = y

    def moved(self, dx: int, dy: int) -> "Point":
        return Point(self.x + dx, self.y + dy)

    def __repr__(self) -> str:
        return "Point(%r, %r)" % (self.x, self.y)


def objects(scale: int = 1) -> int:
    """Objects made by a method, a dict of the last 8 as a local: every Step shows program
    objects (the same script as benchmarks/vs_anchor.py's ``objects``)."""
    p = Point(0, 0)
    recent = {}
    count = 0
    for i in range(20_000 * scale):
        p = p.moved(1, i % 3)
        recent[i % 8] = p
        count += 1
    return count + len(recent)
