"""A recorded process killed with SIGKILL leaves a trace prefix that our reader accepts."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from recorder.formats.reader import check_balance, read_trace_dir
from test_cli import _env


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX only")
def test_sigkill_leaves_a_readable_prefix(tmp_path):
    (tmp_path / "busy.py").write_text(textwrap.dedent("""
        import sys, time
        def step(i):
            return i * 2
        i = 0
        while True:
            step(i)
            i += 1
            if i == 2000:
                print("ready", flush=True)
    """))
    proc = subprocess.Popen([sys.executable, "-m", "recorder", "busy.py"], cwd=str(tmp_path),
                            stdout=subprocess.PIPE, env=_env())
    try:
        assert proc.stdout.readline() == b"ready\n"
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
