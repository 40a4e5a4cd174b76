"""Loops with changing locals: for, while, break/continue, nested loops, comprehensions."""


def primes(limit):
    found = []
    candidate = 2
    while len(found) < limit:
        for p in found:
            if candidate % p == 0:
                break
        else:
            found.append(candidate)
        candidate += 1
    return found


def table(n):
    rows = []
    for i in range(1, n + 1):
        row = []
        for j in range(1, n + 1):
            if (i * j) % 4 == 0:
                continue
            row.append(i * j)
        rows.append(row)
    return rows


def stats(values):
    total = 0
    biggest = None
    for index, value in enumerate(values):
        total += value
        if biggest is None or value > biggest:
            biggest = value
    squares = [v * v for v in values if v % 2]
    lookup = {v: i for i, v in enumerate(values)}
    return total, biggest, squares, len(lookup)


total = 0
for k in range(3):
    total += k
print(primes(6), table(3), stats([3, 1, 4, 1, 5]), total)
