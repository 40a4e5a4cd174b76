"""Finding the interpreter of a Python version, for every benchmark script."""
from __future__ import annotations

import os
import shutil
import sys


def python_for(version: str) -> str:
    """``~/.pyenv/versions/<version>.*/bin/python``, else ``python<version>`` on PATH; a
    version with neither ends the benchmark with one line naming it."""
    root = os.path.expanduser("~/.pyenv/versions")
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        if name.startswith(version + "."):
            return os.path.join(root, name, "bin", "python")
    found = shutil.which("python" + version)
    if not found:
        sys.exit("no python%s found" % version)
    return found
