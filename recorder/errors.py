"""The recorder's exceptions and its one way of telling the user something on stderr.

Every message is one line starting with ``recorder:`` and names the thing that is wrong, so a
user can tell the recorder's words from their program's output.
"""
from __future__ import annotations

import sys


class RecorderError(Exception):
    """Base class of everything the recorder raises on purpose."""


class ConfigError(RecorderError):
    """A bad option, environment variable or file: the message names it."""


class BackendError(RecorderError):
    """The requested backend cannot run here (the message says why)."""


class SinkError(RecorderError):
    """A user's sink callback raised; ``__cause__`` is what it raised."""


class RecordingStopped(RecorderError):
    """The trace writer stopped recording on purpose: a limit was reached (``--max-size``,
    ``--max-records``) or a write failed (a full disk). The trace is closed as far as the
    disk allows and its metadata says why; the message is the session's one warning line."""


class UsageError(RecorderError):
    """Bad command-line input (``python -m recorder``): printed as one line, exit status 2,
    before the program starts."""


def warn(message: str) -> None:
    """One warning line on stderr; never raises (stderr may be closed or replaced)."""
    try:
        stream = sys.__stderr__ or sys.stderr
        stream.write("recorder: warning: %s\n" % message)
        stream.flush()
    except Exception:
        pass
