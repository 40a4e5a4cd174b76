"""The program cannot tell it is being recorded: real programs, run through the real CLI
and the real trace writer, behave exactly as under plain ``python``.

Each case of :data:`CASES` is a program in ``tests/transparency/programs/`` (its docstring
says what it checks) run twice in the same fresh working directory, at the same path: bare
(``python TARGET...``) and recorded (``python -m recorder -o DIR --values full
TARGET...``), with the backend of ``RECORDER_BACKEND`` (tox runs 3.12 and 3.13 once with
each). The two runs must give the same stdout and stderr byte for byte, the same exit
status and the same files left in the working directory. Nothing is normalised except what
a case names with its reason (pytest's timings) and the differences the docs promise
(:class:`Documented`, each citing its section). Then the trace directory must be whole:
``trace_metadata.json`` complete with the real exit status, every stream (``trace.json``
and each ``threads/trace-N.json``) read to its end and balanced, and nothing in it that
belongs to another run (thread files, ``imports.jsonl`` lines, ``files/`` copies).

docs/cli.md, "Transparency: what is proven", lists these programs and what remains.
"""
from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import zipapp
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import pytest

from recorder import env
from recorder.formats.reader import check_balance, read_trace_dir
from test_cli import ROOT

PROGRAMS = Path(__file__).resolve().parent / "transparency" / "programs"
#: One run's limit: the slowest case (pytest, recorded) takes a few seconds.
TIMEOUT = 120


class Documented(NamedTuple):
    """A difference from the unrecorded run that the docs promise. ``pattern`` matches the
    same lines in both outputs, its group the part that may differ; ``allowed(bare,
    recorded)`` says whether the recorded text is what ``doc`` promises. Where ``applies``
    is false the case must be identical there too."""

    stream: str
    pattern: str
    allowed: Callable[[str, str], bool]
    doc: str
    applies: bool = True


class Case(NamedTuple):
    """One program and how to run it.

    ``argv`` follows ``python`` (and ``python -m recorder -o DIR --values full``); ``layout``
    maps paths under programs/ to paths in the working directory (``"."``: its content);
    ``zipapp`` builds ``app.pyz`` from a directory under programs/; ``record_first`` is the
    argv of an earlier recording into the same ``-o`` (only the second is compared);
    ``options`` are more recorder options."""

    name: str
    argv: Sequence[str]
    layout: Dict[str, str] = {}
    stdin: bytes = b""
    volatile: Tuple[Tuple[str, str], ...] = ()  # (regex, why): blanked in both outputs
    documented: Tuple[Documented, ...] = ()
    zipapp: Optional[str] = None
    record_first: Optional[Sequence[str]] = None
    options: Sequence[str] = ()
    #: kinds of gap (trace_metadata.json ``gaps``) the docs give for this program: the trace
    #: may then say ``"complete": false``, for those gaps only
    gaps: Tuple[str, ...] = ()


def source(name: str) -> str:
    return (PROGRAMS / name).read_text(encoding="utf-8")


#: The CLI's own frames below a program that walks the whole stack: 3 more than under
#: plain python, for scripts, -c and stdin as for -m, directories and zip files.
STACK = Documented("stdout", r"frames below (?:the program|by sys._getframe): (\d+)",
                   lambda bare, recorded: int(recorded) == int(bare) + 3,
                   'docs/cli.md, "Programs that walk the stack"')
#: Before 3.13 a tracer reading ``frame.f_locals`` leaves a dict holding each local until
#: its next event, so an object deleted and checked on the same line is still alive there,
#: and its ``__del__`` runs at that next event.
SAME_LINE_DEL = Documented("stdout", r"same line log: (.*)",
                           lambda bare, recorded: recorded in (
                               bare, "[('alive', True), '__del__']"),
                           'docs/trace-format.md, "References"',
                           applies=not env.F_LOCALS_IS_PROXY)


def refreshed_locals(bare: str, recorded: str) -> bool:
    """The same values, but each list of names may have grown: a ``locals()`` dict refreshed
    with the names bound since it was taken."""
    b, r = ast.literal_eval(bare), ast.literal_eval(recorded)
    if isinstance(b, list) and isinstance(r, list):
        return set(b) <= set(r)
    if isinstance(b, tuple) and isinstance(r, tuple) and len(b) == len(r):
        return all(refreshed_locals(repr(x), repr(y)) for x, y in zip(b, r))
    return bool(b == r)


#: Before 3.13 ``locals()`` returns the frame's one dict, and reading ``frame.f_locals``
#: (the writer does, at every step) refreshes it, so an earlier snapshot shows later names.
REFRESHED_LOCALS = Documented("stdout", r"(?m)^(?:snapshot|twice) (.*)$", refreshed_locals,
                              'docs/trace-format.md, "References"',
                              applies=not env.F_LOCALS_IS_PROXY)
#: ``sys.stdin`` is a subclass of ``io.TextIOWrapper`` while recording: iterating an exact
#: one reads lines in C, out of the recorder's sight.
STDIN_SUBCLASS = Documented("stdout", r"exact type (\w+)",
                            lambda bare, recorded: (bare, recorded) == ("True", "False"),
                            'docs/cli.md, "The standard streams"')
PYTEST_TIMING = (r" in \d+\.\d+s( \(\d+:\d\d:\d\d\))?", "pytest prints its own run time")
#: Record the tests, not pytest itself (recording all of pytest takes 30 s here).
SKIP_THIRD_PARTY = ("--filter", str(PROGRAMS.parent / "skip_third_party.toml"))

CASES: List[Case] = [
    # how the program is started (docs/cli.md, "Targets")
    Case("main_globals", ["main_globals.py", "a", "--flag"]),
    Case("m_parent_packages", ["-m", "pkg.sub.mod", "a1", "--flag"], {"packages": "."}),
    Case("m_relative_imports", ["-m", "pkg"], {"packages": "."}),
    Case("m_inspect_stack", ["-m", "pkg.stack"], {"packages": "."}, documented=(STACK,)),
    Case("dir_main", ["dir_main", "x"], {"dir_main": "dir_main"}),
    Case("zipapp", ["app.pyz", "y"], zipapp="zipapp_main"),
    Case("dash_c", ["-c", source("dash_c.py"), "one", "two"], {}),
    Case("stdin", ["-", "arg"], {}, stdin=source("stdin_program.py").encode()),
    Case("syntax_error", ["syntax_error.py"]),
    Case("bad_cookie", ["bad_cookie.py"]),
    Case("inspect_stack", ["inspect_stack.py"], documented=(STACK,)),
    # how it ends
    Case("exit_status_number", ["exit_status.py", "3"]),
    Case("exit_status_text", ["exit_status.py", "leaving with a message"]),
    Case("exit_status_none", ["exit_status.py", "none"]),
    Case("uncaught_exception", ["uncaught_exception.py"]),
    Case("keyboard_interrupt", ["keyboard_interrupt.py"]),
    # settrace: CPython unsets the trace function at the limit (docs/backends.md,
    # "Recursion limit"), a "removed" gap until recording resumes
    Case("recursion_caught", ["recursion_caught.py"], gaps=("removed",)),
    Case("recursion_uncaught", ["recursion_uncaught.py"], gaps=("removed",)),
    Case("os_exit_buffered", ["os_exit_buffered.py"]),
    Case("sigterm_default", ["sigterm_default.py"]),
    Case("atexit_handlers", ["atexit_handlers.py"]),
    Case("excepthook_custom", ["excepthook_custom.py"]),
    # streams
    Case("json_tool", ["-m", "json.tool", "in.json"], {"json_tool/in.json": "in.json"}),
    Case("json_tool_to_file", ["-m", "json.tool", "--sort-keys", "in.json", "out.json"],
         {"json_tool/in.json": "in.json"}),
    Case("stdout_identity", ["stdout_identity.py"]),
    Case("stdout_type", ["stdout_type.py"]),
    Case("stdout_buffer", ["stdout_buffer.py"]),
    Case("stdout_reconfigure", ["stdout_reconfigure.py"]),
    Case("reads_stdin", ["reads_stdin.py"], stdin=b"one\ntwo\nthree\nfour\n",
         documented=(STDIN_SUBCLASS,)),
    Case("writes_files", ["writes_files.py"]),
    # signals
    Case("getsignal_default", ["getsignal_default.py"]),
    Case("handler_over_default", ["handler_over_default.py"]),
    Case("signal_handlers", ["signal_handlers.py"]),
    # threads and processes
    # exact on every version; on 3.8/3.9 without the lines of the closure while threads run
    # (docs/backends.md, "Closures and threads"): "closure-lines" gaps
    Case("threads_nonlocal", ["threads_nonlocal.py"], gaps=("closure-lines",)),
    Case("daemon_at_exit", ["daemon_at_exit.py"]),
    Case("daemon_spinning", ["daemon_spinning.py"]),
    Case("thread_exception", ["thread_exception.py"]),
    Case("multiprocessing_spawn", ["multiprocessing_spawn.py"]),
    Case("subprocess_child", ["subprocess_child.py"]),
    Case("fork_child", ["fork_child.py"]),
    # the program's own values, frames and tools
    Case("own_settrace", ["own_settrace.py"]),
    Case("pdb_session", ["pdb_session.py"]),
    Case("stdlib_tracers", ["stdlib_tracers.py"]),
    Case("repr_count", ["repr_count.py"]),
    Case("encoder_side_effects", ["encoder_side_effects.py"]),
    Case("del_timing", ["del_timing.py"], documented=(SAME_LINE_DEL,)),
    Case("locals_snapshot", ["locals_snapshot.py"], documented=(REFRESHED_LOCALS,)),
    Case("generators_closures", ["generators_closures.py"]),
    Case("asyncio_program", ["asyncio_program.py"]),
    Case("exceptions_handled", ["exceptions_handled.py"]),
    Case("warnings_stacklevel", ["warnings_stacklevel.py"]),
    Case("pickle_main_class", ["pickle_main_class.py"]),
    # imports
    Case("reload_module", ["reloader.py"], {"reload_module": "."}),
    Case("circular_imports", ["circular.py"], {"circular_imports": "."}),
    Case("pytest_failing", ["-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "sample_suite.py"],
         {"pytest_failing": "."}, volatile=(PYTEST_TIMING,), options=SKIP_THIRD_PARTY),
    # the trace directory
    Case("stale_outputs", ["stale.py"], {"stale_outputs": "."},
         record_first=["stale.py", "first"]),
]


# -- running ---------------------------------------------------------------------------------

def _env() -> Dict[str, str]:
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, environ.get("PYTHONPATH")) if p)
    environ["PYTHONHASHSEED"] = "0"  # both runs iterate sets of strings the same way
    for name in ("PYTHONUNBUFFERED", "PYTHONIOENCODING", "PYTHONWARNINGS", "RECORDER_TRACE"):
        environ.pop(name, None)
    return environ


def lay_out(case: Case, work: Path) -> None:
    """A fresh working directory with the case's files (a script argv[0] by default)."""
    if work.exists():
        shutil.rmtree(str(work))
    work.mkdir(parents=True)
    layout = case.layout
    if not layout and not case.zipapp and case.argv[0].endswith(".py"):
        layout = {case.argv[0]: case.argv[0]}
    for src, dest in layout.items():
        origin = PROGRAMS / src
        if origin.is_dir():
            shutil.copytree(str(origin), str(work / dest), dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(str(origin), str(work / dest))
    if case.zipapp:
        zipapp.create_archive(str(PROGRAMS / case.zipapp), str(work / "app.pyz"),
                              filter=lambda path: "__pycache__" not in path.parts)


def run(command: List[str], work: Path, stdin: bytes) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=str(work), input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=_env(), timeout=TIMEOUT)


def recorded_command(case: Case, out: Path, argv: Sequence[str]) -> List[str]:
    return [sys.executable, "-m", "recorder", "-o", str(out), "--values", "full"] + \
        list(case.options) + list(argv)


def files_left(work: Path) -> Dict[str, bytes]:
    """Every file in the working directory after a run (bytecode caches aside: their
    timestamps differ from run to run)."""
    found = {}
    for path in sorted(work.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            found[str(path.relative_to(work))] = path.read_bytes()
    return found


# -- comparing -------------------------------------------------------------------------------

def first_difference(bare: bytes, recorded: bytes) -> str:
    """Where two outputs part: the byte offset, and the line of each that differs."""
    at = next((i for i, (a, b) in enumerate(zip(bare, recorded)) if a != b),
              min(len(bare), len(recorded)))
    start = bare.rfind(b"\n", 0, at) + 1
    line = bare.count(b"\n", 0, at) + 1

    def line_of(text: bytes) -> bytes:
        end = text.find(b"\n", at)
        return text[start:end + 1 if end >= 0 else len(text)][:160]
    return "at byte %d, line %d: bare %r, recorded %r" % (at, line, line_of(bare),
                                                          line_of(recorded))


def blank_volatile(case: Case, text: bytes) -> bytes:
    for pattern, _why in case.volatile:
        text = re.sub(pattern.encode(), b"<volatile>", text)
    return text


def apply_documented(case: Case, stream: str, bare: bytes, recorded: bytes,
                     problems: List[str]) -> bytes:
    """The recorded output with each documented difference checked and replaced by the
    bare run's text, so that the rest can be compared byte for byte."""
    for doc in case.documented:
        if doc.stream != stream or not doc.applies:
            continue
        regex = re.compile(doc.pattern.encode())
        bare_found = list(regex.finditer(bare))
        rec_found = list(regex.finditer(recorded))
        if len(bare_found) != len(rec_found):
            problems.append("%s: %d lines match %r bare, %d recorded" % (
                stream, len(bare_found), doc.pattern, len(rec_found)))
            continue
        pieces, end = [], 0
        for b, r in zip(bare_found, rec_found):
            if not doc.allowed(b.group(1).decode(), r.group(1).decode()):
                problems.append("%s: %r recorded, %r bare: not what %s promises" % (
                    stream, r.group(0).decode(), b.group(0).decode(), doc.doc))
            pieces += [recorded[end:r.start(1)], b.group(1)]
            end = r.end(1)
        recorded = b"".join(pieces) + recorded[end:]
    return recorded


def differences(case: Case, bare: subprocess.CompletedProcess,
                recorded: subprocess.CompletedProcess, bare_files: Dict[str, bytes],
                recorded_files: Dict[str, bytes]) -> List[str]:
    problems: List[str] = []
    if bare.returncode != recorded.returncode:
        problems.append("exit status: bare %d, recorded %d" % (bare.returncode,
                                                              recorded.returncode))
    for stream in ("stdout", "stderr"):
        plain = blank_volatile(case, getattr(bare, stream))
        traced = blank_volatile(case, getattr(recorded, stream))
        traced = apply_documented(case, stream, plain, traced, problems)
        if plain != traced:
            problems.append("%s differs %s" % (stream, first_difference(plain, traced)))
    if sorted(bare_files) != sorted(recorded_files):
        problems.append("files written: bare %s, recorded %s" % (sorted(bare_files),
                                                                 sorted(recorded_files)))
    else:
        for name, content in bare_files.items():
            if recorded_files[name] != content:
                problems.append("file %s differs %s" % (
                    name, first_difference(content, recorded_files[name])))
    return problems


# -- the trace -------------------------------------------------------------------------------

def expected_exit_code(returncode: int) -> int:
    """The status a shell would show: 128 + N for death by signal N."""
    return returncode if returncode >= 0 else 128 - returncode


def trace_problems(out: Path, returncode: int, gaps: Tuple[str, ...] = ()) -> List[str]:
    """What is wrong with a recorded run's trace directory: not finished, a stream not read
    to its end or not balanced, a thread file or import line or source copy that the
    metadata or the paths do not account for (left from an earlier run)."""
    problems: List[str] = []
    metadata_path = out / "trace_metadata.json"
    if not metadata_path.exists():
        return ["no trace_metadata.json"]
    trace = read_trace_dir(str(out))
    metadata = trace.metadata or {}
    if not metadata.get("complete"):
        found = metadata.get("gaps") or []
        unexplained = [gap for gap in found if gap.get("kind") not in gaps]
        if not found or unexplained:
            problems.append("trace_metadata.json: not complete (gaps %s)" % (unexplained,))
    code = (metadata.get("process_exit_status") or {}).get("code")
    if code != expected_exit_code(returncode):
        problems.append("process_exit_status %r, the process ended with %d" % (
            metadata.get("process_exit_status"), returncode))
    streams = {"trace.json": trace.main}
    streams.update({"threads/trace-%d.json" % serial: read
                    for serial, read in trace.threads.items()})
    for name, read in streams.items():
        if not read.complete:
            problems.append("%s: not read to its end (%s)" % (name, read.error))
        balance = check_balance(read.events)
        if not balance.ok:
            problems.append("%s: not balanced: %s" % (name, balance.problems[:3]))
    listed = {thread.get("trace") for thread in metadata.get("threads", [])}
    if set(streams) != listed:
        problems.append("thread files %s, the metadata lists %s" % (sorted(streams),
                                                                    sorted(listed)))
    problems += _imports_problems(out, metadata)
    problems += _copies_problems(out, trace.paths, trace.threads)
    return problems


def _imports_problems(out: Path, metadata: Dict) -> List[str]:
    imports = metadata.get("imports") or {}
    path = out / "imports.jsonl"
    if imports.get("file") is None:
        return ["imports.jsonl exists, the metadata says none"] if path.exists() else []
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    for line in lines:
        json.loads(line)
    if len(lines) != imports.get("count"):
        return ["imports.jsonl has %d lines, the metadata says %r" % (len(lines),
                                                                      imports.get("count"))]
    return []


def _copies_problems(out: Path, paths: List[str], threads: Dict) -> List[str]:
    """Each file under files/ must be a copy of a path some stream of this run names."""
    named = set(paths)
    for serial in threads:
        thread_paths = out / "threads" / ("trace_paths-%d.json" % serial)
        if thread_paths.exists():
            named.update(json.loads(thread_paths.read_text(encoding="utf-8")))
    files = out / "files"
    copies = sorted("/" + str(p.relative_to(files)) for p in files.rglob("*") if p.is_file()) \
        if files.exists() else []
    stray = [c for c in copies if c not in named]
    return ["files/ holds copies of paths no stream names: %s" % stray] if stray else []


# -- the test --------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_recorded_program_behaves_as_unrecorded(case: Case, tmp_path: Path) -> None:
    work, out = tmp_path / "work", tmp_path / "trace"
    lay_out(case, work)
    bare = run([sys.executable] + list(case.argv), work, case.stdin)
    bare_files = files_left(work)
    if case.record_first is not None:
        lay_out(case, work)
        run(recorded_command(case, out, case.record_first), work, case.stdin)
    lay_out(case, work)
    recorded = run(recorded_command(case, out, case.argv), work, case.stdin)
    problems = differences(case, bare, recorded, bare_files, files_left(work))
    problems += trace_problems(out, recorded.returncode, case.gaps)
    assert not problems, "\n".join(problems)


def test_every_program_is_run_by_a_case() -> None:
    """At least 40 cases, with distinct names, and no program file left out."""
    assert len(CASES) >= 40 and len({case.name for case in CASES}) == len(CASES)
    used = {"dash_c.py", "stdin_program.py"}  # passed as -c and on stdin
    for case in CASES:
        layout = case.layout or {case.argv[0]: ""}
        used.update(src.split("/")[0] for src in layout)
        used.add(case.zipapp or "")
    top = {p.name for p in PROGRAMS.iterdir() if p.name != "__pycache__"}
    assert not top - used, top - used
