"""Exceptions raised and caught: same frame, callees, re-raised, finally, context managers."""


class AppError(Exception):
    pass


def fail(message):
    raise AppError(message)


def middle(message):
    try:
        fail(message)
    finally:
        cleanup = True
    return cleanup


def reraise():
    try:
        fail("inner")
    except AppError as exc:
        raise ValueError("outer") from exc


class Suppress:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        return kind is not None and issubclass(kind, KeyError)


def lookup(mapping, key):
    with Suppress():
        return mapping[key]
    return None


caught = []
for text in ("one", "two"):
    try:
        middle(text)
    except AppError as exc:
        caught.append(str(exc))
    else:
        caught.append("none")
try:
    reraise()
except ValueError as exc:
    caught.append(repr(exc.__cause__))
print(caught, lookup({"a": 1}, "a"), lookup({}, "b"))
try:
    int("not a number")
except ValueError:
    print("int failed")
