"""What a script sees of how it was started: sys.argv, sys.path[0], __file__, __spec__,
__name__, __package__, __loader__, __cached__, __builtins__ and the other __main__ globals.

Args: ``a --flag``. Paths are printed as the program sees them (the runs share one cwd).
"""
import os
import sys

print("argv", sys.argv)
print("path0", sys.path[0], sys.path[0] == os.path.dirname(os.path.abspath(__file__)))
print("file", __file__, "name", __name__, "package", __package__, "spec", __spec__)
print("loader", type(__loader__).__name__, "cached", globals().get("__cached__", "-"))
print("builtins", type(__builtins__).__name__, __builtins__ is __import__("builtins"))
print("globals", sorted(globals()))
print("main module", sys.modules["__main__"] is sys.modules[__name__],
      sys.modules["__main__"].__dict__ is globals())
print("cwd", os.getcwd() == os.path.dirname(os.path.abspath(__file__)))
