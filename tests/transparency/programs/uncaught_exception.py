"""An uncaught exception with a cause and a context, raised three calls deep: python's
traceback on stderr (both chained tracebacks), exit status 1, and ``sys.excepthook`` is
python's own."""
import sys


def innermost(data):
    return data["key"]


def middle(data):
    try:
        return innermost(data)
    except KeyError as exc:
        raise LookupError("no key in %r" % (data,)) from exc


def outer():
    try:
        middle({})
    finally:
        print("outer finally", sys.excepthook is sys.__excepthook__)


outer()
