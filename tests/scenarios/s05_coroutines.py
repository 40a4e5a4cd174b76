"""A coroutine awaiting a coroutine (STOP_ITERATION vs settrace 'exception'), driven
by send() directly and by asyncio.run."""
import asyncio


async def leaf(x):
    return x * 2


async def middle(x):
    a = await leaf(x)
    b = await leaf(a)
    return a + b


async def top():
    await asyncio.sleep(0)
    return await middle(1)


def main():
    coro = middle(5)
    try:
        coro.send(None)
    except StopIteration as stop:
        direct = stop.value
    return direct, asyncio.run(top())
