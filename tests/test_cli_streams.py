"""The program's standard streams under ``python -m recorder``: the same objects, types,
buffering and bytes as under plain ``python`` (pipes, files, a terminal, closed fds), and what
the program writes and reads through them is in the trace, in program order."""
from __future__ import annotations

import errno
import io
import os
import select
import subprocess
import sys
import textwrap
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import pytest

from conftest import RECORDER_DIR, read_terminal
from recorder import env
from recorder.formats.reader import check_balance, read_trace_dir

ROOT = os.path.dirname(RECORDER_DIR)
WRITE, WRITE_OTHER, READ = 0, 2, 3
#: Both ways stdout and stderr are built: block-buffered, and -u (PYTHONUNBUFFERED).
BUFFERING = [pytest.param({}, id="buffered"), pytest.param({"PYTHONUNBUFFERED": "1"}, id="-u")]


def _env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    environ = dict(os.environ)
    environ.pop("PYTHONUNBUFFERED", None)
    environ["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, environ.get("PYTHONPATH")) if p)
    environ.update(extra or {})
    return environ


def _command(args: Sequence[str], recorded: bool) -> List[str]:
    return [sys.executable] + (["-m", "recorder", "--values", "full"] if recorded else []) \
        + list(args)


def run(tmp_path: Any, args: Sequence[str], recorded: bool, stdin: Any = b"",
        env: Optional[Dict[str, str]] = None, merged: bool = False,
        **popen: Any) -> subprocess.CompletedProcess:
    """One run, bytes in and out. ``stdin``: bytes through a pipe, or the path of a file to
    read from (a fresh handle, at offset 0); ``merged``: stderr into the stdout pipe (2>&1)."""
    kwargs: Dict[str, Any] = dict(cwd=str(tmp_path), env=_env(env), timeout=60,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT if merged else subprocess.PIPE)
    kwargs.update(popen)
    if isinstance(stdin, bytes):
        return subprocess.run(_command(args, recorded), input=stdin, **kwargs)
    with open(str(stdin), "rb") as handle:
        return subprocess.run(_command(args, recorded), stdin=handle, **kwargs)


def both(tmp_path: Any, args: Sequence[str], **kwargs: Any
         ) -> Tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    return run(tmp_path, args, False, **kwargs), run(tmp_path, args, True, **kwargs)


def same(plain: subprocess.CompletedProcess, recorded: subprocess.CompletedProcess) -> None:
    assert (recorded.stdout, recorded.stderr, recorded.returncode) == \
        (plain.stdout, plain.stderr, plain.returncode)


def io_events(events: List[Any], kinds: Sequence[int] = (WRITE, WRITE_OTHER, READ)
              ) -> List[Tuple[int, str]]:
    """(kind, content) of the trace's output/input Events, in order."""
    return [(e["Event"]["kind"], e["Event"]["content"]) for e in events
            if isinstance(e, dict) and "Event" in e and e["Event"]["kind"] in kinds]


def main_events(tmp_path: Any) -> List[Any]:
    trace = read_trace_dir(str(tmp_path / "trace-out"))
    assert trace.main.complete and check_balance(trace.main.events).ok
    return trace.main.events


def write_program(tmp_path: Any, source: str, name: str = "app.py") -> str:
    (tmp_path / name).write_text(textwrap.dedent(source))
    return name


# -- the standard library's own tools ----------------------------------------------------------

def test_json_tool_runs_as_under_python(tmp_path):
    # json.tool does `with outfile:` on sys.stdout: the stream must be a real file object.
    (tmp_path / "in.json").write_text('{"b": [1, 2], "a": "\\u00e9"}')
    plain, recorded = both(tmp_path, ["-m", "json.tool", "in.json"])
    assert plain.returncode == 0 and plain.stdout.startswith(b"{\n")
    same(plain, recorded)
    written = "".join(text for kind, text in io_events(main_events(tmp_path), (WRITE,)))
    assert written == plain.stdout.decode("utf-8")


def test_a_stream_closed_by_the_program_stays_closed_as_in_python(tmp_path):
    # `with sys.stdout` closes the program's stdout (fd 1 stays open, as Python's own
    # streams do not own their fd); a later print fails the same way, and os.write still works.
    write_program(tmp_path, """
        import os, sys
        with sys.stdout as out:
            out.write("inside\\n")
        os.write(1, b"fd 1 still open\\n")
        print("after")
    """)
    plain, recorded = both(tmp_path, ["app.py"])
    assert b"ValueError: I/O operation on closed file" in plain.stderr
    if not env.RERAISE_USES_TRACEBACK_ATTRIBUTE:
        # 3.8-3.10: the hook's frame stays in the traceback (docs/cli.md), one entry
        lines = recorded.stderr.splitlines(True)
        (entry,) = [i for i, line in enumerate(lines) if b"recorder" in line]
        assert lines[entry].startswith(b'  File "%s' % RECORDER_DIR.encode())
        recorded.stderr = b"".join(lines[:entry] + lines[entry + 2:])
    same(plain, recorded)


# -- what programs check -----------------------------------------------------------------------

CHECKS = """
    import io, sys
    def show(label, stream):
        buffer = stream.buffer
        for name, value in [
                ("is dunder", stream is getattr(sys, "__%s__" % label)),
                ("type", type(stream)), ("buffer type", type(buffer)),
                ("raw type", type(getattr(buffer, "raw", buffer))),
                ("exact type", type(stream) is io.TextIOWrapper),
                ("isinstance", isinstance(stream, io.TextIOWrapper)),
                ("isatty", stream.isatty()), ("fileno", stream.fileno()),
                ("name", stream.name), ("mode", stream.mode), ("encoding", stream.encoding),
                ("errors", stream.errors), ("line_buffering", stream.line_buffering),
                ("write_through", stream.write_through), ("newlines", stream.newlines),
                ("chunk", stream._CHUNK_SIZE), ("repr", repr(stream)),
                ("buffer repr", repr(buffer)), ("raw repr", repr(getattr(buffer, "raw", None))),
                ("closefd", getattr(buffer, "raw", buffer).closefd),
                ("seekable", stream.seekable()), ("readable", stream.readable()),
                ("writable", stream.writable())]:
            print(label, name, value, flush=True)
    for label in ("stdout", "stderr", "stdin"):
        show(label, getattr(sys, label))
"""
#: The one documented difference: stdin is a subclass (its iteration must be seen).
STDIN_SUBCLASS = (b"stdin type ", b"stdin buffer type ", b"stdin exact type ")


@pytest.mark.parametrize("buffering", BUFFERING)
@pytest.mark.parametrize("stdin_kind", ["pipe", "file", "devnull"])
def test_the_streams_pass_the_checks_programs_make(tmp_path, buffering, stdin_kind):
    write_program(tmp_path, CHECKS)
    (tmp_path / "input.txt").write_text("data\n")
    stdin = {"pipe": b"data\n", "file": tmp_path / "input.txt", "devnull": os.devnull}
    plain, recorded = both(tmp_path, ["app.py"], stdin=stdin[stdin_kind], env=buffering)
    assert plain.returncode == recorded.returncode == 0, recorded.stderr
    assert b"stdout exact type True" in plain.stdout
    assert b"stdout buffer type <class '_io.%s'>" % (
        b"FileIO" if buffering else b"BufferedWriter") in plain.stdout

    def common(out: bytes) -> List[bytes]:
        return [line for line in out.splitlines() if not line.startswith(STDIN_SUBCLASS)]

    assert common(recorded.stdout) == common(plain.stdout)
    assert recorded.stderr == plain.stderr
    assert b"stdin isinstance True" in recorded.stdout


# -- what is recorded ----------------------------------------------------------------------------

@pytest.mark.parametrize("buffering", BUFFERING)
def test_writes_through_the_buffer_are_recorded_once_in_program_order(tmp_path, buffering):
    write_program(tmp_path, """
        import sys
        print("text")
        sys.stdout.buffer.write(b"bytes\\n")
        sys.stdout.buffer.write("\\u00e9 \\xff\\n".encode("utf-8") + b"\\xff\\n")
        sys.stdout.write("x" * 10000 + "\\n")   # bigger than the text layer's chunk
        class Ambiguous(bytearray):               # any buffer, even one without a truth value
            def __bool__(self):
                raise ValueError("ambiguous")
        sys.stdout.buffer.write(Ambiguous(b"any buffer\\n"))
        sys.stdout.writelines(["a\\n", "b\\n"])
        print("flushed", flush=True)
        sys.stdout.reconfigure(line_buffering=True)
        print("pending", end="")
        sys.stdout.reconfigure(line_buffering=False)
        sys.stderr.buffer.write(b"err bytes\\n")
        sys.stderr.write("err text\\n")
        print("", end="")
        print("end")
    """)
    plain, recorded = both(tmp_path, ["app.py"], env=buffering)
    same(plain, recorded)
    assert io_events(main_events(tmp_path)) == [
        (WRITE, "text"), (WRITE, "\n"), (WRITE, "bytes\n"), (WRITE, "\u00e9 \xff\n\\xff\n"),
        (WRITE, "x" * 10000 + "\n"), (WRITE, "any buffer\n"), (WRITE, "a\n"), (WRITE, "b\n"), (WRITE, "flushed"),
        (WRITE, "\n"), (WRITE, "pending"), (WRITE_OTHER, "err bytes\n"),
        (WRITE_OTHER, "err text\n"), (WRITE, "end"), (WRITE, "\n")]


def test_tell_on_a_file_does_not_record_the_pending_text_again(tmp_path):
    write_program(tmp_path, """
        import sys
        sys.stdout.write("abc")
        position = sys.stdout.tell()
        sys.stdout.write("def%d\\n" % position)
    """)
    outputs = []
    for recorded in (False, True):
        with open(str(tmp_path / ("out-%d.txt" % recorded)), "wb") as out:
            proc = run(tmp_path, ["app.py"], recorded, stdout=out)
        assert proc.returncode == 0, proc.stderr
        outputs.append((tmp_path / ("out-%d.txt" % recorded)).read_bytes())
    assert outputs[0] == outputs[1] == b"abcdef3\n"
    assert io_events(main_events(tmp_path)) == [(WRITE, "abc"), (WRITE, "def3\n")]


STDIN_PROGRAM = """
    import sys
    first = sys.stdin.readline()
    some = sys.stdin.read(3)
    rest_of_line = next(sys.stdin)
    for line in sys.stdin:
        if line.startswith("stop"):
            break
    name = input("name? ")
    more = sys.stdin.readlines()
    print(repr(first), repr(some), repr(rest_of_line), repr(name), more)
"""
STDIN_DATA = b"first\nabcdef\nloop 1\nloop 2\nstop\nBob\nx\ny\n"


@pytest.mark.parametrize("stdin_kind", ["pipe", "file"])
def test_what_the_program_reads_from_stdin_is_recorded_as_read_events(tmp_path, stdin_kind):
    write_program(tmp_path, STDIN_PROGRAM)
    (tmp_path / "input.txt").write_bytes(STDIN_DATA)
    stdin = STDIN_DATA if stdin_kind == "pipe" else tmp_path / "input.txt"
    plain, recorded = both(tmp_path, ["app.py"], stdin=stdin)
    assert plain.returncode == 0
    same(plain, recorded)
    events = io_events(main_events(tmp_path))
    assert events[:10] == [
        (READ, "first\n"), (READ, "abc"), (READ, "def\n"), (READ, "loop 1\n"),
        (READ, "loop 2\n"), (READ, "stop\n"), (WRITE, "name? "), (READ, "Bob\n"),
        (READ, "x\n"), (READ, "y\n")]
    assert {kind for kind, text in events[10:]} == {WRITE}
    assert "name? " + "".join(text for kind, text in events[10:]) == recorded.stdout.decode()


def test_reads_through_stdin_buffer_are_recorded(tmp_path):
    write_program(tmp_path, """
        import sys
        head = sys.stdin.buffer.readline()
        two = sys.stdin.buffer.read(2)
        into = bytearray(3)
        n = sys.stdin.buffer.readinto(into)
        lines = [line for line in sys.stdin.buffer]
        print(head, two, bytes(into[:n]), lines)
    """)
    plain, recorded = both(tmp_path, ["app.py"], stdin=b"head\nxyz\xe9\n\xffend\nlast\n")
    same(plain, recorded)
    assert [text for kind, text in io_events(main_events(tmp_path), (READ,))] == [
        "head\n", "xy", "z\\xe9\n", "\\xffend\n", "last\n"]


def test_a_child_process_gets_the_input_python_leaves_it(tmp_path):
    # stdin is a file: Python's stdin reads ahead one buffer; the child reads on from there.
    write_program(tmp_path, """
        import subprocess, sys
        print("parent read", repr(sys.stdin.readline()), flush=True)
        subprocess.run([sys.executable, "-c",
                        "import sys; data = sys.stdin.read(); print('child read', len(data), repr(data[:12]))"])
    """)
    (tmp_path / "input.txt").write_bytes(b"".join(b"line %05d\n" % i for i in range(3000)))
    plain, recorded = both(tmp_path, ["app.py"], stdin=tmp_path / "input.txt")
    assert b"child read" in plain.stdout and b"child read 0 " not in plain.stdout
    same(plain, recorded)


def test_events_come_in_program_order_between_the_steps(tmp_path):
    write_program(tmp_path, """
        import sys
        print("one")
        line = sys.stdin.readline()
        sys.stderr.write("two\\n")
        sys.stdout.buffer.write(b"three\\n")
        done = True
    """)
    plain, recorded = both(tmp_path, ["app.py"], stdin=b"typed\n")
    same(plain, recorded)
    order = []
    for event in main_events(tmp_path):
        if "Step" in event and event["Step"]["line"] >= 3:
            order.append(("line", event["Step"]["line"]))
        elif "Event" in event and event["Event"]["kind"] in (WRITE, WRITE_OTHER, READ):
            order.append((event["Event"]["kind"], event["Event"]["content"]))
    assert order == [("line", 3), (WRITE, "one"), (WRITE, "\n"), ("line", 4), (READ, "typed\n"),
                     ("line", 5), (WRITE_OTHER, "two\n"), ("line", 6), (WRITE, "three\n"),
                     ("line", 7)]


@pytest.mark.parametrize("buffering", BUFFERING)
def test_stdout_and_stderr_interleave_on_one_pipe_as_unrecorded(tmp_path, buffering):
    write_program(tmp_path, """
        import sys, threading
        print("out 1")
        sys.stderr.write("err 1\\n")
        print("big " * 3000)
        sys.stderr.write("err 2 no newline")
        sys.stdout.buffer.write(b"buffer out\\n")
        print("out 2", end="")
        sys.stderr.write("\\n")
        def worker():
            for i in range(50):
                print("thread %d" % i)
                sys.stderr.write("thread err %d\\n" % i)
        t = threading.Thread(target=worker)
        t.start(); t.join()
        print("out 3", flush=True)
        sys.stderr.write("err 3\\n")
    """)
    plain, recorded = both(tmp_path, ["app.py"], env=buffering, merged=True)
    same(plain, recorded)
    trace = read_trace_dir(str(tmp_path / "trace-out"))
    (worker,) = trace.threads.values()
    written = io_events(worker.events)
    assert written[:4] == [(WRITE, "thread 0"), (WRITE, "\n"), (WRITE_OTHER, "thread err 0\n"),
                           (WRITE, "thread 1")]
    assert len(written) == 150


def test_output_redirected_by_the_program_is_not_the_process_output(tmp_path):
    write_program(tmp_path, """
        import contextlib, io, sys
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured):
            print("into the StringIO")
            print("to the real stdout", file=sys.__stdout__)
        print("after:", captured.getvalue().strip())
    """)
    plain, recorded = both(tmp_path, ["app.py"])
    same(plain, recorded)
    assert [text for kind, text in io_events(main_events(tmp_path))] == [
        "to the real stdout", "\n", "after:", " ", "into the StringIO", "\n"]


def test_a_replaced_text_layer_is_recorded_through_the_buffer(tmp_path):
    write_program(tmp_path, """
        import io, sys
        print("before")
        sys.stdout = io.TextIOWrapper(sys.stdout.detach(), encoding="latin-1", line_buffering=True)
        print("caf\\u00e9")
    """)
    plain, recorded = both(tmp_path, ["app.py"])
    assert plain.stdout == b"before\ncaf\xe9\n"
    same(plain, recorded)
    # the program's own wrapper hands its bytes to the (recorded) buffer; they are decoded
    # with the encoding of the stream the buffer belonged to (UTF-8 here)
    assert io_events(main_events(tmp_path)) == [(WRITE, "before"), (WRITE, "\n"),
                                                (WRITE, "caf\\xe9\n")]


# -- closed and missing streams -----------------------------------------------------------------

CLOSED_PROGRAM = """
    import os, subprocess, sys
    report = sys.stderr if sys.stderr is not None else sys.stdout
    print("streams", [s is None for s in (sys.stdin, sys.stdout, sys.stderr)], file=report)
    print("lost if stdout is closed")
    for fd in (0, 1, 2):
        for name, act in (("read", lambda: os.read(fd, 1)),
                          ("write", lambda: os.write(fd, b"raw %d\\n" % fd))):
            try:
                act()
                print("fd", fd, name, "works", file=report)
            except OSError as exc:
                print("fd", fd, name, errno.errorcode[exc.errno], file=report)
    child = subprocess.run(["sh", "-c", "echo child out; echo child err >&2; read x; echo read $?"])
    print("child", child.returncode, file=report, flush=True)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="closes fds with sh")
@pytest.mark.parametrize("closed", [0, 1, 2])
def test_a_standard_fd_closed_at_start_stays_closed(tmp_path, closed):
    write_program(tmp_path, "import errno\n" + textwrap.dedent(CLOSED_PROGRAM))
    runs = []
    for recorded in (False, True):
        command = " ".join(_command(["app.py"], recorded)) + " %d>&-" % closed
        runs.append(subprocess.run(["sh", "-c", command], cwd=str(tmp_path), env=_env(),
                                   input=b"", capture_output=True, timeout=60))
    plain, recorded = runs
    assert b"EBADF" in (plain.stderr if closed != 2 else plain.stdout)
    same(plain, recorded)
    trace = read_trace_dir(str(tmp_path / "trace-out"))
    assert trace.main.complete and check_balance(trace.main.events).ok


# -- a terminal --------------------------------------------------------------------------------

def _run_in_pty(tmp_path: Any, args: Sequence[str], recorded: bool,
                answer: Optional[Tuple[bytes, bytes]] = None) -> Tuple[bytes, int]:
    """Run with stdin, stdout and stderr on one pseudo-terminal; ``answer``: (prompt, line):
    type ``line`` once ``prompt`` has appeared. Returns (everything the terminal showed,
    exit status)."""
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    proc = subprocess.Popen(_command(args, recorded), cwd=str(tmp_path), env=_env(),
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    return read_terminal(master, proc, answer), proc.wait(timeout=60)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_a_terminal_stays_a_terminal(tmp_path):
    write_program(tmp_path, """
        import os, sys
        print([s.isatty() for s in (sys.stdin, sys.stdout, sys.stderr)],
              [os.isatty(fd) for fd in range(3)], sys.stdout.line_buffering,
              sys.stdout.buffer.raw.isatty())
        print("out", end="")
        sys.stderr.write("err\\n")
        print(" rest")
        name = input("name? ")
        print("hello", name)
        line = sys.stdin.readline()
        print("line", repr(line))
    """)
    shown = {}
    for recorded in (False, True):
        shown[recorded] = _run_in_pty(tmp_path, ["app.py"], recorded,
                                      answer=(b"name? ", b"Bob\nnext line\n"))
    assert shown[False][0].startswith(b"[True, True, True] [True, True, True] True True\r\n")
    # the same, then the end-of-run line that a terminal gets (docs/cli.md)
    recorded_output, status = shown[True]
    before, last = recorded_output[:-2].rsplit(b"\r\n", 1)
    assert (before + b"\r\n", status) == shown[False]
    assert last.startswith(b"recorder: trace-out/ \xc2\xb7 "), last
    # input() on a terminal is read by CPython's readline in C: neither the prompt nor the
    # answer passes through sys.stdin/sys.stdout (docs/trace-format.md)
    assert io_events(main_events(tmp_path)) == [
        (WRITE, "[True, True, True]"), (WRITE, " "), (WRITE, "[True, True, True]"),
        (WRITE, " "), (WRITE, "True"), (WRITE, " "), (WRITE, "True"), (WRITE, "\n"),
        (WRITE, "out"), (WRITE_OTHER, "err\n"), (WRITE, " rest"), (WRITE, "\n"),
        (WRITE, "hello"), (WRITE, " "), (WRITE, "Bob"), (WRITE, "\n"),
        (READ, "next line\n"), (WRITE, "line"), (WRITE, " "), (WRITE, "'next line\\n'"),
        (WRITE, "\n")]


# -- the capture itself, in process --------------------------------------------------------------

def use_own_streams(monkeypatch: Any) -> Dict[str, Any]:
    """Fresh stdout/stderr objects of the interpreter's kind (over BytesIO) in sys, and a
    stdin the capture leaves alone (not over a file descriptor). Called in the test itself:
    pytest puts its own capturing streams back between the phases of a test."""
    made = {}
    stdin = io.TextIOWrapper(io.BufferedReader(io.BytesIO(b"")), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    monkeypatch.setattr(sys, "__stdin__", stdin)
    for name in ("stdout", "stderr"):
        stream = io.TextIOWrapper(io.BufferedWriter(io.BytesIO()), encoding="utf-8")
        made[name] = stream
        monkeypatch.setattr(sys, name, stream)
        monkeypatch.setattr(sys, "__%s__" % name, stream)
    return made


def test_the_recorders_own_messages_are_not_recorded(monkeypatch):
    own_streams = use_own_streams(monkeypatch)
    from recorder.capture import StreamCapture
    from recorder.errors import warn

    recorded: List[Tuple[str, str]] = []
    capture = StreamCapture(lambda stream, text: recorded.append((stream, text))).install()
    try:
        warn("something went wrong")
        sys.stderr.write("recorder: the program may print this too\n")
    finally:
        capture.restore()
    assert recorded == [("stderr", "recorder: the program may print this too\n")]
    sys.stderr.flush()
    assert own_streams["stderr"].buffer.raw.getvalue().startswith(  # type: ignore[attr-defined]
        b"recorder: warning: something went wrong\n")


def test_a_failing_record_stops_the_capture_once_and_output_goes_on(monkeypatch):
    own_streams = use_own_streams(monkeypatch)
    from recorder.capture import StreamCapture

    failures: List[BaseException] = []

    def record(stream: str, text: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    capture = StreamCapture(record, failures.append).install()
    try:
        print("one")
        print("two")
    finally:
        capture.restore()
    sys.stdout.flush()
    assert own_streams["stdout"].buffer.raw.getvalue() == b"one\ntwo\n"  # type: ignore
    assert len(failures) == 1 and isinstance(failures[0], OSError)


def test_restore_leaves_the_streams_as_they_were(monkeypatch):
    own_streams = use_own_streams(monkeypatch)
    from recorder.capture import StreamCapture

    stdout = own_streams["stdout"]
    before = (dict(vars(stdout)), dict(vars(stdout.buffer)))
    capture = StreamCapture(lambda stream, text: None).install()
    assert "write" in vars(stdout)
    capture.restore()
    assert (dict(vars(stdout)), dict(vars(stdout.buffer))) == before
    assert sys.stdout is stdout and type(sys.stdout.write).__name__ == "builtin_function_or_method"
