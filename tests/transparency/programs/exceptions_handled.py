"""Exceptions the program handles and prints itself: ``traceback.print_exc()`` inside
``except`` (frames from the catching one up), chained (``from``) and context exceptions,
``sys.exc_info()``, ``finally`` and re-raise, ``traceback.format_exception``, and an
exception's ``__traceback__`` frames."""
import sys
import traceback


class AppError(Exception):
    pass


def parse(text):
    try:
        return int(text)
    except ValueError as exc:
        raise AppError("bad number %r" % text) from exc


def load(items):
    try:
        return [parse(item) for item in items]
    finally:
        print("load finally")


try:
    load(["1", "x"])
except AppError:
    traceback.print_exc()
    kind, value, tb = sys.exc_info()
    print("exc_info", kind.__name__, value, value.__cause__.__class__.__name__)
    names = []
    while tb is not None:
        names.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    print("traceback frames", names)
try:
    try:
        {}["missing"]
    except KeyError:
        raise RuntimeError("while handling")
except RuntimeError as exc:
    print("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)), end="")
print("exc_info after", sys.exc_info())
