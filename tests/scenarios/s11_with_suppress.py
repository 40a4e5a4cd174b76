"""With whose __exit__ suppresses, as the last statement and on one line."""


class Suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return True


def last_statement():
    with Suppress():
        raise ValueError("last")


def one_line():
    with Suppress(): raise KeyError("one")  # noqa: E701
    return "after"


def main():
    last_statement()
    return one_line()
