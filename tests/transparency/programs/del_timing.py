"""When finalisers run: an argument the function deletes (``del``), a local rebound, and a
weakref callback, each printed in order with the program's own lines. Deleting an
argument frees it at once only from 3.11 (before, the caller's evaluation stack holds it).

The last case deletes and checks on one line, and logs the order: a tracer that reads
``frame.f_locals`` keeps a reference there until its next event before 3.13
(docs/trace-format.md, "References").
"""
import weakref


log = []


class Resource:
    def __init__(self, name, quiet=False):
        self.name = name
        self.quiet = quiet

    def __del__(self):
        if self.quiet:
            log.append("__del__")
        else:
            print("  __del__", self.name)


def consume(resource):
    ref = weakref.ref(resource, lambda r: print("  weakref callback"))
    print("  before del")
    del resource
    print("  after del, alive:", ref() is not None)


def rebind():
    item = Resource("rebound")
    print("  holding", item.name)
    item = None
    print("  after rebinding", item)


def same_line(resource):
    ref = weakref.ref(resource)
    del resource; log.append(("alive", ref() is not None))  # noqa: E702


print("consume")
consume(Resource("argument"))
print("rebind")
rebind()
print("same line")
same_line(Resource("same line", quiet=True))
print("same line log:", log)
print("end")
