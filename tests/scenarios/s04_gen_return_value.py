"""A generator returning non-None to a for loop (a real StopIteration in the loop
frame) vs returning None; a yield from that receives a return value."""


def with_value():
    yield 1
    return "result"


def without_value():
    yield 1


def delegator():
    got = yield from with_value()
    return got


def main():
    total = 0
    for v in with_value():
        total += v
    for v in without_value():
        total += v
    for v in delegator():
        total += v
    return total
