"""The end-of-run line (docs/cli.md, "The end-of-run line"): printed on a terminal, absent on
a pipe, forced by --report/--quiet, and from the auto-start only with RECORDER_REPORT=1;
never part of the trace, never changing how the program ends."""
from __future__ import annotations

import os
import re
import subprocess
from typing import Any, List, Sequence, Tuple

import pytest

from conftest import read_terminal
from recorder.formats.reader import read_trace_dir
from recorder.report import _size, end_of_run_line, skipped_phrase, trace_size
from test_autostart import clean_env, make_venv, purelib

pty = pytest.importorskip("pty")

APP = """\
import sys, threading
import thirdparty_mod


def work(n):
    return thirdparty_mod.twice(n)


t = threading.Thread(target=work, args=(1,))
t.start()
t.join()
sys.stderr.write("program stderr\\n")
print(work(2))
ending = sys.argv[1] if len(sys.argv) > 1 else ""
if ending == "exit3":
    sys.exit(3)
if ending == "raise":
    raise ValueError("boom")
if ending == "os_exit":
    import os
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(4)
if ending == "sigterm":
    import os, signal
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGTERM)
"""
LINE = re.compile(r"recorder: (?P<dir>\S+) \u00b7 (?P<records>[\d,]+) records \u00b7 "
                  r"(?P<size>[\d.]+ (?:B|KB|MB|GB)) \u00b7 (?P<seconds>\d+\.\d) s"
                  r"(?: \u00b7 (?P<skipped>.*))?\Z")


@pytest.fixture(scope="module")
def python(tmp_path_factory: Any) -> str:
    """A venv with the auto-start hook and one installed module, ``thirdparty_mod``."""
    python = make_venv(str(tmp_path_factory.mktemp("venv") / "v"))
    with open(os.path.join(purelib(python), "thirdparty_mod.py"), "w") as fh:
        fh.write("def twice(n):\n    return n * 2\n")
    return python


def run_with_stderr_on_a_terminal(argv: Sequence[str], cwd: Any, **env: str
                                  ) -> Tuple[int, str, str]:
    """(status, stdout, what the terminal showed) with stderr alone on a pseudo-terminal."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(list(argv), cwd=str(cwd), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave, env=clean_env(**env))
    os.close(slave)
    shown = read_terminal(master, proc)
    out = proc.stdout.read().decode() if proc.stdout else ""
    if proc.stdout:
        proc.stdout.close()
    return proc.wait(timeout=60), out, shown.decode("utf-8").replace("\r\n", "\n")


def cli(python: str, *args: str) -> List[str]:
    return [python, "-m", "recorder", "-o", "trace", *args]


def records_in(out_dir: Any) -> int:
    trace = read_trace_dir(str(out_dir))
    return len(trace.main.events) + sum(len(t.events) for t in trace.threads.values())


def test_on_a_terminal_the_line_says_where_how_many_how_big_and_what_was_skipped(
        python: str, tmp_path: Any) -> None:
    (tmp_path / "app.py").write_text(APP)
    status, out, shown = run_with_stderr_on_a_terminal(cli(python, "app.py"), tmp_path)
    assert (status, out) == (0, "4\n"), shown
    program, line, rest = shown.split("\n")
    assert (program, rest) == ("program stderr", "")
    found = LINE.match(line)
    assert found, line
    out_dir = tmp_path / "trace"
    assert found.group("dir") == "trace" + os.sep
    # every record of every thread's file, and every byte of the directory
    assert int(found.group("records").replace(",", "")) == records_in(out_dir)
    assert read_trace_dir(str(out_dir)).threads  # the thread's records are counted too
    assert found.group("size") == _size(trace_size(str(out_dir)))
    assert found.group("skipped") == ("skipped 2 functions in 1 package "  # body, twice
                                      "(--include third-party to record them)")
    # the line is not part of the trace: the recorded stderr is the program's
    assert "recorder:" not in (out_dir / "trace.json").read_text()


def test_on_a_pipe_nothing_is_printed_unless_asked(python: str, tmp_path: Any) -> None:
    (tmp_path / "app.py").write_text(APP)
    plain = subprocess.run([python, "app.py"], cwd=str(tmp_path), capture_output=True,
                           text=True, env=clean_env(), timeout=60)
    recorded = subprocess.run(cli(python, "app.py"), cwd=str(tmp_path), capture_output=True,
                              text=True, env=clean_env(), timeout=60)
    assert (recorded.returncode, recorded.stdout, recorded.stderr) == \
        (plain.returncode, plain.stdout, plain.stderr) == (0, "4\n", "program stderr\n")
    reported = subprocess.run(cli(python, "--report", "app.py"), cwd=str(tmp_path),
                              capture_output=True, text=True, env=clean_env(), timeout=60)
    assert reported.returncode == 0
    program, line, rest = reported.stderr.split("\n")
    assert (program, rest) == ("program stderr", "")
    assert LINE.match(line), line


def test_quiet_keeps_a_terminal_free_of_it(python: str, tmp_path: Any) -> None:
    (tmp_path / "app.py").write_text(APP)
    status, _, shown = run_with_stderr_on_a_terminal(cli(python, "--quiet", "app.py"),
                                                     tmp_path)
    assert (status, shown) == (0, "program stderr\n")
    status, _, shown = run_with_stderr_on_a_terminal(cli(python, "app.py"), tmp_path,
                                                     RECORDER_REPORT="0")
    assert (status, shown) == (0, "program stderr\n")


@pytest.mark.parametrize("ending, status, before", [
    ("exit3", 3, ""),
    ("raise", 1, "Traceback"),
    ("os_exit", 4, ""),
    ("sigterm", -15, ""),
])
def test_the_line_comes_after_the_trace_is_closed_however_the_program_ends(
        python: str, tmp_path: Any, ending: str, status: int, before: str) -> None:
    if ending == "sigterm" and not hasattr(os, "kill"):
        pytest.skip("POSIX signals")
    (tmp_path / "app.py").write_text(APP)
    proc = subprocess.run(cli(python, "--report", "app.py", ending), cwd=str(tmp_path),
                          capture_output=True, text=True, env=clean_env(), timeout=60)
    assert proc.returncode == status, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0] == "program stderr"
    assert LINE.match(lines[-1]), proc.stderr
    assert (before in proc.stderr.rsplit("\n", 2)[0]) if before else len(lines) == 2
    metadata = read_trace_dir(str(tmp_path / "trace")).metadata
    assert metadata is not None and metadata["complete"]


def test_the_auto_start_prints_only_when_asked(python: str, tmp_path: Any) -> None:
    (tmp_path / "app.py").write_text(APP)
    traces = str(tmp_path / "traces")
    status, out, shown = run_with_stderr_on_a_terminal([python, "app.py"], tmp_path,
                                                       RECORDER_TRACE=traces)
    assert (status, out, shown) == (0, "4\n", "program stderr\n")
    proc = subprocess.run([python, "app.py"], cwd=str(tmp_path), capture_output=True,
                          text=True, timeout=60,
                          env=clean_env(RECORDER_TRACE=traces, RECORDER_REPORT="1"))
    assert (proc.returncode, proc.stdout) == (0, "4\n")
    program, line, rest = proc.stderr.split("\n")
    assert (program, rest) == ("program stderr", "")
    found = LINE.match(line)
    assert found, line
    out_dir = os.path.join(traces, "app-%d" % proc_pid(found.group("dir")))
    assert os.path.isdir(out_dir)
    assert int(found.group("records").replace(",", "")) == records_in(out_dir)


def proc_pid(shown_dir: str) -> int:
    return int(re.search(r"app-(\d+)" + re.escape(os.sep) + r"\Z", shown_dir).group(1))


def test_the_line_in_words() -> None:
    skipped = {"functions": {"json": 40, "requests": 1200, "urllib3": 1111, "mine": 1},
               "groups": {"json": "stdlib", "requests": "third-party",
                          "urllib3": "third-party", "mine": "program"}}
    assert skipped_phrase(skipped) == ("skipped 2,312 functions in 3 packages "
                                       "(--include third-party to record them)")
    assert skipped_phrase(skipped, third_party_recorded=True) == \
        "skipped 2,312 functions in 3 packages"
    only_stdlib = {"functions": {"json": 4}, "groups": {"json": "stdlib"}}
    assert skipped_phrase(only_stdlib) == ""
    assert end_of_run_line(os.path.join(os.getcwd(), "out"), 12345, 3_400_000, 0.84,
                           only_stdlib) == \
        "recorder: out%s \u00b7 12,345 records \u00b7 3.4 MB \u00b7 0.8 s" % os.sep
    assert [_size(n) for n in (0, 999, 1000, 99_949, 100_000, 2_500_000_000)] == \
        ["0 B", "999 B", "1.0 KB", "99.9 KB", "100 KB", "2.5 GB"]
