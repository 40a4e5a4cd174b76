"""Bare raise, raise ... from, nested try/except/else/finally."""


class AppError(Exception):
    pass


def fail(msg):
    raise ValueError(msg)


def rethrow():
    try:
        fail("bare")
    except ValueError:
        raise


def chain():
    try:
        fail("cause")
    except ValueError as exc:
        raise AppError("wrapped") from exc


def nested(x):
    try:
        try:
            if x:
                fail("inner")
        except ValueError:
            out = "except"
        else:
            out = "else"
        finally:
            out += "+finally"
    finally:
        out += "+outer"
    return out


def main():
    results = []
    for fn in (rethrow, chain):
        try:
            fn()
        except Exception as exc:
            results.append(repr(exc))
    results.append(nested(0))
    results.append(nested(1))
    return results
