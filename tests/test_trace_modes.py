"""Who can read a trace: every file the recorder creates is 0600 and every directory 0700,
whatever the umask, unless ``--file-mode`` / ``RECORDER_FILE_MODE`` says otherwise
(docs/trace-format.md, "Who can read a trace"). Through the real CLI, the auto-start and
``--repair``, in subprocesses with the umask under test."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from typing import Any, Dict, List, Optional

import pytest

from test_autostart import py  # noqa: F401  (the fixture: a venv with the auto-start hook)
from test_autostart import clean_env, traces
from test_cli import _env

pytestmark = pytest.mark.skipif(not hasattr(os, "umask") or sys.platform == "win32",
                                reason="POSIX permission bits")

#: A program that makes every kind of file: a thread (threads/), an import of its own
#: module (imports.jsonl, a second files/ copy), output.
PROGRAM = textwrap.dedent("""
    import threading
    import helper

    def work(n):
        return helper.double(n)

    t = threading.Thread(target=work, args=(2,))
    t.start()
    t.join()
    print(work(3))
""")
HELPER = "def double(n):\n    return n * 2\n"


def write_program(root: Any) -> None:
    (root / "app.py").write_text(PROGRAM)
    (root / "helper.py").write_text(HELPER)


def with_umask(mask: int) -> Any:
    def preexec() -> None:
        os.umask(mask)
    return preexec


def record(root: Any, umask: int, *options: str,
           env: Optional[Dict[str, str]] = None) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([sys.executable, "-m", "recorder", *options, "app.py"], cwd=str(root),
                          capture_output=True, text=True, env=env or _env(), timeout=60,
                          preexec_fn=with_umask(umask))


def modes(top: str) -> Dict[str, int]:
    """Every path under ``top`` (and ``top`` itself, as ".") -> its permission bits."""
    found = {".": stat.S_IMODE(os.stat(top).st_mode)}
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, top)] = stat.S_IMODE(os.lstat(path).st_mode)
    return found


def assert_modes(found: Dict[str, int], top: str, file_mode: int, dir_mode: int,
                 skip: tuple = ()) -> None:
    wrong: List[str] = []
    for rel, mode in found.items():
        if rel in skip:
            continue
        want = dir_mode if os.path.isdir(os.path.join(top, rel)) else file_mode
        if mode != want:
            wrong.append("%s: %o, not %o" % (rel, mode, want))
    assert not wrong, wrong


def assert_every_kind_of_file(found: Dict[str, int]) -> None:
    names = set(found)
    assert {"trace.json", "trace_paths.json", "trace_metadata.json", "imports.jsonl",
            "threads", "files"} <= names, sorted(names)
    assert any(n.startswith("threads" + os.sep + "trace-") for n in names), sorted(names)
    assert any(n.endswith(os.sep + "helper.py") for n in names), sorted(names)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_every_file_is_0600_and_every_directory_0700_whatever_the_umask(
        tmp_path: Any, umask: int) -> None:
    write_program(tmp_path)
    done = record(tmp_path, umask, "-o", "out/trace")
    assert (done.returncode, done.stdout, done.stderr) == (0, "6\n", "")
    out = str(tmp_path / "out")  # the parent the recorder made for -o too
    found = modes(out)
    assert_every_kind_of_file({k.replace("trace" + os.sep, "", 1): v for k, v in found.items()})
    assert_modes(found, out, 0o600, 0o700)


def test_a_shared_octal_mode_is_exact_whatever_the_umask(tmp_path: Any) -> None:
    write_program(tmp_path)
    done = record(tmp_path, 0o077, "--file-mode", "0640")
    assert (done.returncode, done.stderr) == (0, "")
    found = modes(str(tmp_path / "trace-out"))
    assert_every_kind_of_file(found)
    assert_modes(found, str(tmp_path / "trace-out"), 0o640, 0o750)


@pytest.mark.parametrize("umask,file_mode,dir_mode", [(0o022, 0o644, 0o755),
                                                      (0o027, 0o640, 0o750)])
def test_file_mode_umask_honours_the_umask(tmp_path: Any, umask: int, file_mode: int,
                                           dir_mode: int) -> None:
    write_program(tmp_path)
    env = dict(_env(), RECORDER_FILE_MODE="umask")
    done = record(tmp_path, umask, env=env)
    assert (done.returncode, done.stderr) == (0, "")
    found = modes(str(tmp_path / "trace-out"))
    assert_every_kind_of_file(found)
    assert_modes(found, str(tmp_path / "trace-out"), file_mode, dir_mode)


def test_an_existing_directory_keeps_its_mode_and_stale_files_are_replaced(
        tmp_path: Any) -> None:
    """A directory the user made is theirs: not chmod-ed. What an earlier run (or an older
    recorder) left there with wider modes is replaced, not reused: its mode never carries
    over, also not through the temporary file of an atomic write."""
    write_program(tmp_path)
    out = tmp_path / "mine"
    out.mkdir()
    os.chmod(str(out), 0o755)
    for name in ("trace.json", "imports.jsonl", "trace_metadata.json.tmp",
                 "trace_paths.json.tmp"):
        (out / name).write_text("old")
        os.chmod(str(out / name), 0o666)
    done = record(tmp_path, 0o022, "-o", "mine")
    assert (done.returncode, done.stderr) == (0, "")
    found = modes(str(out))
    assert found["."] == 0o755
    assert "trace_metadata.json.tmp" not in found and "trace_paths.json.tmp" not in found
    assert_modes(found, str(out), 0o600, 0o700, skip=(".",))


def test_repair_keeps_the_modes_of_what_it_rewrites(tmp_path: Any) -> None:
    write_program(tmp_path)
    done = record(tmp_path, 0o022, "--file-mode", "0640")
    assert done.returncode == 0
    out = tmp_path / "trace-out"
    # as a kill leaves it: no closing bracket, the path table behind
    text = (out / "trace.json").read_text()
    (out / "trace.json").write_text(text[:text.rindex("\n]")])
    (out / "trace_paths.json").write_text("[]")
    repaired = subprocess.run([sys.executable, "-m", "recorder", "--repair", "trace-out"],
                              cwd=str(tmp_path), capture_output=True, text=True, env=_env(),
                              timeout=60, preexec_fn=with_umask(0o077))
    assert repaired.returncode == 0, repaired.stderr
    assert "trace.json: finished" in repaired.stdout
    found = modes(str(out))
    assert_modes(found, str(out), 0o640, 0o750)


def test_the_auto_start_makes_its_root_and_trace_directories_private(
        tmp_path: Any, py: str) -> None:  # noqa: F811
    (tmp_path / "app.py").write_text("import subprocess, sys\n"
                                     "subprocess.run([sys.executable, '-c', 'print(1)'])\n")
    root = tmp_path / "traces" / "run"
    done = subprocess.run([py, "app.py"], cwd=str(tmp_path), capture_output=True, text=True,
                          timeout=120, env=clean_env(RECORDER_TRACE=str(root)),
                          preexec_fn=with_umask(0o022))
    assert (done.returncode, done.stdout, done.stderr) == (0, "1\n", "")
    assert len(traces(root, count=2)) == 2  # the program and its child, each private
    assert_modes(modes(str(tmp_path / "traces")), str(tmp_path / "traces"), 0o600, 0o700)


def test_the_auto_start_passes_a_shared_mode_on_to_children(tmp_path: Any,
                                                            py: str) -> None:  # noqa: F811
    (tmp_path / "app.py").write_text("import subprocess, sys\n"
                                     "subprocess.run([sys.executable, '-c', 'print(1)'])\n")
    root = tmp_path / "traces"
    done = subprocess.run([py, "app.py"], cwd=str(tmp_path), capture_output=True, text=True,
                          timeout=120, env=clean_env(RECORDER_TRACE=str(root),
                                                     RECORDER_FILE_MODE="644"),
                          preexec_fn=with_umask(0o077))
    assert (done.returncode, done.stderr) == (0, "")
    assert len(traces(root, count=2)) == 2
    assert_modes(modes(str(root)), str(root), 0o644, 0o755)
