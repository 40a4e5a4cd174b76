"""Importlib.reload of a small module written to a temp dir, while recording (new
code objects with the same qualified names)."""
import importlib
import os
import sys
import tempfile

EXTRA_FILES = {"s30_target.py"}

TEMPLATE = "VERSION = %d\ndef version():\n    return VERSION\n"


def main():
    root = tempfile.mkdtemp()
    path = os.path.join(root, "s30_target.py")
    with open(path, "w") as f:
        f.write(TEMPLATE % 1)
    sys.path.insert(0, root)
    try:
        import s30_target
        first = s30_target.version()
        with open(path, "w") as f:
            f.write(TEMPLATE % 2 + "\n")
        importlib.invalidate_caches()
        os.utime(path, (1e9, 2e9))
        importlib.reload(s30_target)
        second = s30_target.version()
    finally:
        sys.path.remove(root)
        sys.modules.pop("s30_target", None)
    return first, second
