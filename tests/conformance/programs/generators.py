"""Generators: iteration, yield from, send, a return value, early close, generator expressions."""


def count_up(n):
    i = 0
    while i < n:
        yield i
        i += 1


def evens(n):
    for value in count_up(n):
        if value % 2 == 0:
            yield value


def chained(n):
    yield "start"
    result = yield from with_result(n)
    yield result


def with_result(n):
    for i in range(n):
        yield i * 10
    return "done"


def accumulator():
    total = 0
    while True:
        received = yield total
        if received is None:
            break
        total += received
    return total


print(list(evens(6)))
print(list(chained(3)))
acc = accumulator()
next(acc)
for x in (5, 7, 11):
    acc.send(x)
try:
    acc.send(None)
except StopIteration as stop:
    print("total", stop.value)
early = count_up(100)
print(next(early), next(early))
early.close()
print(sum(x * x for x in count_up(4)))
