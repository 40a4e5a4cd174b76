"""The shared normaliser: one set of rules that turns backend callbacks into the event model.

Both backends call the same per-thread rule functions with the event *they* saw (a settrace
``'call'`` already classified as start or resume, a monitoring ``PY_YIELD``, ...). Everything
that must be the same whichever backend recorded the program lives here, so the two streams
cannot drift:

* R4  HANDLED is derived: an activation with a pending exception whose next event is not
  RAISE/UNWIND (a LINE, a child CALL, a YIELD or RETURN) continued after the raise.
* R5  UNWIND carries the activation's last raised exception (settrace passes None).
* R6  LINE de-duplication: a LINE equal to the activation's last line is dropped, which makes
  settrace's backward-jump lines look like monitoring's "new line" rule.
* R8  async generators yield ``async_generator_wrapped_value`` on both backends; unwrap it.
* R9  ATTACH for frames already running at start, DETACH for activations still open at stop
  or thread end; THREAD_START/THREAD_END bracket each thread's stream.
* An event whose code object is not the top activation's is ignored: it belongs to skipped
  code (monitoring's exception events are global) or to a frame we never saw start.
* The recorder's own work is never recorded. Inside a trace callback nothing is (the
  interpreter traces no code run from one); elsewhere (the import hook, output capture,
  stopping at exit) the recorder works inside :attr:`Normaliser.at_work`, which puts a
  placeholder activation on the thread's stack: no CALL or RESUME opens above it, and every
  other event, whose code is then never the top activation's, is ignored.

Speed: these functions run once per event, so they are closures over one thread's stack and
the sink's ``emit`` (cell lookups, no attribute walks), an activation is a plain list (no
``__init__`` call per CALL), and the sink is called directly. Their signatures follow
sys.monitoring's callbacks so that the monitoring backend can register some of them as its
callbacks with no wrapper at all. Stack changes happen *before* the sink is called, so a sink
failure can lose an event but never desync the stack. See docs/backends.md for the rules.
"""
from __future__ import annotations

import gc
import itertools
import sys
import threading
import weakref
from types import CodeType, FrameType
from typing import Any, Callable, Dict, List, Optional, Tuple

from recorder import env, recursion
from recorder.events import CodeInfo, Kind, Sink, SinkCapabilities, ThreadInfo

CALL, RESUME, LINE, RETURN, YIELD = Kind.CALL, Kind.RESUME, Kind.LINE, Kind.RETURN, Kind.YIELD
RAISE, HANDLED, UNWIND = Kind.RAISE, Kind.HANDLED, Kind.UNWIND
ATTACH, DETACH = Kind.ATTACH, Kind.DETACH
THREAD_START, THREAD_END = Kind.THREAD_START, Kind.THREAD_END

_get_ident = threading.get_ident

# An activation (one open frame on a thread's shadow stack) is a list, indexed by:
CODE, INFO, PENDING, LAST_EXC, LAST_LINE = range(5)
#   CODE      the code object (identity is how events are matched to the top activation)
#   INFO      its CodeInfo
#   PENDING   raised here, not yet known to be handled or to unwind the frame (R4)
#   LAST_EXC  the last exception raised here: what an UNWIND carries (R5)
#   LAST_LINE the last LINE reported here (R6)


class _RecorderWork:
    """The CODE and PENDING of the placeholder activation that marks the recorder at work on
    a thread (:class:`AtWork`): never a code object, so no event matches it, and a PENDING
    that is not None, so that CALL and RESUME notice it on the branch they already take for
    R4, at no cost to the common case."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<the recorder at work>"


AT_WORK = _RecorderWork()


def open_depth(stack: List[list]) -> int:
    """The number of the program's activations on ``stack`` (work marks are only ever on
    top: nothing opens above one)."""
    depth = len(stack)
    while depth and stack[depth - 1][CODE] is AT_WORK:
        depth -= 1
    return depth


class ThreadState(ThreadInfo):
    """A thread's identity, its shadow stack and its rule functions."""

    __slots__ = ("stack", "backlog", "rules", "_sentinel_ref", "ended")

    def __init__(self, serial: int, ident: int, name: str) -> None:
        super().__init__(serial, ident, name)
        self.stack: List[list] = []
        #: Work that had no room to run at the program's recursion limit, oldest first, as
        #: ``(function, args)``: a rule call, a backend's raw event, or the sink's ``emit``.
        #: It runs before the thread's next event (or at its end). See Normaliser._make_rules.
        self.backlog: List[Tuple[Callable[..., Any], tuple]] = []
        self.rules: Rules = None  # type: ignore[assignment]  # set by the Normaliser
        self._sentinel_ref: Any = None
        self.ended = False


class Rules:
    """One thread's rule functions (closures built by :meth:`Normaliser._make_rules`).

    Signatures (``frame`` is passed only for sinks that want frames):

    * ``call(code, info, frame=None)``, ``resume(code, info, line, frame=None)``,
      ``attach(code, info, line, frame=None)``
    * ``line(code, line, frame=None)``: with no frame, for a sink that wants frames, the
      frame is the caller's (the rule is then the ``sys.monitoring`` callback itself)
    * ``return_(code, offset, value, frame=None)``, ``yield_(code, offset, value, frame=None)``
    * ``unwind(code, offset, exc, frame=None)`` (``exc`` None: the last raised one),
      ``raise_(code, offset, exc, frame=None)``
    * ``drain()``: run the thread's backlog (a backend that queued a raw event there)

    A rule never raises ``RecursionError``: with no room (the program's recursion limit) it
    queues its own call in the thread's backlog (``ts.backlog``), which runs later, in order.
    A caller that cannot even call a rule queues the call itself.
    """

    __slots__ = ("call", "resume", "attach", "line", "return_", "yield_", "unwind", "raise_",
                 "drain")


class AtWork:
    """``with normaliser.at_work:`` around recorder code that runs on a program thread outside
    a trace callback: the import hook, output capture, stopping at exit, the auto-start's
    hooks. Nothing it runs is recorded on that thread (not the recorder's own functions, not
    the standard library code they call, not a user's sink callback), whatever the filters
    say; the other threads are recorded as usual. Nests; costs nothing per event.

    The interpreter keeps calling the backend for that code, and the rules drop it: a
    placeholder activation on the thread's shadow stack refuses CALL and RESUME, and every
    other event is ignored as belonging to code that is not the top activation's. A thread
    with no stream yet gets its placeholders when its stream starts, if it starts inside
    (:meth:`Normaliser.thread_state`).
    """

    __slots__ = ("_threads", "_adopted", "_waiting")

    def __init__(self, threads: Dict[int, "ThreadState"], adopted: Dict[int, "ThreadState"],
                 waiting: Dict[int, int]) -> None:
        self._threads = threads
        self._adopted = adopted
        #: ident -> placeholders owed to a thread that has no state yet
        self._waiting = waiting

    def __enter__(self) -> None:
        ident = _get_ident()
        ts = self._threads.get(ident)
        if ts is None:
            ts = self._adopted.get(ident)
        if ts is not None:
            if ts.backlog:  # events still waiting for room (recursion limit) are the
                try:        # program's: delivered before the placeholder hides the thread
                    ts.rules.drain()
                except BaseException:
                    pass
            ts.stack.append([AT_WORK, None, AT_WORK, None, None])
        else:
            self._waiting[ident] = self._waiting.get(ident, 0) + 1

    def __exit__(self, *exc_info: Any) -> None:
        # No Python-level call before the placeholder is gone: a KeyboardInterrupt delivered
        # at such a call would leave it, and the thread unrecorded from then on.
        ident = _get_ident()
        waiting = self._waiting.get(ident)
        if waiting:
            if waiting > 1:
                self._waiting[ident] = waiting - 1
            else:
                del self._waiting[ident]
            return
        ts = self._threads.get(ident)
        if ts is None:
            ts = self._adopted.get(ident)
        if ts is not None:
            stack = ts.stack
            if stack and stack[-1][CODE] is AT_WORK:  # (gone if the stream ended inside)
                stack.pop()

    def busy(self) -> bool:
        """Is the recorder at work on the calling thread?"""
        ident = _get_ident()
        if self._waiting.get(ident):
            return True
        ts = self._threads.get(ident)
        if ts is None:
            ts = self._adopted.get(ident)
        return ts is not None and bool(ts.stack) and ts.stack[-1][CODE] is AT_WORK


class _NoRecording:
    """An :class:`AtWork` stand-in where nothing records (the import hook or output capture
    used without a session)."""

    __slots__ = ()

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc_info: Any) -> None:
        pass

    @staticmethod
    def busy() -> bool:
        return False


NO_RECORDING = _NoRecording()


class _Sentinel:
    """Stored in a ``threading.local``; it dies with its thread, which tells us the end."""

    __slots__ = ("__weakref__",)


def _unwrap_async_value(value: Any) -> Any:
    """R8: async generators yield ``async_generator_wrapped_value`` (gh-129013)."""
    if type(value).__name__ == "async_generator_wrapped_value":
        referents = gc.get_referents(value)
        if referents:
            return referents[0]
    return value


def _raise_line(code: CodeType, offset: Any, frame: Optional[FrameType]) -> Optional[int]:
    """Where an exception was raised, without LINE events: the frame's line (settrace passes
    the frame), else the line of the bytecode offset (sys.monitoring passes the offset)."""
    if frame is not None:
        return frame.f_lineno
    if offset is not None and hasattr(code, "co_lines"):
        for start, end, line in code.co_lines():
            if start <= offset < end:
                return line
    return None


class Normaliser:
    """Per-thread shadow stacks and the shared rules; feeds one :class:`Sink`.

    ``on_error(exc)`` is called when a rule function (or the sink under it) fails; it
    decides what happens (the session disables recording). ``KeyboardInterrupt`` is never
    swallowed. ``RecursionError`` (the program at its recursion limit, where a rule or the
    sink has no room left) delays the event, never loses it (see :meth:`_make_rules`), and
    never reaches the program; on 3.8 the thread's overflow state it leaves is cleared
    (``recursion.recover``).
    """

    def __init__(self, sink: Sink, on_error: Callable[[BaseException], None],
                 offers: Optional[SinkCapabilities] = None, lines: bool = True) -> None:
        self._sink = sink
        #: what the sink offers beyond emit (read once: events.SinkCapabilities)
        self._offers = offers if offers is not None else SinkCapabilities(sink)
        self._on_error = on_error
        #: False: the backend reports no LINE events (``--steps off``); a RAISE then takes
        #: its line from the frame or the bytecode offset (:func:`_raise_line`)
        self.lines = lines
        self._threads: Dict[int, ThreadState] = {}
        # Threads found running at start from another thread: their end sentinel can only
        # be planted from their own thread, which happens at their first event.
        self._adopted: Dict[int, ThreadState] = {}
        self._serials = itertools.count(1)
        self._local = threading.local()
        self._lock = threading.Lock()
        #: Pieces of work (rule calls, events) that waited for room at the program's recursion
        #: limit: delayed, not lost.
        self.recursion_errors = 0
        #: What the recording misses (see :meth:`gap`), for API users; the trace writer
        #: puts the same in trace_metadata.json.
        self.gaps: List[Dict[str, Any]] = []
        self.closed = False
        # ident -> placeholders owed to a thread with no state yet (see AtWork)
        self._work_waiting: Dict[int, int] = {}
        #: ``with normaliser.at_work:`` the recorder's own work on this thread (AtWork).
        self.at_work = AtWork(self._threads, self._adopted, self._work_waiting)

    # -- threads -------------------------------------------------------------------------

    @property
    def local(self) -> threading.local:
        """Per thread: ``state``, the thread's :class:`ThreadState` once it had an event.
        Reading it is an attribute lookup, not a call: it works where a callback has no
        room to call anything (the program's recursion limit)."""
        return self._local

    @property
    def threads(self) -> Dict[int, ThreadState]:
        """``ident -> ThreadState`` of the threads that have had an event (read-only use)."""
        return self._threads

    def thread_state(self) -> ThreadState:
        """The calling thread's state, created (THREAD_START) on its first event."""
        ident = _get_ident()
        ts = self._threads.get(ident)
        if ts is not None:
            return ts
        ts = self._adopted.pop(ident, None)
        if ts is None:
            ts = self._new_thread(ident)
        self._plant_sentinel(ts)
        waiting = self._work_waiting.pop(ident, 0)
        if waiting:  # the thread's first event comes while the recorder works on it
            ts.stack.extend([AT_WORK, None, AT_WORK, None, None] for _ in range(waiting))
        self._threads[ident] = ts
        return ts

    def adopt_thread(self, ident: int) -> ThreadState:
        """State for another, already running thread (ATTACH at start)."""
        ts = self._threads.get(ident) or self._adopted.get(ident)
        if ts is None:
            ts = self._new_thread(ident)
            self._adopted[ident] = ts
        return ts

    def _new_thread(self, ident: int) -> ThreadState:
        # Never threading.current_thread(): on a raw _thread it creates a _DummyThread.
        thread = threading._active.get(ident)  # type: ignore[attr-defined]
        name = thread.name if thread is not None else "<raw thread %d>" % ident
        with self._lock:
            ts = ThreadState(next(self._serials), ident, name)
        ts.rules = self._make_rules(ts)
        self._send(THREAD_START, ts, None, None, ThreadInfo(ts.serial, ident, name), 0)
        return ts

    def _plant_sentinel(self, ts: ThreadState) -> None:
        sentinel = _Sentinel()
        self._local.sentinel = sentinel
        self._local.state = ts
        ts._sentinel_ref = weakref.ref(sentinel, lambda _ref, ts=ts: self._thread_died(ts))

    def _thread_died(self, ts: ThreadState) -> None:
        # Runs on the exiting thread while its thread state is torn down.
        if self.closed or ts.ended:
            return
        self.end_thread(ts)
        if self._threads.get(ts.ident) is ts:
            del self._threads[ts.ident]

    def end_thread(self, ts: ThreadState) -> None:
        """Close what is still open on ``ts`` (DETACH, innermost first), then THREAD_END.

        THREAD_END is the thread's last event: once ``ended`` is set, its rule functions open
        no new activation (and the others find an empty stack). This matters on the thread
        death path, which runs on the exiting thread with the tracer still active, so the
        sink's own code (a user callback) would otherwise be recorded after THREAD_END."""
        if ts.ended:
            return
        if ts.backlog:  # first what waited for room (it may still open activations)
            try:
                ts.rules.drain()
            except BaseException as exc:
                self.failed(exc)
            del ts.backlog[:]
        ts.ended = True
        stack = ts.stack
        while stack:
            act = stack[-1]
            depth = len(stack)
            stack.pop()
            if act[CODE] is not AT_WORK:
                self._send(DETACH, ts, act[INFO], act[LAST_LINE], None, depth)
        self._send(THREAD_END, ts, None, None, ThreadInfo(ts.serial, ts.ident, ts.name), 0)

    def resync(self, ts: ThreadState, running: List[tuple], want_frames: bool,
               on_loss: Callable[[], Any], apply: bool = True) -> List[tuple]:
        """After a time in which the backend may have missed ``ts``'s events, bring its
        shadow stack in line with the recorded frames really running on its thread
        (``running``: ``(code, info, frame)``, outermost first).

        Recorded code may have run unseen if a recorded frame was running then (it may
        have made calls that started and ended unseen, even while its own lines were
        recorded): ``on_loss()`` is called first, before any event. Activations no longer
        running are closed with DETACH (innermost first), frames that started meanwhile are
        opened with ATTACH, and returned. ``apply`` False: only find out, change nothing."""
        stack = ts.stack
        if not (stack or running) or ts.ended:
            return []
        on_loss()
        if not apply:
            return []
        same = 0
        while (same < len(stack) and same < len(running)
               and stack[same][CODE] is running[same][0]):
            same += 1
        while len(stack) > same:
            act = stack[-1]
            depth = len(stack)
            stack.pop()
            self._send(DETACH, ts, act[INFO], act[LAST_LINE], None, depth)
        started = running[same:]
        for code, info, frame in started:
            ts.rules.attach(code, info, frame.f_lineno, frame if want_frames else None)
        return started

    def close(self) -> None:
        """End every thread's stream (the backend has stopped calling us)."""
        if self.closed:
            return
        for ts in list(self._threads.values()) + list(self._adopted.values()):
            self.end_thread(ts)
        self.closed = True

    def imported(self, kind: Kind, info: Any) -> None:
        """IMPORT_START/IMPORT_END from the import hook, on the importing thread's stream
        (``info.thread_ident``: imports still open at stop are ended from another thread)."""
        if self.closed:
            return
        try:
            ts = self._threads.get(getattr(info, "thread_ident", None) or _get_ident())
            if ts is None:
                ts = self.thread_state()
        except BaseException as exc:
            self.failed(exc)
            return
        if not ts.ended:
            self._send(kind, ts, None, None, info, open_depth(ts.stack))

    def _send(self, kind: Kind, ts: ThreadState, info: Optional[CodeInfo], line: Optional[int],
              value: Any, depth: int) -> None:
        """Emit a bookkeeping event (thread start/end, DETACH) with failures contained."""
        try:
            self._sink.emit(kind, ts, info, line, value, depth, None)
        except BaseException as exc:
            self.failed(exc)

    def gap(self, ts: Optional[ThreadState], kind: str, reason: str, **detail: Any) -> None:
        """From here on, part of the program is not recorded on ``ts`` (None: anywhere):
        ``kind`` names the cause, ``reason`` says it in words, ``detail`` adds facts. A sink
        with a ``gap(thread, entry, where)`` method is told, with the open function and
        its last line; :meth:`gap_end` ends the gap where recording goes on."""
        entry: Dict[str, Any] = {"kind": kind, "reason": reason}
        entry.update(detail)
        self.gaps.append(entry)
        self._tell_sink("gap", ts, entry)

    def gap_end(self, ts: ThreadState, kind: str) -> None:
        """The gap of ``kind`` opened on ``ts`` ends: recording goes on from here."""
        self._tell_sink("gap_end", ts, kind)

    def _tell_sink(self, method: str, ts: Optional[ThreadState], what: Any) -> None:
        tell = getattr(self._offers, method)
        if tell is None or self.closed:
            return
        where = None
        if ts is not None:
            for act in reversed(ts.stack):  # the program's innermost, not the recorder's work
                if act[CODE] is not AT_WORK:
                    where = (act[INFO], act[LAST_LINE])
                    break
        try:
            tell(ts, what, where)
        except Exception as exc:
            self.failed(exc)

    def failed(self, exc: BaseException) -> None:
        """What every rule function does with an exception (see the class docstring)."""
        if isinstance(exc, KeyboardInterrupt):
            raise exc
        if isinstance(exc, RecursionError):
            self.recursion_errors += 1  # no room here: what waits is delivered later
            return
        self._on_error(exc)

    # -- the rules ---------------------------------------------------------------------------

    def _make_rules(self, ts: ThreadState) -> Rules:
        """Build ``ts``'s rule functions.

        At the program's recursion limit (docs/backends.md, "Recursion limit") a rule may
        have no room: any call, and on 3.8-3.11 even a comparison, can raise RecursionError
        there. So each rule reads what it needs first and changes the shadow stack after,
        and from that change on it only does plain bytecode (``+=`` on a list, stores) or
        calls guarded by ``try``. A rule that meets RecursionError before the change queues
        its own call in ``ts.backlog``; an event the sink has no room for is queued there
        as an ``emit`` call. Rules never raise it: a monitoring callback that raised would
        raise into the program. While the backlog is not empty every event waits behind
        it, in order, and the first rule called with room runs it (``drain``), so what the
        sink receives stays complete and balanced. A derived HANDLED always goes through
        the backlog (it is rare).
        """
        stack = ts.stack
        backlog = ts.backlog
        emit = self._sink.emit
        failed = self.failed
        norm = self
        unwrap = _unwrap_async_value
        # LINE with no frame for a sink that wants one: the rule was registered as the
        # sys.monitoring callback itself (no wrapper), so its caller is the line's frame
        # (a sink may want frames at calls only: ``wants_line_frames`` false)
        fetch = self._offers.wants_line_frames
        getframe = sys._getframe
        # 3.8 only: what clears the thread's overflow state after a RecursionError
        recover = recursion.recover if env.RECURSION_OVERFLOW_STICKY else None
        at_work = AT_WORK
        lines_on = self.lines

        def drain() -> None:
            """Run the waiting work, oldest first, until a piece still has no room (it stays
            first). A rule run from here finds the backlog empty, so it runs at once. Like
            the rules, it only does plain bytecode around the calls it makes: the work must
            be back in the backlog whatever fails."""
            nonlocal backlog
            while backlog:
                work = backlog[:]
                del backlog[:]
                done = 0
                try:
                    for function, args in work:
                        function(*args)
                        done += 1
                        if backlog:  # that piece's event has to wait: so does what follows
                            break
                except RecursionError:
                    backlog[:0] = work[done:]
                    norm.recursion_errors += done
                    if recover is not None:
                        recover()
                    return
                except BaseException:
                    backlog[:0] = work[done + 1:]
                    raise
                norm.recursion_errors += done
                if backlog:
                    backlog += work[done:]
                    return

        def wait(rule: Callable[..., None], args: tuple) -> None:
            """The backlog is not empty: ``rule(*args)`` goes behind it, then the backlog runs
            as far as there is room. If this cannot even start, the rule's own handler
            queues the call instead."""
            nonlocal backlog
            backlog += ((rule, args),)
            try:
                drain()
            except RecursionError:
                if recover is not None:
                    recover()

        def attach(code: CodeType, info: CodeInfo, line: Optional[int],
                   frame: Optional[FrameType] = None) -> None:
            """R9: a frame already running when recording started (outermost first)."""
            if ts.ended:
                return
            try:
                stack.append([code, info, None, None, line])
                emit(ATTACH, ts, info, line, None, len(stack), frame)
            except BaseException as exc:
                failed(exc)

        def call(code: CodeType, info: CodeInfo, frame: Optional[FrameType] = None) -> None:
            nonlocal backlog
            try:
                if backlog:
                    wait(call, (code, info, frame))
                    return
                if ts.ended:
                    return  # the thread's stream is closed (see end_thread)
                depth = len(stack) + 1
                parent = stack[-1] if stack else None
                stack.append([code, info, None, None, None])
                if parent is not None and parent[2] is not None:  # R4
                    if parent[2] is at_work:  # the recorder's own work (AtWork)
                        del stack[-1]
                        return
                    backlog += ((emit, (HANDLED, ts, parent[1], parent[4], parent[2],
                                        depth - 1, None)),)
                    parent[2] = None
                    try:
                        wait(emit, (CALL, ts, info, info.firstlineno, None, depth, frame))
                    except RecursionError:  # too deep even for that: it waits
                        backlog += ((emit, (CALL, ts, info, info.firstlineno, None, depth, frame)),)
                        if recover is not None:
                            recover()
                    return
                try:
                    emit(CALL, ts, info, info.firstlineno, None, depth, frame)
                except RecursionError:
                    backlog += ((emit, (CALL, ts, info, info.firstlineno, None, depth,
                                        frame)),)
                    if recover is not None:
                        recover()
            except RecursionError:  # before the change: the whole call waits
                backlog += ((call, (code, info, frame)),)
                if recover is not None:
                    recover()
            except BaseException as exc:
                try:
                    failed(exc)
                except RecursionError:
                    pass

        def resume(code: CodeType, info: CodeInfo, line: Optional[int],
                   frame: Optional[FrameType] = None) -> None:
            """R6: ``line`` is where the generator was suspended; it seeds de-duplication."""
            nonlocal backlog
            try:
                if backlog:
                    wait(resume, (code, info, line, frame))
                    return
                if ts.ended:
                    return
                depth = len(stack) + 1
                parent = stack[-1] if stack else None
                stack.append([code, info, None, None, line])
                if parent is not None and parent[2] is not None:  # R4
                    if parent[2] is at_work:  # the recorder's own work (AtWork)
                        del stack[-1]
                        return
                    backlog += ((emit, (HANDLED, ts, parent[1], parent[4], parent[2],
                                        depth - 1, None)),)
                    parent[2] = None
                    try:
                        wait(emit, (RESUME, ts, info, line, None, depth, frame))
                    except RecursionError:  # too deep even for that: it waits
                        backlog += ((emit, (RESUME, ts, info, line, None, depth, frame)),)
                        if recover is not None:
                            recover()
                    return
                try:
                    emit(RESUME, ts, info, line, None, depth, frame)
                except RecursionError:
                    backlog += ((emit, (RESUME, ts, info, line, None, depth, frame)),)
                    if recover is not None:
                        recover()
            except RecursionError:
                backlog += ((resume, (code, info, line, frame)),)
                if recover is not None:
                    recover()
            except BaseException as exc:
                try:
                    failed(exc)
                except RecursionError:
                    pass

        def line_rule(code: CodeType, line: int, frame: Optional[FrameType] = None) -> None:
            nonlocal backlog
            try:
                if backlog:
                    if frame is None and fetch:
                        frame = getframe(1)
                    wait(line_rule, (code, line, frame))
                    return
                if stack:
                    act = stack[-1]
                    if act[0] is code and act[4] != line:
                        if frame is None and fetch:
                            frame = getframe(1)
                        depth = len(stack)
                        pending = act[2]
                        act[4] = line
                        if pending is not None:  # R4
                            act[2] = None
                            backlog += ((emit, (HANDLED, ts, act[1], line, pending, depth,
                                                frame)),)
                            try:
                                wait(emit, (LINE, ts, act[1], line, None, depth, frame))
                            except RecursionError:  # too deep even for that: it waits
                                backlog += ((emit, (LINE, ts, act[1], line, None, depth, frame)),)
                                if recover is not None:
                                    recover()
                            return
                        try:
                            emit(LINE, ts, act[1], line, None, depth, frame)
                        except RecursionError:
                            backlog += ((emit, (LINE, ts, act[1], line, None, depth, frame)),)
                            if recover is not None:
                                recover()
            except RecursionError:
                backlog += ((line_rule, (code, line, frame)),)
                if recover is not None:
                    recover()
            except BaseException as exc:
                try:
                    failed(exc)
                except RecursionError:
                    pass

        def return_(code: CodeType, offset: Any, value: Any,
                    frame: Optional[FrameType] = None) -> None:
            nonlocal backlog
            try:
                if backlog:
                    wait(return_, (code, offset, value, frame))
                    return
                if stack and stack[-1][0] is code:
                    act = stack[-1]
                    depth = len(stack)
                    stack.pop()
                    if act[2] is not None:  # R4
                        backlog += ((emit, (HANDLED, ts, act[1], act[4], act[2], depth,
                                            frame)),)
                        try:
                            wait(emit, (RETURN, ts, act[1], act[4], value, depth, frame))
                        except RecursionError:  # too deep even for that: it waits
                            backlog += ((emit, (RETURN, ts, act[1], act[4], value, depth, frame)),)
                            if recover is not None:
                                recover()
                        return
                    try:
                        emit(RETURN, ts, act[1], act[4], value, depth, frame)
                    except RecursionError:
                        backlog += ((emit, (RETURN, ts, act[1], act[4], value, depth,
                                            frame)),)
                        if recover is not None:
                            recover()
            except RecursionError:
                backlog += ((return_, (code, offset, value, frame)),)
                if recover is not None:
                    recover()
            except BaseException as exc:
                try:
                    failed(exc)
                except RecursionError:
                    pass

        def yield_(code: CodeType, offset: Any, value: Any,
                   frame: Optional[FrameType] = None) -> None:
            nonlocal backlog
            try:
                if backlog:
                    wait(yield_, (code, offset, value, frame))
                    return
                if stack and stack[-1][0] is code:
                    act = stack[-1]
                    info = act[1]
                    if info.kind == "async_generator":
                        value = unwrap(value)
                    depth = len(stack)
                    stack.pop()
                    if act[2] is not None:  # R4
                        backlog += ((emit, (HANDLED, ts, info, act[4], act[2], depth, frame)),)
                        try:
                            wait(emit, (YIELD, ts, info, act[4], value, depth, frame))
                        except RecursionError:  # too deep even for that: it waits
                            backlog += ((emit, (YIELD, ts, info, act[4], value, depth, frame)),)
                            if recover is not None:
                                recover()
                        return
                    try:
                        emit(YIELD, ts, info, act[4], value, depth, frame)
                    except RecursionError:
                        backlog += ((emit, (YIELD, ts, info, act[4], value, depth, frame)),)
                        if recover is not None:
                            recover()
            except RecursionError:
                backlog += ((yield_, (code, offset, value, frame)),)
                if recover is not None:
                    recover()
            except BaseException as exc:
                try:
                    failed(exc)
                except RecursionError:
                    pass

        def unwind(code: CodeType, offset: Any, exc: Optional[BaseException],
                   frame: Optional[FrameType] = None) -> None:
            """The frame is left by an exception (R5: settrace does not say which). A code
            object not on top is skipped code, or (3.13.x, gh-140373) a generator closed
            while suspended, which is not on our stack: nothing to close."""
            nonlocal backlog
            try:
                if backlog:
                    wait(unwind, (code, offset, exc, frame))
                    return
                if stack and stack[-1][0] is code:
                    act = stack[-1]
                    depth = len(stack)
                    stack.pop()
                    error = act[3] if exc is None else exc
                    try:
                        emit(UNWIND, ts, act[1], act[4], error, depth, frame)
                    except RecursionError:
                        backlog += ((emit, (UNWIND, ts, act[1], act[4], error, depth, frame)),)
                        if recover is not None:
                            recover()
            except RecursionError:
                backlog += ((unwind, (code, offset, exc, frame)),)
                if recover is not None:
                    recover()
            except BaseException as err:
                try:
                    failed(err)
                except RecursionError:
                    pass

        def raise_(code: CodeType, offset: Any, exc: BaseException,
                   frame: Optional[FrameType] = None) -> None:
            """An exception raised in, or propagating into, the top activation."""
            nonlocal backlog
            try:
                if backlog:
                    wait(raise_, (code, offset, exc, frame))
                    return
                if stack and stack[-1][0] is code:
                    act = stack[-1]
                    depth = len(stack)
                    info = act[1]
                    if lines_on:
                        line = info.firstlineno if act[4] is None else act[4]
                    else:  # may find no room: before the change, so raise_ waits whole
                        line = _raise_line(code, offset, frame) or info.firstlineno
                    act[2] = act[3] = exc
                    try:
                        emit(RAISE, ts, info, line, exc, depth, frame)
                    except RecursionError:
                        backlog += ((emit, (RAISE, ts, info, line, exc, depth, frame)),)
                        if recover is not None:
                            recover()
            except RecursionError:
                backlog += ((raise_, (code, offset, exc, frame)),)
                if recover is not None:
                    recover()
            except BaseException as err:
                try:
                    failed(err)
                except RecursionError:
                    pass

        rules = Rules()
        rules.call, rules.resume, rules.attach, rules.line = call, resume, attach, line_rule
        rules.return_, rules.yield_, rules.unwind, rules.raise_ = return_, yield_, unwind, raise_
        rules.drain = drain
        return rules
