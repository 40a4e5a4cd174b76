"""Async generator: async for, break, aclose at asyncio.run shutdown."""
import asyncio


async def ticker(n):
    try:
        for i in range(n):
            yield i
            await asyncio.sleep(0)
    finally:
        done()


def done():
    return "closed"


async def amain():
    total = 0
    async for v in ticker(3):
        total += v
    async for v in ticker(5):
        if v == 1:
            break
    global leftover
    leftover = ticker(4)
    await leftover.__anext__()
    return total


def main():
    return asyncio.run(amain())
