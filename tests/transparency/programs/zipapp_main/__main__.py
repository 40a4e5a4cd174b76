"""``python app.pyz y``: a zip file (built from this directory by the runner with
``zipapp``) whose __main__ imports a package inside the zip and reads data with
``importlib.resources``-free ``__loader__.get_data``.
"""
import os
import sys

from zpkg import tool

print("main", __name__, __spec__.name, os.path.relpath(__file__))
print("argv", sys.argv, "path0", os.path.relpath(sys.path[0]))
print("tool", tool.run(3), os.path.relpath(tool.__file__), type(__loader__).__name__)
print("data", __loader__.get_data(os.path.join(sys.path[0], "zpkg", "data.txt")).decode().strip())
