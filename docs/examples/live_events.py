"""Print a live, indented event stream of a small program: the tool-author API in action.

Run:  python3 docs/examples/live_events.py [monitoring|settrace]
"""
import sys

import recorder
from recorder.events import Event, Kind


def show(event: Event) -> None:
    if event.code is None:
        print("thread %d %s: %s" % (event.thread, event.kind.name, event.value.name))
        return
    detail = ""
    if event.kind in (Kind.RETURN, Kind.YIELD):
        detail = " -> %r" % (event.value,)
    elif event.kind in (Kind.RAISE, Kind.UNWIND, Kind.HANDLED):
        detail = " %s(%s)" % (type(event.value).__name__, event.value)
    print("%s%-8s %s:%s%s" % ("  " * event.depth, event.kind.name, event.code.label,
                              event.line, detail))


def countdown(n):
    while n:
        yield n
        n -= 1


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def main():
    total = sum(countdown(2))
    try:
        {}["missing"]
    except KeyError:
        pass
    return fib(3) + total


if __name__ == "__main__":
    session = recorder.install(show, backend=sys.argv[1] if len(sys.argv) > 1 else None)
    print("recording with %s: %s" % (session.backend_name, session.backend_reason))
    main()
    recorder.uninstall()
