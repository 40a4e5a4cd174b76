"""``atexit`` handlers: run last-registered first, with their arguments, after the program's
last line; one raises (python prints "Exception ignored in atexit callback" or the older
"Error in atexit._run_exitfuncs" and the status stays 0); one unregistered; one that
prints whether ``__main__.__file__`` is still there (python removes it)."""
import atexit
import sys


def goodbye(name, *, punctuation="!"):
    print("goodbye", name + punctuation)


class Failing:
    """A callable with a fixed repr: 3.13 names the failing callback in its message."""

    def __call__(self):
        raise ValueError("atexit handler failed")

    def __repr__(self):
        return "<the failing handler>"


def never():
    print("never printed")


def main_file_gone():
    main = sys.modules["__main__"]
    print("__file__ still there:", hasattr(main, "__file__"), "status of stdout:",
          sys.stdout.closed)


atexit.register(main_file_gone)
atexit.register(goodbye, "first")
atexit.register(Failing())
atexit.register(never)
atexit.register(goodbye, "second", punctuation=".")
atexit.unregister(never)
print("main done")
