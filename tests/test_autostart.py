"""RECORDER_TRACE=DIR: every Python process of a run records itself (docs/autostart.md).

The hook is tested as it is installed, without installing the package: each test runs a
small venv (made by hand in a few milliseconds: a ``pyvenv.cfg`` and a symlink to this
interpreter) whose site-packages holds the checkout on a path line, recorder's dependencies
and ``recorder_autostart.pth`` copied from the checkout, so the interpreter processes the hook
exactly as it processes the installed one. ``test_the_installed_wheel_ships_the_hook``
checks the real installation where there is one (tox installs the wheel).
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any, Dict, List, Optional, Tuple

import pytest

import recorder
from recorder import autostart
from recorder import program_name
from recorder.config import ENV_VARIABLES
from recorder.formats.reader import TraceDir, check_balance, read_trace_dir

CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(recorder.__file__)))
DOCS = os.path.join(CHECKOUT, "docs")
POSIX = hasattr(os, "fork")
posix_only = pytest.mark.skipif(not POSIX, reason="fork, signals: POSIX only")
DETACHED = {"kind": "Error", "msg": "<detached>"}


# -- a venv with the hook, made by hand ------------------------------------------------------

def _base_python() -> str:
    """This interpreter outside any venv (tox runs us in one)."""
    if sys.prefix != sys.base_prefix:
        candidate = os.path.join(sys.base_prefix, "bin", "python%d.%d" % sys.version_info[:2])
        if os.path.exists(candidate):
            return candidate
    return os.path.realpath(sys.executable)


def make_venv(root: str, hook: bool = True) -> str:
    """A venv whose site-packages makes the checkout importable and, with ``hook``, holds
    the auto-start ``.pth`` as the wheel installs it. Returns its python."""
    base = _base_python()
    os.makedirs(os.path.join(root, "bin"))
    with open(os.path.join(root, "pyvenv.cfg"), "w") as fh:
        fh.write("home = %s\ninclude-system-site-packages = false\nversion = %d.%d.%d\n"
                 % ((os.path.dirname(base),) + tuple(sys.version_info[:3])))
    python = os.path.join(root, "bin", "python")
    os.symlink(base, python)
    site = os.path.join(root, "lib", "python%d.%d" % sys.version_info[:2], "site-packages")
    os.makedirs(site)
    with open(os.path.join(site, "_recorder_checkout.pth"), "w") as fh:
        fh.write(CHECKOUT + "\n")  # sorts before recorder_autostart.pth, as __editable__ does
    for name in DEPENDENCIES:
        copy_module(name, site)
    if hook:
        shutil.copy(autostart.PTH_SOURCE, os.path.join(site, autostart.PTH_NAME))
    return python


#: recorder's dependencies (pyproject.toml), copied into the test venvs where installed.
DEPENDENCIES = ("tomli",)


def purelib(python: str) -> str:
    """The site-packages directory of ``python`` (a venv's): where pip installs packages."""
    found = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                                          "['purelib'])"],
                           capture_output=True, text=True, env=clean_env(), check=True)
    return found.stdout.strip()


def copy_module(name: str, site: str) -> None:
    """Copy an installed module or package (if this interpreter has it) into ``site``."""
    import importlib.util
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin:
        return
    if spec.submodule_search_locations:
        folder = os.path.dirname(spec.origin)
        shutil.copytree(folder, os.path.join(site, os.path.basename(folder)),
                        ignore=shutil.ignore_patterns("__pycache__"))
    else:
        shutil.copy(spec.origin, site)


@pytest.fixture(scope="module")
def py(tmp_path_factory: Any) -> str:
    return make_venv(str(tmp_path_factory.mktemp("venv") / "v"))


@pytest.fixture(scope="module")
def py_no_hook(tmp_path_factory: Any) -> str:
    return make_venv(str(tmp_path_factory.mktemp("venv") / "v"), hook=False)


def clean_env(**extra: str) -> Dict[str, str]:
    """Our environment without RECORDER_* (except a forced backend: tox's forced-backend
    runs then prove both backends in the children too) and without PYTHONPATH."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("RECORDER_") and k != "RECORDER_BACKEND")
           and k not in ("PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME")}
    env.update(extra)
    return env


def run(python: str, tmp_path: Any, source: str, name: str = "app.py", trace: bool = True,
        args: Optional[List[str]] = None, **env: str) -> "subprocess.CompletedProcess[str]":
    script = tmp_path / name
    script.write_text(textwrap.dedent(source))
    if trace:
        env.setdefault("RECORDER_TRACE", str(tmp_path / "traces"))
    return subprocess.run([python, name] + (args or []), cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=120, env=clean_env(**env))


def traces(root: Any, count: Optional[int] = None, timeout: float = 20.0) -> Dict[str, TraceDir]:
    """Every trace directory under ``root`` by name, once all are complete (helpers such as
    multiprocessing's resource tracker finish after the program) and ``count`` exist."""
    deadline = time.monotonic() + timeout
    while True:
        dirs = sorted(glob.glob(os.path.join(str(root), "*")))
        found = {os.path.basename(d): read_trace_dir(d) for d in dirs}
        done = all(t.metadata and t.metadata.get("complete") for t in found.values())
        if done and (count is None or len(found) >= count):
            return found
        if time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def assert_balanced(trace: TraceDir, gaps: Tuple[str, ...] = ()) -> None:
    """Finished, whole and balanced; ``gaps``: kinds of gap the docs allow here, which make
    the metadata say ``"complete": false`` (and only those)."""
    assert trace.metadata is not None, trace.out_dir
    if not trace.metadata["complete"]:
        found = [gap.get("kind") for gap in trace.metadata.get("gaps") or []]
        assert found and set(found) <= set(gaps), (trace.out_dir, found)
    for read in [trace.main] + list(trace.threads.values()):
        assert read.complete, read.path
        balance = check_balance(read.events)
        assert balance.ok, (read.path, balance.problems[:5], balance.open)


def functions(trace: TraceDir) -> List[str]:
    """Names of the functions called in the main stream, in call order, leaving out code
    compiled from strings (``<string>``: the standard library's namedtuple and dataclass
    makers run such code on some versions, e.g. while 3.13 prints a traceback)."""
    paths = [e["Path"] for e in trace.main.events if "Path" in e]
    funcs = [e["Function"] for e in trace.main.events if "Function" in e]
    called = [funcs[e["Call"]["function_id"]] for e in trace.main.events if "Call" in e]
    return [f["name"] for f in called if paths[f["path_id"]] != "<string>"]


def returns(trace: TraceDir) -> List[Dict[str, Any]]:
    return [e["Return"]["return_value"] for e in trace.main.events if "Return" in e]


def detached(trace: TraceDir) -> int:
    return sum(1 for v in returns(trace)
               if v.get("kind") == DETACHED["kind"] and v.get("msg") == DETACHED["msg"])


def main_ended(trace: TraceDir) -> bool:
    """MainThread's "ended" in trace_metadata.json: had the program finished?"""
    (main,) = [t for t in trace.metadata["threads"]  # type: ignore[index]
               if t["trace"] == "trace.json"]
    return main["ended"]


def status(trace: TraceDir) -> Any:
    record = trace.metadata["process_exit_status"]  # type: ignore[index]
    return record["code"] if record["code"] is not None else record["label"]


def only(found: Dict[str, TraceDir], prefix: str) -> TraceDir:
    matching = [t for name, t in found.items() if name.startswith(prefix + "-")]
    assert len(matching) == 1, (prefix, sorted(found))
    return matching[0]


# -- off -------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [None, "", "  "])
def test_unset_or_empty_records_nothing_and_imports_nothing(py, tmp_path, value):
    env = {} if value is None else {"RECORDER_TRACE": value}
    proc = run(py, tmp_path, """
        import subprocess, sys
        ours = "sorted(m for m in sys.modules if m.split('.')[0] == 'recorder')"
        print("parent", eval(ours), flush=True)  # a pipe: flush before the child writes
        subprocess.run([sys.executable, "-c", "import sys; print('child', %s)" % ours])
    """, trace=False, **env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "parent []\nchild []\n" and proc.stderr == ""
    assert os.listdir(str(tmp_path)) == ["app.py"]


# -- the family of processes -----------------------------------------------------------------

FAMILY = """
    import multiprocessing, os, subprocess, sys

    def square(x):
        return x * x

    def pool(method):
        with multiprocessing.get_context(method).Pool(1) as workers:
            return workers.map(square, [1, 2])

    def main():
        subprocess.run([sys.executable, "-c", "import sys; sys.exit(0)"], check=True)
        assert pool("spawn") == [1, 4]
        if hasattr(os, "fork"):
            assert pool("fork") == [1, 4]
            pid = os.fork()
            if pid == 0:
                square(5)
                os._exit(0)
            assert os.waitpid(pid, 0)[1] == 0
        print("done")

    if __name__ == "__main__":
        main()
"""


def test_every_process_writes_its_own_balanced_trace_linked_to_its_parent(py, tmp_path):
    proc = run(py, tmp_path, FAMILY)
    assert (proc.returncode, proc.stdout) == (0, "done\n"), proc.stderr
    assert "recorder:" not in proc.stderr
    found = traces(tmp_path / "traces", count=6 if POSIX else 3)
    roots = [t for t in found.values() if t.metadata["parent"] is None]
    assert len(roots) == 1, sorted(found)
    parent = roots[0]
    pid = parent.metadata["process"]["pid"]
    assert os.path.basename(parent.out_dir) == "app-%d" % pid
    assert parent.metadata["program"] == str(tmp_path / "app.py")  # absolute
    for name, trace in found.items():
        assert_balanced(trace)
        meta = trace.metadata
        assert name.endswith("-%d" % meta["process"]["pid"])
        if trace is not parent:
            assert meta["parent"] == {"pid": pid, "trace_dir": parent.out_dir}, name
    assert functions(parent).count("main") == 1
    # subprocess.run of python
    assert only(found, "python-c").metadata["program"] == "-c"
    # multiprocessing spawn: a fresh interpreter that ran square in the worker
    spawn = only(found, "multiprocessing-spawn")
    assert spawn.metadata["process"]["started_by"] == "pth"
    assert functions(spawn).count("square") == 2
    if POSIX:
        forked = [t for t in found.values() if t.metadata["process"]["started_by"] == "fork"]
        assert len(forked) == 2, sorted(found)  # the fork pool's worker and os.fork's child
        assert all(os.path.basename(t.out_dir).startswith("app-") for t in forked)
        assert sorted(functions(t).count("square") for t in forked) == [1, 2]
        for t in forked:  # the frames running at fork are attached, then closed at exit
            assert functions(t)[:2] == ["<toplevel>", "<__main__>"]


@posix_only
def test_forkserver_workers_link_to_the_server(py, tmp_path):
    proc = run(py, tmp_path, """
        import multiprocessing

        def square(x):
            return x * x

        if __name__ == "__main__":
            with multiprocessing.get_context("forkserver").Pool(1) as workers:
                assert workers.map(square, [3]) == [9]
    """)
    assert proc.returncode == 0, proc.stderr
    found = traces(tmp_path / "traces", count=4)
    app = only(found, "app")
    server = [t for t in found.values()
              if t.metadata["process"]["started_by"] == "pth"
              and os.path.basename(t.out_dir).startswith("multiprocessing-forkserver-")]
    assert len(server) == 1, sorted(found)
    server_link = {"pid": server[0].metadata["process"]["pid"],
                   "trace_dir": server[0].out_dir}
    assert server[0].metadata["parent"]["trace_dir"] == app.out_dir
    workers = [t for t in found.values() if t.metadata["parent"] == server_link]
    assert len(workers) == 1 and functions(workers[0]).count("square") == 1
    for trace in found.values():
        assert_balanced(trace)


def test_fork_then_exec_helpers_leave_no_trace_of_their_fork(py, tmp_path):
    proc = run(py, tmp_path, """
        import os, subprocess, sys
        subprocess.run([sys.executable, "-c", "pass"], preexec_fn=lambda: None, check=True)
        assert os.spawnv(os.P_WAIT, sys.executable, [sys.executable, "-c", "pass"]) == 0
    """)
    assert proc.returncode == 0, proc.stderr
    found = traces(tmp_path / "traces", count=3)
    assert sorted(name.split("-")[0] for name in found) == ["app", "python", "python"], \
        sorted(found)
    for trace in found.values():
        assert_balanced(trace)


# -- however the process ends ----------------------------------------------------------------

ENDING = """
    import os, signal, sys, time

    def inner():
        {action}

    def outer():
        inner()

    outer()
"""

# case: (action, return code, exit status in the trace, frames closed by the recorder)
ENDINGS = {
    "normal": ("pass", 0, 0, 0),
    "sys_exit": ("sys.exit(3)", 3, 3, 0),
    "system_exit_text": ("raise SystemExit('bye')", 1, 1, 0),
    "exception": ("raise ValueError('boom')", 1, 1, 0),
    "keyboard_interrupt": ("raise KeyboardInterrupt", -signal.SIGINT, 130, 0),
    "os_exit": ("os._exit(7)", 7, 7, 3),
}
if POSIX:
    ENDINGS["sigterm"] = ("os.kill(os.getpid(), signal.SIGTERM); time.sleep(30)",
                          -signal.SIGTERM, 128 + signal.SIGTERM, 3)
    ENDINGS["sighup"] = ("os.kill(os.getpid(), signal.SIGHUP); time.sleep(30)",
                         -signal.SIGHUP, 128 + signal.SIGHUP, 3)


@pytest.mark.parametrize("case", sorted(ENDINGS))
def test_every_ending_leaves_a_finished_balanced_trace(py, tmp_path, case):
    action, code, exit_status, closed = ENDINGS[case]
    proc = run(py, tmp_path, ENDING.format(action=action))
    assert proc.returncode == code, proc.stderr
    assert "recorder:" not in proc.stderr
    trace = only(traces(tmp_path / "traces", count=1), "app")
    assert_balanced(trace)
    assert status(trace) == exit_status
    assert functions(trace) == ["<toplevel>", "<__main__>", "outer", "inner"]
    assert detached(trace) == closed
    assert main_ended(trace) is (closed == 0)  # the trace was closed under the program


@posix_only
def test_exec_closes_the_trace_and_the_new_program_links_to_it(py, tmp_path):
    proc = run(py, tmp_path, ENDING.format(
        action="os.execv(sys.executable, [sys.executable, '-c', 'print(42)'])"))
    assert (proc.returncode, proc.stdout) == (0, "42\n"), proc.stderr
    found = traces(tmp_path / "traces", count=2)
    before, after = only(found, "app"), only(found, "python-c")
    assert_balanced(before)
    assert_balanced(after)
    assert status(before) == "<exec>" and detached(before) == 3
    pid = before.metadata["process"]["pid"]
    assert after.metadata["process"]["pid"] == pid  # the same process, a new program
    assert after.metadata["parent"] == {"pid": pid, "trace_dir": before.out_dir}


@posix_only
def test_a_failed_exec_goes_on_recording_in_a_new_trace(py, tmp_path):
    proc = run(py, tmp_path, ENDING.format(action="""
        try:
            os.execvp("no-such-program-here", ["no-such-program-here"])
        except OSError:
            print("still here")"""))
    assert (proc.returncode, proc.stdout) == (0, "still here\n"), proc.stderr
    found = traces(tmp_path / "traces", count=2)
    first, second = [found[name] for name in sorted(found, key=len)]
    assert status(first) == "<exec>"
    assert second.metadata["process"]["continues"] == first.out_dir
    for trace in (first, second):
        assert_balanced(trace)


@posix_only
def test_a_forked_child_that_returns_normally_finishes_its_own_trace(py, tmp_path):
    proc = run(py, tmp_path, ENDING.format(action="""
        pid = os.fork()
        if pid:
            assert os.waitpid(pid, 0)[1] == 0
        else:
            print("child")"""))
    assert (proc.returncode, proc.stdout) == (0, "child\n"), proc.stderr
    found = traces(tmp_path / "traces", count=2)
    parent = [t for t in found.values() if t.metadata["parent"] is None][0]
    child = [t for t in found.values() if t is not parent][0]
    assert child.metadata["parent"]["trace_dir"] == parent.out_dir
    assert child.metadata["process"]["started_by"] == "fork"
    for trace in (parent, child):
        assert_balanced(trace)
        assert functions(trace) == ["<toplevel>", "<__main__>", "outer", "inner"]
        assert detached(trace) == 0  # the child returned through its frames: no marker
        assert status(trace) == 0


@posix_only
def test_a_program_with_its_own_sigterm_handler_keeps_it(py, tmp_path):
    proc = run(py, tmp_path, ENDING.format(action="""
        def bye(signum, frame):
            sys.exit(5)
        signal.signal(signal.SIGTERM, bye)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)"""))
    assert proc.returncode == 5, proc.stderr
    trace = only(traces(tmp_path / "traces", count=1), "app")
    assert_balanced(trace)
    assert "inner.<locals>.bye" in functions(trace)


def test_threads_still_running_at_exit_are_closed_with_the_marker(py, tmp_path):
    proc = run(py, tmp_path, """
        import threading, time

        def spin():
            while True:
                time.sleep(0.01)

        threading.Thread(target=spin, daemon=True).start()
        time.sleep(0.1)
    """)
    assert proc.returncode == 0, proc.stderr
    trace = only(traces(tmp_path / "traces", count=1), "app")
    assert_balanced(trace)
    assert len(trace.threads) == 1
    last = [e for e in list(trace.threads.values())[0].events if "Return" in e]
    assert last[-2]["Return"]["return_value"]["msg"] == "<detached>"  # spin, still running


BUSY = """
    import time
    def step(i):
        return i * 2
    start = time.monotonic()
    i = 0
    while True:
        step(i)
        i += 1
        if i % 1000 == 0 and time.monotonic() - start > {warmup}:
            print("ready", flush=True)
            start = float("inf")
"""


def start_busy(py: str, tmp_path: Any, warmup: float) -> "subprocess.Popen[bytes]":
    """A program recording as fast as it can, once it has run for ``warmup`` seconds."""
    (tmp_path / "busy.py").write_text(textwrap.dedent(BUSY.format(warmup=warmup)))
    return start_until_ready([py, "busy.py"], tmp_path,
                             clean_env(RECORDER_TRACE=str(tmp_path / "traces")))


def start_until_ready(command: List[str], cwd: Any,
                      env: Dict[str, str]) -> "subprocess.Popen[bytes]":
    """Start ``command`` (stdout and stderr piped) and wait for its first line, ``ready``;
    killed if that line never comes."""
    proc = subprocess.Popen(command, cwd=str(cwd), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    except BaseException:
        proc.kill()
        proc.wait(30)
        raise
    return proc


def terminated(proc: "subprocess.Popen[bytes]") -> int:
    """SIGTERM ``proc``, wait for its end (killed after 30 s) and return its status."""
    try:
        proc.terminate()
        proc.wait(30)
    finally:
        proc.kill()
    return proc.wait()


@posix_only
def test_sigterm_from_outside_in_the_middle_of_recording(py, tmp_path):
    """Most of a busy recorded program's time is spent inside the recorder: the handler
    then waits until the event is written, and the trace is still balanced."""
    proc = start_busy(py, tmp_path, warmup=0.1)
    assert terminated(proc) == -signal.SIGTERM
    trace = only(traces(tmp_path / "traces", count=1), "busy")
    assert_balanced(trace)
    assert status(trace) == 128 + signal.SIGTERM and detached(trace) >= 1


@posix_only
def test_sigkill_leaves_a_readable_prefix(py, tmp_path):
    proc = start_busy(py, tmp_path, warmup=0.6)  # past the writer's time-based flush
    proc.kill()
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    (name,) = os.listdir(str(tmp_path / "traces"))
    trace = read_trace_dir(str(tmp_path / "traces" / name))
    assert not trace.main.complete and trace.metadata["complete"] is False
    balance = check_balance(trace.main.events, complete=False)
    assert balance.problems == [] and balance.calls > 100 and balance.open >= 2


@posix_only
def test_a_forked_child_never_feeds_an_installed_session(tmp_path):
    """recorder.install() and the CLI: the child of os.fork() drops the parent's recording
    (no event reaches the parent's sink, no file of its trace is written)."""
    (tmp_path / "prog.py").write_text(textwrap.dedent("""
        import os, sys, recorder
        events = []
        def f():
            return 1
        recorder.install(events.append)
        pid = os.fork()
        if pid == 0:
            before = len(events)
            f()
            print("child", len(events) - before, recorder.session.active_session())
            sys.stdout.flush()
            os._exit(0)
        os.waitpid(pid, 0)
        f()
        recorder.uninstall()
        print("parent", sum(1 for e in events if e.kind.name == "CALL" and e.code.qualname == "f"))
    """))
    proc = subprocess.run([sys.executable, "prog.py"], cwd=str(tmp_path), capture_output=True,
                          text=True, timeout=60, env=clean_env(PYTHONPATH=CHECKOUT))
    assert (proc.returncode, proc.stdout) == (0, "child 0 None\nparent 1\n"), proc.stderr


@posix_only
def test_a_cli_recording_is_not_touched_by_its_forked_child(py, tmp_path):
    (tmp_path / "prog.py").write_text(textwrap.dedent("""
        import os
        def work():
            return os.getpid()
        pid = os.fork()
        work()
        if pid:
            os.waitpid(pid, 0)
    """))
    proc = subprocess.run([py, "-m", "recorder", "prog.py"], cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=60, env=clean_env())
    assert proc.returncode == 0, proc.stderr
    trace = read_trace_dir(str(tmp_path / "trace-out"))
    assert_balanced(trace)
    assert functions(trace).count("work") == 1  # the parent's call only
    assert trace.metadata["process_exit_status"]["code"] == 0


CLI_CHILDREN = """
    import os, subprocess, sys

    def work():
        return os.getpid()

    def main():
        subprocess.run([sys.executable, "-c",
                        "import os; print('child sees', os.environ.get('RECORDER_OUT_DIR'))"],
                       check=True)
        pid = os.fork()
        work()
        if pid:
            print("forked child", os.waitpid(pid, 0)[1], flush=True)
        return pid

    main()
"""


@posix_only
def test_with_recorder_trace_the_clis_children_are_recorded_and_linked(py, tmp_path, backend):
    """``RECORDER_TRACE=DIR python -m recorder -o OUT app.py``: the program records into OUT;
    its forked child and its Python subprocess are auto-recorded under DIR, with the CLI's
    recording options (not its -o), linked to OUT (docs/cli.md, "Child processes")."""
    (tmp_path / "app.py").write_text(textwrap.dedent(CLI_CHILDREN))
    plain = subprocess.run([py, "app.py"], cwd=str(tmp_path), capture_output=True, text=True,
                           timeout=60, env=clean_env())
    proc = subprocess.run([py, "-m", "recorder", "-o", "out", "--values", "args", "--backend",
                           backend, "app.py"], cwd=str(tmp_path), capture_output=True,
                          text=True, timeout=60,
                          env=clean_env(RECORDER_TRACE=str(tmp_path / "traces")))
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        plain.returncode, plain.stdout, plain.stderr)
    assert proc.stdout == "child sees None\nforked child 0\n"
    cli = read_trace_dir(str(tmp_path / "out"))
    assert_balanced(cli)
    assert functions(cli).count("work") == 1 and status(cli) == 0
    found = traces(tmp_path / "traces", count=2)
    subprocess_trace, forked = only(found, "python-c"), only(found, "app")
    assert forked.metadata["process"]["started_by"] == "fork"
    cli_pid = forked.metadata["process"]["ppid"]
    assert subprocess_trace.metadata["process"]["ppid"] == cli_pid
    for child in (subprocess_trace, forked):
        assert_balanced(child)
        assert child.metadata["parent"] == {"pid": cli_pid, "trace_dir": str(tmp_path / "out")}
        assert child.metadata["values"]["mode"] == "args"
        assert child.metadata["backend"] == backend
    assert functions(forked).count("work") == 1 and status(forked) == 0


# -- bad values, other hooks -----------------------------------------------------------------

@pytest.mark.parametrize("env", [
    {"RECORDER_BACKEND": "fast"},
    {"RECORDER_VALUES": "some"},
    {"RECORDER_REPRS": "all"},
    {"RECORDER_PARENT": "nonsense"},
    {"RECORDER_TRACE": "{tmp}/a-file"},
])
def test_a_bad_variable_is_one_warning_and_the_program_runs_unrecorded(py, tmp_path, env):
    (tmp_path / "a-file").write_text("in the way")
    env = {k: v.format(tmp=tmp_path) for k, v in env.items()}
    proc = run(py, tmp_path, """
        print("ran")
        raise SystemExit(4)
    """, **env)
    assert (proc.returncode, proc.stdout) == (4, "ran\n")
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("recorder: warning: not recording"), lines
    assert not os.path.exists(str(tmp_path / "traces")) or not os.listdir(
        str(tmp_path / "traces"))


@pytest.mark.parametrize("reprs", [None, "program"])
def test_the_auto_start_runs_program_reprs_only_when_asked(py, tmp_path, reprs):
    env = {"RECORDER_REPRS": reprs} if reprs else {}
    proc = run(py, tmp_path, """
        calls = 0
        class Point:
            def __init__(self, x):
                self.x = x
            def __repr__(self):
                global calls
                calls += 1
                return "Point"
        def make():
            p = Point(1)
            return p
        make()
        print("repr calls", calls)
    """, **env)
    assert proc.returncode == 0, proc.stderr
    (trace,) = traces(tmp_path / "traces").values()
    assert trace.metadata["values"]["reprs"] == (reprs or "builtin")
    assert (proc.stdout == "repr calls 0\n") == (reprs is None)


def test_a_users_sitecustomize_keeps_working_and_is_not_recorded(py, tmp_path):
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "sitecustomize.py").write_text("import os\nos.environ['CUSTOMIZED'] = 'yes'\n")
    proc = run(py, tmp_path, """
        import os
        print(os.environ.get("CUSTOMIZED"))
    """, PYTHONPATH=str(custom))
    assert (proc.returncode, proc.stdout) == (0, "yes\n"), proc.stderr
    trace = only(traces(tmp_path / "traces", count=1), "app")
    assert_balanced(trace)
    assert not any(p.endswith("sitecustomize.py") for p in trace.paths), trace.paths
    assert functions(trace) == ["<toplevel>", "<__main__>"]


def test_the_sitecustomize_route_alone_and_together_with_the_pth(py, py_no_hook, tmp_path):
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "sitecustomize.py").write_text(autostart.SITECUSTOMIZE)
    source = """
        def main():
            print("hi")
        main()
    """
    for python, via in ((py_no_hook, "sitecustomize"), (py, "pth")):
        root = tmp_path / via
        proc = run(python, tmp_path, source, PYTHONPATH=str(custom), RECORDER_TRACE=str(root))
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "hi\n", "")
        found = traces(root, count=1)
        assert len(found) == 1  # both hooks ran: one recording
        trace = only(found, "app")
        assert_balanced(trace)
        assert trace.metadata["process"]["started_by"] == via
        assert functions(trace) == ["<toplevel>", "<__main__>", "main"]
    unset = run(py_no_hook, tmp_path, "import sys; print('recorder' in sys.modules)",
                trace=False, PYTHONPATH=str(custom))
    assert unset.stdout == "False\n"


def test_the_cli_is_not_recorded_twice(py, tmp_path):
    (tmp_path / "prog.py").write_text("print('cli')\n")
    proc = subprocess.run([py, "-m", "recorder", "-o", "cli-trace", "prog.py"],
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=60,
                          env=clean_env(RECORDER_TRACE=str(tmp_path / "traces")))
    assert (proc.returncode, proc.stdout) == (0, "cli\n"), proc.stderr
    assert not os.path.exists(str(tmp_path / "traces"))
    assert read_trace_dir(str(tmp_path / "cli-trace")).metadata["complete"]


# -- the installed hook ----------------------------------------------------------------------

def _installed_distribution() -> Any:
    """recorder as installed in this interpreter's site-packages (not an ``.egg-info`` left
    in the checkout by a build, which ``metadata.distribution`` would find first)."""
    import sysconfig
    from importlib import metadata
    purelib = sysconfig.get_paths()["purelib"]
    for dist in metadata.distributions(path=[purelib]):
        if (dist.metadata["Name"] or "").lower() == "recorder":
            return dist
    return None


def test_the_installed_wheel_ships_the_hook(tmp_path):
    """Under tox (which installs the wheel) the hook must be in site-packages, listed in the
    wheel's RECORD and working; outside an installation, what makes the wheel ship it."""
    dist = _installed_distribution()
    under_tox = "TOX_ENV_NAME" in os.environ
    if under_tox:
        assert dist is not None, "tox installs the wheel, but no recorder distribution is found"
    elif dist is not None and autostart.PTH_NAME not in [str(f) for f in (dist.files or [])]:
        dist = None  # an older installation of recorder in this interpreter: not this build
    if dist is None:
        with open(os.path.join(CHECKOUT, "pyproject.toml")) as fh:
            pyproject = fh.read()
        assert 'build_py = "recorder._build.BuildPy"' in pyproject
        assert '"recorder_autostart.pth"' in pyproject
        with open(os.path.join(CHECKOUT, "recorder", "_build.py")) as fh:
            assert "PTH_NAME = %r" % autostart.PTH_NAME in fh.read().replace('"', "'")
        return
    listed = [str(f) for f in (dist.files or [])]
    assert autostart.PTH_NAME in listed, listed
    installed = str(dist.locate_file(autostart.PTH_NAME))
    with open(installed) as fh, open(autostart.PTH_SOURCE) as src:
        assert fh.read() == src.read()
    # the installed interpreter records with nothing but the variable (from elsewhere, so
    # that the checkout is not on the path)
    python = sys.executable
    proc = subprocess.run([python, "-c", "import recorder.autostart as a; print(a.__file__)"],
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=60,
                          env=clean_env(RECORDER_TRACE=str(tmp_path / "traces")))
    assert proc.returncode == 0, proc.stderr
    # tox's venv may live inside the checkout (.tox/): what matters is that the module is
    # not the checkout's own recorder/ package.
    assert not proc.stdout.startswith(os.path.join(CHECKOUT, "recorder") + os.sep) \
        or not under_tox
    found = traces(tmp_path / "traces", count=1)
    assert len(found) == 1
    assert_balanced(only(found, "python-c"))


# -- docs and naming -------------------------------------------------------------------------

def test_docs_list_every_variable_and_the_sitecustomize_snippet():
    with open(os.path.join(DOCS, "configuration.md")) as fh:
        configuration = fh.read()
    for name in ENV_VARIABLES:
        assert "`%s`" % name in configuration, name
    with open(os.path.join(DOCS, "autostart.md")) as fh:
        assert autostart.SITECUSTOMIZE in fh.read()


@pytest.mark.parametrize("argv, expected", [
    (["python", "app.py", "-m", "x"], ("script", "app.py")),
    (["python", "-u", "-X", "dev", "-W", "error", "dir/app.py"], ("script", "dir/app.py")),
    (["python", "-Wdefault", "-Xutf8", "app.py"], ("script", "app.py")),
    (["python", "-m", "pkg.mod", "a"], ("module", "pkg.mod")),
    (["python", "-Im", "pkg"], ("module", "pkg")),
    (["python", "-c", "print(1)", "x"], ("command", "print(1)")),
    (["python", "-Sc", "pass"], ("command", "pass")),
    (["python", "--check-hash-based-pycs", "always", "app.py"], ("script", "app.py")),
    (["python", "-"], ("stdin", "")),
    (["python"], ("stdin", "")),
    (["python", "--", "-odd.py"], ("script", "-odd.py")),
])
def test_the_command_line_is_read_like_python_reads_it(argv, expected):
    assert program_name._parse_command_line(argv) == expected


@pytest.mark.parametrize("kind, value, name", [
    ("script", "/x/app.py", "app"),
    ("script", "tool", "tool"),
    ("module", "pkg.mod", "pkg.mod"),
    ("command", "from multiprocessing.spawn import spawn_main; spawn_main()",
     "multiprocessing-spawn"),
    ("command", "print(1)", "python-c"),
    ("stdin", "", "python"),
    ("script", "we ird/na me.py", "na_me"),
])
def test_program_names(kind, value, name):
    assert program_name.program_name(kind, value) == name
