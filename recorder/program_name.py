"""What a process's trace directory is named after: the program it runs (a script, ``-m``
module, ``-c`` command, ...), read from the interpreter's own command line."""

from __future__ import annotations

import os
import re
import sys
from typing import List, Optional, Tuple


# -- naming the program ----------------------------------------------------------------------

class _Program:
    """What this process runs: ``name`` for its directory, ``display`` for the metadata."""

    def __init__(self, kind: str, value: str) -> None:
        #: "script", "module", "command" (-c) or "stdin" (also the interactive prompt)
        self.kind = kind
        self.value = value
        self.name = program_name(kind, value)
        self.display = {"script": os.path.abspath(value) if value else value,
                        "module": "-m " + value, "command": "-c", "stdin": "-"}[kind]
        self.is_recorder_cli = (
            (kind == "module" and value in ("recorder", "recorder.__main__", "recorder.cli"))
            or (kind == "script" and os.path.basename(value) in ("recorder",
                                                                 "recorder-script.py")))

    @classmethod
    def of_this_process(cls) -> "_Program":
        argv = _original_argv()
        if argv:
            return cls(*_parse_command_line(argv))
        first = sys.argv[0] if sys.argv else ""
        if first == "-c":
            return cls("command", "")
        if first == "-m":
            return cls("module", "")
        if first in ("", "-"):
            return cls("stdin", "")
        return cls("script", first)


def program_name(kind: str, value: str) -> str:
    """The ``<program>`` of ``DIR/<program>-<pid>``: a script's name without ``.py``, a
    module's dotted name, ``python-c`` for ``-c`` (``multiprocessing-spawn`` and the like
    for multiprocessing's helpers), ``python`` for stdin and the prompt."""
    if kind == "script":
        name = os.path.basename(value.rstrip("/\\"))
        for ext in (".py", ".pyw", ".pyz"):
            if name.endswith(ext) and len(name) > len(ext):
                name = name[:-len(ext)]
                break
    elif kind == "module":
        name = value or "python-m"
    elif kind == "command":
        found = re.search(r"from multiprocessing\.(\w+) import", value)
        name = "multiprocessing-" + found.group(1) if found else "python-c"
    else:
        name = "python"
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64].lstrip(".")
    return name or "python"


def _original_argv() -> Optional[List[str]]:
    """The interpreter's own command line: ``sys.orig_argv`` (3.10+), else /proc (Linux):
    at startup ``sys.argv`` says only ``-m``, not which module."""
    argv = getattr(sys, "orig_argv", None)
    if argv:
        return list(argv)
    try:
        with open("/proc/self/cmdline", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    parts = data.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    return [os.fsdecode(p) for p in parts] or None


def _parse_command_line(argv: List[str]) -> Tuple[str, str]:
    """(kind, value) from ``python [options] (script | -m mod | -c cmd | -) [args]``."""
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return ("script", argv[i + 1]) if i + 1 < len(argv) else ("stdin", "")
        if arg == "-":
            return "stdin", ""
        if arg.startswith("--"):
            i += 2 if arg == "--check-hash-based-pycs" else 1
            continue
        if arg.startswith("-"):
            for j in range(1, len(arg)):
                option = arg[j]
                if option in "cm":
                    rest = arg[j + 1:]
                    value = rest if rest else (argv[i + 1] if i + 1 < len(argv) else "")
                    return ("command" if option == "c" else "module"), value
                if option in "WX":
                    if j + 1 == len(arg):
                        i += 1  # the value is the next argument
                    break
            i += 1
            continue
        return "script", arg
    return "stdin", ""
