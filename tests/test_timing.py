"""The call/return time stamps: ``trace_times.bin`` beside each event file, one float per
Call and per Return record, in order (docs/trace-format.md, "Time")."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any, List

import pytest

import recorder
from recorder.formats import CodeTracerWriter
from recorder.formats.reader import read_trace_dir
from recorder.formats.timing import read_times, times_path
from test_cli import run_recorded

PROGRAM = textwrap.dedent("""\
    import threading, time

    def work(n):
        time.sleep(0.01)
        return n * 2

    def in_thread():
        return [work(i) for i in range(3)]

    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    try:
        int("x")
    except ValueError:
        pass
    print(sum(work(i) for i in range(4)))
""")


def calls_and_returns(events: List[Any]) -> int:
    return sum(1 for e in events if "Call" in e or "Return" in e)


def test_every_call_and_return_has_a_stamp_in_order(tmp_path):
    (tmp_path / "app.py").write_text(PROGRAM)
    done = run_recorded(tmp_path, ["app.py"])
    assert (done.returncode, done.stdout, done.stderr) == (0, "12\n", "")
    out = tmp_path / "trace-out"
    trace = read_trace_dir(str(out))
    timing = trace.metadata["timing"]
    assert timing["clock"] == "perf_counter" and timing["format"] == "float64-le"
    files = [trace.main] + list(trace.threads.values())
    assert len(files) == 2
    for read in files:
        stamps = list(read_times(times_path(read.path)))
        assert len(stamps) == calls_and_returns(read.events) > 0
        assert stamps == sorted(stamps)
        assert stamps[0] >= timing["origin"]
    main = list(read_times(str(out / "trace_times.bin")))
    assert main[-1] - main[0] >= 0.04  # the main thread's four calls of work() sleep 10 ms
    assert os.path.isfile(str(out / "threads" / "trace_times-2.bin"))


def record_untimed(out: Any) -> None:
    """A trace recorded with timing off into ``out``, where an earlier run left a stamps
    file (which must not be taken for this run's)."""
    os.makedirs(str(out))
    (out / "trace_times.bin").write_bytes(b"\0" * 64)
    with recorder.recording(CodeTracerWriter(str(out), program="x", timing=False)):
        sorted([3, 1, 2], key=lambda v: -v)


def test_timing_off_writes_no_stamps(tmp_path):
    record_untimed(tmp_path / "trace-out")
    assert json.loads((tmp_path / "trace-out" / "trace_metadata.json").read_text())[
        "timing"] is None
    assert not os.path.exists(str(tmp_path / "trace-out" / "threads"))


def test_recorder_timing_0_turns_stamps_off_for_the_cli_and_the_auto_start(tmp_path):
    from test_autostart import make_venv, run, traces
    from test_cli import _env

    (tmp_path / "app.py").write_text("def f():\n    return 1\n\nf()\n")
    env = _env()
    env["RECORDER_TIMING"] = "0"
    done = subprocess.run([sys.executable, "-m", "recorder", "app.py"], cwd=str(tmp_path),
                          env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    out = tmp_path / "trace-out"
    assert json.loads((out / "trace_metadata.json").read_text())["timing"] is None
    assert not (out / "trace_times.bin").exists()

    python = make_venv(str(tmp_path / "venv"))
    done = run(python, tmp_path, "def f():\n    return 1\n\nf()\n", name="auto.py",
               RECORDER_TIMING="0")
    assert (done.returncode, done.stderr) == (0, "")
    (trace,) = traces(tmp_path / "traces", count=1).values()
    assert trace.metadata["timing"] is None
    assert not os.path.exists(os.path.join(trace.out_dir, "trace_times.bin"))


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX only")
def test_a_killed_process_leaves_whole_stamps(tmp_path):
    from test_cli_kill import start_busy

    proc = start_busy(tmp_path)
    time.sleep(0.7)  # past the writer's time-based flush
    proc.kill()
    proc.wait(30)
    trace = read_trace_dir(str(tmp_path / "trace-out"))
    size = os.path.getsize(str(tmp_path / "trace-out" / "trace_times.bin"))
    assert size % 8 == 0
    stamps = list(read_times(str(tmp_path / "trace-out" / "trace_times.bin")))
    assert 0 < len(stamps) <= calls_and_returns(trace.main.events)
    assert stamps == sorted(stamps)
