"""A recorded process killed with SIGKILL leaves a trace prefix that our reader accepts and
``--repair`` finishes; one terminated by SIGTERM from outside leaves a finished trace."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest

from recorder.formats.reader import check_balance, read_trace_dir
from test_autostart import assert_balanced, detached, start_until_ready, status, terminated
from test_cli import _env


#: A program that calls a function forever; it says "ready" past its first 2000 calls.
BUSY = """
    def step(i):
        return i * 2
    i = 0
    while True:
        step(i)
        i += 1
        if i == 2000:
            print("ready", flush=True)
"""


def start_busy(tmp_path: Any) -> "subprocess.Popen[bytes]":
    """``python -m recorder busy.py``: :data:`BUSY`, started and ready."""
    (tmp_path / "busy.py").write_text(textwrap.dedent(BUSY))
    return start_until_ready([sys.executable, "-m", "recorder", "busy.py"], tmp_path, _env())


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX only")
def test_sigkill_leaves_a_readable_prefix(tmp_path):
    proc = start_busy(tmp_path)
    try:
        time.sleep(0.7)  # past the writer's time-based flush
    finally:
        proc.kill()
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    trace = read_trace_dir(str(tmp_path / "trace-out"))
    assert not trace.main.complete
    events = trace.main.events
    assert len(events) > 500
    calls = sum(1 for e in events if "Call" in e)
    assert calls > 100
    balance = check_balance(events, complete=False)
    assert balance.problems == []
    assert balance.open >= 1  # <toplevel> and the module never returned

    # python -m recorder --repair finishes it: whole records kept, open calls closed
    repaired = subprocess.run([sys.executable, "-m", "recorder", "--repair", "trace-out"],
                              cwd=str(tmp_path), capture_output=True, text=True, env=_env(),
                              timeout=60)
    assert (repaired.returncode, repaired.stderr) == (0, "")
    assert repaired.stdout == ("trace.json: finished (%d open calls closed with <detached>), "
                               "balanced\n" % balance.open)
    after = read_trace_dir(str(tmp_path / "trace-out"))
    assert after.main.complete and check_balance(after.main.events).ok
    assert after.main.events[:len(events)] == events
    assert after.metadata["repaired"] == {"files": ["trace.json"],
                                          "closed_calls": balance.open}
    assert after.metadata["complete"] is False  # the program's end was never seen
    again = subprocess.run([sys.executable, "-m", "recorder", "--repair", "trace-out"],
                           cwd=str(tmp_path), capture_output=True, text=True, env=_env(),
                           timeout=60)
    assert (again.returncode, again.stdout) == (0, "trace.json: complete, left as it was\n")


@pytest.mark.parametrize("args, message", [
    (["--repair", "."], "recorder: error: --repair: . is not a trace directory (no trace.json)\n"),
    (["--repair", "trace-out", "app.py"],
     "recorder: error: --repair DIR runs no program: give it alone\n"),
])
def test_repair_refuses_what_is_not_a_trace_directory(tmp_path, args, message):
    done = subprocess.run([sys.executable, "-m", "recorder"] + args, cwd=str(tmp_path),
                          capture_output=True, text=True, env=_env(), timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", message)


@pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="POSIX only")
def test_sigterm_from_outside_while_the_recorder_is_busy_finishes_the_trace(tmp_path):
    """Most of a busy recorded program's time is inside the recorder: the handler waits
    until the event is written (the CLI's own frames under the program do not count as
    inside), then the trace is finished and balanced, and the process dies by SIGTERM."""
    proc = start_busy(tmp_path)
    assert terminated(proc) == -signal.SIGTERM
    trace = read_trace_dir(str(tmp_path / "trace-out"))
    assert_balanced(trace)
    assert status(trace) == 128 + signal.SIGTERM and detached(trace) >= 1
