"""``python -m recorder`` leaves a finished, balanced trace however the program ends: the
ways ``atexit`` never sees (``os._exit``, SIGTERM with the default action, ``os.exec*``) go
through the auto-start's hooks (``autostart.guard_endings``), and the process ends exactly as
it does unrecorded.
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
from test_autostart import assert_balanced, detached, functions, status
from test_cli import run_plain, run_recorded

POSIX = hasattr(os, "fork")

PROGRAM = """
    import os, signal, sys, time

    def inner():
        print("before", flush=True)
        {action}

    def outer():
        inner()

    outer()
"""

# case: (action, the process's return code, exit status in the trace, frames closed)
CASES = {
    "os_exit": ("os._exit(7)", 7, 7, 3),
    "sys_exit": ("sys.exit(4)", 4, 4, 0),
}
if POSIX:
    CASES["sigterm"] = ("os.kill(os.getpid(), signal.SIGTERM); time.sleep(30)",
                        -signal.SIGTERM, 128 + signal.SIGTERM, 3)
    CASES["sighup"] = ("os.kill(os.getpid(), signal.SIGHUP); time.sleep(30)",
                       -signal.SIGHUP, 128 + signal.SIGHUP, 3)
    CASES["exec"] = ("os.execv(sys.executable, [sys.executable, '-c', 'print(42)'])",
                     0, "<exec>", 3)


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_ending_finishes_the_trace(tmp_path: Any, backend: str, case: str) -> None:
    action, code, exit_status, closed = CASES[case]
    (tmp_path / "app.py").write_text(textwrap.dedent(PROGRAM.format(action=action)))
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
def test_sigterm_from_outside_while_the_recorder_is_busy(tmp_path: Any) -> None:
    """Most of a busy recorded program's time is inside the recorder; the CLI's own frames
    under the program must not make the handler wait for the recorder to be left."""
    (tmp_path / "busy.py").write_text(textwrap.dedent("""
        def step(i):
            return i * 2

        i = 0
        while True:
            step(i)
            i += 1
            if i == 3000:
                print("ready", flush=True)
    """))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen([sys.executable, "-m", "recorder", "busy.py"], cwd=str(tmp_path),
                            stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        proc.terminate()
        proc.wait(30)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGTERM
    trace = read_trace_dir(str(tmp_path / "trace-out"))
    assert_balanced(trace)
    assert status(trace) == 128 + signal.SIGTERM and detached(trace) >= 1


@pytest.mark.skipif(not POSIX, reason="signals: POSIX only")
def test_an_ignored_sighup_stays_ignored(tmp_path: Any) -> None:
    """Under ``nohup`` SIGHUP is ignored: the recorder installs no handler over that."""
    (tmp_path / "app.py").write_text(textwrap.dedent("""
        import os, signal
        os.kill(os.getpid(), signal.SIGHUP)
        print("still here", signal.getsignal(signal.SIGHUP) is signal.SIG_IGN)
    """))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    env.get("PYTHONPATH")) if p)

    def ignore_sighup() -> None:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    done = subprocess.run([sys.executable, "-m", "recorder", "app.py"], cwd=str(tmp_path),
                          capture_output=True, text=True, env=env, timeout=60,
                          preexec_fn=ignore_sighup)
    assert (done.returncode, done.stdout, done.stderr) == (0, "still here True\n", "")
    trace = read_trace_dir(str(tmp_path / "trace-out"))
    assert_balanced(trace)
    assert status(trace) == 0
