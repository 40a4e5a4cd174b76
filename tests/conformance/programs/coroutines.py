"""Coroutines driven by hand and by asyncio, and an async generator."""
import asyncio


class Ready:
    def __await__(self):
        value = yield "suspended"
        return value


async def leaf(x):
    got = await Ready()
    return (x, got)


async def ticker(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i


async def main():
    values = [v async for v in ticker(3)]
    pair = await asyncio.gather(square(2), square(3))
    return values, pair


async def square(x):
    await asyncio.sleep(0)
    return x * x


coro = leaf(1)
print(coro.send(None))
try:
    coro.send("resumed")
except StopIteration as stop:
    print(stop.value)
print(asyncio.run(main()))
