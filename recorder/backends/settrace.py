"""The ``sys.settrace`` backend: every interpreter from 3.8, and 3.12+ when forced.

Like CPython's ``trace.py``, the global trace function decides once per frame at ``'call'``
(the decision itself is cached per code object in the catalog) and returns the local trace
function only for recorded code, so skipped code pays one dict lookup per call and nothing per
line. Each thread gets its own pair of closures bound to its :class:`ThreadState`, installed
on the thread's first event by ``threading.settrace`` (coverage's "installation trace"), so no
per-event thread lookup is needed.

settrace reports less than sys.monitoring; what it lacks is read from the bytecode at the
frame's last instruction (research §1.3 R1, R2):

* a ``'call'`` on generator-like code is a start or a resume;
* a ``'return'`` is a return, a yield, or an unwind (settrace passes ``None`` for an unwind).

Another trace function already installed on the installing thread is refused with a clear
error rather than displaced or chained: displacing breaks a debugger or coverage silently, and
chaining would run someone else's tracer inside ours on every event. On 3.12+ the default
monitoring backend coexists with settrace tools.
"""
from __future__ import annotations

import opcode
import sys
import threading
from types import CodeType, FrameType
from typing import Any, Callable, Dict, List, Optional, Tuple

from recorder import env, own_threads
from recorder.codes import CodeCatalog
from recorder.errors import BackendError
from recorder.events import Kind
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

    def __init__(self) -> None:
        #: id(code) -> co_code (read directly by the local trace function)
        self.by_id: Dict[int, bytes] = {}

    def get(self, code: CodeType) -> bytes:
        # The catalog keeps every recorded code object alive, so its id stays unique.
        ops = self.by_id.get(id(code))
        if ops is None:
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
        #: False (``--steps off``): each recorded frame gets ``f_trace_lines = False``, so
        #: the interpreter never calls us for its lines
        self._lines_on = lines
        self._bytecode = _Bytecode()
        self._tracers: Dict[int, Tuple[TraceFunction, TraceFunction]] = {}
        self._locals: List[TraceFunction] = []
        self.started = False
        self.stopped = False

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        current = sys.gettrace()
        if current is not None:
            raise BackendError(
                "another trace function is already installed (%r); the settrace backend does "
                "not displace it: stop that tool first%s" % (
                    current, ", or use backend='monitoring'" if env.HAS_MONITORING else ""))
        self.started = True
        norm = self._norm
        me = threading.get_ident()
        ts = norm.thread_state()
        global_, local = self._tracer_for(ts)
        self._attach_stack(ts, sys._getframe(1), local)
        if env.HAS_SETTRACE_ALL_THREADS:
            # Reach threads that are already running (3.12+): adopt their open frames now,
            # their next calls go through the installer.
            for ident, frame in sys._current_frames().items():
                if ident != me:
                    other = norm.adopt_thread(ident)
                    self._attach_stack(other, frame, self._tracer_for(other)[1])
            threading.settrace_all_threads(self._install_on_thread)  # type: ignore[attr-defined]
        else:
            threading.settrace(self._install_on_thread)
        sys.settrace(global_)

    def stop(self) -> None:
        """Stop on every thread. Threads we cannot reach (3.8-3.11) drop out at their next
        call, when their global trace function sees ``stopped``."""
        if self.stopped or not self.started:
            return
        self.stopped = True
        sys.settrace(None)
        if env.HAS_SETTRACE_ALL_THREADS:
            threading.settrace_all_threads(None)  # type: ignore[attr-defined]
        else:
            threading.settrace(None)  # type: ignore[arg-type]
        ours = set(map(id, self._locals))
        for frame in sys._current_frames().values():
            while frame is not None:
                if id(frame.f_trace) in ours:
                    frame.f_trace = None
                frame = frame.f_back

    def _attach_stack(self, ts: ThreadState, innermost: Optional[FrameType],
                      local: TraceFunction) -> None:
        """R9: ATTACH the recorded frames already running, outermost first, and give each
        our local tracer so that its lines and its return are seen (as pdb does)."""
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
                frame.f_trace = local
                if not self._lines_on:
                    frame.f_trace_lines = False

    def _install_on_thread(self, frame: FrameType, event: str, arg: Any) -> Any:
        """``threading.settrace`` hook: runs once per new thread, then hands over. The
        recorder's own threads (recorder/own_threads.py) are left alone: never recorded."""
        if self.stopped or own_threads.is_own():
            sys.settrace(None)
            return None
        try:
            global_ = self._tracer_for(self._norm.thread_state())[0]
        except BaseException as exc:
            self._norm.failed(exc)
            return None
        sys.settrace(global_)
        return global_(frame, event, arg)

    # -- the tracing loop ----------------------------------------------------------------------

    def _tracer_for(self, ts: ThreadState) -> Tuple[TraceFunction, TraceFunction]:
        # Keyed by our serial, not the ident: idents are reused by later threads.
        pair = self._tracers.get(ts.serial)
        if pair is None:
            pair = self._tracers[ts.serial] = self._make_tracer(ts)
            self._locals.append(pair[1])
        return pair

    def _make_tracer(self, ts: ThreadState) -> Tuple[TraceFunction, TraceFunction]:
        """Build the thread's (global, local) trace functions as closures: every name they
        use is a cell or a local, the cheapest lookups the interpreter has."""
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
        _id = id
        missing = _MISSING

        def global_trace(frame: FrameType, event: str, arg: Any) -> Any:
            if backend.stopped:
                sys.settrace(None)
                return None
            try:
                code = frame.f_code
                info = infos.get(_id(code), missing)
                if info is missing:
                    info = lookup(code, frame)
                if info is None:
                    return None
                if info.generator_like and not is_start(code, frame.f_lasti):
                    on_resume(code, info, frame.f_lineno, frame if want else None)
                else:
                    on_call(code, info, frame if want else None)
                if not lines_on:
                    frame.f_trace_lines = False
                return local_trace
            except BaseException as exc:
                fail(exc)
                return None

        def local_trace(frame: FrameType, event: str, arg: Any) -> Any:
            try:
                if event == "line":
                    on_line(frame.f_code, frame.f_lineno, frame if want else None)
                elif event == "return":
                    code = frame.f_code
                    if stack and stack[-1][0] is code:
                        info = stack[-1][1]
                        if not info.generator_like:
                            if arg is None:  # R2 inline: a return of None, or an unwind
                                ops = code_ops.get(_id(code))
                                if ops is None:
                                    ops = bytecode.get(code)
                                if ops[frame.f_lasti] not in return_ops:
                                    on_unwind(code, None, None, frame if want else None)
                                    return local_trace
                            on_return(code, None, arg, frame if want else None)
                        else:
                            kind = exit_kind(code, frame.f_lasti, info.generator_like,
                                             stack[-1][2] is not None)
                            if kind is RETURN:
                                on_return(code, None, arg, frame if want else None)
                            elif kind is YIELD:
                                on_yield(code, None, arg, frame if want else None)
                            else:
                                on_unwind(code, None, None, frame if want else None)
                elif event == "exception":
                    # without lines the rule reads the raising line from the frame
                    on_raise(frame.f_code, None, arg[1], frame if want or not lines_on else None)
                return local_trace
            except BaseException as exc:
                fail(exc)
                return None

        return global_trace, local_trace
