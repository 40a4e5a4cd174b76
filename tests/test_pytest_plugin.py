"""The pytest plugin (docs/pytest.md): ``pytest --record`` in a real pytest process on a small
suite written into a temporary directory."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from recorder.pytest_record import trace_name

from conftest import BACKENDS, RECORDER_DIR

ROOT = os.path.dirname(RECORDER_DIR)

SUITE = '''
import pytest

def helper(x):
    return x * 2

def undo(x):
    return -x

@pytest.fixture
def thing():
    value = helper(3)
    yield value
    undo(value)

@pytest.fixture
def broken():
    raise RuntimeError("set-up fails")

def test_ok(thing):
    assert thing == 6

def test_fail(thing):
    assert helper(thing) == 5

def test_error(broken):
    pass

@pytest.mark.parametrize("p", ["a/b", "a_b", "x y", 1])
def test_param(p):
    assert helper(p)
'''


def _registered() -> bool:
    """Is the plugin's entry point visible (the checkout installed)? Then it is loaded
    without -p (and -p would load it a second time)."""
    code = ("import importlib.metadata as m, sys; e = m.entry_points(); sys.exit(0 if any("
            "p.name == 'recorder' for p in (e.select(group='pytest11') if hasattr(e, 'select')"
            " else e.get('pytest11', []))) else 1)")
    return subprocess.run([sys.executable, "-c", code], env=_env()).returncode == 0


def _env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDER_", "PYTEST_"))}
    env["PYTHONPATH"] = ROOT
    env.update(extra)
    return env


_PLUGIN: Optional[List[str]] = None


def pytest_run(cwd: Path, *args: str, prefix: Optional[List[str]] = None,
               **env: str) -> subprocess.CompletedProcess:
    global _PLUGIN
    if _PLUGIN is None:
        _PLUGIN = [] if _registered() else ["-p", "recorder.pytest_plugin"]
    command = [sys.executable] + (prefix or []) + ["-m", "pytest", "-q", "-p",
                                                   "no:cacheprovider"] + _PLUGIN + list(args)
    return subprocess.run(command, cwd=str(cwd), env=_env(**env), capture_output=True,
                          text=True, timeout=120)


def traces(out: Path) -> Dict[str, dict]:
    """node id -> (metadata, function names in its trace) of every trace in ``out``."""
    found = {}
    for meta_path in out.glob("*/trace_metadata.json"):
        meta = json.loads(meta_path.read_text())
        records = json.loads((meta_path.parent / "trace.json").read_text())
        meta["functions"] = [r["Function"]["name"] for r in records if "Function" in r]
        meta["paths"] = json.loads((meta_path.parent / "trace_paths.json").read_text())
        meta["dir"] = meta_path.parent.name
        found[meta["pytest"]["nodeid"]] = meta
    return found


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_test_recorded_with_its_fixtures_and_outcome(tmp_path: Path, backend: str) -> None:
    (tmp_path / "test_suite.py").write_text(SUITE)
    done = pytest_run(tmp_path, "--record", RECORDER_BACKEND=backend)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "recorder: trace-tests/ \u00b7 7 traces" in done.stdout
    found = traces(tmp_path / "trace-tests")
    assert sorted(found) == sorted(
        ["test_suite.py::test_ok", "test_suite.py::test_fail", "test_suite.py::test_error"]
        + ["test_suite.py::test_param[%s]" % p for p in ("a/b", "a_b", "x y", "1")])
    ok, fail, error = (found["test_suite.py::" + n] for n in ("test_ok", "test_fail",
                                                               "test_error"))
    assert ok["dir"] == "test_suite.py--test_ok"
    assert [ok["pytest"][k] for k in ("outcome", "phases")] == [
        "passed", {"setup": "passed", "call": "passed", "teardown": "passed"}]
    assert fail["pytest"]["outcome"] == "failed" and error["pytest"]["outcome"] == "error"
    assert all(m["pytest"]["duration"] >= 0 and m["backend"] == backend
               and m["complete"] for m in found.values())
    assert fail["process_exit_status"]["label"] == "failed"
    # the fixture's set-up and tear-down are in the test's trace; pytest is not
    assert {"thing", "helper", "test_fail", "undo"} <= set(fail["functions"])
    assert "broken" in error["functions"]
    assert not any("_pytest" in p or "pluggy" in p for m in found.values() for p in m["paths"])
    # parametrised ids: one directory each, no unsafe character
    names = [m["dir"] for m in found.values()]
    assert len(set(names)) == len(names)
    assert all(set(n) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
               for n in names)


def test_record_failed_keeps_failed_and_errored(tmp_path: Path) -> None:
    (tmp_path / "test_suite.py").write_text(SUITE)
    out = tmp_path / "kept"
    done = pytest_run(tmp_path, "--record=kept", "--record-failed")
    assert done.returncode == 1, done.stdout + done.stderr
    assert sorted(traces(out)) == ["test_suite.py::test_error", "test_suite.py::test_fail"]
    # a second run takes the directory over: the earlier traces go
    (tmp_path / "test_suite.py").write_text("def test_only():\n    assert 1 == 2\n")
    pytest_run(tmp_path, "--record=kept", "--record-failed")
    assert sorted(traces(out)) == ["test_suite.py::test_only"]


def test_exitfirst(tmp_path: Path) -> None:
    (tmp_path / "test_suite.py").write_text(SUITE)
    done = pytest_run(tmp_path, "--record", "-x")
    assert done.returncode == 1
    assert sorted(traces(tmp_path / "trace-tests")) == ["test_suite.py::test_fail",
                                                         "test_suite.py::test_ok"]


def test_marker_and_ini_without_the_flag(tmp_path: Path) -> None:
    (tmp_path / "test_m.py").write_text(
        "import pytest\n\n@pytest.mark.recorder\ndef test_marked():\n    pass\n\n"
        "def test_plain():\n    pass\n")
    done = pytest_run(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(traces(tmp_path / "trace-tests")) == ["test_m.py::test_marked"]
    (tmp_path / "pytest.ini").write_text("[pytest]\nrecord_failed = true\n"
                                         "record_dir = ini-traces\n")
    (tmp_path / "test_m.py").write_text("def test_a():\n    pass\n\n"
                                        "def test_b():\n    assert 0\n")
    pytest_run(tmp_path)
    assert sorted(traces(tmp_path / "ini-traces")) == ["test_m.py::test_b"]


@pytest.mark.parametrize("make, message", [
    ("file", "exists and is not a directory"),
    ("under-file", "cannot create the trace directory"),
    ("foreign", "is not empty and holds no earlier pytest --record traces"),
])
def test_bad_dir_is_a_usage_error_before_any_test(tmp_path: Path, make: str,
                                                  message: str) -> None:
    (tmp_path / "test_x.py").write_text("def test_x():\n    print('RAN')\n")
    (tmp_path / "afile").write_text("data")
    target = {"file": "afile", "under-file": "afile/sub", "foreign": "src"}[make]
    if make == "foreign":
        (tmp_path / "src").mkdir()
        (tmp_path / "src" / "keep.py").write_text("x = 1\n")
    done = pytest_run(tmp_path, "--record=" + target, "-s")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "ERROR: --record: " in done.stderr and message in done.stderr, done.stderr
    assert "RAN" not in done.stdout
    assert (tmp_path / "afile").read_text() == "data"
    assert os.listdir(tmp_path / "src") == ["keep.py"] if make == "foreign" else True


def test_bad_scope_flag_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")
    done = pytest_run(tmp_path, "--record", "--record-include", "third-parti")
    assert done.returncode == 4
    assert "--record-include 'third-parti'" in done.stderr
    assert not (tmp_path / "trace-tests").exists()


def test_record_all_records_pytest(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")
    done = pytest_run(tmp_path, "--record", "--record-all")
    assert done.returncode == 0, done.stderr
    (meta,) = traces(tmp_path / "trace-tests").values()
    assert any(os.sep + "_pytest" + os.sep in p for p in meta["paths"])


def test_already_recorded_process_refuses_record(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")
    done = pytest_run(tmp_path, "--record", prefix=["-m", "recorder", "--quiet", "-o", "out"])
    assert done.returncode == 4
    assert "ERROR: --record: this pytest is already being recorded" in done.stderr
    assert not (tmp_path / "trace-tests").exists()


def test_beside_another_trace_function(tmp_path: Path) -> None:
    """A tracer installed before the tests (coverage's, a debugger's): settrace refuses it at
    the start; sys.monitoring records beside it, and the tracer keeps running."""
    (tmp_path / "conftest.py").write_text(
        "import sys\nSEEN = []\n"
        "def tracer(frame, event, arg):\n"
        "    if event == 'call' and frame.f_code.co_name == 'test_x':\n"
        "        SEEN.append(1)\n"
        "    return None\n"
        "sys.settrace(tracer)\n")
    (tmp_path / "test_x.py").write_text(
        "import conftest\n\ndef test_x():\n    pass\n\n"
        "def test_seen():\n    assert conftest.SEEN == [1]\n")
    for backend in BACKENDS:
        done = pytest_run(tmp_path, "--record", RECORDER_BACKEND=backend)
        if backend == "settrace":
            assert done.returncode == 4
            assert "another trace function is installed" in done.stderr
        else:
            assert done.returncode == 0, done.stdout + done.stderr
            assert len(traces(tmp_path / "trace-tests")) == 2


def test_plugin_import_loads_nothing_else() -> None:
    code = ("import sys, pytest, recorder.pytest_plugin\n"
            "print(sorted(m for m in sys.modules if m.startswith('recorder')))")
    done = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True,
                          text=True)
    assert done.stdout.strip() == "['recorder', 'recorder.pytest_plugin']", done.stderr


@pytest.mark.parametrize("nodeid, name", [
    ("tests/test_a.py::TestX::test_y", "tests_test_a.py--TestX--test_y"),
    ("test_a.py::test_p[1-a/b]", "test_a.py--test_p_1-a_b-"),
    ("test_a.py::test_p[..]", "test_a.py--test_p_..-"),
])
def test_trace_name(nodeid: str, name: str) -> None:
    got = trace_name(nodeid)
    assert got.startswith(name) and (len(got) == len(name) + 10 if name.endswith("-")
                                     else got == name)
    assert trace_name(nodeid) == got  # the same in every run and worker
    assert trace_name(nodeid + "x") != got
    assert len(trace_name("t.py::test[" + "x" * 500 + "]")) <= 131
