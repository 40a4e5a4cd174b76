"""Run as ``python -c "$(cat dash_c.py)" one two``: what code given with -c sees, and a
traceback from inside it (exit status 1)."""
import sys
print("argv", sys.argv, "path0", repr(sys.path[0]), "name", __name__)
print("file" in dir(), "spec", __spec__, "doc", __doc__.split(":")[0])
def fail(n):
    return 10 // n
print(fail(2))
fail(0)
