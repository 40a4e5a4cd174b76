"""``python -m recorder`` leaves a finished, balanced trace however the program ends (the
same table of endings as the auto-start's, plus ``os.exec*``): the ways ``atexit`` never sees
(``os._exit``, SIGTERM and SIGHUP with the default action, ``os.exec*``) go through the
auto-start's hooks (``endings.guard_endings``), and the process ends exactly as it does
unrecorded. A SIGTERM from outside: test_cli_kill.py.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from recorder.formats.reader import read_trace_dir
from test_autostart import (ENDING, ENDINGS, assert_balanced, detached, functions, main_ended,
                            status)
from test_cli import _env, run_plain, run_recorded

POSIX = hasattr(os, "fork")

# the auto-start's table of endings (test_autostart.ENDINGS), and os.exec*
CASES = dict(ENDINGS)
if POSIX:
    CASES["exec"] = ("os.execv(sys.executable, [sys.executable, '-c', 'print(42)'])",
                     0, "<exec>", 3)


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_ending_finishes_the_trace(tmp_path: Any, backend: str, case: str) -> None:
    action, code, exit_status, closed = CASES[case]
    (tmp_path / "app.py").write_text(textwrap.dedent(ENDING.format(action=action)))
    plain = run_plain(tmp_path, ["app.py"])
    done = run_recorded(tmp_path, ["app.py"], options=("--backend", backend))
    assert (done.returncode, done.stdout, done.stderr) == (plain.returncode, plain.stdout,
                                                          plain.stderr)
    assert done.returncode == code
    trace = read_trace_dir(str(tmp_path / "trace-out"))
    assert_balanced(trace)
    assert status(trace) == exit_status
    assert functions(trace) == ["<toplevel>", "<__main__>", "outer", "inner"]
    assert detached(trace) == closed
    assert main_ended(trace) is (closed == 0)  # the trace was closed under the program


@pytest.mark.skipif(not POSIX, reason="os.fork: POSIX only")
def test_a_forked_child_ending_by_os_exit_leaves_the_parents_trace_alone(
        tmp_path: Any, backend: str) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent("""
        import os

        def child():
            os._exit(5)

        def main():
            pid = os.fork()
            if pid == 0:
                child()
            _, st = os.waitpid(pid, 0)
            print("child", os.WEXITSTATUS(st))
            return 0

        main()
    """))
    done = run_recorded(tmp_path, ["app.py"], options=("--backend", backend))
    assert (done.returncode, done.stdout, done.stderr) == (0, "child 5\n", "")
    trace = read_trace_dir(str(tmp_path / "trace-out"))
    assert_balanced(trace)
    assert status(trace) == 0
    assert functions(trace) == ["<toplevel>", "<__main__>", "main"]
    assert detached(trace) == 0


@pytest.mark.skipif(not POSIX, reason="signals: POSIX only")
def test_an_ignored_sighup_stays_ignored(tmp_path: Any) -> None:
    """Under ``nohup`` SIGHUP is ignored: the recorder installs no handler over that."""
    (tmp_path / "app.py").write_text(textwrap.dedent("""
        import os, signal
        os.kill(os.getpid(), signal.SIGHUP)
        print("still here", signal.getsignal(signal.SIGHUP) is signal.SIG_IGN)
    """))
    def ignore_sighup() -> None:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    done = subprocess.run([sys.executable, "-m", "recorder", "app.py"], cwd=str(tmp_path),
                          capture_output=True, text=True, env=_env(), timeout=60,
                          preexec_fn=ignore_sighup)
    assert (done.returncode, done.stdout, done.stderr) == (0, "still here True\n", "")
    trace = read_trace_dir(str(tmp_path / "trace-out"))
    assert_balanced(trace)
    assert status(trace) == 0
