"""asyncio: tasks gathered, an async generator, an async context manager, a cancelled task
and a timeout, all without real waiting (``asyncio.sleep(0)`` and events)."""
import asyncio


async def ticker(n):
    for i in range(n):
        yield i
        await asyncio.sleep(0)


class Session:
    async def __aenter__(self):
        print("  enter")
        return self

    async def __aexit__(self, *exc):
        print("  exit", exc[0])
        return False


async def worker(name, ready):
    await ready.wait()
    return name.upper()


async def forever():
    await asyncio.Event().wait()


async def main():
    ready = asyncio.Event()
    tasks = [asyncio.ensure_future(worker(name, ready)) for name in ("a", "b", "c")]
    ready.set()
    print("gathered", await asyncio.gather(*tasks))
    print("ticks", [i async for i in ticker(3)])
    async with Session():
        print("  inside")
    task = asyncio.ensure_future(forever())
    await asyncio.sleep(0)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        print("cancelled", task.cancelled())
    try:
        await asyncio.wait_for(forever(), timeout=0.01)
    except asyncio.TimeoutError:
        print("timed out")
    return "main done"


print(asyncio.run(main()))
