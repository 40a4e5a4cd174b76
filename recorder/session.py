"""One recording, from install to uninstall: the lifecycle every entry point shares.

``recorder.install()``, ``with recorder.recording()``, the CLI and the auto-start all create a
:class:`Session`. It wires the layers together (scope decision and naming in the
:class:`~recorder.codes.CodeCatalog`, the shared normaliser, the chosen backend, the sink and
what it offers: docs/architecture.md), and it owns the promises that span them: only one
session at a time, a balanced stream however recording ends (uninstall, interpreter exit, a
recorder failure), and a failure that disables recording with one warning instead of
reaching the program.
"""
from __future__ import annotations

import atexit
import opcode
import os
import signal
import sys
import threading
from types import CodeType, FrameType
from typing import Any, Callable, List, Optional, Union

from recorder import recursion
from recorder.backends import Selection, select
from recorder.codes import CodeCatalog
from recorder.config import Config
from recorder.errors import RecorderError, RecordingStopped, SinkError, warn
from recorder.events import CallbackSink, Event, Sink, SinkCapabilities
from recorder.filter_chain import FilterChain, load_chain
from recorder.filters import FilterEngine
from recorder.identity import ModuleResolver
from recorder.importhook import ImportHook
from recorder.lifetimes import CodeLifetimes
from recorder.normalise import CODE, PENDING, Normaliser

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
    #: Recursion depth the program's entry point takes that ``python script.py`` would not
    #: (the command line's own frames, ``recursion.entry_cost``): recording hides it
    #: (recorder/recursion.py).
    entry_frames: int = 0

    def __init__(self, sink: SinkArg, config: Optional[Config] = None,
                 filters: Optional[FilterChain] = None,
                 selection: Optional[Selection] = None,
                 resolver: Optional[ModuleResolver] = None) -> None:
        """``filters``: the chain already loaded (the CLI checks it before anything starts);
        by default it is loaded from ``config`` and the working directory's project
        (docs/filters.md). A bad filter file raises :class:`ConfigError`.
        ``selection``: the backend already chosen by :func:`recorder.backends.select` (the
        CLI and the auto-start choose first, to name it to the trace writer); by default it
        is chosen here from ``config.backend``. Choosing once matters: the choice may print
        a warning (every monitoring tool id taken), which must appear once.
        ``resolver``: a :class:`ModuleResolver` an earlier session of this process used (the
        pytest plugin records each test in its own session: what one learnt about modules
        and files holds for the next, and learning it again per test cost ~15 ms)."""
        if sink is None:
            raise RecorderError("no sink: pass sink=callable(event) or a Sink object")
        self.config = config = config if config is not None else Config()
        chain = filters if filters is not None else load_chain(config)
        self.sink: Sink = sink if hasattr(sink, "emit") else CallbackSink(sink)  # type: ignore
        #: What the sink offers beyond emit and close, read here once (events.Sink).
        self.sink_offers = offers = SinkCapabilities(self.sink)
        if selection is None:
            selection = select(config.backend)
        self.backend_name = selection.name
        if offers.takes_backend:
            # The trace writer records the backend in its metadata.
            self.sink.backend = selection.name  # type: ignore[attr-defined]
        if offers.use_reprs is not None:
            # A trace writer made without ``reprs=`` follows the configuration.
            offers.use_reprs(config.reprs)
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
        #: Every table keyed by ``id(code)`` forgets a code object when it dies: one weak
        #: reference per code object, shared by the resolver, the catalog and the backend.
        #: A resolver handed over (one session after another: the pytest plugin) keeps its
        #: own, so that nothing of an ended session stays registered with it.
        lifetimes = CodeLifetimes()
        self.resolver = resolver if resolver is not None else \
            ModuleResolver(debug=config.log == "debug", lifetimes=lifetimes)
        #: Scope and value rules, asking that same resolver (recorder/filters.py).
        self.filters = FilterEngine(chain, self.resolver)
        self.catalog = CodeCatalog(self._in_scope, self.resolver.label_for, lifetimes,
                                   backend=selection.name, sink_reads=offers.reads_locals)
        self.catalog.on_release(self.filters.release_code)
        if offers.release_code is not None:
            self.catalog.on_release(offers.release_code)
        if offers.use_filters is not None:
            offers.use_filters(self.filters)
        self.normaliser = Normaliser(self.sink, self._failed, offers, lines=lines)
        self._main_module = _MainModuleWatch(self.normaliser)
        #: ``with session.at_work:`` around recorder code that runs on a program thread
        #: outside a trace callback: nothing it runs is recorded (normalise.AtWork).
        self.at_work = self.normaliser.at_work
        self.import_hook = ImportHook(self.resolver, self.normaliser.imported, self.at_work)
        self.backend = selection.backend(self.catalog, self.normaliser, offers.wants_frames,
                                         lines=lines)
        self.active = False
        self.failure: Optional[str] = None
        self._launcher: List[CodeType] = []

    def leave_out(self, frame: Optional[FrameType]) -> None:
        """``frame`` and its callers launch the recorder (the CLI's console script, runpy
        running ``python -m recorder``, a caller of ``recorder.cli.main``), not the program:
        :meth:`start` does not attach them. Their code is decided as any code if the
        program runs it later (runpy's ``_run_code`` launches ``python -m recorder`` and
        also runs a ``-m`` program). Call it before :meth:`start`."""
        while frame is not None:
            self._launcher.append(frame.f_code)
            frame = frame.f_back

    def _in_scope(self, code: CodeType, frame: Optional[FrameType]) -> bool:
        """The catalog's decision for a code object it meets for the first time: the
        filters'. Also where the ``__main__`` module frame is watched from (once per new
        code object, never per event: see :meth:`main_module_end`)."""
        watch = self._main_module
        if watch.activation is None:
            watch.met(code, frame)
        return self.filters(code, frame)

    def main_module_end(self) -> Optional["ModuleEnd"]:
        """How the program's main module frame (``__main__``'s ``<module>`` code) ended, once
        it has: a :class:`ModuleEnd`; None while it runs, or if this session never met it.

        The auto-start reads the exit status from it (Python does not tell ``atexit``
        handlers how the program ended), the trace writer whether the main thread had
        finished when recording stopped. Learnt at no cost per event: the catalog meets the
        frame when it starts, and the main thread's activation of it at the next code object
        met for the first time (none may come: then an exception that left the frame is not
        known, only that one did)."""
        return self._main_module.end()

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
            recursion.install(self.entry_frames)
            for code in self._launcher:  # not attached (leave_out)
                self.catalog.skip(code)
            try:
                self.backend.start()
            finally:
                for code in self._launcher:
                    self.catalog.decide_again(code)
                self._launcher = []
            self.import_hook.install()
        except BaseException:
            with _lock:
                _active = None
            self.import_hook.uninstall()
            self.backend.stop()
            self.normaliser.close()
            recursion.uninstall()
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
        if exit_status is not None and self.sink_offers.set_exit_status is not None:
            self.sink_offers.set_exit_status(exit_status)
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
        # The program's thread (atexit, uninstall(), an exit hook) runs this while still
        # recorded: the IMPORT_ENDs sent below call the sink (a user's callback, the writer)
        with self.at_work:
            if self.sink_offers.recording_stops is not None:
                # Before the final DETACH/THREAD_END events: the threads they end are still
                # running (the trace writer closes them so); the main thread may have
                # finished.
                try:
                    self.sink_offers.recording_stops(
                        main_ended=self.main_module_end() is not None)
                except Exception as exc:
                    warn("closing the sink failed: %s: %s" % (type(exc).__name__, exc))
            self.import_hook.uninstall()  # ends imports still open, while the stream is open
            self.backend.stop()
            self.normaliser.close()
            # the command line's program may run on (a size limit, a failure): its entry
            # frames stay hidden until it ends
            recursion.uninstall(self.entry_frames if self.main_module_end() is None else 0)
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
        with self.at_work:  # the child's thread is still recorded until the backend stops
            for step in (self.import_hook.uninstall, self.backend.stop, recursion.uninstall):
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
        """A rule function, a backend callback or the sink under them raised.

        Python runs a signal handler between any two bytecodes of the main thread, often
        inside the recorder (a busy program spends much of its time there): what the
        program's handler raises there (``sys.exit`` on SIGTERM, a timeout on SIGALRM) is
        the program's, not a failure of ours, and reaches the program as it would
        unrecorded (recording goes on where the interpreter lets it)."""
        raised = exc.__cause__ if isinstance(exc, SinkError) else exc
        if self.active and raised is not None and _raised_by_a_signal_handler(raised):
            self._main_module.passed_on = raised
            raise raised
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


def _raised_by_a_signal_handler(exc: BaseException) -> bool:
    """Did the program's signal handling raise ``exc`` inside the recorder? ``SystemExit``
    (the recorder never raises it; a handler's ``sys.exit``, also from a handler that is not
    Python code) or an exception whose traceback runs through an installed handler."""
    if isinstance(exc, SystemExit):
        return True
    handlers = set()
    try:
        for signum in signal.valid_signals():
            handler = signal.getsignal(signum)
            code = getattr(getattr(handler, "__func__", handler), "__code__", None)
            if code is not None:
                handlers.add(code)
    except Exception:
        return False
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code in handlers:
            return True
        tb = tb.tb_next
    return False


class ModuleEnd:
    """How the program's main module frame ended (:meth:`Session.main_module_end`)."""

    __slots__ = ("returned", "exception")

    def __init__(self, returned: bool, exception: Optional[BaseException]) -> None:
        #: True: it ran to its end; False: an exception left it (``SystemExit`` included)
        self.returned = returned
        #: the exception that left it; None after a return, or when it is not known
        self.exception = exception

    def __repr__(self) -> str:
        return "ModuleEnd(returned=%r, exception=%r)" % (self.returned, self.exception)


class _MainModuleWatch:
    """``__main__``'s module frame and, once found, its activation on the main thread's
    shadow stack, whose pending exception says how the frame was left: the normaliser
    clears it when the frame goes on after a raise and keeps it when the frame unwinds."""

    def __init__(self, normaliser: Normaliser) -> None:
        self._normaliser = normaliser
        self._main_ident = threading.main_thread().ident
        self.code: Optional[CodeType] = None
        self.frame: Optional[FrameType] = None
        self.activation: Optional[list] = None
        #: the last exception of the program's that the recorder passed on to it (raised by
        #: a signal handler inside the recorder): on settrace, the interpreter then stops
        #: tracing the main thread, so the activation never sees it leave the frame
        self.passed_on: Optional[BaseException] = None

    def met(self, code: CodeType, frame: Optional[FrameType]) -> None:
        """A code object met for the first time: the main module's, or one that runs after
        it started (its activation is on the main thread's stack by then)."""
        try:
            if self.code is None:
                if code.co_name == "<module>" and frame is not None and _is_main(frame):
                    self.code, self.frame = code, frame
                return
            state = self._normaliser.threads.get(self._main_ident)  # type: ignore[arg-type]
            if state is not None:
                for act in state.stack:
                    if act[CODE] is self.code:
                        self.activation = act
                        break
        except Exception:
            pass  # never a reason to stop recording

    def end(self) -> Optional[ModuleEnd]:
        frame = self.frame
        try:
            if frame is None or self._running(frame):
                return None
        except Exception:
            return None
        exc = self.activation[PENDING] if self.activation is not None else None
        if exc is not None:
            return ModuleEnd(False, exc)
        if _returned(frame):
            return ModuleEnd(True, None)
        return ModuleEnd(False, self.passed_on)  # an exception we did not see left it

    def _running(self, frame: FrameType) -> bool:
        """Is ``frame`` still on the main thread's stack?"""
        current: Optional[FrameType] = sys._current_frames().get(  # type: ignore[arg-type]
            self._main_ident)
        while current is not None:
            if current is frame:
                return True
            current = current.f_back
        return False


def _is_main(frame: FrameType) -> bool:
    """Does ``frame`` run in the program's ``__main__`` namespace? (Not only named so:
    ``python -m recorder``'s own ``__main__`` runs on under the program's.)"""
    namespace = frame.f_globals
    if namespace.get("__name__") != "__main__":
        return False
    main = sys.modules.get("__main__")
    return main is None or getattr(main, "__dict__", None) is namespace


#: The instructions that return from a frame (the last one a finished frame ran).
_RETURN_OPS = frozenset(opcode.opmap[name] for name in ("RETURN_VALUE", "RETURN_CONST")
                        if name in opcode.opmap)


def _returned(frame: FrameType) -> bool:
    """Did this finished frame leave by a return instruction (not by an exception)?"""
    try:
        return frame.f_code.co_code[frame.f_lasti] in _RETURN_OPS
    except Exception:
        return False


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
