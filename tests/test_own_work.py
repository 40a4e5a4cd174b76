"""The recorder's own work is never recorded, whatever the filters say.

Most of the recorder runs inside trace callbacks, where the interpreter traces nothing. The
rest runs on a program thread as ordinary code: the import hook (its finder and loader
wrappers, the sink they call, the ``imports.jsonl`` line), output capture (a flush writing
``trace_paths.json``), stopping (at exit, ``uninstall()``, with imports still open), the
auto-start's hooks (installing them, ``os.environ``, a forked child's new recording) and the
CLI's launcher frames. Each path is driven here with the standard library (or ``json``, the
docs' example) traced, through the real CLI and writer with every value, and through the API
with a callback sink and a sink that wants frames.
"""
from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, List, Optional, Tuple

import pytest

import recorder
from recorder.events import Event, Kind
from recorder.formats.reader import TraceDir, TraceRead, check_balance, read_trace_dir

from conftest import BACKENDS, assert_balanced, write_tree
from test_autostart import make_venv, posix_only, run, traces
from test_cli import run_plain, run_recorded

#: Modules the recorder's own work calls into, which these programs never call themselves.
RECORDER_WORK_MODULES = frozenset({
    "json", "functools", "signal", "enum", "codecs", "encodings", "os", "posixpath",
    "genericpath", "runpy", "contextlib"})


def module_of_path(path: str) -> str:
    """``json`` for ``.../json/encoder.py``, ``codecs`` for ``<frozen codecs>``."""
    if path.startswith("<frozen "):
        return path[len("<frozen "):-1].split(".")[0]
    parent = os.path.basename(os.path.dirname(path))
    if parent in RECORDER_WORK_MODULES:
        return parent
    return os.path.splitext(os.path.basename(path))[0]


def calls(read: TraceRead) -> List[Tuple[str, str]]:
    """(function name, module) of every Call of a trace file, in order."""
    paths: List[str] = []
    functions: List[Tuple[str, str]] = []
    out = []
    for record in read.events:
        if "Path" in record:
            paths.append(record["Path"])
        elif "Function" in record:
            f = record["Function"]
            functions.append((f["name"], module_of_path(paths[f["path_id"]])))
        elif "Call" in record:
            out.append(functions[record["Call"]["function_id"]])
    return out


def all_calls(trace: TraceDir) -> List[Tuple[str, str]]:
    found = calls(trace.main)
    for read in trace.threads.values():
        found += calls(read)
    return found


def assert_complete(trace: TraceDir) -> None:
    for read in [trace.main] + list(trace.threads.values()):
        assert read.complete, read.path
        balance = check_balance(read.events)
        assert balance.ok, (read.path, balance.problems[:5])


# -- through the CLI, the real writer, every value -------------------------------------------

PROGRAM = '''
import json, threading, time
import helper            # an import: IMPORT_START/END and a line of imports.jsonl
print("x" * 100000)      # captured output in 64 KiB pieces, each flushed at once: the
                         # first also writes trace_paths.json (helper.py is a new path)

def twice(n):
    return 2 * n

print(json.dumps({"a": twice(1)}))
for i in range(700):     # captured output: its flushes write trace_paths.json
    print("line", twice(i))
worker = threading.Thread(target=helper.load_blocker, daemon=True)
worker.start()
while not helper.entered:  # blocker's import is still open when the program ends
    time.sleep(0.01)
time.sleep(0.2)          # (and its thread asleep: not recording when the trace closes)
'''
HELPER = '''
entered = []

def load_blocker():
    import blocker
'''
BLOCKER = '''
import time
import helper
helper.entered.append(True)
time.sleep(3600)
'''
#: What the program itself calls in json: json.dumps with the default encoder.
PROGRAMS_JSON = [("dumps", "json"), ("JSONEncoder.encode", "json"),
                 ("JSONEncoder.iterencode", "json")]


@pytest.mark.parametrize("selector", ["pkg:json", "group:*"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_cli_trace_holds_only_the_programs_work(tmp_path: Path, backend: str,
                                                    selector: str) -> None:
    """``pkg:json`` is docs/filters.md's example of tracing a standard library module;
    ``group:*`` traces everything, the recorder's launcher and hooks' callees included."""
    write_tree(tmp_path, {"app.py": PROGRAM, "helper.py": HELPER, "blocker.py": BLOCKER})
    (tmp_path / "trace.toml").write_text(
        '[[scope.rules]]\nselector = "%s"\naction = "trace"\n' % selector)
    plain = run_plain(tmp_path, ["app.py"])
    recorded = run_recorded(tmp_path, ["app.py"], options=(
        "--backend", backend, "--values", "full", "--filter", "trace.toml"))
    assert (recorded.stdout, recorded.stderr, recorded.returncode) == \
        (plain.stdout, plain.stderr, 0)
    trace = read_trace_dir(str(tmp_path / "trace-out"))
    assert_complete(trace)
    found = all_calls(trace)
    assert [c for c in found if c[1] == "json"] == PROGRAMS_JSON
    assert [c for c in found if c[1] in RECORDER_WORK_MODULES - {"json"}] == []
    assert ("twice", "app") in found and ("load_blocker", "helper") in found
    imports = [json.loads(line) for line in
               (tmp_path / "trace-out" / "imports.jsonl").read_text().splitlines()]
    by_module = {line["module"]: line for line in imports}
    assert by_module["helper"]["ok"] is True
    assert by_module["blocker"]["ok"] is None  # still importing at the end


def test_the_launcher_of_the_cli_is_not_recorded(tmp_path: Path) -> None:
    """A console script (or any caller of recorder.cli.main) runs the recorder, not the
    program: with the default filters its module frame was attached as the program's."""
    write_tree(tmp_path, {"app.py": "def f():\n    return 1\nf()\n",
                          "launch.py": "import sys\nfrom recorder.cli import main\n"
                                       "sys.exit(main())\n"})
    proc = run_plain(tmp_path, ["launch.py", "app.py"])
    assert proc.returncode == 0, proc.stderr
    trace = read_trace_dir(str(tmp_path / "trace-out"))
    assert_complete(trace)
    assert calls(trace.main) == [("<toplevel>", "app"), ("<__main__>", "app"), ("f", "app")]


def test_runpy_running_a_module_program_is_recorded_once(tmp_path: Path) -> None:
    """``python -m recorder -m mod`` with the standard library traced: runpy's frames that
    launch the CLI are not attached, the ones that run the module are the program's."""
    write_tree(tmp_path, {"own_mod.py": "def f():\n    return 1\nf()\n"})
    (tmp_path / "stdlib.toml").write_text(
        '[[scope.rules]]\nselector = "group:stdlib"\naction = "trace"\n')
    proc = run_recorded(tmp_path, ["-m", "own_mod"], options=("--filter", "stdlib.toml"))
    assert proc.returncode == 0, proc.stderr
    trace = read_trace_dir(str(tmp_path / "trace-out"))
    assert_complete(trace)
    found = calls(trace.main)
    assert found.count(("_run_module_as_main", "runpy")) == 1
    assert found.count(("_run_code", "runpy")) == 1
    assert found.index(("_run_code", "runpy")) < found.index(("<own_mod>", "own_mod"))


# -- through the API ---------------------------------------------------------------------------

@pytest.fixture
def importable(tmp_path: Path) -> Any:
    """Write modules into a directory on sys.path; forget them afterwards."""
    sys.path.insert(0, str(tmp_path))
    written: List[str] = []

    def write(**modules: str) -> None:
        write_tree(tmp_path, {name + ".py": source for name, source in modules.items()})
        written.extend(modules)
    yield write
    sys.path.remove(str(tmp_path))
    for name in written:
        sys.modules.pop(name, None)


def ours(code: Any) -> bool:
    """Code of this file or of a module a test wrote (pytest's own import hook, in front
    of ours in sys.meta_path, is recorded too: here it is the program's)."""
    return code.filename == __file__ or os.path.basename(code.filename).startswith("own_work_")


def opened(events: List[Event]) -> List[str]:
    """Qualified names of the activations opened (CALL or RESUME) in :func:`ours` code."""
    return [e.code.qualname for e in events
            if e.kind in (Kind.CALL, Kind.RESUME) and ours(e.code)]


def test_the_recording_context_manager_is_not_recorded(backend: str) -> None:
    """``with recorder.recording(...)`` with the standard library traced: the recorder's
    context manager is not contextlib's, whose frames would open and close the trace."""
    events: List[Event] = []
    with recorder.recording(events.append, backend=backend, trace_stdlib=True):
        step(1)
    files = {os.path.basename(e.code.filename) for e in events if e.code is not None}
    assert "contextlib.py" not in files
    assert "step" in opened(events)


def test_a_callback_sink_is_not_recorded_when_the_program_imports(backend: str,
                                                                  importable: Any) -> None:
    importable(own_work_a="VALUE = 1\n")
    events: List[Event] = []

    def on_event(event: Event) -> None:
        events.append(event)

    with recorder.recording(on_event, backend=backend):
        import own_work_a  # noqa: F401
    assert "on_event" not in " ".join(opened(events))
    assert opened(events) == ["<module>"]  # the module body, and nothing else
    assert_balanced([e for e in events if e.code is None or e.code.filename in (
        __file__, own_work_a.__file__)])
    start = [e for e in events if e.kind is Kind.IMPORT_START][0]
    attached = [e for e in events if e.kind is Kind.ATTACH]
    assert start.value.name == "own_work_a"
    assert start.depth == len(attached)  # the importing frames: no placeholder counted


class FramesAndValues:
    """A sink that wants frames and looks at values, in Python code of its own."""

    wants_frames = True

    def __init__(self) -> None:
        self.seen: List[Tuple[Kind, Any, Any]] = []

    def emit(self, kind: Kind, thread: Any, code: Any, line: Optional[int], value: Any,
             depth: int, frame: Any) -> None:
        self.seen.append((kind, code, describe(frame, value)))

    def close(self) -> None:
        pass


def describe(frame: Any, value: Any) -> Any:
    names = sorted(k for k in frame.f_locals if not k.startswith("__")) if frame else None
    return names, type(value).__name__


def test_a_sink_that_wants_frames_is_not_recorded_either(backend: str,
                                                         importable: Any) -> None:
    importable(own_work_b="import threading\nNAME = 'b'\n")
    sink = FramesAndValues()
    with recorder.recording(sink, backend=backend):
        import own_work_b  # noqa: F401
    names = [code.qualname for kind, code, _ in sink.seen
             if kind in (Kind.CALL, Kind.RESUME) and ours(code)]
    assert names == ["<module>"], names
    kinds = [kind for kind, _, _ in sink.seen]
    assert kinds.count(Kind.IMPORT_START) == kinds.count(Kind.IMPORT_END) == 1
    body = [seen for kind, code, seen in sink.seen
            if kind is Kind.LINE and code.filename == own_work_b.__file__]
    assert body[-1] == (["threading"], "NoneType")  # the frame came with its values


def test_the_sinks_own_imports_are_not_the_programs(backend: str, importable: Any) -> None:
    importable(own_work_c="X = 1\n", own_work_sink_needs="Y = 2\n")
    events: List[Event] = []

    def on_event(event: Event) -> None:
        import own_work_sink_needs  # noqa: F401  (the first call imports it)
        events.append(event)

    with recorder.recording(on_event, backend=backend):
        import own_work_c  # noqa: F401
    imported = [e.value.name for e in events if e.kind is Kind.IMPORT_START]
    assert imported == ["own_work_c"]
    assert opened(events) == ["<module>"]


def test_other_threads_are_recorded_while_one_is_in_the_recorders_work(
        backend: str, importable: Any) -> None:
    """Thread A is inside the recorder's work (its sink, called for A's import) while
    thread B runs: B is recorded as always, A's sink is not."""
    importable(own_work_d="X = 1\n")
    go, done = threading.Event(), threading.Event()
    events: List[Event] = []

    def thread_b() -> None:
        go.wait(10)
        step(1)
        done.set()

    def on_event(event: Event) -> None:
        events.append(event)
        if event.kind is Kind.IMPORT_START and event.value.name == "own_work_d":
            go.set()
            assert done.wait(10)

    b = threading.Thread(target=thread_b)
    with recorder.recording(on_event, backend=backend):
        b.start()
        import own_work_d  # noqa: F401
        b.join(10)
    by_thread: dict = {}
    for e in events:
        if e.kind in (Kind.CALL, Kind.RESUME) and e.code.filename == __file__:
            by_thread.setdefault(e.thread, []).append(e.code.qualname)
    assert sorted(by_thread.values()) == [[
        "test_other_threads_are_recorded_while_one_is_in_the_recorders_work.<locals>."
        "thread_b", "step"]], by_thread


def step(n: int) -> int:
    return n + 1


def test_stopping_inside_an_import_does_not_record_the_sink(backend: str,
                                                            importable: Any) -> None:
    """``uninstall()`` from a module body: the import still open is ended by the stop, on
    the program's thread, still recorded until the backend stops."""
    importable(own_work_e="import recorder\nrecorder.uninstall()\nX = 1\n")
    events: List[Event] = []

    def on_event(event: Event) -> None:
        events.append(event)

    recorder.install(on_event, backend=backend)
    try:
        import own_work_e  # noqa: F401
    finally:
        recorder.uninstall()
    assert "on_event" not in " ".join(opened(events))
    ends = [e for e in events if e.kind is Kind.IMPORT_END]
    assert [(e.value.name, e.value.ok) for e in ends] == [("own_work_e", None)]
    assert events[-1].kind is Kind.THREAD_END


# -- through the auto-start ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def py(tmp_path_factory: Any) -> str:
    return make_venv(str(tmp_path_factory.mktemp("venv") / "v"))


@posix_only
def test_the_auto_starts_hooks_and_a_forked_childs_recording_are_not_recorded(
        py: str, tmp_path: Path) -> None:
    """Everything traced: installing the exit hooks (functools.wraps, signal), exporting the
    child's configuration (os.environ), a forked child starting its own recording and
    ending by os._exit."""
    (tmp_path / "all.toml").write_text('[[scope.rules]]\nselector = "group:*"\n'
                                       'action = "trace"\n')
    proc = run(py, tmp_path, """
        import os

        def inner():
            return 1

        pid = os.fork()
        if pid == 0:
            inner()
            os._exit(0)
        os.waitpid(pid, 0)
        inner()
        """, RECORDER_FILTER=str(tmp_path / "all.toml"))
    assert proc.returncode == 0, proc.stderr
    found = traces(tmp_path / "traces", count=2)
    assert len(found) == 2
    for trace in found.values():
        assert_complete(trace)
        names = all_calls(trace)
        assert ("inner", "app") in names
        assert [c for c in names if c[1] in RECORDER_WORK_MODULES] == []
