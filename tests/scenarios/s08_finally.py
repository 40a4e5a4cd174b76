"""An exception raised in finally; return in finally swallowing an exception."""


def raises_in_finally():
    try:
        raise ValueError("body")
    finally:
        raise KeyError("finally")


def swallow():
    try:
        raise ValueError("lost")
    finally:
        return "swallowed"  # noqa: B012


def main():
    try:
        raises_in_finally()
    except KeyError as exc:
        first = repr(exc)
    return first, swallow()
