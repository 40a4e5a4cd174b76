"""recorder: a pure-Python execution trace recorder for CPython 3.8-3.13.

Public API::

    session = recorder.install(sink=print)      # start recording (returns the Session)
    recorder.uninstall()                         # stop; the stream is balanced
    with recorder.recording(sink=events.append): # the same as a context manager
        ...

``sink`` receives one :class:`recorder.events.Event` per event (see docs/events.md).
``backend`` is "auto" (default; sys.monitoring on 3.12+, settrace below), "monitoring" or
"settrace"; ``RECORDER_BACKEND`` sets the default.

Importing the package imports none of its modules: the names below are loaded on first use,
so that ``import recorder.x`` (the pytest plugin that pytest loads in every run, the
auto-start) costs only what ``x`` needs.

PYTEST_DONT_REWRITE: pytest marks the package of every plugin it loads for assertion
rewriting, and warns ("Module already imported so cannot be rewritten: recorder") when it is
imported already, as it is under ``python -m recorder -m pytest``: that warning would be a
difference the recorded program shows. This marker in the docstring tells pytest to leave
the package alone.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from recorder.session import Session, SinkArg

__version__ = "0.1.0.dev0"

__all__ = ["install", "uninstall", "recording", "Session", "Event", "Kind", "CodeInfo",
           "ThreadInfo", "RecorderError", "ConfigError", "BackendError", "__version__"]

#: The public names defined in a module of the package, imported when first asked for.
_LAZY = {"Session": "recorder.session", "Event": "recorder.events", "Kind": "recorder.events",
         "CodeInfo": "recorder.events", "ThreadInfo": "recorder.events",
         "RecorderError": "recorder.errors", "ConfigError": "recorder.errors",
         "BackendError": "recorder.errors"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError("module 'recorder' has no attribute %r" % name)
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(_LAZY))


def install(sink: "SinkArg", **options: Any) -> "Session":
    """Start recording in this process and return the :class:`Session`.

    ``options`` are :class:`recorder.config.Config` fields (``backend``, ``trace_stdlib``,
    ...); an option left out (or None) comes from its ``RECORDER_*`` variable, else its
    default (docs/configuration.md). ``filters=[paths]`` adds filter files after
    ``RECORDER_FILTER``'s (docs/filters.md); a bad filter file raises :class:`ConfigError`.
    Frames already running (the caller's and its callers') are reported as ATTACH events.
    Raises :class:`RecorderError` if a recording is already active, :class:`ConfigError`
    for a bad option or variable and :class:`BackendError` when the requested backend
    cannot run here.
    """
    from recorder.config import Config
    from recorder.session import Session

    given = {name: value for name, value in options.items() if value is not None}
    config = Config.from_env().with_options(**given).validate()
    return Session(sink, config).start()


def uninstall() -> Optional["Session"]:
    """Stop the active recording (if any) and return its session."""
    from recorder.session import active_session

    session = active_session()
    if session is not None:
        session.stop()
    return session


class recording:  # noqa: N801 - called like the function it was
    """``with recording(sink=...) as session:`` records the body, then stops.

    A class of ours rather than ``contextlib.contextmanager``: contextlib's frames around
    the body would be the standard library's, recorded when the filters trace it."""

    def __init__(self, sink: "SinkArg", **options: Any) -> None:
        self._sink = sink
        self._options = options
        self._session: Optional["Session"] = None

    def __enter__(self) -> "Session":
        self._session = install(self._sink, **self._options)
        return self._session

    def __exit__(self, *exc_info: Any) -> None:
        if self._session is not None:
            self._session.stop()
