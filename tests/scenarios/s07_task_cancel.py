"""Asyncio task cancellation through await."""
import asyncio


async def sleeper():
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        cleanup()
        raise


def cleanup():
    return 0


async def waiter(task):
    await task


async def amain():
    task = asyncio.ensure_future(sleeper())
    await asyncio.sleep(0)
    task.cancel()
    try:
        await waiter(task)
    except asyncio.CancelledError:
        return "cancelled"
    return "not cancelled"


def main():
    return asyncio.run(amain())
