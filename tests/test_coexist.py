"""Other tools that use sys.settrace, while the settrace backend records (docs/backends.md).

The recorder chains: a trace function installed before it, or set later through
``sys.settrace``/``threading.settrace``, keeps receiving exactly the events it would receive
unrecorded, ``sys.gettrace()`` returns what the program set, and stopping the recording gives
the slot back. A tool that takes the slot through the C API (coverage's C tracer) is chained
as soon as it is noticed; what may have run unseen is a gap in trace_metadata.json.

The CLI tests use the real coverage.py (and pytest-cov): tox installs them; a missing one is an
error here, never a skip.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import coverage  # noqa: F401  (required: tox.ini installs it)
import pytest
import pytest_cov  # noqa: F401  (required: tox.ini installs it)

import recorder
from conftest import BACKENDS, RECORDER_DIR, kinds_and_labels, record
from recorder import env
from recorder.events import Kind
from recorder.formats.reader import check_balance, read_trace_dir
from test_cli import _env, run_plain, run_recorded

#: the interpreter's own sys.settrace, as a C extension's PyEval_SetTrace would act
REAL_SETTRACE = getattr(sys.settrace, "__wrapped__", sys.settrace)


def target(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


def logging_tracer(names: Set[str]) -> Tuple[Callable[..., Any], List[Tuple[str, str]]]:
    """A small tool: a global trace function tracing the frames of ``names``."""
    seen: List[Tuple[str, str]] = []

    def local(frame: Any, event: str, arg: Any) -> Any:
        seen.append((event, frame.f_code.co_name))
        return local

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code.co_name in names:
            seen.append((event, frame.f_code.co_name))
            return local
        return None

    return tracer, seen


def unrecorded(program: Callable[[], Any]) -> Any:
    previous = sys.gettrace()
    try:
        return program()
    finally:
        sys.settrace(previous)


def recorded_labels(events: List[Any], label: str) -> List[str]:
    return [kind for kind, lab in kinds_and_labels(events) if lab == label]


def alone(*sizes: int) -> List[str]:
    """What recording ``target`` gives with no other tool around."""
    return recorded_labels(record(lambda: [target(n) for n in sizes], backend="settrace"),
                           "target")


# -- chained in-process (settrace backend) ----------------------------------------------------

def test_a_tracer_installed_first_is_chained_and_gets_the_slot_back():
    """``coverage run -m recorder``: the tool's tracer is there before us."""
    def program() -> None:
        target(3)

    other, bare = logging_tracer({"target"})
    previous = sys.gettrace()
    sys.settrace(other)
    try:
        program()
        expected = list(bare)
        del bare[:]
        events = record(program, backend="settrace")
        assert sys.gettrace() is other  # the slot is the tool's again
        during = list(bare)
        target(1)  # and it still traces
        after = bare[len(during):]
    finally:
        sys.settrace(previous)
    assert during == expected
    assert after[0] == ("call", "target")
    assert recorded_labels(events, "target") == alone(3)


def test_a_tracer_set_while_recording_is_chained_and_kept_by_uninstall():
    other, seen = logging_tracer({"target"})
    got: List[Any] = []
    session = recorder.install(lambda e: None, backend="settrace")
    try:
        sys.settrace(other)
        got.append(sys.gettrace())
        target(3)
    finally:
        recorder.uninstall()
    try:
        assert got == [other]  # the program sees its own tracer
        assert sys.gettrace() is other  # uninstall did not remove it
        target(1)
        assert seen.count(("call", "target")) == 2
    finally:
        sys.settrace(None)
    assert session.normaliser.gaps == []


def test_the_program_setting_and_removing_its_tracer_sees_what_it_would_unrecorded():
    other, seen = logging_tracer({"target"})

    def program() -> Tuple[Any, Any, Any]:
        before = sys.gettrace()
        sys.settrace(other)
        during = sys.gettrace()
        target(3)
        sys.settrace(None)
        target(2)
        return before, during, sys.gettrace()

    expected = unrecorded(program)
    expected_seen = list(seen)
    del seen[:]
    result: List[Any] = []
    events = record(lambda: result.append(program()), backend="settrace")
    assert result == [expected] == [(None, other, None)]
    assert seen == expected_seen
    assert recorded_labels(events, "target") == alone(3, 2)


def test_threading_settrace_of_the_program_reaches_its_new_threads():
    other, seen = logging_tracer({"target"})

    def program() -> None:
        threading.settrace(other)
        try:
            thread = threading.Thread(target=target, args=(3,))
            thread.start()
            thread.join()
        finally:
            threading.settrace(None)  # type: ignore[arg-type]

    unrecorded(program)
    expected = list(seen)
    del seen[:]
    events = record(program, backend="settrace")
    assert seen == expected and expected
    assert recorded_labels(events, "target") == alone(3)


class Quit(Exception):
    pass


def test_a_tracer_that_raises_is_removed_as_cpython_does_and_the_trace_says_so():
    def raising(frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code.co_name == "target":
            raise Quit("from the tool")
        return None

    def program() -> List[Any]:
        out = []
        sys.settrace(raising)
        try:
            target(1)
        except Quit:
            out.append("caught")
        out.append(sys.gettrace())  # CPython removed every trace function of the thread
        target(2)  # runs with no tracer at all: not recorded either
        sys.settrace(None)  # the recorder's is back from here
        target(3)
        return out

    expected = unrecorded(program)
    result: List[Any] = []
    events: List[Any] = []
    with recorder.recording(events.append, backend="settrace") as session:
        result.append(program())
    assert result == [expected] == [["caught", None]]
    gaps = session.normaliser.gaps
    assert [g["kind"] for g in gaps] == ["removed"] and "Quit" in gaps[0]["reason"]
    calls = [e.line for e in events if e.kind == Kind.CALL and e.code.name == "target"]
    runs = [e for e in events if e.code is not None and e.code.name == "target"]
    assert len(calls) == 2  # the first (its call was recorded) and the third
    assert runs[-1].kind == Kind.RETURN


def test_a_tracer_taking_the_slot_through_the_c_api_is_chained_when_noticed():
    """As coverage's C tracer: the recorder notices at the next (threading.)settrace call,
    chains the newcomer, and records the gap, since recorded code ran meanwhile."""
    other, seen = logging_tracer({"target"})

    def program() -> None:
        REAL_SETTRACE(other)  # no wrapper sees this one
        target(2)  # only the tool sees it
        threading.settrace(None)  # type: ignore[arg-type]  # the recorder notices here
        target(3)  # both see it

    events: List[Any] = []
    with recorder.recording(events.append, backend="settrace") as session:
        program()
        held = sys.gettrace()
    try:
        assert held is other and sys.gettrace() is other
    finally:
        sys.settrace(None)
    assert seen.count(("call", "target")) == 2
    assert [g["kind"] for g in session.normaliser.gaps] == ["displaced"]
    assert recorded_labels(events, "target") == alone(3)


def test_displaced_until_the_end_the_other_tracer_stays_and_the_gap_stays_open(capfd):
    other, seen = logging_tracer({"target"})
    with recorder.recording(lambda e: None, backend="settrace") as session:
        REAL_SETTRACE(other)
        target(2)
    try:
        assert sys.gettrace() is other
    finally:
        sys.settrace(None)
    gaps = session.normaliser.gaps
    assert [g["kind"] for g in gaps] == ["displaced"]
    warnings = [l for l in capfd.readouterr().err.splitlines() if l.startswith("recorder:")]
    assert len(warnings) == 1 and "replaced the recorder's" in warnings[0]


# -- through the command line ------------------------------------------------------------------

PROGRAM = textwrap.dedent("""
    import threading

    def square(x):
        if x % 2:
            return x * x
        return -x

    def work(n):
        total = 0
        for i in range(n):
            total += square(i)
        return total

    def threads():
        results = []
        def one(i):
            results.append(work(i))
        ts = [threading.Thread(target=one, args=(i,)) for i in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return sorted(results)

    print(work(10), threads())
""")


def _coverage_lines(path: str) -> Dict[str, List[int]]:
    with open(path) as fh:
        files = json.load(fh)["files"]
    return {name: data["executed_lines"] for name, data in files.items()}


def assert_same_coverage(tmp_path: Any) -> None:
    """The program's files have the same lines measured. Coverage measuring without a
    source restriction also lists recorder files (its import hook and output capture run in
    the program's threads), unless the recorder is installed in site-packages, where
    coverage does not measure third-party code (docs/cli.md)."""
    plain = _coverage_lines(str(tmp_path / "plain.json"))
    rec = _coverage_lines(str(tmp_path / "rec.json"))
    assert {name: rec.get(name) for name in plain} == plain
    extra = [name for name in set(rec) - set(plain)
             if not os.path.abspath(name).startswith(RECORDER_DIR + os.sep)]
    assert not extra, sorted(rec)


def unexpected_gaps(meta: dict) -> List[dict]:
    """The gaps other than the documented closure-lines ones of 3.8 and 3.9."""
    return [g for g in meta["gaps"] if g["kind"] != "closure-lines"
            or not env.SETTRACE_REFRESH_RACES_WRITE_BACK]


def _cov(cwd: Any, *args: str, env: Optional[Dict[str, str]] = None,
         python: str = sys.executable) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([python, "-m", "coverage", *args], cwd=str(cwd), text=True,
                          capture_output=True, env=env or _env(), timeout=120)


def _trace_ok(out_dir: Any) -> dict:
    trace = read_trace_dir(str(out_dir))
    assert check_balance(trace.main.events).ok
    for thread in trace.threads.values():
        assert check_balance(thread.events).ok
    return trace.metadata  # type: ignore[return-value]


def _program_functions(trace_dir: Any) -> Set[str]:
    trace = read_trace_dir(str(trace_dir))
    names = set()
    for read in [trace.main] + list(trace.threads.values()):
        functions = [e["Function"]["name"] for e in read.events if "Function" in e]
        names.update(functions[e["Call"]["function_id"]] for e in read.events if "Call" in e)
    return names


@pytest.mark.parametrize("backend", BACKENDS)
def test_coverage_run_of_the_recorder(tmp_path, backend):
    """``coverage run -m recorder app.py``: the program's coverage is what coverage measures
    unrecorded, and the trace is complete (coverage's C tracer was there first)."""
    (tmp_path / "app.py").write_text(PROGRAM)
    plain = _cov(tmp_path, "run", "--data-file=plain.cov", "app.py")
    done = _cov(tmp_path, "run", "--data-file=rec.cov", "-m", "recorder", "--backend",
                backend, "-o", "t", "app.py")
    assert done.returncode == 0, done.stderr
    assert done.stdout == plain.stdout
    assert not [l for l in done.stderr.splitlines() if l.startswith("recorder:")]
    for name in ("plain", "rec"):
        _cov(tmp_path, "json", "--data-file=%s.cov" % name, "-o", name + ".json")
    assert_same_coverage(tmp_path)
    meta = _trace_ok(tmp_path / "t")
    assert unexpected_gaps(meta) == []
    assert {"work", "square", "threads.<locals>.one"} <= _program_functions(tmp_path / "t")


def test_a_program_that_runs_coverage_itself(tmp_path):
    """What pytest-cov does inside the process: start coverage (its C tracer takes the
    slot through the C API, then calls threading.settrace) and stop it later."""
    source = textwrap.dedent("""
        import coverage
        cov = coverage.Coverage(data_file="inner.cov")
        cov.start()
        import measured
        print(measured.work(10), measured.threads())
        cov.stop()
        cov.save()
        print(measured.work(3))
    """)
    (tmp_path / "measured.py").write_text(PROGRAM.replace("print(work(10), threads())", ""))
    (tmp_path / "app.py").write_text(source)
    plain = run_plain(tmp_path, ["app.py"])
    os.rename(str(tmp_path / "inner.cov"), str(tmp_path / "plain.cov"))
    done = run_recorded(tmp_path, ["app.py"], options=["-o", "t"])
    assert done.returncode == 0, done.stderr
    assert done.stdout == plain.stdout
    _cov(tmp_path, "json", "--data-file=plain.cov", "-o", "plain.json")
    _cov(tmp_path, "json", "--data-file=inner.cov", "-o", "rec.json")
    assert_same_coverage(tmp_path)
    meta = _trace_ok(tmp_path / "t")
    # coverage's own code is recorded (third-party), and while its C tracer held the slot
    # some of it ran unseen: the gap says where, nothing of the program is missing
    for gap in unexpected_gaps(meta):
        assert gap["kind"] == "displaced", gap
        assert "coverage" in gap["from"]["path"], gap
    assert {"work", "square", "threads.<locals>.one"} <= _program_functions(tmp_path / "t")


def test_pytest_cov_under_the_recorder(tmp_path):
    (tmp_path / "measured.py").write_text(PROGRAM.replace("print(work(10), threads())", ""))
    (tmp_path / "test_measured.py").write_text(textwrap.dedent("""
        import measured
        def test_work():
            assert measured.work(4) == 8
        def test_threads():
            assert measured.threads() == [0, 0, 1]
    """))
    args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "--cov=measured",
            "--cov-report=json:%s", "test_measured.py"]
    plain = run_plain(tmp_path, [a % "plain.json" if "%s" in a else a for a in args])
    assert plain.returncode == 0, plain.stdout + plain.stderr
    done = run_recorded(tmp_path, [a % "rec.json" if "%s" in a else a for a in args],
                        options=["-o", "t", "--values", "none"])  # pytest is a big trace
    assert done.returncode == 0, done.stdout + done.stderr
    assert_same_coverage(tmp_path)
    _trace_ok(tmp_path / "t")
    assert {"test_work", "test_threads", "work"} <= _program_functions(tmp_path / "t")


def test_coverage_run_with_the_auto_start(tmp_path):
    """``RECORDER_TRACE=DIR coverage run app.py``: the recorder starts first (the .pth), the
    C tracer displaces it, and it chains the tracer at coverage's threading.settrace call."""
    from test_autostart import clean_env, copy_module, make_venv

    python = make_venv(str(tmp_path / "venv"))
    venv_site = os.path.join(str(tmp_path / "venv"), "lib", "python%d.%d" % sys.version_info[:2],
                             "site-packages")
    copy_module("coverage", venv_site)
    (tmp_path / "app.py").write_text(PROGRAM)
    env = clean_env()
    plain = _cov(tmp_path, "run", "--data-file=plain.cov", "--source=.", "app.py", env=env,
                 python=python)
    assert plain.returncode == 0, plain.stderr
    env["RECORDER_TRACE"] = str(tmp_path / "traces")
    done = _cov(tmp_path, "run", "--data-file=rec.cov", "--source=.", "app.py", env=env,
                python=python)
    assert done.returncode == 0, done.stderr
    assert done.stdout == plain.stdout
    for name in ("plain", "rec"):
        _cov(tmp_path, "json", "--data-file=%s.cov" % name, "-o", name + ".json",
             env=clean_env(), python=python)
    assert_same_coverage(tmp_path)
    [out_dir] = [os.path.join(str(tmp_path / "traces"), d)
                 for d in os.listdir(str(tmp_path / "traces"))]
    meta = _trace_ok(out_dir)
    for gap in unexpected_gaps(meta):  # only inside coverage's own (recorded) code
        assert gap["kind"] == "displaced" and "coverage" in gap["from"]["path"], gap
    assert {"work", "square", "threads.<locals>.one"} <= _program_functions(out_dir)


BREAKPOINT = textwrap.dedent("""\
    def helper(x):
        y = x * 2
        return y

    def main():
        a = helper(1)
        breakpoint()
        b = helper(2)
        c = a + b
        print("result", c)
        return c

    main()
    print("after main")
""")


@pytest.mark.parametrize("backend", BACKENDS)
def test_breakpoint_and_continue_under_the_recorder(tmp_path, backend):
    """pdb replaces f_trace of every frame and calls sys.settrace; 'c' removes both. The
    session looks as unrecorded, and the trace goes on after the breakpoint, complete."""
    (tmp_path / "app.py").write_text(BREAKPOINT)
    env_vars = dict(_env())
    env_vars.pop("PYTHONBREAKPOINT", None)
    plain = subprocess.run([sys.executable, "app.py"], cwd=str(tmp_path), input="c\n",
                           capture_output=True, text=True, env=env_vars, timeout=60)
    done = subprocess.run([sys.executable, "-m", "recorder", "--backend", backend, "-o", "t",
                           "app.py"], cwd=str(tmp_path), input="c\n", capture_output=True,
                          text=True, env=env_vars, timeout=60)
    assert done.returncode == plain.returncode == 0, done.stderr
    assert "(Pdb)" in plain.stdout
    if backend == "monitoring" and env.MONITORING_HIDES_SETTRACE_OPCODES:
        # 3.13 with any sys.monitoring tool: pdb stops at the next line (docs/cli.md)
        assert "app.py(7)main()\n-> breakpoint()" in plain.stdout
        assert done.stdout == plain.stdout.replace(
            "app.py(7)main()\n-> breakpoint()", "app.py(8)main()\n-> b = helper(2)")
    else:
        assert done.stdout == plain.stdout
    assert done.stderr == plain.stderr
    meta = _trace_ok(tmp_path / "t")
    assert meta["complete"] is True and meta["gaps"] == []
    trace = read_trace_dir(str(tmp_path / "t"))
    lines = [e["Step"]["line"] for e in trace.main.events if "Step" in e]
    # after the breakpoint (line 8): helper(2), then lines 9-11 of main, then line 14
    assert lines[lines.index(8):] == [8, 1, 2, 3, 9, 10, 11, 14]
