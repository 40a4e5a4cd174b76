"""``-m pkg.sub.mod a1 --flag``: parent packages run first, then this module as __main__.

Checks __name__, __spec__ (name, parent, origin), __package__, __file__, sys.argv[0] (the
module's file), sys.path[0] (the working directory) and that the parents are in sys.modules.
"""
import os
import sys

print("mod", __name__, __spec__.name, __spec__.parent, __package__)
print("file", os.path.relpath(__file__), os.path.relpath(__spec__.origin))
print("argv", [os.path.relpath(sys.argv[0])] + sys.argv[1:], "path0", sys.path[0] == os.getcwd())
print("parents", [name for name in sorted(sys.modules) if name.startswith("pkg")])
print("main", sys.modules["__main__"].__dict__ is globals(), "pkg.sub.mod" in sys.modules)
