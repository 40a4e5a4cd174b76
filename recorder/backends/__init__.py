"""The backend selector: which interpreter mechanism records, and why.

``auto`` means sys.monitoring on 3.12+ when one of our tool ids is free, else settrace (with
one warning line when monitoring existed but every id was taken). ``backend=`` (or
``RECORDER_BACKEND``, read by recorder.config) forces one; an unknown or impossible request
is a :class:`~recorder.errors.ConfigError` / :class:`~recorder.errors.BackendError` with one
line that says what to do instead.
"""
from __future__ import annotations

import sys
from typing import Type

from recorder import env
from recorder.backends.base import Backend
from recorder.errors import BackendError, ConfigError, warn

from recorder.config import BACKENDS as CHOICES


class Selection:
    """The chosen backend class, its name and why. A plain class: a ``typing.NamedTuple``
    compiles each of its (string) annotations at import, a measurable part of start-up."""

    __slots__ = ("backend", "name", "reason")

    def __init__(self, backend: Type[Backend], name: str, reason: str) -> None:
        self.backend = backend
        self.name = name
        self.reason = reason

    def __repr__(self) -> str:
        return "Selection(%s, %r, %r)" % (self.backend.__name__, self.name, self.reason)


def select(backend: str = "auto") -> Selection:
    """Pick the backend class for this interpreter and say why."""
    request = backend.strip().lower() if isinstance(backend, str) else backend
    if request not in CHOICES:
        raise ConfigError("backend=%r is not one of %s" % (backend, ", ".join(CHOICES)))
    version = "%d.%d" % sys.version_info[:2]
    if request == "settrace":
        from recorder.backends.settrace import SettraceBackend
        return Selection(SettraceBackend, "settrace", "settrace requested")  # type: ignore
    if request == "monitoring" and not env.HAS_MONITORING:
        raise BackendError("backend 'monitoring' needs sys.monitoring (Python 3.12+); this is "
                           "Python %s: use 'settrace' or 'auto'" % version)
    if env.HAS_MONITORING:
        from recorder.backends.monitoring import MonitoringBackend, free_tool_id
        tool = free_tool_id()
        if tool is not None:
            why = "requested" if request == "monitoring" else "default on Python %s" % version
            return Selection(MonitoringBackend, "monitoring",  # type: ignore[arg-type]
                             "sys.monitoring %s (tool id %d free)" % (why, tool))
        held = ", ".join(str(t) for t in env.MONITORING_TOOL_IDS)
        if request == "monitoring":
            raise BackendError("backend 'monitoring' requested but sys.monitoring tool ids %s "
                               "are all in use by other tools" % held)
        warn("sys.monitoring tool ids %s are all in use by other tools; recording with "
             "settrace instead" % held)
        from recorder.backends.settrace import SettraceBackend
        return Selection(SettraceBackend, "settrace",  # type: ignore[arg-type]
                         "sys.monitoring tool ids %s in use" % held)
    from recorder.backends.settrace import SettraceBackend
    return Selection(SettraceBackend, "settrace",  # type: ignore[arg-type]
                     "sys.monitoring needs Python 3.12+; this is Python %s" % version)
