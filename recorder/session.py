"""One recording, from install to uninstall: the lifecycle every entry point shares.

``recorder.install()``, ``with recorder.recording()``, the CLI and the auto-start all create a
:class:`Session`. It wires the pieces of DESIGN.md §3 together (scope decision and naming in
the :class:`~recorder.codes.CodeCatalog`, the shared normaliser, the chosen backend, the sink),
and it owns the promises that span them: only one session at a time, a balanced stream however
recording ends (uninstall, interpreter exit, a recorder failure), and a failure that disables
recording with one warning instead of reaching the program.
"""
from __future__ import annotations

import atexit
import os
import threading
from typing import Any, Callable, Optional, Union

from recorder.backends import select
from recorder.codes import CodeCatalog
from recorder.config import Config
from recorder.errors import RecorderError, RecordingStopped, SinkError, warn
from recorder.events import CallbackSink, Event, Sink
from recorder.filters import FilterChain, FilterEngine, load_chain
from recorder.identity import ModuleResolver
from recorder.importhook import ImportHook
from recorder.normalise import Normaliser

SinkArg = Union[Sink, Callable[[Event], Any]]

_lock = threading.Lock()
_active: Optional["Session"] = None


def active_session() -> Optional["Session"]:
    """The session currently recording in this process, if any."""
    return _active


class Session:
    """A recording in progress. Create it through :func:`recorder.install`."""

    #: What a child made by ``os.fork()`` does with this recording. The child must never
    #: write into the parent's sink (its files, its buffers), so the session is always
    #: dropped there; this callable (the auto-start's) may then start the child's own
    #: fresh session. None: the child goes on unrecorded.
    on_fork: Optional[Callable[["Session"], Any]] = None
    #: Register :meth:`stop` with atexit at start; the auto-start runs its own exit handler
    #: instead (it knows the exit status).
    stop_at_exit: bool = True

    def __init__(self, sink: SinkArg, config: Optional[Config] = None,
                 filters: Optional[FilterChain] = None) -> None:
        """``filters``: the chain already loaded (the CLI checks it before anything starts);
        by default it is loaded from ``config`` and the working directory's project
        (docs/filters.md). A bad filter file raises :class:`ConfigError`."""
        if sink is None:
            raise RecorderError("no sink: pass sink=callable(event) or a Sink object")
        self.config = config = config if config is not None else Config()
        chain = filters if filters is not None else load_chain(config)
        self.sink: Sink = sink if hasattr(sink, "emit") else CallbackSink(sink)  # type: ignore
        selection = select(config.backend)
        self.backend_name = selection.name
        if hasattr(self.sink, "backend") and getattr(self.sink, "backend") is None:
            # The trace writer records the backend and guards settrace-only hazards by it.
            self.sink.backend = selection.name  # type: ignore[attr-defined]
        if hasattr(self.sink, "use_reprs") and getattr(self.sink, "reprs", None) is None:
            # A trace writer made without ``reprs=`` follows the configuration.
            self.sink.use_reprs(config.reprs)  # type: ignore[attr-defined]
        if hasattr(self.sink, "steps") and getattr(self.sink, "steps") is None:
            self.sink.steps = config.steps  # type: ignore[attr-defined]
        #: "on": LINE events; "off": none are asked of the interpreter (a trace writer made
        #: with ``steps="off"`` asks for that itself).
        self.steps = getattr(self.sink, "steps", None) or config.steps
        lines = self.steps == "on"
        #: Why this backend was chosen, in words (also written to trace metadata).
        self.backend_reason = selection.reason
        #: The one module identity resolver of this session: the catalog names code with it,
        #: the import hook teaches it, the filters ask it (docs/naming.md).
        self.resolver = ModuleResolver(debug=config.log == "debug")
        #: Scope and value rules, asking that same resolver (recorder/filters.py).
        self.filters = FilterEngine(chain, self.resolver)
        self.catalog = CodeCatalog(self.filters, self.resolver.label_for)
        if hasattr(self.sink, "use_filters"):
            self.sink.use_filters(self.filters)  # type: ignore[attr-defined]
        self.normaliser = Normaliser(self.sink, self._failed, lines=lines)
        self.import_hook = ImportHook(self.resolver, self.normaliser.imported)
        self.backend = selection.backend(self.catalog, self.normaliser,
                                         bool(getattr(self.sink, "wants_frames", False)),
                                         lines=lines)
        self.active = False
        self.failure: Optional[str] = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> "Session":
        global _active
        with _lock:
            if _active is not None:
                raise RecorderError("a recording is already active (backend %s); call "
                                    "recorder.uninstall() before installing again"
                                    % _active.backend_name)
            _active = self
        try:
            self.backend.start()
            self.import_hook.install()
        except BaseException:
            with _lock:
                _active = None
            self.import_hook.uninstall()
            self.backend.stop()
            self.normaliser.close()
            raise
        self.active = True
        if self.stop_at_exit:
            atexit.register(self.stop)
        if self.failure is not None:  # failed while starting: _disable could not stop yet
            self.stop()
        return self

    def stop(self, exit_status: Any = None) -> None:
        """Stop recording: unhook, close every open activation (DETACH), end every thread's
        stream and close the sink. ``exit_status`` is handed to sinks that record it (the
        trace writer's ``<toplevel>`` return). Idempotent; safe from any thread and atexit."""
        global _active
        if exit_status is not None and hasattr(self.sink, "set_exit_status"):
            self.sink.set_exit_status(exit_status)  # type: ignore[attr-defined]
        with _lock:
            if not self.active:
                return
            self.active = False
            if _active is self:
                _active = None
        try:
            atexit.unregister(self.stop)
        except Exception:
            pass
        self.import_hook.uninstall()  # ends imports still open, while the stream is open
        self.backend.stop()
        self.normaliser.close()
        try:
            self.sink.close()
        except RecordingStopped as exc:  # the disk took the trace but not its end
            warn("the end of the trace could not be written: %s" % exc)
        except Exception as exc:
            warn("closing the sink failed: %s: %s" % (type(exc).__name__, exc))

    def _forked(self) -> None:
        """In a child made by ``os.fork()``: drop this (the parent's) recording without a
        single write to its sink, then let :attr:`on_fork` start the child's own."""
        self.active = False
        self.normaliser.closed = True  # nothing reaches the parent's sink any more
        try:
            atexit.unregister(self.stop)
        except Exception:
            pass
        for step in (self.import_hook.uninstall, self.backend.stop):
            try:
                step()
            except Exception:
                pass
        if self.on_fork is not None and self.failure is None:
            try:
                self.on_fork(self)
            except Exception as exc:
                warn("the forked child goes on unrecorded: %s: %s" % (type(exc).__name__, exc))

    # -- failures ----------------------------------------------------------------------------

    def _failed(self, exc: BaseException) -> None:
        """A rule function, a backend callback or the sink under them raised."""
        if isinstance(exc, RecordingStopped):  # a limit reached, a full disk: its own words
            self._disable(str(exc))
        elif isinstance(exc, SinkError) and exc.__cause__ is not None:
            cause = exc.__cause__
            self._disable("the sink raised %s: %s" % (type(cause).__name__, cause))
        else:
            self._disable("internal error %s: %s" % (type(exc).__name__, exc))

    def _disable(self, why: str) -> None:
        if self.failure is not None:
            return
        self.failure = why
        warn("recording stopped, the program goes on unrecorded: %s" % why)
        if not self.active:
            return  # still starting: start() stops as soon as the backend is up
        try:
            self.stop()
        except Exception:
            pass

    def __repr__(self) -> str:
        state = "active" if self.active else "stopped"
        return "<recorder.Session %s backend=%s>" % (state, self.backend_name)


def _after_fork_in_child() -> None:
    """``os.register_at_fork`` hook: the child has only the forking thread, a copy of the
    parent's recording and maybe a copy of a lock another thread held."""
    global _lock, _active
    _lock = threading.Lock()
    session, _active = _active, None
    if session is not None:
        session._forked()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)
