"""One-line loops (backward jumps to the same line) and multi-line expressions."""


def countdown(x):
    while x: x -= 1  # noqa: E701
    return x


def multi(a,
          b):
    total = (a
             + b
             + countdown(
                 3))
    return [
        total,
        a,
    ]


def main():
    for i in range(2): countdown(i)  # noqa: E701
    return multi(1,
                 2)
