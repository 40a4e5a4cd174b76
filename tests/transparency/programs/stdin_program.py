"""Piped to ``python - arg``: a program read from stdin (``<stdin>``), reading nothing more
from it, with a traceback of its own (exit status 1)."""
import sys
print("argv", sys.argv, "path0", repr(sys.path[0]), "name", __name__, "spec", __spec__)
print("file" in dir(), sys.stdin.read() == "")
def fail():
    raise ValueError("from stdin's code")
fail()
