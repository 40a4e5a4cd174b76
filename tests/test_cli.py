"""CLI parity: a recorded run behaves exactly like the plain one, and bad input is one line."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import RECORDER_DIR

ROOT = os.path.dirname(RECORDER_DIR)


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    return env


def run_plain(cwd, args, stdin=""):
    return subprocess.run([sys.executable] + args, cwd=str(cwd), input=stdin,
                          capture_output=True, text=True, env=_env(), timeout=60)


def run_recorded(cwd, args, stdin="", options=()):
    return subprocess.run([sys.executable, "-m", "recorder", *options] + args, cwd=str(cwd),
                          input=stdin, capture_output=True, text=True, env=_env(), timeout=60)


PROGRAM = textwrap.dedent("""
    import os, sys
    def main(argv):
        print("argv", argv)
        print("file", os.path.basename(__file__), __name__, sys.path[0] == os.path.dirname(os.path.realpath(__file__)))
        print("stdin", sys.stdin.read().strip())
        sys.stderr.write("to stderr\\n")
        mode = argv[1] if len(argv) > 1 else ""
        if mode == "exit3":
            sys.exit(3)
        if mode == "exitmsg":
            sys.exit("leaving with a message")
        if mode == "raise":
            def inner():
                raise LookupError("deep")
            inner()
        if mode == "interrupt":
            raise KeyboardInterrupt
        return 0
    main(sys.argv)
""")


@pytest.mark.parametrize("mode", ["", "exit3", "exitmsg", "raise", "interrupt"])
def test_script_run_is_identical_to_plain_python(tmp_path, mode):
    (tmp_path / "app.py").write_text(PROGRAM)
    args = ["app.py"] + ([mode] if mode else [])
    plain = run_plain(tmp_path, args, stdin="some input")
    recorded = run_recorded(tmp_path, args, stdin="some input")
    assert (recorded.stdout, recorded.stderr, recorded.returncode) == \
        (plain.stdout, plain.stderr, plain.returncode)
    trace = json.loads((tmp_path / "trace-out" / "trace.json").read_text())
    assert trace[0] == {"Path": trace[0]["Path"]} and "Call" in trace[2]
    meta = json.loads((tmp_path / "trace-out" / "trace_metadata.json").read_text())
    assert meta["args"] == args


def test_module_runs_are_identical_to_plain_python(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(
        "import sys\nprint('main of', __name__, __spec__.name, __package__, sys.argv[1:])\n")
    (pkg / "mod.py").write_text(
        "import sys, os\nprint('mod', __name__, __spec__.name, os.path.basename(sys.argv[0]),"
        " sys.argv[1:], sys.path[0] == os.getcwd())\nraise SystemExit(4)\n")
    for args in (["-m", "pkg", "a", "--flag"], ["-m", "pkg.mod", "b"]):
        plain = run_plain(tmp_path, args)
        recorded = run_recorded(tmp_path, args)
        assert (recorded.stdout, recorded.stderr, recorded.returncode) == \
            (plain.stdout, plain.stderr, plain.returncode), args


def test_program_options_after_the_target_belong_to_the_program(tmp_path):
    (tmp_path / "app.py").write_text("import sys; print(sys.argv[1:])\n")
    recorded = run_recorded(tmp_path, ["app.py", "--values", "none", "-o", "x"])
    assert recorded.stdout == "['--values', 'none', '-o', 'x']\n"
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("args, message", [
    (["missing.py"], "can't open file 'missing.py'"),
    (["-m", "no_such_module_here"], "no module named 'no_such_module_here'"),
    (["--values", "some", "app.py"], "argument --values: invalid choice: 'some'"),
    (["--backend", "fast", "app.py"], "argument --backend: invalid choice: 'fast'"),
    (["-o", "blocker/out", "app.py"], "blocker"),
] + ([
    # a directory nobody may create in, root included (sysfs): an unwritable out dir
    (["-o", "/sys/recorder-cli-out", "app.py"], "recorder-cli-out"),
] if sys.platform.startswith("linux") and os.path.isdir("/sys") else []) + [
    ([], "no program given"),
])
def test_bad_input_is_one_line_and_status_2_and_the_program_does_not_start(tmp_path, args,
                                                                          message):
    (tmp_path / "app.py").write_text("open('started', 'w').close()\n")
    (tmp_path / "blocker").write_text("a file where a directory should be")
    recorded = run_recorded(tmp_path, args)
    assert recorded.returncode == 2
    lines = recorded.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("recorder: error:"), recorded.stderr
    assert message in lines[0]
    assert not (tmp_path / "started").exists()


def test_version_and_help(tmp_path):
    version = run_recorded(tmp_path, ["--version"])
    assert version.returncode == 0 and version.stdout.startswith("recorder ")
    usage = run_recorded(tmp_path, ["--help"])
    assert usage.returncode == 0 and "-m module" in usage.stdout


def test_console_script_entry_point_matches_module(tmp_path):
    from recorder import cli
    (tmp_path / "app.py").write_text("print('hi')\n")
    proc = subprocess.run([sys.executable, "-c", "import sys; from recorder.cli import main;"
                           " sys.argv[0] = 'recorder'; sys.exit(main(['app.py']))"],
                          cwd=str(tmp_path), capture_output=True, text=True, env=_env())
    assert proc.returncode == 0 and proc.stdout == "hi\n"
    assert callable(cli.main)


def test_the_recorder_leaves_no_trace_of_itself(tmp_path):
    # Importing the recorder must not change the program's library (typing_extensions, once
    # imported, patches the standard typing module), and the recorder's own exec'd code (a
    # dataclass __init__ runs in "<string>" on every import) is never recorded.
    (tmp_path / "helper.py").write_text("def f():\n    return 1\n")
    (tmp_path / "app.py").write_text(
        "import sys\nimport helper\nprint('typing_extensions' in sys.modules)\nhelper.f()\n")
    plain = run_plain(tmp_path, ["app.py"])
    recorded = run_recorded(tmp_path, ["app.py"])
    assert (recorded.stdout, recorded.returncode) == (plain.stdout, plain.returncode)
    assert plain.stdout == "False\n"
    paths = json.loads((tmp_path / "trace-out" / "trace_paths.json").read_text())
    assert sorted(os.path.basename(p) for p in paths) == ["app.py", "helper.py"], paths
