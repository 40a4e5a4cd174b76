"""The ``sys.monitoring`` (PEP 669) backend, used by default on 3.12+.

The filtering recipe (the one coverage.py's sysmon core uses): ``PY_START`` is global and decides per
code object once; skipped code gets ``DISABLE`` and never calls us again, recorded code gets
its local events (lines, returns, yields, resumes) switched on with ``set_local_events``. The
exception events (``RAISE``, ``PY_UNWIND``, ``PY_THROW``) can only be global, so they are
filtered in Python by one dict lookup. ``DISABLE`` is never returned from them: CPython would
raise into the program and unregister the callback (gh-106895).

Thread attribution: ``threading.get_ident()`` costs about as much as the callback itself, so
while only one thread has ever run recorded code the callbacks use that thread's state
directly. ``PY_START``/``PY_RESUME``/``PY_THROW`` (every way into recorded code) still check
the ident; the first other thread switches every callback to the per-thread variant.

Tool id: 4, else 3 (0-2 and 5 belong to debuggers, coverage, profilers, optimizers); an id in
use is never taken. Shutdown switches every event off, unregisters every callback and frees
the id, because on 3.12/3.13 ``free_tool_id`` alone leaves callbacks firing.

A ``DISABLE`` lasts until ``restart_events()``, which re-enables every tool's disabled
events, not only ours (or until CPython re-instruments that code object for some tool). So a
later recording prefers an id this process never recorded with; it calls
``restart_events()`` only when no other tool holds an id (nobody else is touched), and
otherwise leaves code skipped by the earlier recording possibly unrecorded, with one
warning line and a gap in the trace.
"""
from __future__ import annotations

import sys
import threading
from types import CodeType, FrameType
from typing import Any, Dict, List, Optional

from recorder import env
from recorder.codes import CodeCatalog
from recorder.errors import BackendError, warn
from recorder.events import Kind
from recorder.normalise import Normaliser, ThreadState

_MISSING = object()
RETURN, YIELD = Kind.RETURN, Kind.YIELD

#: Tool id -> the code objects a recorder session of this process returned DISABLE for with
#: that id: they stay silent for the id until ``restart_events()`` (see the module doc).
_DISABLED: Dict[int, List[CodeType]] = {}
#: sys.monitoring tool ids: 0 to 5.
_ALL_TOOL_IDS = range(6)


def free_tool_id() -> Optional[int]:
    """The first of our preferred ids (env.MONITORING_TOOL_IDS) that nobody holds."""
    if not env.HAS_MONITORING:
        return None
    for tool in env.MONITORING_TOOL_IDS:
        if sys.monitoring.get_tool(tool) is None:  # type: ignore[attr-defined]
            return tool
    return None


class MonitoringBackend:
    """Records through ``sys.monitoring`` with one tool id."""

    name = "monitoring"

    def __init__(self, catalog: CodeCatalog, normaliser: Normaliser,
                 wants_frames: bool, lines: bool = True) -> None:
        self._catalog = catalog
        self._norm = normaliser
        self._wants_frames = wants_frames
        self._lines_on = lines
        self.tool_id: Optional[int] = None
        #: id(code) -> {offset: line} (see _line_of), dropped when the code object dies
        self._lines: Dict[int, Dict[int, int]] = {}
        catalog.lifetimes.register(self._lines)
        self._single: Optional[ThreadState] = None
        self._single_ident = 0
        self.stopped = False

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        mon = sys.monitoring  # type: ignore[attr-defined]
        self.tool_id = tool = self._take_tool_id()
        if _DISABLED.get(tool):
            self._undo_stale_disables(tool)
        E = mon.events
        self._local_events = (E.PY_RETURN | E.PY_YIELD | E.PY_RESUME | E.STOP_ITERATION
                              | (E.LINE if self._lines_on else 0))
        # PY_RESUME is also global: a generator suspended before install (or whose code
        # never started while recording) is re-entered with no PY_START, so its code is
        # first met here. Skipped code returns DISABLE from it, as from PY_START.
        self._global_events = (E.PY_START | E.PY_RESUME | E.PY_THROW | E.RAISE
                               | E.PY_UNWIND)

        norm = self._norm
        me = threading.get_ident()
        here = norm.thread_state()
        frames = sys._current_frames()
        self._attach_stack(here, sys._getframe(1))
        for ident, frame in frames.items():
            if ident != me:
                self._attach_stack(norm.adopt_thread(ident), frame)
        if len(frames) == 1:
            self._single, self._single_ident = here, me
            self._register(single=True)
        else:
            self._register(single=False)
        mon.set_events(tool, self._global_events)

    def _take_tool_id(self) -> int:
        """Take the first free id of env.MONITORING_TOOL_IDS, preferring one no earlier
        recording of this process used (its DISABLEs would still hold). ``use_tool_id`` is
        the check itself: another thread may take an id between a look and the taking."""
        mon = sys.monitoring  # type: ignore[attr-defined]
        order = sorted(env.MONITORING_TOOL_IDS, key=lambda t: bool(_DISABLED.get(t)))
        for tool in order:
            try:
                mon.use_tool_id(tool, "recorder")
            except ValueError:  # in use (perhaps taken since free_tool_id() looked)
                continue
            return tool
        raise BackendError("no sys.monitoring tool id is free (tried %s: held by %s)" % (
            ", ".join(map(str, env.MONITORING_TOOL_IDS)),
            ", ".join(repr(mon.get_tool(t)) for t in env.MONITORING_TOOL_IDS)))

    def _undo_stale_disables(self, tool: int) -> None:
        """Code an earlier recording skipped with ``tool`` is still DISABLEd for it."""
        mon = sys.monitoring  # type: ignore[attr-defined]
        others = [t for t in _ALL_TOOL_IDS if t != tool and mon.get_tool(t) is not None]
        stale = _DISABLED.pop(tool)
        if not others:
            mon.restart_events()  # resets only our own events: no other tool exists
            _DISABLED.clear()  # every id's DISABLEs are gone
            return
        missed = [code for code in stale if self._catalog.would_record(code)]
        if missed:
            warn("sys.monitoring: %d code object%s skipped by an earlier recording in this "
                 "process may stay unrecorded (restart_events() would also reset the events "
                 "of %s): e.g. %s in %s" % (
                     len(missed), "" if len(missed) == 1 else "s",
                     ", ".join(repr(mon.get_tool(t)) for t in others),
                     missed[0].co_name, missed[0].co_filename))
            self._norm.gap(None, "monitoring-disabled",
                           "code skipped by an earlier recording in this process may stay "
                           "DISABLEd for this tool id (until CPython re-instruments it); "
                           "restart_events() would reset the events of the other tools",
                           functions=sorted({c.co_name for c in missed}))
        _DISABLED[tool] = stale  # still disabled for the next recording with this id

    def stop(self) -> None:
        if self.stopped or self.tool_id is None:
            return
        self.stopped = True
        mon = sys.monitoring  # type: ignore[attr-defined]
        tool = self.tool_id
        mon.set_events(tool, 0)
        skipped = _DISABLED.setdefault(tool, [])
        for code in self._catalog.codes():
            if self._catalog.infos.get(id(code)) is not None:
                mon.set_local_events(tool, code, 0)
            else:
                skipped.append(code)
        for event in self._all_events():
            mon.register_callback(tool, event, None)
        mon.free_tool_id(tool)

    def _all_events(self) -> "list[int]":
        E = sys.monitoring.events  # type: ignore[attr-defined]
        return [E.PY_START, E.PY_RESUME, E.PY_THROW, E.PY_RETURN, E.PY_YIELD, E.PY_UNWIND,
                E.LINE, E.RAISE, E.STOP_ITERATION]

    def _attach_stack(self, ts: ThreadState, innermost: Optional[FrameType]) -> None:
        """R9: monitoring reports lines and returns of frames already running as soon as
        their code has local events, so ATTACH them first (outermost first)."""
        frames = []
        frame = innermost
        while frame is not None:
            frames.append(frame)
            frame = frame.f_back
        for frame in reversed(frames):
            code = frame.f_code
            info = self._catalog.lookup(code, frame)
            if info is not None:
                ts.rules.attach(code, info, frame.f_lineno,
                                frame if self._wants_frames else None)
                sys.monitoring.set_local_events(  # type: ignore[attr-defined]
                    self.tool_id, code, self._local_events)

    def _go_multithreaded(self) -> None:
        if self._single is not None and not self.stopped:
            self._single = None
            self._register(single=False)

    def _line_of(self, code: CodeType, offset: int) -> Optional[int]:
        """The line of a bytecode offset (for RESUME's R6 seed), a map built once per code."""
        lines = self._lines.get(id(code))
        if lines is None:
            self._catalog.lifetimes.watch(code)  # (it is already: the catalog met it)
            lines = self._lines[id(code)] = {}
            for start, end, line in code.co_lines():  # type: ignore[attr-defined]
                if line is not None:
                    for off in range(start, end, 2):
                        lines[off] = line
        return lines.get(offset)

    # -- callbacks -----------------------------------------------------------------------------

    def _register(self, single: bool) -> None:
        """Register the callbacks. While one thread runs recorded code, the thread's rule
        functions themselves are the LINE/RETURN/YIELD/RAISE/UNWIND callbacks (their
        signatures match): no wrapper call at all on the busiest events."""
        mon = sys.monitoring  # type: ignore[attr-defined]
        E = mon.events
        DISABLE = mon.DISABLE
        tool = self.tool_id
        norm = self._norm
        infos = self._catalog.infos
        lookup = self._catalog.lookup
        set_local_events = mon.set_local_events
        local_events = self._local_events
        line_of = self._line_of
        want = self._wants_frames
        getframe = sys._getframe
        fail = norm.failed
        get_ident = threading.get_ident
        thread_state = norm.thread_state
        threads = norm.threads
        go_multi = self._go_multithreaded
        _id = id
        missing = _MISSING

        if single:
            the_rules = self._single.rules  # type: ignore[union-attr]
            the_ident = self._single_ident

            def entry_rules() -> Any:
                if get_ident() != the_ident:
                    go_multi()
                    return thread_state().rules
                return the_rules

            def current_rules() -> Any:
                return the_rules
        else:
            the_rules, the_ident = None, -1  # no thread is "the" thread: entry_rules() decides

            def entry_rules() -> Any:
                ts = threads.get(get_ident())
                return (ts if ts is not None else thread_state()).rules

            current_rules = entry_rules

        # At the program's recursion limit (recorder/recursion.py) a callback may have no
        # room for a Python-level call, and near CPython's C recursion limit (3.12) not even
        # for a builtin one. What cannot run then is queued in the thread's backlog with
        # attribute lookups and ``+=`` only, and the normaliser runs it as soon as there is
        # room: an exception must never leave a callback into the program.
        local = norm.local
        # One thread: its state, with no lookup at all (a lookup in ``local`` compares keys,
        # which CPython's C recursion limit can refuse on 3.12)
        the_state = self._single if single else None

        def replay_start(code: CodeType, frame: Optional[FrameType], offset: Optional[int],
                         enabled: bool) -> None:
            """A PY_START (``offset`` None), PY_RESUME or PY_THROW that had no room.
            ``enabled``: the code's local events could be switched on meanwhile (without
            them its activation would never be closed, so it is not recorded)."""
            info = lookup(code, frame)
            if info is None:
                set_local_events(tool, code, 0)  # switched on while undecided
                return
            if not enabled:
                return
            rules = thread_state().rules
            if offset is None:
                rules.call(code, info, frame if want else None)
            else:
                rules.resume(code, info, line_of(code, offset), frame if want else None)

        def py_start(code: CodeType, offset: int) -> Any:
            try:
                info = infos.get(_id(code), missing)
                if info is missing:
                    info = lookup(code, getframe(1))
                    if info is not None:
                        set_local_events(tool, code, local_events)
                if info is None:
                    return DISABLE
                # the single thread's rules without a call to entry_rules (the busiest path)
                rules = the_rules if get_ident() == the_ident else entry_rules()
                rules.call(code, info, getframe(1) if want else None)
            except RecursionError:
                try:
                    waiting = (the_state or local.state).backlog
                except (AttributeError, RecursionError):
                    return None  # no room even to find the thread (docs/backends.md)
                try:
                    frame = getframe(1)
                except RecursionError:
                    frame = None
                try:
                    set_local_events(tool, code, local_events)  # in case it is recorded
                    enabled = True
                except RecursionError:
                    enabled = False
                waiting += ((replay_start, (code, frame, None, enabled)),)
            except BaseException as exc:
                fail(exc)
            return None

        def py_resume(code: CodeType, offset: int, *thrown: BaseException) -> Any:
            """PY_RESUME, and PY_THROW (``thrown``), which never returns DISABLE: CPython
            does not allow it there (gh-106895)."""
            try:
                info = infos.get(_id(code), missing)
                if info is missing:
                    info = lookup(code, getframe(1))
                    if info is not None:
                        set_local_events(tool, code, local_events)
                if info is None:
                    return None if thrown else DISABLE
                entry_rules().resume(code, info, line_of(code, offset),
                                     getframe(1) if want else None)
            except RecursionError:
                try:
                    waiting = (the_state or local.state).backlog
                except (AttributeError, RecursionError):
                    return None
                try:
                    frame = getframe(1)
                except RecursionError:
                    frame = None
                try:
                    set_local_events(tool, code, local_events)
                    enabled = True
                except RecursionError:
                    enabled = False
                waiting += ((replay_start, (code, frame, offset, enabled)),)
            except BaseException as exc:
                fail(exc)
            return None

        def stop_iteration(code: CodeType, offset: int, value: Any) -> Any:
            # Documented as interchangeable with RAISE(StopIteration) (gh-116090); CPython
            # passes the exception, build one if a version passes the bare value.
            exc = value
            try:
                if not isinstance(value, BaseException):
                    exc = StopIteration(value)
                current_rules().raise_(code, offset, exc)
            except RecursionError:
                try:
                    state = the_state or local.state
                except (AttributeError, RecursionError):
                    return None
                state.backlog += ((state.rules.raise_, (code, offset, exc)),)
            except BaseException as err:
                fail(err)
            return None

        if single:
            # One thread: the thread's rule functions are the callbacks themselves (their
            # signatures match), no wrapper call on the busiest events. A line rule called
            # without a frame fetches its caller's, the traced frame (normalise.Rules).
            line = the_rules.line
            py_return, py_yield = the_rules.return_, the_rules.yield_
            py_unwind, raise_ = the_rules.unwind, the_rules.raise_
        else:
            # Several threads: the thread's rules looked up inline (entry_rules() would
            # be one more Python call per event)
            def line(code: CodeType, line_number: int) -> Any:
                try:
                    (threads.get(get_ident()) or thread_state()).rules.line(
                        code, line_number, getframe(1) if want else None)
                except RecursionError:
                    try:
                        state = local.state
                        frame = getframe(1) if want else None
                    except (AttributeError, RecursionError):
                        return  # no room even to find the thread (docs/backends.md)
                    state.backlog += ((state.rules.line, (code, line_number, frame)),)
                except BaseException as exc:
                    fail(exc)

            def py_return(code: CodeType, offset: int, value: Any) -> Any:
                try:
                    (threads.get(get_ident()) or thread_state()).rules.return_(code, offset, value)
                except RecursionError:
                    try:
                        state = local.state
                    except (AttributeError, RecursionError):
                        return
                    state.backlog += ((state.rules.return_, (code, offset, value)),)
                except BaseException as exc:
                    fail(exc)

            def py_yield(code: CodeType, offset: int, value: Any) -> Any:
                try:
                    (threads.get(get_ident()) or thread_state()).rules.yield_(code, offset, value)
                except RecursionError:
                    try:
                        state = local.state
                    except (AttributeError, RecursionError):
                        return
                    state.backlog += ((state.rules.yield_, (code, offset, value)),)
                except BaseException as exc:
                    fail(exc)

            def py_unwind(code: CodeType, offset: int, exc: BaseException) -> Any:
                try:
                    (threads.get(get_ident()) or thread_state()).rules.unwind(code, offset, exc)
                except RecursionError:
                    try:
                        state = local.state
                    except (AttributeError, RecursionError):
                        return
                    state.backlog += ((state.rules.unwind, (code, offset, exc)),)
                except BaseException as err:
                    fail(err)

            def raise_(code: CodeType, offset: int, exc: BaseException) -> Any:
                try:
                    (threads.get(get_ident()) or thread_state()).rules.raise_(code, offset, exc)
                except RecursionError:
                    try:
                        state = local.state
                    except (AttributeError, RecursionError):
                        return
                    state.backlog += ((state.rules.raise_, (code, offset, exc)),)
                except BaseException as err:
                    fail(err)

        for event, callback in ((E.PY_START, py_start), (E.PY_RESUME, py_resume),
                                (E.PY_THROW, py_resume), (E.LINE, line),
                                (E.PY_RETURN, py_return), (E.PY_YIELD, py_yield),
                                (E.PY_UNWIND, py_unwind), (E.RAISE, raise_),
                                (E.STOP_ITERATION, stop_iteration)):
            mon.register_callback(tool, event, callback)
