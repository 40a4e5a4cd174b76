"""Small formatting helpers shared by the text views."""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence, Tuple


def short_path(path: str, workdir: Optional[str]) -> str:
    """``path`` relative to the recording's working directory when it is inside it."""
    key = (path, workdir)
    short = _SHORT.get(key)
    if short is None:
        short = path
        if workdir and path.startswith(workdir.rstrip("/") + "/"):
            short = os.path.relpath(path, workdir)
        if len(_SHORT) < 4096:
            _SHORT[key] = short
    return short


_SHORT: Dict[Tuple[str, Optional[str]], str] = {}


class WhereColumn:
    """The width of a ``file:line`` column, known before the first line from the paths a
    file lists, growing when a longer one shows up later (a killed trace's list lags)."""

    def __init__(self, paths: Sequence[str], workdir: Optional[str]) -> None:
        self.workdir = workdir
        self.width = max([len(short_path(p, workdir)) + 5 for p in paths] + [8])

    def cell(self, path: str, line: Optional[int]) -> str:
        text = where(path, line, self.workdir)
        if len(text) > self.width:
            self.width = len(text)
        return text.ljust(self.width)


def where(path: str, line: Optional[int], workdir: Optional[str]) -> str:
    return "%s:%s" % (short_path(path, workdir), "?" if line is None else line)


def size(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return ("%d %s" if unit == "B" else "%.1f %s") % (value, unit)
        value /= 1000
    return "%d B" % n  # not reached


def seconds(t: Optional[float]) -> str:
    if t is None:
        return "-"
    if t >= 100:
        return "%.0f s" % t
    if t >= 1:
        return "%.2f s" % t
    if t >= 0.001:
        return "%.1f ms" % (t * 1e3)
    return "%.0f us" % (t * 1e6)


def table(header: Sequence[str], rows: List[Sequence[str]], indent: str = "  ",
          right: Sequence[int] = ()) -> List[str]:
    """Aligned columns; the columns in ``right`` are right-aligned (numbers), the last column
    is never padded."""
    widths = [len(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [list(header)] + [list(r) for r in rows]:
        cells = []
        for i, cell in enumerate(row):
            if i == len(row) - 1:
                cells.append(cell)
            elif i in right:
                cells.append(cell.rjust(widths[i]))
            else:
                cells.append(cell.ljust(widths[i]))
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines
