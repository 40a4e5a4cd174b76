"""``python dir_main x``: a directory with __main__.py; it imports a sibling module.

Prints __name__, __spec__, sys.argv, sys.path[0] and the helper's __file__ as seen.
"""
import os
import sys

import dir_helper

print("main", __name__, __spec__.name, __package__ == "", os.path.relpath(__file__))
print("argv", sys.argv, "path0", os.path.relpath(sys.path[0]))
print("helper", dir_helper.greet("dir"), os.path.relpath(dir_helper.__file__))
