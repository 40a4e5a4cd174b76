"""Limits that protect the disk, through the real CLI and the auto-start in subprocesses.

``--max-size``/``--max-records`` (and their variables) stop recording cleanly: the program's
output and exit status are those of the unrecorded run, one warning line says why, the
trace is closed and balanced, and ``trace_metadata.json`` says where and why it stopped. A
write that fails (the file-size limit ``RLIMIT_FSIZE``, a real kernel error, not a mock)
does the same. Bad values are one error line, status 2, and nothing written.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from typing import Any, Dict, List, Optional

import pytest

from recorder.formats.reader import TraceDir, check_balance, read_trace_dir
from test_autostart import py  # noqa: F401  (the fixture: a venv with the auto-start hook)
from test_autostart import clean_env, traces
from test_cli import _env, run_plain

POSIX = hasattr(os, "fork")
HAS_FSIZE = POSIX and hasattr(signal, "SIGXFSZ")

#: A loop long enough to pass every limit below many times over; output before and after.
LOOP = textwrap.dedent("""
    import sys

    def step(i):
        value = i * 2
        return value

    def main(n):
        print("start")
        total = 0
        for i in range(n):
            total += step(i)
        print("total", total)
        sys.stderr.write("program's own stderr\\n")
        return 3

    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000))
""")

#: The same with a second thread doing half the work, so two streams reach the limit.
THREADED = textwrap.dedent("""
    import sys, threading

    def step(i):
        value = i * 2
        return value

    def work(n, out, started=None):
        if started is not None:
            started.set()  # the thread is recorded before the limit is near
        out.append(sum(step(i) for i in range(n)))

    out = []
    started = threading.Event()
    t = threading.Thread(target=work, args=(20000, out, started))
    t.start()
    started.wait()
    work(20000, out)
    t.join()
    print("total", sum(out))
""")


def record(cwd: Any, args: List[str], options: tuple = (), env: Optional[Dict[str, str]] = None,
           preexec: Any = None) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([sys.executable, "-m", "recorder", *options] + args, cwd=str(cwd),
                          capture_output=True, text=True, env=env or _env(), timeout=120,
                          preexec_fn=preexec)


def warnings(stderr: str) -> List[str]:
    return [line for line in stderr.splitlines() if line.startswith("recorder:")]


def without_warnings(stderr: str) -> str:
    return "".join(line + "\n" for line in stderr.splitlines()
                   if not line.startswith("recorder:"))


def assert_closed_and_balanced(trace: TraceDir) -> None:
    """Every event file ends with its bracket, every Call has its Return, every id is
    defined before use (check_balance, strict)."""
    for read in [trace.main] + list(trace.threads.values()):
        assert read.complete, (read.path, read.error)
        balance = check_balance(read.events)
        assert balance.ok, (read.path, balance.problems[:5])


def assert_same_as_unrecorded(tmp_path: Any, args: List[str], done: Any) -> None:
    plain = run_plain(tmp_path, args)
    assert (done.returncode, done.stdout, without_warnings(done.stderr)) == (
        plain.returncode, plain.stdout, plain.stderr)


def records_in(trace: TraceDir) -> int:
    return len(trace.main.events) + sum(len(t.events) for t in trace.threads.values())


def bytes_in(out: Any) -> int:
    total = os.path.getsize(str(out / "trace.json"))
    threads = out / "threads"
    if threads.is_dir():
        total += sum(os.path.getsize(str(p)) for p in threads.glob("trace-*.json"))
    return total


# -- --max-records / --max-size ----------------------------------------------------------------

@pytest.mark.parametrize("option,limit", [("--max-records", "3000"), ("--max-size", "100K")])
def test_a_limit_stops_recording_and_the_program_runs_on(tmp_path: Any, backend: str,
                                                         option: str, limit: str) -> None:
    (tmp_path / "app.py").write_text(LOOP)
    done = record(tmp_path, ["app.py"], (option, limit, "--backend", backend))
    assert_same_as_unrecorded(tmp_path, ["app.py"], done)
    reason = option[2:]
    [line] = warnings(done.stderr)
    assert line.startswith("recorder: warning: recording stopped, the program goes on "
                           "unrecorded: the trace reached its %s limit" % reason), line
    trace = read_trace_dir(str(tmp_path / "trace-out"))
    assert_closed_and_balanced(trace)
    meta = trace.metadata
    assert meta is not None and meta["complete"] is True
    stopped = meta["stopped"]
    limit_value = 3000 if reason == "max-records" else 100 * 1024
    assert (stopped["reason"], stopped["limit"]) == (reason, limit_value)
    assert meta["limits"][reason.replace("-", "_")] == limit_value
    # stopped at the first write past the limit: at most one buffer (512 records) over it
    counted = stopped["at_records"] if reason == "max-records" else stopped["at_bytes"]
    assert limit_value <= counted
    if reason == "max-records":
        assert counted < limit_value + 512
    # what the files hold: what was counted, then what was still in memory (the newest 256
    # records stay there at each write, see CodeTracerWriter.holdback) and the closing Returns
    assert 0 <= records_in(trace) - stopped["at_records"] < 300
    assert 0 <= bytes_in(tmp_path / "trace-out") - stopped["at_bytes"] < 300 * 100
    # the loop ran on unrecorded: far fewer step() calls than its 20000
    calls = [e for e in trace.main.events if "Call" in e]
    assert 100 < len(calls) < 5000
    # the program's start is there, its end is not (recorded until the stop)
    outputs = [e["Event"]["content"] for e in trace.main.events if "Event" in e]
    assert "start" in outputs and "total" not in outputs


def test_limits_from_the_variables_and_none_overrides_them(tmp_path: Any) -> None:
    (tmp_path / "app.py").write_text(LOOP)
    env = dict(_env(), RECORDER_MAX_RECORDS="2000")
    done = record(tmp_path, ["app.py"], env=env)
    assert len(warnings(done.stderr)) == 1 and done.returncode == 3
    meta = read_trace_dir(str(tmp_path / "trace-out")).metadata
    assert meta is not None and meta["stopped"]["reason"] == "max-records"
    done = record(tmp_path, ["app.py", "500"], ("--max-records", "none"), env=env)
    assert (done.returncode, warnings(done.stderr)) == (3, [])
    meta = read_trace_dir(str(tmp_path / "trace-out")).metadata
    assert meta is not None and "stopped" not in meta and "limits" not in meta


def test_the_end_of_run_line_says_the_recording_stopped_early(tmp_path: Any) -> None:
    (tmp_path / "app.py").write_text(LOOP)
    done = record(tmp_path, ["app.py"], ("--max-records", "2000", "--report"))
    assert done.returncode == 3
    warning, report = warnings(done.stderr)
    assert warning.startswith("recorder: warning: recording stopped")
    trace = read_trace_dir(str(tmp_path / "trace-out"))
    # every record in the files is counted, the closing ones too
    assert "\u00b7 {:,} records \u00b7".format(records_in(trace)) in report, report
    assert report.endswith("\u00b7 stopped early (max-records)"), report


def test_under_the_limit_nothing_stops(tmp_path: Any) -> None:
    (tmp_path / "app.py").write_text(LOOP)
    done = record(tmp_path, ["app.py", "100"], ("--max-size", "10M", "--max-records",
                                                "1_000_000"))
    assert_same_as_unrecorded(tmp_path, ["app.py", "100"], done)
    assert warnings(done.stderr) == []
    trace = read_trace_dir(str(tmp_path / "trace-out"))
    assert_closed_and_balanced(trace)
    assert trace.metadata is not None and "stopped" not in trace.metadata
    assert trace.metadata["limits"] == {"max_size": 10 << 20, "max_records": 1000000}


def test_every_thread_is_closed_when_a_limit_stops_recording(tmp_path: Any,
                                                             backend: str) -> None:
    (tmp_path / "app.py").write_text(THREADED)
    done = record(tmp_path, ["app.py"], ("--max-records", "4000", "--backend", backend))
    assert_same_as_unrecorded(tmp_path, ["app.py"], done)
    assert len(warnings(done.stderr)) == 1
    trace = read_trace_dir(str(tmp_path / "trace-out"))
    assert len(trace.threads) == 1
    assert_closed_and_balanced(trace)
    assert trace.metadata is not None and trace.metadata["stopped"]["reason"] == "max-records"


def test_the_auto_start_applies_a_limit_to_each_process(tmp_path: Any,
                                                        py: str) -> None:  # noqa: F811
    program = LOOP.replace("sys.exit(main(", "status = (main(") + textwrap.dedent("""
        import subprocess
        subprocess.run([sys.executable, "-c", "print('child')"])
        sys.exit(status)
    """)
    (tmp_path / "app.py").write_text(program)
    root = tmp_path / "traces"
    done = subprocess.run([py, "app.py"], cwd=str(tmp_path), capture_output=True, text=True,
                          timeout=120, env=clean_env(RECORDER_TRACE=str(root),
                                                     RECORDER_MAX_RECORDS="2000"))
    # (the child's line comes first or last: the parent's stdout is a pipe, block-buffered)
    assert done.returncode == 3 and "child" in done.stdout.splitlines()
    assert len(warnings(done.stderr)) == 1  # the program; the child stays under its limit
    found = traces(root, count=2)
    [program] = [t for name, t in found.items() if name.startswith("app-")]
    [child] = [t for name, t in found.items() if name.startswith("python-c-")]
    assert_closed_and_balanced(program)
    assert program.metadata is not None and program.metadata["stopped"]["reason"] == \
        "max-records"
    assert child.metadata is not None and "stopped" not in child.metadata
    assert child.metadata["limits"]["max_records"] == 2000


# -- a write that fails ----------------------------------------------------------------------

def file_size_limit(limit: int) -> Any:
    """A preexec_fn: ``RLIMIT_FSIZE`` of ``limit`` bytes for the recorded process. CPython
    ignores SIGXFSZ at start-up, so writes past it fail with EFBIG (the kernel's answer)."""
    def preexec() -> None:
        import resource
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    return preexec


def assert_stopped_by(trace: TraceDir, name: str, errno_name: str = "EFBIG") -> None:
    meta = trace.metadata
    assert meta is not None
    stopped = meta["stopped"]
    assert (stopped["reason"], stopped["file"], stopped["errno"]) == ("write-error", name,
                                                                      errno_name)


@pytest.mark.skipif(not HAS_FSIZE, reason="RLIMIT_FSIZE: POSIX")
def test_a_file_size_limit_stops_recording_and_leaves_a_closed_trace(
        tmp_path: Any, backend: str) -> None:
    (tmp_path / "app.py").write_text(LOOP)
    done = record(tmp_path, ["app.py"], ("--backend", backend),
                  preexec=file_size_limit(64 * 1024))
    assert_same_as_unrecorded(tmp_path, ["app.py"], done)
    [line] = warnings(done.stderr)
    assert line == ("recorder: warning: recording stopped, the program goes on unrecorded: "
                    "cannot write trace.json: File too large (trace_metadata.json says where "
                    "it stopped)")
    out = tmp_path / "trace-out"
    assert os.path.getsize(str(out / "trace.json")) <= 64 * 1024
    trace = read_trace_dir(str(out))
    assert_closed_and_balanced(trace)  # cut back to its last record, then closed
    assert_stopped_by(trace, "trace.json")
    assert trace.metadata is not None and trace.metadata["complete"] is True
    assert records_in(trace) <= trace.metadata["stopped"]["at_records"] + 10


@pytest.mark.skipif(not HAS_FSIZE, reason="RLIMIT_FSIZE: POSIX")
def test_a_thread_stream_that_cannot_be_written_stops_recording(tmp_path: Any) -> None:
    (tmp_path / "app.py").write_text(THREADED)
    done = record(tmp_path, ["app.py"], preexec=file_size_limit(48 * 1024))
    assert_same_as_unrecorded(tmp_path, ["app.py"], done)
    [line] = warnings(done.stderr)
    assert "File too large" in line
    trace = read_trace_dir(str(tmp_path / "trace-out"))
    assert_closed_and_balanced(trace)
    assert trace.metadata is not None
    assert trace.metadata["stopped"]["file"] in ("trace.json", os.path.join("threads",
                                                                             "trace-2.json"))


@pytest.mark.skipif(not HAS_FSIZE, reason="RLIMIT_FSIZE: POSIX")
def test_sigxfsz_with_its_default_action_never_kills_the_program(tmp_path: Any) -> None:
    """A program that restores SIGXFSZ's default action (die) would be killed by the
    kernel the moment a trace file crossed RLIMIT_FSIZE; its own small files never would.
    The recorder keeps its files under the limit itself."""
    (tmp_path / "app.py").write_text("import signal\n"
                                     "signal.signal(signal.SIGXFSZ, signal.SIG_DFL)\n" + LOOP)
    done = record(tmp_path, ["app.py"], preexec=file_size_limit(64 * 1024))
    assert_same_as_unrecorded(tmp_path, ["app.py"], done)
    assert done.returncode == 3
    [line] = warnings(done.stderr)
    assert "cannot write trace.json: File too large (the file-size limit RLIMIT_FSIZE is " \
           "65536 bytes)" in line
    trace = read_trace_dir(str(tmp_path / "trace-out"))
    assert_closed_and_balanced(trace)
    assert_stopped_by(trace, "trace.json")


@pytest.mark.skipif(not HAS_FSIZE, reason="RLIMIT_FSIZE: POSIX")
def test_when_even_the_metadata_cannot_be_written_the_warning_says_so(tmp_path: Any) -> None:
    """The program lowers its own file-size limit below the metadata's size: the trace is
    still cut back to its last record (and closed: the closing records fit), and the one
    warning line says that the metadata could not be written."""
    (tmp_path / "app.py").write_text(textwrap.dedent("""
        import resource
        resource.setrlimit(resource.RLIMIT_FSIZE, (1500, resource.RLIM_INFINITY))
    """) + LOOP)
    done = record(tmp_path, ["app.py"])
    assert_same_as_unrecorded(tmp_path, ["app.py"], done)
    [line] = warnings(done.stderr)
    assert line.endswith("cannot write trace.json: File too large (the metadata could not "
                         "be written either)"), line
    trace = read_trace_dir(str(tmp_path / "trace-out"))
    assert_closed_and_balanced(trace)
    meta = trace.metadata  # as written at the start
    assert meta is not None and meta["complete"] is False and "stopped" not in meta


@pytest.mark.skipif(not HAS_FSIZE, reason="RLIMIT_FSIZE: POSIX")
def test_a_source_copy_that_cannot_be_written_stops_recording_and_is_removed(
        tmp_path: Any) -> None:
    (tmp_path / "big.py").write_text("# padding\n" * 8000 + "def f():\n    return 1\n")
    (tmp_path / "app.py").write_text("import big\nprint(big.f())\n")
    done = record(tmp_path, ["app.py"], preexec=file_size_limit(40 * 1024))
    assert_same_as_unrecorded(tmp_path, ["app.py"], done)
    copy = os.path.join("files", str(tmp_path / "big.py").lstrip(os.sep))
    [line] = warnings(done.stderr)
    assert "cannot write %s: File too large" % copy in line, line
    out = tmp_path / "trace-out"
    assert not os.path.exists(str(out / copy))  # never half a copy
    trace = read_trace_dir(str(out))
    assert_closed_and_balanced(trace)
    assert_stopped_by(trace, copy)


# -- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("options,message", [
    (("--max-size", "12XB"), "recorder: error: argument --max-size: invalid size '12XB' "
                             "(use e.g. 500M, 2G, 1.5GB, or a number of bytes; none for no "
                             "limit)"),
    (("--max-size", "0"), "recorder: error: argument --max-size: invalid size '0': at least "
                          "1 byte"),
    (("--max-records", "lots"), "recorder: error: argument --max-records: invalid number "
                                "'lots'"),
    (("--max-records", "0"), "recorder: error: argument --max-records: invalid number '0': "
                             "at least 1"),
    (("--file-mode", "0400"), "recorder: error: argument --file-mode: invalid file mode "
                              "'0400': the owner must be able to read and write"),
    (("--file-mode", "rw"), "recorder: error: argument --file-mode: invalid file mode 'rw'"),
    (("--steps", "some"), "recorder: error: argument --steps: invalid choice: 'some'"),
])
def test_a_bad_value_is_one_line_status_2_and_nothing_written(tmp_path: Any, options: tuple,
                                                              message: str) -> None:
    (tmp_path / "app.py").write_text("print('ran')\n")
    done = record(tmp_path, ["app.py"], options + ("-o", "out/trace"))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1, done.stderr
    assert sorted(os.listdir(str(tmp_path))) == ["app.py"]


@pytest.mark.parametrize("name,value", [("RECORDER_MAX_SIZE", "12XB"),
                                        ("RECORDER_MAX_RECORDS", "-5"),
                                        ("RECORDER_FILE_MODE", "777x"),
                                        ("RECORDER_STEPS", "sometimes")])
def test_a_bad_variable_is_one_line_status_2_and_nothing_written(tmp_path: Any, name: str,
                                                                 value: str) -> None:
    (tmp_path / "app.py").write_text("print('ran')\n")
    done = record(tmp_path, ["app.py"], env=dict(_env(), **{name: value}))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("recorder: error: %s" % name) and \
        repr(value) in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert sorted(os.listdir(str(tmp_path))) == ["app.py"]


def test_the_auto_start_warns_once_and_runs_unrecorded_on_a_bad_limit(
        tmp_path: Any, py: str) -> None:  # noqa: F811
    (tmp_path / "app.py").write_text("print('ran')\n")
    done = subprocess.run([py, "app.py"], cwd=str(tmp_path), capture_output=True, text=True,
                          timeout=120, env=clean_env(RECORDER_TRACE=str(tmp_path / "traces"),
                                                     RECORDER_MAX_SIZE="12XB"))
    assert (done.returncode, done.stdout) == (0, "ran\n")
    assert done.stderr == ("recorder: warning: not recording: RECORDER_MAX_SIZE: invalid size "
                           "'12XB' (use e.g. 500M, 2G, 1.5GB, or a number of bytes; none for "
                           "no limit)\n")
    assert not (tmp_path / "traces").exists()


def test_an_unwritable_trace_directory_names_the_option(tmp_path: Any) -> None:
    from test_codetracer_writer import _unwritable_dir
    parent = _unwritable_dir(tmp_path)
    (tmp_path / "app.py").write_text("print('ran')\n")
    target = os.path.join(str(parent), "recorder-test-out")
    try:
        done = record(tmp_path, ["app.py"], ("-o", target))
    finally:
        if parent != "/sys":
            os.chmod(str(parent), 0o700)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("recorder: error: argument -o/--out-dir: cannot write the "
                                  "trace directory %s: " % target), done.stderr
    assert done.stderr.count("\n") == 1 and not os.path.exists(target)
