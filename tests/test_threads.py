"""Threads: every event is attributed to its thread and each thread's stream is balanced."""
from __future__ import annotations

import threading
import time

import pytest

import recorder
from recorder import env
from recorder.events import Kind
from conftest import assert_balanced, record


def work(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


def run_threads() -> None:
    threads = [threading.Thread(target=work, args=(50,), name="worker-%d" % i) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_each_thread_has_its_own_balanced_stream(backend):
    events = record(run_threads, backend=backend)
    assert_balanced(events)
    starts = [e for e in events if e.kind == Kind.THREAD_START]
    names = sorted(e.value.name for e in starts)
    assert names == ["MainThread", "worker-0", "worker-1", "worker-2"]
    for start in starts:
        if start.value.name.startswith("worker"):
            mine = [e for e in events if e.thread == start.thread and e.kind == Kind.CALL]
            assert [e.code.qualname for e in mine] == ["work"]
            ends = [e for e in events if e.thread == start.thread and e.kind == Kind.THREAD_END]
            assert len(ends) == 1
    serials = [e.thread for e in starts]
    assert len(set(serials)) == len(serials), "thread serials must be unique"


def test_raw_thread_is_recorded_by_monitoring_only(backend):
    """sys.monitoring sees every thread; settrace reaches only threads started through
    ``threading`` (a documented limit: docs/backends.md), and the program is unaffected."""
    import _thread

    done = threading.Event()

    def raw() -> None:
        work(3)
        done.set()

    def program() -> None:
        _thread.start_new_thread(raw, ())
        assert done.wait(10)
        time.sleep(0.05)  # let the raw thread finish tearing down

    events = record(program, backend=backend)
    assert_balanced(events)
    raw_calls = [e for e in events if e.kind == Kind.CALL and e.code.qualname.endswith("raw")]
    if backend == "monitoring":
        assert len(raw_calls) == 1
        assert raw_calls[0].thread != events[0].thread
    else:
        assert raw_calls == []


@pytest.mark.skipif(not env.HAS_SETTRACE_ALL_THREADS,
                    reason="3.8-3.11 cannot reach a running thread (docs/backends.md)")
def test_thread_started_before_install_is_covered(backend):
    go = threading.Event()
    finished = threading.Event()

    def waiting() -> None:
        go.wait(10)
        work(2)
        finished.set()

    thread = threading.Thread(target=waiting, name="early")
    thread.start()
    time.sleep(0.05)

    def program() -> None:
        go.set()
        assert finished.wait(10)
        thread.join()

    events = record(program, backend=backend)
    assert_balanced(events)
    early = [e for e in events if e.kind == Kind.THREAD_START and e.value.name == "early"]
    assert len(early) == 1
    serial = early[0].thread
    mine = [(e.kind, e.code.qualname) for e in events if e.thread == serial and e.code]
    assert (Kind.ATTACH, "test_thread_started_before_install_is_covered.<locals>.waiting") in mine
    assert (Kind.CALL, "work") in mine
