"""Recording through sinks that want frames and read values does not change the program.

A callback sink never touches a frame; the trace writer reads ``frame.f_locals`` and encodes
every value at every step, which is what can disturb a program (before 3.13 reading
``f_locals`` fills a dict on the frame that CPython may copy back into the frame's
variables). Each workload here runs unrecorded, then recorded in-process through two such
sinks on every backend: a minimal sink that reads ``f_locals`` and the values of builtin
types at every event, and the real ``CodeTracerWriter`` with ``values="full"``. The results
must be the same (docs/backends.md says what 3.8-3.10 cannot promise for threads).
"""
from __future__ import annotations

import opcode
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest

import recorder
from recorder import env
from recorder.events import Kind
from recorder.formats.codetracer import CodeTracerWriter
from recorder.formats.reader import check_balance, read_trace_dir

BUILTIN_VALUES = (int, float, str, bytes, bool, type(None), list, tuple, dict, set)


class FrameReadingSink:
    """Reads the frame's locals and the repr of each builtin-typed value at every event
    that carries a frame, as a value-recording sink does (and, like the writer, not where
    CPython 3.12's settrace would corrupt an inlined comprehension's variable,
    gh-124118)."""

    wants_frames = True

    def __init__(self, backend: str) -> None:
        self.reads = 0
        self.lock = threading.Lock()
        self.unsafe_opcode = (opcode.opmap.get("LOAD_FAST_AND_CLEAR")
                              if env.SETTRACE_F_LOCALS_UNSAFE and backend == "settrace"
                              else None)

    def emit(self, kind: Kind, thread: Any, code: Any, line: Optional[int], value: Any,
             depth: int, frame: Any) -> None:
        if frame is None:
            return
        if self.unsafe_opcode is not None and self.unsafe_opcode in frame.f_code.co_code[::2]:
            return
        shown = [repr(v) for v in frame.f_locals.values() if type(v) in BUILTIN_VALUES]
        with self.lock:
            self.reads += len(shown) + 1

    def close(self) -> None:
        pass


# -- workloads (each returns what the program computed) --------------------------------------

def threads_nonlocal() -> int:
    count = 0
    lock = threading.Lock()

    def add() -> None:
        nonlocal count
        for _ in range(5000):
            with lock:
                count += 1

    threads = [threading.Thread(target=add) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return count


def locals_snapshot() -> tuple:
    first = 1
    taken = locals()
    second = 2
    taken["first"] = 100
    return sorted(taken), first, second


def generators() -> list:
    def accumulator():  # type: ignore[no-untyped-def]
        total = 0
        try:
            while True:
                value = yield total
                if value is None:
                    break
                total += value
        except KeyError:
            yield "caught"
        finally:
            log.append(("finally", total))
        return total

    def delegate():  # type: ignore[no-untyped-def]
        result = yield from accumulator()
        yield result

    log: list = []
    gen = accumulator()
    log += [next(gen), gen.send(5), gen.send(7), gen.throw(KeyError("k"))]
    gen.close()
    d = delegate()
    log += [next(d), d.send(3), d.send(None)]
    squares = (n * n for n in range(4))
    log += [next(squares), list(squares)]
    return log


def closures() -> list:
    def counter():  # type: ignore[no-untyped-def]
        count = 0

        def increment(by: int = 1) -> int:
            nonlocal count
            count += by
            return count

        def rebind_in_loop() -> int:
            nonlocal count
            for i in range(100):
                count = count + i
            return count

        return increment, rebind_in_loop, lambda: count

    increment, loop, read = counter()
    return [increment(), increment(10), loop(), read(),
            [c.cell_contents for c in increment.__closure__ or ()]]


WORKLOADS: Dict[str, Callable[[], Any]] = {
    "threads_nonlocal": threads_nonlocal,
    "locals_snapshot": locals_snapshot,
    "generators": generators,
    "closures": closures,
}


def _writer_sink(tmp_path: Path, backend: str) -> CodeTracerWriter:
    return CodeTracerWriter(str(tmp_path / "trace"), program="test_frame_sinks",
                            values="full", backend=backend)


SINKS: Dict[str, Callable[[Path, str], Any]] = {
    "frame_reading": lambda tmp_path, backend: FrameReadingSink(backend),
    "codetracer_writer": _writer_sink,
}


def same_result(name: str, bare: Any, recorded: Any) -> bool:
    """Equal, except where the docs allow more. Threads' updates of a ``nonlocal`` are
    exact on every version (docs/backends.md, "Closures and threads"). Before 3.13 reading
    ``frame.f_locals`` refreshes the one dict ``locals()`` returns, so an earlier snapshot
    shows the names bound since (docs/trace-format.md, "References")."""
    if not env.F_LOCALS_IS_PROXY and name == "locals_snapshot":
        return set(bare[0]) <= set(recorded[0]) and bare[1:] == recorded[1:]
    return bool(recorded == bare)


@pytest.mark.parametrize("sink_name", sorted(SINKS))
@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_a_frame_reading_sink_leaves_the_results_alone(tmp_path: Path, backend: str,
                                                       name: str, sink_name: str) -> None:
    workload = WORKLOADS[name]
    bare = workload()
    sink = SINKS[sink_name](tmp_path, backend)
    results: List[Any] = []
    with recorder.recording(sink, backend=backend):
        results.append(workload())
    assert same_result(name, bare, results[0]), (bare, results[0])
    if isinstance(sink, FrameReadingSink):
        assert sink.reads > 0  # it did read frames
    else:
        trace = read_trace_dir(str(tmp_path / "trace"))
        steps = sum(1 for record in trace.main.events if "Step" in record)
        assert steps > 0 and check_balance(trace.main.events).ok
        for read in trace.threads.values():
            assert check_balance(read.events).ok


class CallFramesOnly:
    """A sink that reads frames at calls only (the writer with ``values="args"``)."""

    wants_frames = True
    wants_line_frames = False
    reads_locals = frozenset((Kind.CALL,))

    def __init__(self) -> None:
        self.frames: Dict[str, List[bool]] = {"call": [], "line": []}

    def emit(self, kind: Kind, thread: Any, code: Any, line: Optional[int], value: Any,
             depth: int, frame: Any) -> None:
        if code is not None and code.label == "_frames_only_work":
            if kind is Kind.CALL:
                self.frames["call"].append(frame is not None)
            elif kind is Kind.LINE:
                self.frames["line"].append(frame is not None)

    def close(self) -> None:
        pass


def _frames_only_work(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


# (settrace has the frame at hand at every event anyway: only sys.monitoring saves a fetch)
@pytest.mark.skipif(not env.HAS_MONITORING, reason="sys.monitoring: 3.12+")
def test_a_sink_wanting_frames_at_calls_only_gets_none_at_lines() -> None:
    sink = CallFramesOnly()
    with recorder.recording(sink, backend="monitoring"):
        assert _frames_only_work(3) == 3
    assert sink.frames["call"] == [True]
    assert sink.frames["line"] and not any(sink.frames["line"])
