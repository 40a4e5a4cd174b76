"""Sharing ``sys.settrace`` with other tools: the settrace backend's chain.

``sys.settrace`` has one slot per thread, and coverage.py, pytest-cov, pdb and other debuggers
use it too. While the settrace backend records, the recorder therefore *chains*: its global
trace function also calls the other tool's, and a frame that both want gets a
:class:`Combined` local trace function that calls both local ones (each tool sees 'call',
'line', 'return' and 'exception' for the frames it asked for, and its ``f_trace_lines``
choice is kept for itself). The other tracer arrives in one of three ways:

* **installed before us** (``coverage run -m recorder app.py``): the backend finds it in
  ``sys.gettrace()`` at start and chains it, frames already running included;
* **installed after us through** ``sys.settrace``/``threading.settrace`` (pdb, doctest,
  coverage's Python tracer, the program itself): while recording, those functions (and
  ``sys.gettrace``, ``threading.gettrace``, ``threading.settrace_all_threads``) are
  wrapped, so the new tracer is chained instead of replacing ours, and ``sys.gettrace()``
  returns what the program set. A frame whose ``f_trace`` the tool replaced or deleted (pdb
  does both) gets ours back, combined with the tool's;
* **installed after us through the C API** (coverage's C tracer calls ``PyEval_SetTrace``):
  we are *displaced*, and nothing tells us. It is noticed at the next ``sys.settrace`` or
  ``threading.settrace`` call on that thread (coverage makes one right after), and when
  recording stops. Then the newcomer is chained, and our shadow call stack is compared with
  the real one: frames that returned meanwhile are closed (DETACH), frames that started are
  opened (ATTACH), and if recorded code may have run meanwhile the trace says so (a
  ``displaced`` gap with the record where it starts and ends, one warning line).

The hot path is untouched when no other tracer exists: the chain is a second set of trace
functions, installed only for a thread that has another tracer.
"""
from __future__ import annotations

import os
import sys
import threading
from types import FrameType
from typing import Any, Callable, Dict, List, Optional, Tuple

from recorder import env
from recorder.codes import SYNC_ALL, CodeCatalog
from recorder.errors import warn
from recorder.normalise import Normaliser, ThreadState

TraceFunction = Callable[[FrameType, str, Any], Any]

_get_ident = threading.get_ident
#: The recorder's own source files start with one of these.
_OWN = tuple({os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,
              os.path.dirname(os.path.dirname(os.path.realpath(__file__))) + os.sep})


class ThreadSlot:
    """One thread's share of the trace-function slot.

    ``ours``/``local``/``local_sync``: the recorder's global and local trace functions for
    this thread (recorder.backends.settrace). ``other``: the other tool's global trace
    function on this thread (what ``sys.gettrace()`` returns to the program), or None.
    ``installed``: what we last put in the real slot (``ours`` or :attr:`chained`)."""

    __slots__ = ("ts", "ours", "local", "local_sync", "other", "chained", "installed",
                 "recheck", "gap", "pending")

    def __init__(self, ts: ThreadState) -> None:
        self.ts = ts
        self.ours: TraceFunction = None  # type: ignore[assignment]  # set by the backend
        self.local: TraceFunction = None  # type: ignore[assignment]
        self.local_sync: TraceFunction = None  # type: ignore[assignment]
        self.other: Optional[TraceFunction] = None
        self.chained: Optional[TraceFunction] = None
        self.installed: Optional[TraceFunction] = None
        #: a tool changed the slot from inside its own callback: check the frames' f_trace
        #: once it returns (pdb deletes them after ``sys.settrace(None)``)
        self.recheck = False
        #: the kind of the gap open on this thread, if any (see TraceChain.check_slot)
        self.gap: Optional[str] = None
        #: (what held the slot, the frame to compare from): a check to finish
        self.pending: Optional[Tuple[Any, Optional[FrameType]]] = None

    def ours_for(self, sync: int, attached: bool = False) -> TraceFunction:
        """Our local trace function for a frame of code with ``CodeInfo.locals_sync``. A
        frame found running (``attached``) whose cells need protection refreshes at every
        event: the sink may have read its locals outside any callback, and CPython then
        writes the snapshot back after the frame's next callback, whatever it is."""
        if sync == SYNC_ALL or (attached and sync):
            return self.local_sync
        return self.local


class Combined:
    """A frame's local trace function when another tool traces it through the chain.

    Ours (None: the recorder skips the frame) runs first, so our event is recorded before a
    debugger stops there, then theirs; a tool that did not want line events for the frame
    (``f_trace_lines = False`` in its call handler) gets none. Their exception is theirs to
    raise: CPython then removes the thread's trace functions, as it would without us (a
    ``displaced`` gap). ``refresh``: end with the ``f_locals`` refresh that protects cell
    variables from CPython's write-back (recorder.codes.SYNC_ALL): their callback now goes
    through the same syncing trampoline as ours."""

    __slots__ = ("ours", "theirs", "ours_lines", "theirs_lines", "refresh", "chain", "slot")

    def __init__(self, chain: "TraceChain", slot: ThreadSlot, ours: Optional[TraceFunction],
                 theirs: TraceFunction, ours_lines: bool = True, theirs_lines: bool = True,
                 refresh: bool = False) -> None:
        self.chain = chain
        self.slot = slot
        self.ours = ours
        self.theirs = theirs
        self.ours_lines = ours_lines
        self.theirs_lines = theirs_lines
        self.refresh = refresh

    def __call__(self, frame: FrameType, event: str, arg: Any) -> Any:
        slot = self.slot
        line = event == "line"
        ours = self.ours
        if ours is not None and (self.ours_lines or not line):
            ours(frame, event, arg)
        # As in CPython, a local trace function is dormant while its tool has no trace
        # function installed on the thread (it removed its own, or never had one here).
        if slot.other is not None and (self.theirs_lines or not line):
            chain = self.chain
            try:
                result = self.theirs(frame, event, arg)
            except BaseException as exc:
                chain.tracer_raised(slot, exc)
                raise
            if result is not None:
                self.theirs = result
            if chain.real_gettrace() is not slot.installed:
                chain.retaken(slot)
        if slot.recheck:
            self.chain.restore_frames(slot, frame.f_back)
        if self.refresh:
            frame.f_locals  # the refresh: the last action before CPython's write-back
        return self


class TraceChain:
    """The settrace backend's side of sharing the slot (see the module docstring)."""

    def __init__(self, catalog: CodeCatalog, normaliser: Normaliser,
                 wants_frames: bool, lines: bool = True) -> None:
        self._catalog = catalog
        self._norm = normaliser
        self._wants_frames = wants_frames
        #: False (``--steps off``): our local trace functions never get line events (the
        #: other tool's still do: Combined.ours_lines)
        self.lines = lines
        self.real_settrace = sys.settrace
        self.real_gettrace = sys.gettrace
        self.real_thread_settrace = threading.settrace
        self.real_thread_gettrace = getattr(threading, "gettrace", None)
        self.real_settrace_all = getattr(threading, "settrace_all_threads", None)
        #: thread ident -> its slot (a thread's slot is made at its first event)
        self.slots: Dict[int, ThreadSlot] = {}
        #: the program's threading.settrace function (what new threads would get)
        self.thread_hook: Optional[TraceFunction] = None
        #: our threading hook (SettraceBackend._install_on_thread)
        self.installer: Optional[TraceFunction] = None
        self.active = False
        self.warned = False
        self._wrappers: Dict[Tuple[Any, str], Any] = {}
        self._own_files: Dict[str, bool] = {}

    # -- the slot of one thread ----------------------------------------------------------------

    def add(self, slot: ThreadSlot) -> None:
        """A thread the backend records (its ident's earlier thread, if any, has ended);
        its trace functions are made."""
        slot.chained = self._make_chained(slot)
        self.slots[slot.ts.ident] = slot

    def install(self, slot: ThreadSlot) -> TraceFunction:
        """Put ours, or the chain when the thread has another tracer, in the real slot."""
        fn = slot.ours if slot.other is None else slot.chained
        slot.installed = fn
        self.real_settrace(fn)
        return fn

    def _make_chained(self, slot: ThreadSlot) -> TraceFunction:
        """The thread's global trace function while another tool's is chained."""
        ours = slot.ours
        chain = self
        real_gettrace = self.real_gettrace
        infos = self._catalog.infos
        syncs = env.SETTRACE_SYNCS_LOCALS
        own = self._own

        def chained(frame: FrameType, event: str, arg: Any) -> Any:
            if slot.pending is not None:
                chain.finish_check(slot)
            mine = ours(frame, event, arg)  # may turn lines off for itself (3.8-3.9 cells)
            my_lines = frame.f_trace_lines
            theirs = None
            other = slot.other
            if other is not None and not own(frame.f_code.co_filename):
                frame.f_trace_lines = True
                try:
                    theirs = other(frame, event, arg)
                except BaseException as exc:
                    chain.tracer_raised(slot, exc)
                    raise
                if real_gettrace() is not slot.installed:
                    chain.retaken(slot)  # coverage's C tracer puts itself back on 'call'
            their_lines = frame.f_trace_lines
            code = frame.f_code
            info = infos.get(id(code))
            refresh = (info.locals_sync if info is not None
                       else syncs and bool(code.co_cellvars or code.co_freevars))
            if theirs is None:
                frame.f_trace_lines = my_lines
                local = mine
            elif mine is None and not refresh:
                local = theirs
            else:
                frame.f_trace_lines = (mine is not None and my_lines) or their_lines
                local = Combined(chain, slot, mine, theirs, my_lines, their_lines,
                                 mine is slot.local_sync or (mine is None and refresh))
            if refresh:
                frame.f_locals  # the refresh, last (recorder.codes.SYNC_*)
            return local

        return chained

    def _own(self, filename: str) -> bool:
        """Is this the recorder's own code? The other tool never sees it through the chain:
        it does not run in an unrecorded program."""
        own = self._own_files.get(filename)
        if own is None:
            own = self._own_files[filename] = filename.startswith(_OWN)
        return own

    def retaken(self, slot: ThreadSlot) -> None:
        """The other tool changed the real slot from inside its callback (C API): what it
        put there is the chained tracer (coverage's C tracer puts itself back on every
        'call'), or it removed its tracer (a stopped coverage tracer does when called);
        then the chain goes back in."""
        real = self.real_gettrace()
        if real is not slot.ours and real is not slot.chained:
            slot.other = real
        self.install(slot)

    def tracer_raised(self, slot: ThreadSlot, exc: BaseException) -> None:
        """The other tool's trace function raised: CPython will remove the thread's trace
        function and the frame's (both tools' on this thread), as without us."""
        slot.other = None
        if slot.gap is None:
            self._open_gap(slot, "removed", "the other trace function raised %s, and "
                           "CPython removes every trace function of the thread when one "
                           "raises" % type(exc).__name__, loud=True)

    # -- noticing a displacement ------------------------------------------------------------

    def check_slot(self, slot: ThreadSlot, frame: Optional[FrameType]) -> None:
        """Called on the slot's thread from a wrapper: if another tool replaced our trace
        function through the C API (or CPython removed it), chain the newcomer (None: the
        tool removed itself), bring the shadow stack in line with the real one and, if
        recorded code may have run meanwhile, say so (a gap from the last record to
        here)."""
        real = self.real_gettrace()
        if (real is slot.installed or real is self.installer) and slot.gap is None:
            return
        if real is not slot.ours and real is not slot.chained and real is not self.installer:
            slot.other = real
        # The chain goes in first: the other tool (a C tracer) sees every frame we run
        # until then, and none after. The rest runs inside our own trace function, where
        # no tool sees it: at the 'call' of _kick, or here if this already is a callback.
        slot.pending = (real, frame)
        slot.installed = slot.chained
        self.real_settrace(slot.chained)
        _kick()
        if slot.pending is not None:
            self.finish_check(slot)

    def finish_check(self, slot: ThreadSlot) -> None:
        """The second half of :meth:`check_slot`."""
        real, frame = slot.pending  # type: ignore[misc]
        slot.pending = None
        started = self._resync(slot, frame, lambda: None if slot.gap is not None
                               else self._displaced(slot, real))
        for _code, info, running in started:
            self.give_ours(slot, running, info, attached=True)
        if slot.gap is not None:
            self._norm.gap_end(slot.ts, slot.gap)
            slot.gap = None
        self.install(slot)

    def _resync(self, slot: ThreadSlot, innermost: Optional[FrameType],
                on_loss: Callable[[], Any], apply: bool = True
                ) -> List[Tuple[Any, Any, FrameType]]:
        """Match the thread's shadow stack to its real stack from ``innermost`` out
        (Normaliser.resync); returns the frames found running unseen, now ATTACHed."""
        running: List[Tuple[Any, Any, FrameType]] = []
        lookup = self._catalog.lookup  # a frame that started unseen may be new code
        frame = innermost
        while frame is not None:
            info = lookup(frame.f_code, frame)
            if info is not None:
                running.append((frame.f_code, info, frame))
            frame = frame.f_back
        running.reverse()
        return self._norm.resync(slot.ts, running, self._wants_frames, on_loss, apply)

    def _displaced(self, slot: ThreadSlot, real: Any) -> None:
        """Open the gap for what holds the slot instead of us (``real``)."""
        if real is None:
            self._open_gap(slot, "removed", "the recorder's trace function was removed from "
                           "the thread: CPython removes it when a trace call fails (at the "
                           "recursion limit, or on a KeyboardInterrupt inside it), and a "
                           "tool can remove it through the C API", loud=False)
        else:
            self._open_gap(slot, "displaced", "another trace function (%s) replaced the "
                           "recorder's through the C API" % _describe(real), loud=True)

    def _open_gap(self, slot: ThreadSlot, kind: str, reason: str, loud: bool) -> None:
        """The thread is not recorded from its last record on; ``loud``: one warning
        line (once per recording: another tool took the slot)."""
        slot.gap = kind
        if loud and not self.warned:
            self.warned = True
            warn("%s on thread %s; what runs there until the recorder's is back is not "
                 "recorded (trace_metadata.json 'gaps')" % (reason, slot.ts.name))
        self._norm.gap(slot.ts, kind, reason)

    # -- frames ------------------------------------------------------------------------------

    def give_ours(self, slot: ThreadSlot, frame: FrameType, info: Any,
                  attached: bool = False) -> None:
        """Make ``frame`` call our local trace function, keeping the one it has (and its
        line events: without ours, ``lines`` False, only the other tool gets them)."""
        current = frame.f_trace
        ours = slot.ours_for(info.locals_sync, attached)
        if current is ours or current is slot.local or current is slot.local_sync:
            return
        if type(current) is Combined and current.slot is slot:
            if current.ours is None:
                current.ours = ours
                if not self.lines:
                    current.ours_lines = False
            return
        if current is None:
            frame.f_trace = ours
            if not self.lines:
                frame.f_trace_lines = False
        else:
            frame.f_trace = Combined(self, slot, ours, current, ours_lines=self.lines,
                                     refresh=ours is slot.local_sync)

    def restore_frames(self, slot: ThreadSlot, innermost: Optional[FrameType]) -> None:
        """After a tool changed the slot: every recorded frame of this thread calls our
        local trace function again (a debugger replaces ``f_trace`` of every frame when it
        starts, and deletes it when it continues)."""
        slot.recheck = False
        infos = self._catalog.infos
        frame = innermost
        while frame is not None:
            info = infos.get(id(frame.f_code))
            if info is not None:
                self.give_ours(slot, frame, info)
            frame = frame.f_back

    # -- the wrappers -------------------------------------------------------------------------

    def wrap(self) -> None:
        """Replace sys.settrace & co. by the chaining versions (undone by :meth:`unwrap`)."""
        self.active = True
        chain = self
        real_settrace, real_gettrace = self.real_settrace, self.real_gettrace

        def settrace(function: Optional[TraceFunction]) -> None:
            slot = chain.slots.get(_get_ident()) if chain.active else None
            if slot is None or function is chain.installer or _ours(slot, function):
                return real_settrace(function)
            caller = sys._getframe(1)
            chain.check_slot(slot, caller)
            slot.other = function
            chain.install(slot)
            chain.restore_frames(slot, caller)
            slot.recheck = True  # pdb deletes f_trace right after, in its callback

        def gettrace() -> Optional[TraceFunction]:
            real = real_gettrace()
            slot = chain.slots.get(_get_ident()) if chain.active else None
            if slot is None or real is not slot.installed:
                return real  # not ours here (not recorded, or displaced): the truth
            return slot.other

        self._replace(sys, "settrace", settrace, real_settrace)
        self._replace(sys, "gettrace", gettrace, real_gettrace)
        real_thread_settrace = self.real_thread_settrace

        def thread_settrace(function: Optional[TraceFunction]) -> None:
            if not chain.active or function is chain.installer:
                return real_thread_settrace(function)
            chain.thread_hook = function
            slot = chain.slots.get(_get_ident())
            if slot is not None:
                chain.check_slot(slot, sys._getframe(1))

        self._replace(threading, "settrace", thread_settrace, real_thread_settrace)
        if self.real_thread_gettrace is not None:
            real_thread_gettrace = self.real_thread_gettrace

            def thread_gettrace() -> Optional[TraceFunction]:
                return chain.thread_hook if chain.active else real_thread_gettrace()

            self._replace(threading, "gettrace", thread_gettrace, real_thread_gettrace)
        if self.real_settrace_all is not None:
            real_settrace_all = self.real_settrace_all

            def settrace_all_threads(function: Optional[TraceFunction]) -> None:
                if not chain.active or function is chain.installer:
                    return real_settrace_all(function)
                chain.thread_hook = function
                for slot in list(chain.slots.values()):
                    slot.other = function
                # every thread's next call goes through our installer, which installs the
                # chain for its slot; this thread's right now
                real_settrace_all(chain.installer)
                real_thread_settrace(chain.installer)
                slot = chain.slots.get(_get_ident())
                if slot is not None:
                    chain.install(slot)

            self._replace(threading, "settrace_all_threads", settrace_all_threads,
                          real_settrace_all)

    def _replace(self, module: Any, name: str, wrapper: Any, real: Any) -> None:
        wrapper.__name__ = name
        wrapper.__qualname__ = name
        wrapper.__doc__ = real.__doc__
        wrapper.__wrapped__ = real
        setattr(module, name, wrapper)
        self._wrappers[(module, name)] = (wrapper, real)

    def unwrap(self) -> None:
        """Give sys and threading their functions back (a wrapper someone replaced since
        stays, and passes everything through: ``active`` is off)."""
        self.active = False
        for (module, name), (wrapper, real) in self._wrappers.items():
            if getattr(module, name, None) is wrapper:
                setattr(module, name, real)
        self._wrappers.clear()

    # -- stopping ---------------------------------------------------------------------------

    def hand_over(self, slot: ThreadSlot, caller: Optional[FrameType]) -> None:
        """Recording stops: on this thread (the caller's), the other tool's trace function
        takes the slot back. If something else holds it (we were displaced and never came
        back), it stays, and if recorded code ran since, the trace says where it lost the
        thread (``caller``: the innermost frame that is not the recorder's)."""
        real = self.real_gettrace()
        if real is slot.installed and slot.gap is None:
            self.real_settrace(slot.other)
        elif slot.gap is None:
            self._resync(slot, caller, lambda: self._displaced(slot, real), apply=False)

    def hand_over_thread(self, slot: ThreadSlot, frame: FrameType, event: str,
                         arg: Any) -> Any:
        """Recording has stopped and this thread (one ``stop`` could not reach) calls our
        global trace function: the other tool's takes the slot, and gets this call."""
        other = slot.other
        if self.real_gettrace() is slot.installed:
            self.real_settrace(other)
        return other(frame, event, arg) if other is not None else None

    def hand_over_new_thread(self, frame: FrameType, event: str, arg: Any) -> Any:
        """Our threading hook on a thread started as recording stopped: the program's own
        hook (if any) gets the thread, as without us."""
        hook = self.thread_hook
        self.real_settrace(hook)
        return hook(frame, event, arg) if hook is not None else None

    def release_frames(self, frames: List[FrameType]) -> None:
        """Take our local trace functions off ``frames`` (of every thread), leaving the
        other tool's part of a Combined in place."""
        ours = set()
        for slot in self.slots.values():
            ours.update((id(slot.local), id(slot.local_sync)))
        for frame in frames:
            current = frame.f_trace
            if current is None:
                continue
            if type(current) is Combined:
                frame.f_trace = current.theirs
                frame.f_trace_lines = current.theirs_lines
            elif id(current) in ours:
                frame.f_trace = None
                frame.f_trace_lines = True  # CPython's default: a tool tracing it later
                # (pdb's set_trace) gets its lines


def _kick() -> None:
    """Called only for its 'call' event (see TraceChain.check_slot)."""


def _ours(slot: ThreadSlot, function: Any) -> bool:
    return function is not None and (function is slot.ours or function is slot.chained)


def _describe(tracer: Any) -> str:
    if tracer is None:
        return "none"
    try:
        text = repr(tracer)
    except Exception:
        text = "<%s object>" % type(tracer).__name__
    return text if len(text) <= 80 else text[:77] + "..."


__all__ = ["TraceChain", "ThreadSlot", "Combined"]
