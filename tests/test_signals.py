"""Signals and the recorder's own threads, through real processes (the CLI and the
``RECORDER_TRACE`` auto-start): the end-of-process handler for SIGTERM and SIGHUP is
invisible to the program, and a thread the recorder starts is never in the trace."""
from __future__ import annotations

import os
import signal
import subprocess
import textwrap
from typing import Any, Dict, List, Optional, Tuple

import pytest

from recorder.formats.reader import TraceDir, read_trace_dir
from test_autostart import assert_balanced, clean_env, only, py, status, traces  # noqa: F401

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGTERM") or not hasattr(os, "fork"),
                                reason="POSIX signals")

ENTRIES = ["cli", "autostart"]


def run(python: str, tmp_path: Any, source: str, entry: Optional[str], backend: str = "auto",
        timeout: float = 60, **variables: str) -> "subprocess.CompletedProcess[str]":
    """Run ``source`` as app.py: unrecorded (``entry`` None), through the CLI, or recorded by
    the auto-start; ``variables`` are added to the environment."""
    (tmp_path / "app.py").write_text(textwrap.dedent(source))
    env = clean_env(**variables)
    env.pop("RECORDER_BACKEND", None)
    command = [python, "app.py"]
    if entry == "cli":
        command = [python, "-m", "recorder", "--backend", backend, "app.py"]
    elif entry == "autostart":
        env.update(RECORDER_TRACE=str(tmp_path / "traces"), RECORDER_BACKEND=backend)
    return subprocess.run(command, cwd=str(tmp_path), capture_output=True, text=True,
                          env=env, timeout=timeout)


def the_trace(tmp_path: Any, entry: str) -> TraceDir:
    if entry == "cli":
        return read_trace_dir(str(tmp_path / "trace-out"))
    return only(traces(tmp_path / "traces", count=1), "app")


def thread_names(trace: TraceDir) -> List[str]:
    return [t["name"] for t in trace.metadata["threads"]]  # type: ignore[index]


# -- the recorder's own threads ------------------------------------------------------------

BOMB = """
    import os, signal, time

    class Bomb:
        def __repr__(self):
            os.kill(os.getpid(), signal.SIGTERM)  # the handler runs inside the recorder
            return "Bomb()"

    def main():
        bomb = Bomb()
        time.sleep(30)

    main()
"""


@pytest.mark.parametrize("entry", ENTRIES)
def test_the_sigterm_helper_thread_is_never_recorded(py, tmp_path, entry, backend):
    """A SIGTERM that lands while the recorder writes an event (here: while it takes the
    repr of a local, which it does with program reprs allowed) is finished by a helper
    thread; on settrace its threading.settrace hook adopted that thread, which then had its
    own thread file in the trace."""
    done = run(py, tmp_path, BOMB, entry, backend, RECORDER_REPRS="program")
    assert (done.returncode, done.stderr) == (-signal.SIGTERM, "")
    trace = the_trace(tmp_path, entry)
    assert_balanced(trace)
    assert status(trace) == 128 + signal.SIGTERM
    assert thread_names(trace) == ["MainThread"]
    assert trace.threads == {}
    assert not os.path.exists(os.path.join(trace.out_dir, "threads"))
