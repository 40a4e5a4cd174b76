"""``importlib.reload``: a module whose source changes on disk between reloads (the program
rewrites it), a module-level counter kept across reloads, and the same module object."""
import importlib
import os
import sys

import reloadable

first = reloadable
print("first", reloadable.VERSION, reloadable.loads())
with open(reloadable.__file__, "a") as fh:
    fh.write("VERSION = 2\n")
# a new mtime and size: the cached bytecode must not be reused
os.utime(reloadable.__file__, (0, 1))
importlib.invalidate_caches()
reloaded = importlib.reload(reloadable)
print("reloaded", reloaded.VERSION, reloaded.loads(), reloaded is first,
      sys.modules["reloadable"] is first)
