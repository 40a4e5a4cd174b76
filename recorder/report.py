"""The end-of-run line: where the trace went, how big it is, and what was left out.

::

    recorder: trace-out/ · 12,345 records · 3.4 MB · 0.8 s · skipped 2,311 functions in 3 packages (--include third-party to record them)

``python -m recorder`` prints it when stderr is a terminal (``--report``/``--quiet`` force
either way); the auto-start only when asked (``RECORDER_REPORT=1``). It is written to file
descriptor 2 after the trace is closed, so it is never part of the trace, and a failure to
write it is ignored: it never changes how the program ends (docs/cli.md).
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any, Dict, Optional

__all__ = ["EndOfRun", "end_of_run_line", "skipped_phrase", "wanted"]

#: The separator between the line's parts, and its ASCII stand-in for a stderr that cannot
#: encode it.
_DOT, _ASCII_DOT = " \u00b7 ", " - "


def wanted(report: Optional[bool], default: bool) -> bool:
    """Print the line? ``report`` is the configuration's (True, False, None: ``default``)."""
    return default if report is None else report


class EndOfRun:
    """One recording's end-of-run line. :meth:`program_ended` stops the clock (the
    program's wall time); :meth:`print` writes the line once the trace is closed."""

    def __init__(self, writer: Any, filters: Any, config: Any) -> None:
        self.writer = writer
        self.filters = filters
        self.config = config
        self.started = time.monotonic()
        self.elapsed: Optional[float] = None
        self.printed = False

    def program_ended(self) -> None:
        if self.elapsed is None:
            self.elapsed = time.monotonic() - self.started

    def line(self) -> str:
        self.program_ended()
        skipped = self.filters.skipped() if self.filters is not None else {}
        third_party_recorded = bool(getattr(self.config, "record_all", False)) or \
            "third-party" in (getattr(self.config, "include", None) or ())
        return end_of_run_line(self.writer.out_dir, self.writer.records_written,
                               trace_size(self.writer.out_dir), self.elapsed or 0.0,
                               skipped, third_party_recorded,
                               getattr(self.writer, "stopped", None))

    def print(self) -> None:
        """Write the line to fd 2 (once). Never raises."""
        if self.printed:
            return
        self.printed = True
        try:
            _write_stderr(self.line())
        except Exception:
            pass


def end_of_run_line(out_dir: str, records: int, size: int, seconds: float,
                    skipped: Dict[str, Any], third_party_recorded: bool = False,
                    stopped: Optional[Dict[str, Any]] = None) -> str:
    parts = [_display_dir(out_dir), "%s record%s" % (_count(records), _s(records)),
             _size(size), "%.1f s" % seconds if seconds < 100 else "%d s" % seconds]
    if stopped:  # the writer's "stopped" (a limit, a failed write): the trace is partial
        parts.append("stopped early (%s)" % stopped.get("reason", "?"))
    phrase = skipped_phrase(skipped, third_party_recorded)
    if phrase:
        parts.append(phrase)
    return "recorder: " + _DOT.join(parts)


def skipped_phrase(skipped: Dict[str, Any], third_party_recorded: bool = False) -> str:
    """``skipped 2,311 functions in 3 packages (--include third-party to record them)``,
    counting the packages outside the standard library (the standard library is always
    skipped unless asked for; the metadata lists it), or "" when there are none."""
    functions = skipped.get("functions") or {}
    groups = skipped.get("groups") or {}
    packages = [p for p in functions if groups.get(p) != "stdlib"]
    if not packages:
        return ""
    total = sum(functions[p] for p in packages)
    phrase = "skipped %s function%s in %s package%s" % (
        _count(total), _s(total), _count(len(packages)), _s(len(packages)))
    if not third_party_recorded and any(groups.get(p) == "third-party" for p in packages):
        phrase += " (--include third-party to record them)"
    return phrase


def trace_size(out_dir: str) -> int:
    """Bytes of every file in the trace directory."""
    total = 0
    for root, _dirs, files in os.walk(out_dir):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def _display_dir(path: str) -> str:
    """The directory relative to the working directory when that is shorter, with a
    trailing separator (it is a directory)."""
    shown = path
    try:
        relative = os.path.relpath(path)
        if len(relative) < len(path):
            shown = relative
    except ValueError:  # another drive (Windows)
        pass
    return shown.rstrip(os.sep) + os.sep


def _count(n: int) -> str:
    return "{:,}".format(n)


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _size(n: int) -> str:
    if n < 1000:
        return "%d B" % n
    for unit in ("KB", "MB", "GB"):
        n_units = n / 1000.0
        if n_units < 1000 or unit == "GB":
            return ("%.1f %s" if n_units < 100 else "%d %s") % (n_units, unit)
        n = n_units  # type: ignore[assignment]
    return "%d B" % n  # not reached


def _write_stderr(line: str) -> None:
    """Straight to file descriptor 2 (after what the program wrote to ``sys.stderr``): not
    through ``sys.stderr``, which the program may have replaced, and never recorded."""
    try:
        stream = sys.stderr
        if stream is not None:
            stream.flush()
    except Exception:
        pass
    encoding = getattr(sys.__stderr__, "encoding", None) or "utf-8"
    try:
        data = (line + "\n").encode(encoding)
    except (UnicodeError, LookupError):
        data = (line.replace(_DOT, _ASCII_DOT) + "\n").encode("ascii", "replace")
    os.write(2, data)
