"""The ``sys.settrace`` backend: every interpreter from 3.8, and 3.12+ when forced.

Like CPython's ``trace.py``, the global trace function decides once per frame at ``'call'``
(the decision itself is cached per code object in the catalog) and returns the local trace
function only for recorded code, so skipped code pays one dict lookup per call and nothing per
line. Each thread gets its own pair of closures bound to its :class:`ThreadState`, installed
on the thread's first event by ``threading.settrace`` (coverage's "installation trace"), so no
per-event thread lookup is needed.

settrace reports less than sys.monitoring; what it lacks is read from the bytecode at the
frame's last instruction:

* a ``'call'`` on generator-like code is a start or a resume;
* a ``'return'`` is a return, a yield, or an unwind (settrace passes ``None`` for an unwind).

Other tools that use ``sys.settrace`` (coverage.py, pdb, the program itself) are chained,
not displaced: recorder/backends/chain.py. With no other tracer the chain costs nothing.

Cell variables: before 3.13 CPython writes the ``f_locals`` snapshot back into the frame after
a trace callback (on 3.8-3.10 after every one), cells included, which can undo another
thread's store. Frames of code whose ``CodeInfo.locals_sync`` says so get ``local_sync``,
which refreshes the snapshot as its very last action (recorder/codes.py).
"""
from __future__ import annotations

import _thread
import opcode
import sys
import threading
from types import CodeType, FrameType
from typing import Any, Callable, Dict, Optional, Set, Tuple

from recorder import env, own_threads, recursion
from recorder.backends.chain import Combined, ThreadSlot, TraceChain
from recorder.codes import SYNC_ALL, CodeCatalog
from recorder.events import Kind
from recorder.lifetimes import CodeLifetimes
from recorder.normalise import Normaliser, ThreadState

RETURN, YIELD, UNWIND = Kind.RETURN, Kind.YIELD, Kind.UNWIND
_MISSING = object()

_OP = opcode.opmap  # (dis would cost start-up)
_RETURN_OPS = frozenset(_OP[name] for name in ("RETURN_VALUE", "RETURN_CONST") if name in _OP)
_YIELD_VALUE = _OP["YIELD_VALUE"]
_YIELD_FROM = _OP.get("YIELD_FROM", -1)
_RESUME = _OP.get("RESUME", -1)

TraceFunction = Callable[[FrameType, str, Any], Any]


class _Bytecode:
    """``co_code`` per code object, cached because 3.11+ rebuilds it on every access."""

    def __init__(self, lifetimes: CodeLifetimes) -> None:
        #: id(code) -> co_code (read directly by the local trace function), dropped when
        #: the code object dies: its id may then be reused
        self.by_id: Dict[int, bytes] = {}
        self._lifetimes = lifetimes
        lifetimes.register(self.by_id)

    def get(self, code: CodeType) -> bytes:
        ops = self.by_id.get(id(code))
        if ops is None:
            self._lifetimes.watch(code)  # (it is already: the catalog met it)
            ops = self.by_id[id(code)] = code.co_code
        return ops

    def is_start(self, code: CodeType, lasti: int) -> bool:
        """R1: is this ``'call'`` of generator-like code its first start (not a resume)?"""
        if env.START_BY_LASTI:
            return lasti < 0
        ops = self.get(code)
        return ops[lasti] == _RESUME and ops[lasti + 1] & 3 == 0

    def exit_kind(self, code: CodeType, lasti: int, generator_like: bool,
                  exception_pending: bool) -> Kind:
        """R2: classify a ``'return'`` event as RETURN, YIELD or UNWIND."""
        ops = self.get(code)
        op = ops[lasti]
        if op in _RETURN_OPS:
            return RETURN
        if generator_like and not exception_pending and self._is_yield(ops, lasti, op):
            return YIELD
        return UNWIND

    @staticmethod
    def _is_yield(ops: bytes, lasti: int, op: int) -> bool:
        if op == _YIELD_VALUE:
            return True
        if env.HAS_YIELD_FROM_OPCODE:
            # A yield-from/await suspension stops on the instruction before YIELD_FROM.
            return lasti + 2 < len(ops) and ops[lasti + 2] == _YIELD_FROM
        if env.YIELD_LEAVES_LASTI_AT_RESUME:
            return op == _RESUME and ops[lasti + 1] & 3 != 0
        return False


class SettraceBackend:
    """Records through ``sys.settrace`` + ``threading.settrace``."""

    name = "settrace"

    def __init__(self, catalog: CodeCatalog, normaliser: Normaliser,
                 wants_frames: bool, lines: bool = True) -> None:
        self._catalog = catalog
        self._norm = normaliser
        self._wants_frames = wants_frames
        #: False (``--steps off``): no line events for our part of any frame (its
        #: ``f_trace_lines`` is False, or its chain.Combined's ``ours_lines``), so the
        #: interpreter never calls us for its lines
        self._lines_on = lines
        self._bytecode = _Bytecode(catalog.lifetimes)
        #: our serial of a thread -> its share of the trace-function slot
        self._slots: Dict[int, ThreadSlot] = {}
        self._chain = TraceChain(catalog, normaliser, wants_frames, lines=lines)
        #: (thread serial, id(code)) whose lines were turned off (see _lines_off)
        self._lines_off_noted: Set[Tuple[int, int]] = set()
        self.started = False
        self.stopped = False

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Install on this thread and on threads started later. A trace function already
        installed here (coverage, a debugger) is chained, and so is the ``threading.settrace``
        hook; on 3.12+ threads already running are reached too, unless another tool traces
        (its functions on those threads cannot be read, so they could not be chained)."""
        self.started = True
        chain = self._chain
        chain.installer = self._install_on_thread
        current = chain.real_gettrace()
        chain.thread_hook = (chain.real_thread_gettrace() if chain.real_thread_gettrace
                             else getattr(threading, "_trace_hook", None))
        norm = self._norm
        me = threading.get_ident()
        ts = norm.thread_state()
        slot = self._slot_for(ts)
        slot.other = current
        self._attach_stack(ts, sys._getframe(1))
        if env.HAS_SETTRACE_ALL_THREADS and current is None and chain.thread_hook is None:
            # Reach threads that are already running (3.12+): adopt their open frames now,
            # their next calls go through the installer.
            for ident, frame in sys._current_frames().items():
                if ident != me:
                    self._attach_stack(norm.adopt_thread(ident), frame)
            sys._settraceallthreads(chain.installer)  # type: ignore[attr-defined]
        chain.real_thread_settrace(chain.installer)
        chain.wrap()
        chain.install(slot)

    def stop(self) -> None:
        """Stop on every thread: the other tool's trace functions (if any) get the slot
        back. Other threads drop out at their next call, when their global trace function
        sees ``stopped`` (a tool that displaced us there keeps the slot: 3.12's
        settrace_all_threads(None) would remove it too); their frames' local trace
        functions are taken off now."""
        if self.stopped or not self.started:
            return
        chain = self._chain
        slot = chain.slots.get(threading.get_ident())
        if slot is not None:
            # before ``stopped``: the calls it makes must not hand over
            chain.hand_over(slot, sys._getframe(1))
        self.stopped = True
        if getattr(threading, "_trace_hook", None) is chain.installer:  # the same bound method
            chain.real_thread_settrace(chain.thread_hook)
        chain.unwrap()
        frames = []
        for frame in sys._current_frames().values():
            while frame is not None:
                frames.append(frame)
                frame = frame.f_back
        chain.release_frames(frames)

    def _attach_stack(self, ts: ThreadState, innermost: Optional[FrameType]) -> None:
        """R9: ATTACH the recorded frames already running, outermost first, and give each
        our local tracer so that its lines and its return are seen (as pdb does); a frame
        another tool traces keeps its local trace function too (chain.Combined)."""
        slot = self._slot_for(ts)
        frames = []
        frame = innermost
        while frame is not None:
            frames.append(frame)
            frame = frame.f_back
        for frame in reversed(frames):
            info = self._catalog.lookup(frame.f_code, frame)
            if info is not None:
                ts.rules.attach(frame.f_code, info, frame.f_lineno,
                                frame if self._wants_frames else None)
                self._chain.give_ours(slot, frame, info, attached=True)  # lines as asked

    def _install_on_thread(self, frame: FrameType, event: str, arg: Any) -> Any:
        """``threading.settrace`` hook: runs once per new thread, then hands over. The
        recorder's own threads (recorder/own_threads.py) are left alone: never recorded."""
        if self.stopped or own_threads.is_own():
            return self._chain.hand_over_new_thread(frame, event, arg)
        try:
            global_ = self._chain.install(self._slot_for(self._norm.thread_state()))
        except BaseException as exc:
            self._norm.failed(exc)
            return None
        return global_(frame, event, arg)

    # -- the tracing loop ----------------------------------------------------------------------

    def _slot_for(self, ts: ThreadState) -> ThreadSlot:
        # Keyed by our serial, not the ident: idents are reused by later threads.
        slot = self._slots.get(ts.serial)
        if slot is None:
            slot = self._slots[ts.serial] = ThreadSlot(ts)
            slot.ours, slot.local, slot.local_sync = self._make_tracer(ts, slot)
            slot.other = self._chain.thread_hook  # what threading would have installed
            self._chain.add(slot)
        return slot

    def _lines_off(self, ts: ThreadState, frame: FrameType) -> None:
        """3.8-3.9 (env.SETTRACE_REFRESH_RACES_WRITE_BACK), several threads running: stop
        the line events of a frame with cell variables (each is a callback in which another
        thread's store to a cell can be lost), and say so in the trace, once per code
        object and thread. Another tool's line events (through the chain) stay on."""
        local = frame.f_trace
        if type(local) is Combined and local.theirs_lines:
            local.ours_lines = False
        else:
            frame.f_trace_lines = False
        code = frame.f_code
        key = (ts.serial, id(code))
        if key not in self._lines_off_noted:
            self._lines_off_noted.add(key)
            info = self._catalog.infos.get(id(code))
            self._norm.gap(ts, "closure-lines",
                           "line events (and the values shown with them) of a function with "
                           "closure variables are not recorded while more than one thread "
                           "runs: on Python 3.8 and 3.9 each of them could lose another "
                           "thread's update of those variables",
                           function=info.label if info is not None else code.co_name)

    def _make_tracer(self, ts: ThreadState, slot: ThreadSlot
                     ) -> Tuple[TraceFunction, TraceFunction, TraceFunction]:
        """Build the thread's global and local trace functions as closures: every name they
        use is a cell or a local, the cheapest lookups the interpreter has.

        ``local_sync`` is the local trace function of frames whose cell variables CPython
        would overwrite with a stale ``f_locals`` snapshot (``CodeInfo.locals_sync``, see
        recorder/codes.py): it reads ``frame.f_locals`` once more as its very last action,
        which refreshes the snapshot from the live cells just before CPython writes it
        back, so a value another thread stored meanwhile survives.

        At the program's recursion limit (recorder/recursion.py) a trace function may have no
        room for anything but plain bytecode: no call, and on 3.8-3.11 not even a comparison.
        What it cannot do then, it queues raw in the thread's backlog (``+=`` on a list and
        attribute reads still work) and returns normally: an exception leaving a trace
        function makes CPython unset it. The normaliser runs the backlog as soon as there is
        room. On 3.8 a frame near the limit is traced with room instead (``near_trace``)."""
        rules = ts.rules
        on_call, on_resume, on_line = rules.call, rules.resume, rules.line
        on_return, on_yield, on_unwind, on_raise = (rules.return_, rules.yield_, rules.unwind,
                                                    rules.raise_)
        infos = self._catalog.infos
        lookup = self._catalog.lookup
        bytecode = self._bytecode
        is_start, exit_kind = bytecode.is_start, bytecode.exit_kind
        code_ops = bytecode.by_id
        return_ops = _RETURN_OPS
        want = self._wants_frames
        lines_on = self._lines_on
        backend = self
        fail = self._norm.failed
        stack = ts.stack
        backlog = ts.backlog
        _id = id
        missing = _MISSING
        get_limit = recursion.real_getrecursionlimit
        set_limit = recursion.real_setrecursionlimit
        headroom = recursion.HEADROOM
        settle = recursion.settle

        def start(frame: FrameType, lasti: int, lineno: int) -> bool:
            """A 'call' (R1): record a start or a resume. False for skipped code."""
            code = frame.f_code
            info = lookup(code, frame)
            if info is None:
                return False
            if not lines_on:
                frame.f_trace_lines = False
            if info.generator_like and not is_start(code, lasti):
                on_resume(code, info, lineno, frame if want else None)
            else:
                on_call(code, info, frame if want else None)
            return True

        def exit_event(code: CodeType, lasti: int, arg: Any, frame: Optional[FrameType]) -> None:
            """A 'return' at instruction ``lasti`` (R2): RETURN, YIELD or UNWIND. local_trace
            does the common case, a plain function, inline."""
            if stack and stack[-1][0] is code:
                act = stack[-1]
                kind = exit_kind(code, lasti, act[1].generator_like, act[2] is not None)
                if kind is RETURN:
                    on_return(code, None, arg, frame)
                elif kind is YIELD:
                    on_yield(code, None, arg, frame)
                else:
                    on_unwind(code, None, None, frame)

        def replay_local(frame: FrameType, event: str, arg: Any, lasti: int,
                         lineno: int) -> None:
            """A local event that had no room: run now, with what it saw then."""
            code = frame.f_code
            if event == "line":
                on_line(code, lineno, frame if want else None)
            elif event == "return":
                exit_event(code, lasti, arg, frame if want else None)
            elif event == "exception":
                on_raise(code, None, arg[1], frame if want else None)

        def near_trace(frame: FrameType, event: str, arg: Any) -> Any:
            """3.8: the trace function of a frame within 50 frames of the limit. Each event runs
            with the limit raised, then ``settle`` clears the overflow state a RecursionError
            swallowed in the sink would leave (recorder/recursion.py)."""
            try:
                limit = get_limit()
                set_limit(limit + headroom)
            except RecursionError:  # at the limit itself: this left the thread overflowed,
                limit = get_limit()  # and then nothing is checked
                set_limit(limit + headroom)
            try:
                if event == "call":
                    traced = start(frame, frame.f_lasti, frame.f_lineno)
                else:
                    traced = local_trace(frame, event, arg) is not None
            finally:
                settle(limit)
            return near_trace if traced else None

        # 3.8 only: (the probe's two functions, the trace function of a frame near the limit);
        # one name, since every name a trace function uses costs on each of its calls
        near = ((get_limit, set_limit, near_trace)
                if env.RECURSION_OVERFLOW_STICKY and recursion.installed() else None)
        sync_all = SYNC_ALL
        hand_over = self._chain.hand_over_thread
        lines_race = env.SETTRACE_REFRESH_RACES_WRITE_BACK
        threads_running = _thread._count  # other threads than the main one, alive
        lines_off = self._lines_off

        def global_trace(frame: FrameType, event: str, arg: Any) -> Any:
            nonlocal backlog
            if backend.stopped:
                return hand_over(slot, frame, event, arg)
            try:
                code = frame.f_code
                info = infos.get(_id(code), missing)
                if info is missing:
                    info = lookup(code, frame)
                if info is None:
                    return None
                if near is not None:
                    try:
                        near[1](near[0]())  # refused within 50 frames of the limit (3.8)
                    except RecursionError:
                        return near[2](frame, event, arg)
                if info.generator_like and not is_start(code, frame.f_lasti):
                    on_resume(code, info, frame.f_lineno, frame if want else None)
                else:
                    on_call(code, info, frame if want else None)
                if not lines_on:  # in a chain: only ours (chain.Combined.ours_lines)
                    frame.f_trace_lines = False
                if info.locals_sync:
                    tracer = local_sync if info.locals_sync == sync_all else local_trace
                    if lines_race and lines_on and threads_running():
                        lines_off(ts, frame)
                    frame.f_locals  # the refresh (see local_sync): nothing may follow it
                    return tracer
                return local_trace
            except RecursionError:
                if near is not None:  # 3.8: the thread is overflowed now, nothing is checked
                    return near[2](frame, event, arg)
                backlog += ((start, (frame, frame.f_lasti, frame.f_lineno)),)
                if not lines_on:
                    frame.f_trace_lines = False
                return local_trace  # until start() decides, when there is room
            except BaseException as exc:
                fail(exc)
                return None

        def local_trace(frame: FrameType, event: str, arg: Any) -> Any:
            nonlocal backlog
            try:
                if event == "line":
                    on_line(frame.f_code, frame.f_lineno, frame if want else None)
                elif event == "return":
                    code = frame.f_code
                    if backlog:  # classified against the stack the waiting work leaves, so
                        # after it: at the thread's next event (the return value is kept)
                        backlog += ((exit_event, (code, frame.f_lasti, arg,
                                                  frame if want else None)),)
                        return local_trace
                    if stack and stack[-1][0] is code:
                        if not stack[-1][1].generator_like:
                            if arg is None:  # R2 inline: a return of None, or an unwind
                                ops = code_ops.get(_id(code))
                                if ops is None:
                                    ops = bytecode.get(code)
                                if ops[frame.f_lasti] not in return_ops:
                                    on_unwind(code, None, None, frame if want else None)
                                    return local_trace
                            on_return(code, None, arg, frame if want else None)
                        else:
                            exit_event(code, frame.f_lasti, arg, frame if want else None)
                elif event == "exception":
                    # without lines the rule reads the raising line from the frame
                    on_raise(frame.f_code, None, arg[1], frame if want or not lines_on else None)
                return local_trace
            except RecursionError:
                if near is not None:  # 3.8: the thread is overflowed now, nothing is checked
                    return near[2](frame, event, arg)
                backlog += ((replay_local, (frame, event, arg, frame.f_lasti,
                                            frame.f_lineno)),)
                return local_trace
            except BaseException as exc:
                fail(exc)
                return None

        def local_sync(frame: FrameType, event: str, arg: Any) -> Any:
            tracer = local_sync if local_trace(frame, event, arg) is not None else None
            try:
                if lines_race and event == "line" and threads_running():
                    lines_off(ts, frame)
                frame.f_locals  # the refresh: the last action before CPython's write-back
            except BaseException as exc:
                fail(exc)
            return tracer

        return global_trace, local_trace, local_sync
