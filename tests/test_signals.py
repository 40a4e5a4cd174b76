"""Signals and the recorder's own threads, through real processes (the CLI and the
``RECORDER_TRACE`` auto-start): the end-of-process handler for SIGTERM and SIGHUP is
invisible to the program, and a thread the recorder starts is never in the trace."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from typing import Any, Dict, List, Optional, Tuple

import pytest

from recorder.formats.reader import TraceDir, read_trace_dir
from test_autostart import (assert_balanced, clean_env, only, py,  # noqa: F401
                            start_until_ready, status, traces)
from test_cli_kill import BUSY

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGTERM") or not hasattr(os, "fork"),
                                reason="POSIX signals")

ENTRIES = ["cli", "autostart"]


def command_for(python: str, tmp_path: Any, source: str, entry: Optional[str],
                backend: str, **variables: str) -> Tuple[List[str], Dict[str, str]]:
    """Write ``source`` as app.py; the command and environment that run it unrecorded
    (``entry`` None), through the CLI, or recorded by the auto-start; ``variables`` are
    added to the environment."""
    (tmp_path / "app.py").write_text(textwrap.dedent(source))
    env = clean_env(**variables)
    env.pop("RECORDER_BACKEND", None)
    command = [python, "app.py"]
    if entry == "cli":
        command = [python, "-m", "recorder", "--backend", backend, "app.py"]
    elif entry == "autostart":
        env.update(RECORDER_TRACE=str(tmp_path / "traces"), RECORDER_BACKEND=backend)
    return command, env


def run(python: str, tmp_path: Any, source: str, entry: Optional[str],
        backend: str = "auto", **variables: str) -> "subprocess.CompletedProcess[str]":
    command, env = command_for(python, tmp_path, source, entry, backend, **variables)
    return subprocess.run(command, cwd=str(tmp_path), capture_output=True, text=True,
                          env=env, timeout=60)


def the_trace(tmp_path: Any, entry: str) -> TraceDir:
    """The program's own trace (not its children's)."""
    if entry == "cli":
        return read_trace_dir(str(tmp_path / "trace-out"))
    found = traces(tmp_path / "traces", count=1)
    return only({name: t for name, t in found.items() if t.metadata["parent"] is None}, "app")


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


# -- the handler the program does not see ------------------------------------------------

def functions_called(trace: TraceDir) -> List[str]:
    funcs = [e["Function"]["name"] for e in trace.main.events if "Function" in e]
    return [funcs[e["Call"]["function_id"]] for e in trace.main.events if "Call" in e]


def same_as_plain(py: str, tmp_path: Any, source: str, entry: str,
                  backend: str) -> "subprocess.CompletedProcess[str]":
    plain = run(py, tmp_path, source, None)
    done = run(py, tmp_path, source, entry, backend)
    assert (done.returncode, done.stdout, done.stderr) == (
        plain.returncode, plain.stdout, plain.stderr)
    return done


ONLY_OVER_THE_DEFAULT = """
    import os, signal, sys, time

    def mine(signum, frame):
        print("mine", signal.Signals(signum).name, flush=True)
        sys.exit(7)

    def install():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            print(signal.Signals(signum).name, signal.getsignal(signum), flush=True)
            if signal.getsignal(signum) is signal.SIG_DFL:
                print("previous", repr(signal.signal(signum, mine)))
        print("now", signal.getsignal(signal.SIGTERM) is mine, flush=True)

    install()
    os.kill(os.getpid(), signal.{name})
    time.sleep(30)
"""


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_handler_installed_only_over_the_default_runs(py, tmp_path, entry, backend, name):
    """``getsignal`` answers SIG_DFL, ``signal`` returns SIG_DFL as the previous handler,
    and then the program's handler is the one that runs; its sys.exit finishes the trace."""
    done = same_as_plain(py, tmp_path, ONLY_OVER_THE_DEFAULT.format(name=name), entry,
                         backend)
    assert done.returncode == 7
    assert "previous <Handlers.SIG_DFL: 0>" in done.stdout and "now True" in done.stdout
    trace = the_trace(tmp_path, entry)
    assert_balanced(trace)
    assert status(trace) == 7
    assert functions_called(trace)[-1] == "mine"


BACK_TO_THE_DEFAULT = """
    import os, signal, time

    def cleanup_then_default(signum, frame):
        print("cleaning up", flush=True)
        print("was", signal.signal(signum, signal.SIG_DFL) is cleanup_then_default)
        print("default", signal.getsignal(signum) is signal.SIG_DFL, flush=True)
        os.kill(os.getpid(), signum)  # dies by the default action
        time.sleep(30)

    signal.signal(signal.SIGTERM, cleanup_then_default)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)
"""


THE_SIGNAL_API = """
    import _signal, os, signal, threading, time

    def show(*what):
        print(*what, flush=True)

    def attempt(call):
        try:
            return call()
        except Exception as exc:
            return "%s: %s" % (type(exc).__name__, exc)

    TERM, HUP = signal.SIGTERM, signal.SIGHUP
    show(signal.getsignal(TERM) is signal.SIG_DFL, repr(signal.getsignal(HUP)))
    show(_signal.getsignal(TERM), type(_signal.getsignal(TERM)).__name__)
    show(repr(signal.signal(signal.Signals.SIGHUP, signal.Handlers.SIG_IGN)))
    show(repr(signal.getsignal(HUP)), repr(_signal.signal(HUP, _signal.SIG_DFL)))
    show(repr(signal.getsignal(HUP)), signal.siginterrupt(TERM, True))
    show(attempt(lambda: _signal.signal(TERM, signal.SIG_DFL)))  # the enum: refused
    show(attempt(lambda: signal.signal(TERM, 42)))
    found = []
    worker = threading.Thread(target=lambda: found.append(
        attempt(lambda: signal.signal(TERM, signal.SIG_DFL))))
    worker.start()
    worker.join()
    show(found[0])
    show(repr(signal.getsignal(TERM)), repr(signal.getsignal(HUP)))
    os.kill(os.getpid(), HUP)  # the default action again
    time.sleep(30)  # (Python runs a handler at its next check: within the program)
"""


ASYNCIO = """
    import asyncio, os, signal, time

    def main():
        loop = asyncio.new_event_loop()
        stop = loop.create_future()
        loop.add_signal_handler(signal.SIGTERM, stop.set_result, "stopped by SIGTERM")
        print("handled by asyncio", signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL)
        loop.call_soon(os.kill, os.getpid(), signal.SIGTERM)
        print(loop.run_until_complete(stop), flush=True)
        loop.remove_signal_handler(signal.SIGTERM)
        loop.close()
        print("default", signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, flush=True)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)

    main()
"""


#: Programs that handle the signal their own way, then end by its default action:
#: (source, the signal, what they print first).
BY_THE_DEFAULT_ACTION = {
    "back_to_the_default": (BACK_TO_THE_DEFAULT, signal.SIGTERM,
                            "cleaning up\nwas True\ndefault True\n"),
    "the_signal_api": (THE_SIGNAL_API, signal.SIGHUP, "True <Handlers.SIG_DFL: 0>\n0 int\n"),
    "asyncio": (ASYNCIO, signal.SIGTERM,
                "handled by asyncio True\nstopped by SIGTERM\ndefault True\n"),
}


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("case", sorted(BY_THE_DEFAULT_ACTION))
def test_the_default_action_after_the_programs_own_handling(py, tmp_path, entry, backend,
                                                             case):
    """A handler that sets SIG_DFL again and re-sends the signal; the ``signal`` and
    ``_signal`` functions, the enums, SIG_IGN, siginterrupt and the errors; asyncio's
    add_signal_handler and remove_signal_handler: all as unrecorded, and the default action
    at the end still finishes the trace."""
    source, signum, printed = BY_THE_DEFAULT_ACTION[case]
    done = same_as_plain(py, tmp_path, source, entry, backend)
    assert done.returncode == -signum
    assert done.stdout.startswith(printed)
    trace = the_trace(tmp_path, entry)
    assert_balanced(trace)
    assert status(trace) == 128 + signum


FORKED = """
    import os, signal, sys, time

    def mine(signum, frame):
        sys.exit(3)

    def child():
        print("child sees the default", signal.getsignal(signal.SIGTERM) is signal.SIG_DFL,
              flush=True)
        signal.signal(signal.SIGTERM, mine)
        os.write(ready_w, b"x")
        time.sleep(30)
        os._exit(0)  # never the parent's code (its os.kill(0, ...) would hit the group)

    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        child()
    os.read(ready_r, 1)
    os.kill(pid, signal.SIGTERM)
    print("child exit", os.WEXITSTATUS(os.waitpid(pid, 0)[1]), flush=True)
    pid = os.fork()
    if pid == 0:
        time.sleep(30)  # the default action ends it (a signal lost at the fork: not)
        os._exit(0)
    os.kill(pid, signal.SIGTERM)
    print("child signal", os.WTERMSIG(os.waitpid(pid, 0)[1]), flush=True)
"""


@pytest.mark.parametrize("entry", ENTRIES)
def test_a_forked_child_sees_the_default_and_keeps_its_handler(py, tmp_path, entry, backend):
    done = same_as_plain(py, tmp_path, FORKED, entry, backend)
    assert done.stdout == "child sees the default True\nchild exit 3\nchild signal %d\n" % (
        signal.SIGTERM)
    trace = the_trace(tmp_path, entry)
    assert_balanced(trace)
    assert status(trace) == 0
    if entry == "autostart":  # each child writes its own trace (the CLI's alone: docs/cli.md)
        found = traces(tmp_path / "traces", count=3)
        children = sorted(status(t) for t in found.values() if t.metadata["parent"])
        assert children == [3, 128 + signal.SIGTERM]
        for child in found.values():
            assert_balanced(child)


MULTIPROCESSING = """
    import multiprocessing, signal, time

    def work(ready):
        ready.set()
        time.sleep(30)

    if __name__ == "__main__":
        context = multiprocessing.get_context("{method}")
        ready = context.Event()
        worker = context.Process(target=work, args=(ready,))
        worker.start()
        ready.wait()
        worker.terminate()
        worker.join()
        print("worker", worker.exitcode)
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_terminated_multiprocessing_worker(py, tmp_path, backend, method):
    done = same_as_plain(py, tmp_path, MULTIPROCESSING.format(method=method), "autostart",
                         backend)
    assert done.stdout == "worker %d\n" % -signal.SIGTERM
    found = traces(tmp_path / "traces")
    worker = [t for t in found.values() if t.metadata["parent"]
              and "resource_tracker" not in t.out_dir]
    assert len(worker) == 1, sorted(found)
    assert_balanced(worker[0])
    assert status(worker[0]) == 128 + signal.SIGTERM


BUSY_WITH_A_HANDLER = textwrap.dedent("""
    import signal, sys

    def mine(signum, frame):
        sys.exit(7)

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, mine)
""") + textwrap.dedent(BUSY)


@pytest.mark.parametrize("entry", ENTRIES)
def test_the_programs_handler_ends_a_busy_program(py, tmp_path, entry, backend):
    """SIGTERM from outside lands, most of the time, while the recorder writes an event:
    what the program's handler raises there (sys.exit) still ends the program, and the
    trace is finished (it was swallowed as a recorder failure, and the program ran on)."""
    command, env = command_for(py, tmp_path, BUSY_WITH_A_HANDLER, entry, backend)
    proc = start_until_ready(command, tmp_path, env)
    try:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert (proc.returncode, err) == (7, b"")
    trace = the_trace(tmp_path, entry)
    # The CLI sees the SystemExit itself. On settrace the exception may leave one of the
    # recorder's trace functions: CPython then removes it (a "removed" gap, to the end),
    # and the auto-start knows that an exception ended the program, not which
    # (docs/autostart.md).
    assert_balanced(trace, gaps=("removed",) if backend == "settrace" else ())
    unseen = entry == "autostart" and backend == "settrace"
    assert status(trace) in ((7, "<exit>") if unseen else (7,))


IN_THE_SINK = """
    import os, signal, sys, time
    import recorder

    def mine(signum, frame):
        sys.exit(7)

    def sink(event):
        if event.kind.name == "CALL" and event.code.qualname == "work":
            os.kill(os.getpid(), signal.SIGTERM)  # the handler runs inside the recorder

    def work():
        return 1

    signal.signal(signal.SIGTERM, mine)
    recorder.install(sink)
    work()
    time.sleep(30)
"""


def test_what_a_handler_raises_inside_the_recorder_reaches_the_program(tmp_path, backend):
    """The handler runs while the recorder delivers an event: its sys.exit is the
    program's, not a recorder failure (which would stop recording and let it run on)."""
    from test_autostart import CHECKOUT

    (tmp_path / "app.py").write_text(textwrap.dedent(IN_THE_SINK))
    done = subprocess.run([sys.executable, "app.py"], cwd=str(tmp_path), capture_output=True,
                          text=True, timeout=60,
                          env=clean_env(PYTHONPATH=CHECKOUT, RECORDER_BACKEND=backend))
    assert (done.returncode, done.stdout, done.stderr) == (7, "", "")
