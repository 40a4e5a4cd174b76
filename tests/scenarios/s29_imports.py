"""Imports while recording: a package with a submodule, a circular import, a failing
import, a namespace package, a module from a zip archive, and runpy.run_path of a script,
all written to a temp dir."""
import importlib
import os
import runpy
import sys
import tempfile
import zipfile

EXTRA_FILES = {"s29pkg/__init__.py", "s29_alpha.py", "s29_beta.py", "s29_broken.py",
               "s29_zipped.py", "s29ns/s29_spaced.py", "s29_script.py"}

FILES = {
    "s29pkg/__init__.py": "from . import s29_alpha\nVALUE = s29_alpha.ALPHA\n",
    "s29pkg/s29_alpha.py": "from . import s29_beta\nALPHA = 'alpha'\n"
                           "def use_beta():\n    return s29_beta.beta()\n",
    "s29pkg/s29_beta.py": "from . import s29_alpha\n"
                          "def beta():\n    return 'beta sees ' + s29_alpha.ALPHA\n",
    "s29_broken.py": "def fail():\n    raise ImportError('broken on purpose')\nfail()\n",
    "s29ns/s29_spaced.py": "def spaced():\n    return 'namespace'\nS = spaced()\n",
    "s29_script.py": "def scripted():\n    return 'script'\nRESULT = scripted()\n",
}


def main():
    root = tempfile.mkdtemp()
    for rel, text in FILES.items():
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        with open(os.path.join(root, rel), "w") as f:
            f.write(text)
    archive = os.path.join(root, "s29.zip")
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("s29_zipped.py", "def zipped():\n    return 'zipped'\nZ = zipped()\n")
    sys.path[:0] = [root, archive]
    try:
        pkg = importlib.import_module("s29pkg")
        out = [pkg.VALUE, pkg.s29_alpha.use_beta()]
        try:
            import s29_broken  # noqa: F401
        except ImportError as exc:
            out.append(str(exc))
        import s29_zipped
        out.append(s29_zipped.Z)
        out.append(importlib.import_module("s29ns.s29_spaced").S)
        out.append(runpy.run_path(os.path.join(root, "s29_script.py"))["RESULT"])
    finally:
        del sys.path[:2]
        for name in ("s29pkg", "s29pkg.s29_alpha", "s29pkg.s29_beta", "s29_zipped", "s29ns",
                     "s29ns.s29_spaced"):
            sys.modules.pop(name, None)
    return out
