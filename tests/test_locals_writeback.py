"""CPython's write-back of the ``f_locals`` snapshot (3.8-3.12) must not change the program.

Before 3.13 a trace callback that reads ``frame.f_locals`` (on 3.8-3.10: any settrace
callback) leaves a dict of the frame's locals on the frame, and the settrace trampoline writes
that dict back into the frame afterwards, closure cells included. Four threads adding to a
``nonlocal`` under a lock then lost thousands of updates while recorded. These tests run the
real CLI with the real writer, for every ``--values`` mode and backend, and compare with the
unrecorded run (docs/backends.md, "Closures and threads"; docs/cli.md for what differs).
"""
from __future__ import annotations

import json
import os
import textwrap
from typing import Any, List

import pytest

from conftest import BACKENDS
from recorder import env
from recorder.codes import SYNC_ALL, SYNC_CALL, SYNC_NONE, CodeCatalog
from recorder.events import Kind
from test_cli import run_plain, run_recorded

MODES = ["none", "args", "full"]

#: 4 threads x 5000 increments of a closure variable under a lock. From 3.10 the refresh
#: closes the window, so the test switches threads as often as the interpreter can (which
#: lost updates in every run before the fix); on 3.8 and 3.9 one instruction can still
#: separate the refresh from CPython's write-back (env.SETTRACE_REFRESH_RACES_WRITE_BACK),
#: so there the default switch interval is kept (it lost updates in every run before the
#: fix, and none in 50 runs after).
COUNTER = textwrap.dedent("""
    import sys, threading
    if %(stress)s:
        sys.setswitchinterval(1e-6)

    def main(n_threads=4, n=5000):
        total = 0
        lock = threading.Lock()

        def work():
            nonlocal total
            for _ in range(n):
                with lock:
                    total += 1

        threads = [threading.Thread(target=work) for _ in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return total

    print(main())
""") % {"stress": not env.SETTRACE_REFRESH_RACES_WRITE_BACK}


def _metadata(out_dir: Any) -> dict:
    with open(os.path.join(str(out_dir), "trace_metadata.json")) as fh:
        return json.load(fh)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("values", MODES)
def test_threads_updating_a_closure_variable_lose_nothing(tmp_path, backend, values):
    (tmp_path / "counter.py").write_text(COUNTER)
    done = run_recorded(tmp_path, ["counter.py"],
                        options=["--backend", backend, "--values", values, "-o", "t"])
    assert done.returncode == 0, done.stderr
    assert done.stdout == "20000\n", done.stderr
    gaps = _metadata(tmp_path / "t")["gaps"]
    if env.SETTRACE_REFRESH_RACES_WRITE_BACK:
        # the lines of the functions with closure variables are not recorded while the
        # threads run, and the trace says so, from where, on which thread
        lines_off = {g["function"] for g in gaps if g["kind"] == "closure-lines"}
        assert lines_off == {"main", "main.<locals>.work"}, gaps
        assert all(g["from"]["record"] is not None for g in gaps)
    else:
        assert gaps == []


# -- what the snapshot keeps alive, and a dict the program holds -------------------------------

DELETED_ARGUMENT = textwrap.dedent("""
    import weakref

    class Big:
        def __del__(self):
            print("finalised")

    def f(x):
        del x
        print("after del")

    def g(x):
        r = weakref.ref(x, lambda _: print("weakref callback"))
        del x
        print("after del in g")
        return r

    f(Big())
    g(Big())
""")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("values", MODES)
def test_a_deleted_argument_is_freed_where_the_program_frees_it(tmp_path, backend, values):
    """With sys.monitoring the recorder empties the snapshot it made to read the arguments
    (nobody else can hold it yet, nothing writes it back). With settrace on 3.11/3.12 and
    ``--values args`` it cannot (CPython writes the snapshot back after the callback): the
    object lives until the function returns, as docs/cli.md says."""
    (tmp_path / "app.py").write_text(DELETED_ARGUMENT)
    plain = run_plain(tmp_path, ["app.py"])
    done = run_recorded(tmp_path, ["app.py"],
                        options=["--backend", backend, "--values", values, "-o", "t"])
    assert done.returncode == 0, done.stderr
    kept_until_return = (backend == "settrace" and values == "args"
                         and env.SETTRACE_WRITES_BACK_READ_LOCALS)
    if kept_until_return:
        assert done.stdout.splitlines() == ["after del", "finalised", "after del in g",
                                            "finalised", "weakref callback"]
    else:
        assert done.stdout == plain.stdout


HELD_LOCALS = textwrap.dedent("""
    def f(a):
        d = locals()
        b = 2
        return sorted(d)

    print(f(1))
""")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("values", MODES)
def test_a_locals_dict_the_program_holds(tmp_path, backend, values):
    """Before 3.13 ``locals()`` in a function returns the frame's one snapshot dict, and
    every read of ``frame.f_locals`` refreshes it: the settrace trampoline on 3.8-3.10 (at
    every callback, whatever the recorder reads) and the recorder's reads of the locals at
    each line (``--values full``) on 3.11 and 3.12. The program then sees names bound after
    its ``locals()`` call. 3.13 (PEP 667) gives the program its own snapshot."""
    (tmp_path / "app.py").write_text(HELD_LOCALS)
    plain = run_plain(tmp_path, ["app.py"])
    done = run_recorded(tmp_path, ["app.py"],
                        options=["--backend", backend, "--values", values, "-o", "t"])
    assert done.returncode == 0, done.stderr
    assert plain.stdout == "['a']\n"
    refreshed = ((env.SETTRACE_SYNCS_LOCALS and backend == "settrace")
                 or (values == "full" and not env.F_LOCALS_IS_PROXY))
    assert done.stdout == ("['a', 'b', 'd']\n" if refreshed else plain.stdout)


# -- the per-code decisions (recorder/codes.py) ------------------------------------------------

def _closure() -> Any:
    shared = 0

    def inner() -> int:
        return shared

    return inner


def _plain(a: int) -> int:
    return a + 1


def _with_comprehension() -> List[int]:
    return [i for i in range(3)]


def _info(function: Any, backend: str, reads: Any = (Kind.CALL, Kind.LINE)) -> Any:
    catalog = CodeCatalog(lambda code, frame: True, lambda code, globals_: (None, None),
                          backend=backend, sink_reads=reads)
    return catalog.lookup(function.__code__, None)


def test_locals_sync_is_decided_per_code_object():
    inner = _closure()
    for backend in ("settrace", "monitoring"):
        assert _info(_plain, backend).locals_sync == SYNC_NONE  # no cell, nothing to protect
    assert _info(inner, "monitoring").locals_sync == SYNC_NONE  # monitoring: no write-back
    if env.SETTRACE_SYNCS_LOCALS:  # every callback is synced, whatever the sink reads
        assert _info(inner, "settrace", reads=()).locals_sync == SYNC_ALL
    elif env.SETTRACE_WRITES_BACK_READ_LOCALS:  # only callbacks that read
        assert _info(inner, "settrace").locals_sync == SYNC_ALL
        assert _info(inner, "settrace", reads=(Kind.CALL,)).locals_sync == SYNC_CALL
        assert _info(inner, "settrace", reads=()).locals_sync == SYNC_NONE
    else:
        assert _info(inner, "settrace").locals_sync == SYNC_NONE


def test_unreadable_locals_and_droppable_argument_snapshots():
    comp = _info(_with_comprehension, "settrace")
    assert comp.locals_readable is (not env.SETTRACE_F_LOCALS_UNSAFE)
    assert _info(_with_comprehension, "monitoring").locals_readable is True
    assert _info(_plain, "settrace").locals_readable is True
    # only where nothing writes the snapshot back, and there is one
    assert _info(_plain, "settrace").call_locals_droppable is False
    assert _info(_plain, "monitoring").call_locals_droppable is (not env.F_LOCALS_IS_PROXY)


@pytest.mark.parametrize("values,expected", [("none", set()), ("args", {Kind.CALL}),
                                             ("full", {Kind.CALL, Kind.LINE})])
def test_the_writer_reads_locals_at(tmp_path, values, expected):
    from recorder.formats import CodeTracerWriter

    writer = CodeTracerWriter(str(tmp_path / "t"), values=values)
    try:
        assert set(writer.reads_locals) == expected
    finally:
        writer.close(0)
