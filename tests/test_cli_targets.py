"""Every kind of target ``python`` runs, run by ``python -m recorder`` exactly as ``python``
runs it: scripts, ``.pyc`` files, directories and zip files with ``__main__``, ``-m module``,
``-c CODE`` and ``-`` (stdin).

Each case runs the target bare (``python ...``) and recorded (``python -m recorder -o DIR
--values full ...``) in subprocesses and compares stdout, stderr and the exit status byte for
byte (python prints its own path in runpy's errors; both runs use the same interpreter), then
reads the trace: module labels, ``imports.jsonl``, paths, metadata, balance.
"""
from __future__ import annotations

import json
import os
import runpy as runpy_module
import subprocess
import sys
import zipapp
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

from conftest import write_tree
from recorder.formats.reader import TraceDir, check_balance, read_trace_dir
from test_cli import ROOT

#: Prints what a program can see of how it was started; pasted into each program file.
SHOW = '''
import sys as _sys
def _show(tag):
    g = _sys.modules["__main__"].__dict__
    spec = g.get("__spec__")
    print(tag, "argv", _sys.argv, "path0", repr(_sys.path[0]))
    print(tag, "main", [(k, type(v).__name__) for k, v in g.items()])
    print(tag, "file", g.get("__file__", "-"), g.get("__cached__", "-"), g.get("__package__"))
    print(tag, "spec", spec and (spec.name, spec.origin, spec.parent),
          type(g.get("__loader__")).__name__)
'''


def _env() -> Dict[str, str]:
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, environ.get("PYTHONPATH")) if p)
    return environ


def _run(cwd: Path, command: List[str], stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=str(cwd), input=stdin.encode("utf-8"),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
                          timeout=60)


def same_as_python(cwd: Path, args: List[str], stdin: str = "",
                   out: Optional[Path] = None) -> subprocess.CompletedProcess:
    """Run ``args`` bare and recorded into ``out``; they must print and end the same."""
    plain = _run(cwd, [sys.executable] + args, stdin)
    out = out or cwd.parent / "trace"
    recorded = _run(cwd, [sys.executable, "-m", "recorder", "-o", str(out), "--values",
                          "full"] + args, stdin)
    assert recorded.stderr.decode() == plain.stderr.decode()
    assert (recorded.stdout, recorded.returncode) == (plain.stdout, plain.returncode)
    return plain


def trace_of(out: Path) -> TraceDir:
    trace = read_trace_dir(str(out))
    assert trace.metadata is not None and trace.metadata["complete"]
    balance = check_balance(trace.main.events)
    assert balance.ok, balance.problems[:5]
    return trace


def calls(trace: TraceDir) -> List[Tuple[str, str]]:
    """(function name, path) of every Call in the main stream, in order."""
    events = trace.main.events
    paths = [e["Path"] for e in events if "Path" in e]
    functions = [e["Function"] for e in events if "Function" in e]
    called = [functions[e["Call"]["function_id"]] for e in events if "Call" in e]
    return [(f["name"], paths[f["path_id"]]) for f in called]


def module_labels(trace: TraceDir) -> List[str]:
    return [name for name, _ in calls(trace) if name.startswith("<") and name != "<toplevel>"]


def imported(out: Path) -> List[str]:
    path = out / "imports.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["module"] for line in path.read_text().splitlines()]


def exit_status(trace: TraceDir) -> Any:
    return [e["Return"]["return_value"] for e in trace.main.events if "Return" in e][-1]


# -- -m: the parent packages belong to the program ------------------------------------------

def package_tree(root: Path) -> Path:
    return write_tree(root, {
        "pkg/__init__.py": SHOW + "_show('pkg')\n",
        "pkg/sub/__init__.py": "print('init pkg.sub', __name__)\n",
        "pkg/sub/mod.py": SHOW + "_show('mod')\n",
        "pkg/__main__.py": SHOW + "from . import helper\nfrom .sub import mod\n"
                                  "_show('pkg.__main__')\nprint(helper.twice(21))\n",
        "pkg/helper.py": "def twice(n):\n    return 2 * n\n",
        "pkg/raising.py": "def fail():\n    raise LookupError('deep')\nfail()\n",
        "pkg/bad.py": "x = (\n",
        "broken/__init__.py": "raise ValueError('broken parent')\n",
        "broken/mod.py": "print('never')\n",
    })


def test_dash_m_records_the_parent_packages(tmp_path):
    proj = package_tree(tmp_path / "proj")
    same_as_python(proj, ["-m", "pkg.sub.mod", "a1", "--flag"])
    out = tmp_path / "trace"
    trace = trace_of(out)
    assert module_labels(trace) == ["<pkg>", "<pkg.sub>", "<pkg.sub.mod>"]
    assert imported(out) == ["pkg", "pkg.sub"]  # runpy runs the module itself: no import
    assert trace.metadata["program"] == "-m pkg.sub.mod"
    assert trace.metadata["args"] == ["-m", "a1", "--flag"]  # sys.argv as the program starts
    assert str(proj / "pkg" / "sub" / "mod.py") in trace.paths


def test_dash_m_package_with_relative_imports_in_its_main(tmp_path):
    proj = package_tree(tmp_path / "proj")
    same_as_python(proj, ["-m", "pkg"])
    out = tmp_path / "trace"
    assert module_labels(trace_of(out)) == [
        "<pkg>", "<pkg.__main__>", "<pkg.helper>", "<pkg.sub>", "<pkg.sub.mod>"]
    assert imported(out) == ["pkg", "pkg.helper", "pkg.sub", "pkg.sub.mod"]


@pytest.mark.parametrize("module, ran", [
    ("pkg.nosuch", ["<pkg>"]),            # No module named pkg.nosuch (after pkg ran)
    ("pkg.nosuch.mod", ["<pkg>"]),        # a missing parent: Error while finding ...
    ("pkg.sub", ["<pkg>", "<pkg.sub>"]),  # a package without __main__
    ("broken.mod", ["<broken>"]),         # a parent whose __init__ raises: a traceback
    ("pkg.bad", ["<pkg>"]),               # a syntax error: a traceback through runpy
    ("pkg.raising", ["<pkg>", "<pkg.raising>"]),  # runpy's frames in the traceback
    (".relative", []),                    # Relative module names not supported
])
def test_dash_m_failures_are_the_programs_and_print_as_python_prints_them(tmp_path, module,
                                                                         ran):
    proj = package_tree(tmp_path / "proj")
    plain = same_as_python(proj, ["-m", module])
    assert plain.returncode == 1
    trace = trace_of(tmp_path / "trace")
    assert module_labels(trace) == ran
    assert exit_status(trace)["i"] == 1


def test_an_unknown_top_level_module_is_bad_recorder_input(tmp_path):
    proj = package_tree(tmp_path / "proj")
    for module in ("nosuch", "nosuch.sub"):
        recorded = _run(proj, [sys.executable, "-m", "recorder", "-o", str(tmp_path / "t"),
                               "-m", module], "")
        lines = recorded.stderr.decode().splitlines()
        assert recorded.returncode == 2 and len(lines) == 1, lines
        assert lines[0].startswith("recorder: error: no module named 'nosuch'")
        assert not (tmp_path / "t").exists()


# -- scripts: errors as python's file parser reports them -----------------------------------

#: Sources that do not compile, or warn while compiling (the warnings must be shown once).
SOURCES = {
    "syntax-error": b"print('before')\nx = (\n",
    "eof-in-def": b"def f(:\n    pass\n",
    "bad-cookie": b"# -*- coding: nosuch -*-\nprint(1)\n",
    "bad-cookie-line-2": b"#!/usr/bin/env python\n# vim: set fileencoding=nosuch :\nprint(1)\n",
    "bom-and-latin-1": b"\xef\xbb\xbf# coding: latin-1\nprint(1)\n",
    "not-utf-8": b"print(1)\n\xff\n",
    "nul-byte": b"print(1)\0\nprint(2)\n",  # 3.8-3.10 run the line up to the NUL
    "bad-indent": b"if 1:\n        x = 1\n    y = 2\n",
    "syntax-warning-then-error": b"x = 1 is 1\ny = '\\d'\nz = (\n",
    "syntax-warning-only": b"x = 1 is 1\ny = '\\d'\n",
}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_compile_errors_and_warnings_of_a_script_are_pythons(tmp_path, name):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "app.py").write_bytes(SOURCES[name])
    same_as_python(proj, ["app.py"])
    trace = trace_of(tmp_path / "trace")  # finished: <toplevel> returns the exit status
    assert exit_status(trace)["i"] == trace.metadata["process_exit_status"]["code"]


@pytest.mark.parametrize("name", ["syntax-error", "bad-cookie", "not-utf-8"])
def test_the_program_on_stdin_that_does_not_compile_fails_as_under_python(tmp_path, name):
    proj = tmp_path / "proj"
    proj.mkdir()
    source = SOURCES[name]
    plain = subprocess.run([sys.executable, "-"], cwd=str(proj), input=source,
                           capture_output=True, env=_env(), timeout=60)
    recorded = subprocess.run([sys.executable, "-m", "recorder", "-o", str(tmp_path / "t"),
                               "-"], cwd=str(proj), input=source, capture_output=True,
                              env=_env(), timeout=60)
    assert (recorded.stdout, recorded.stderr.decode(), recorded.returncode) == \
        (plain.stdout, plain.stderr.decode(), plain.returncode)
    trace_of(tmp_path / "t")


def test_a_pyc_script_runs_as_under_python(tmp_path):
    import py_compile

    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "src.py").write_text(SHOW + "_show('pyc')\nimport os\nprint(os.path.basename("
                                         "__loader__.path))\n")
    py_compile.compile(str(proj / "src.py"), cfile=str(proj / "app.pyc"), doraise=True)
    (proj / "src.py").unlink()
    same_as_python(proj, ["app.pyc", "x"])
    (proj / "junk.pyc").write_bytes(b"not bytecode at all")
    same_as_python(proj, ["junk.pyc"])


# -- directories and zip files ---------------------------------------------------------------

def test_a_directory_with_main_runs_as_under_python(tmp_path):
    proj = write_tree(tmp_path / "proj", {
        "app/__main__.py": SHOW + "import helper\n_show('dir')\nhelper.work()\n",
        "app/helper.py": "def work():\n    print('working')\n",
    })
    same_as_python(proj, ["app", "x"])
    out = tmp_path / "trace"
    trace = trace_of(out)
    assert module_labels(trace) == ["<__main__>", "<helper>"]
    assert imported(out) == ["helper"]
    # <toplevel> lives in the directory's __main__.py; program is absolute
    assert trace.paths[0] == str(proj / "app" / "__main__.py")
    assert (trace.metadata["program"], trace.metadata["args"]) == (str(proj / "app"),
                                                                   ["app", "x"])


def test_a_directory_whose_main_uses_a_relative_import_fails_as_under_python(tmp_path):
    proj = write_tree(tmp_path / "proj", {"app/__main__.py": "from . import helper\n",
                                          "app/helper.py": ""})
    assert same_as_python(proj, ["app"]).returncode == 1  # runpy's frames in the traceback


def make_zipapp(proj: Path, main: str) -> Path:
    src = write_tree(proj / "src", {
        "__main__.py": main,
        "zpkg/__init__.py": "print('zpkg init', __name__)\n",
        "zpkg/tool.py": "def run(n):\n    if n < 0:\n        raise ValueError(n)\n"
                        "    return n + 1\n",
    })
    target = proj / "app.pyz"
    zipapp.create_archive(str(src), str(target))
    return target


def test_a_zipapp_with_a_package_inside_runs_as_under_python(tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    make_zipapp(proj, SHOW + "import zpkg.tool\n_show('zip')\nprint(zpkg.tool.run(1))\n")
    same_as_python(proj, ["app.pyz", "x"])
    out = tmp_path / "trace"
    trace = trace_of(out)
    assert module_labels(trace) == ["<__main__>", "<zpkg>", "<zpkg.tool>"]
    assert "run" in [name for name, _ in calls(trace)]
    assert imported(out) == ["zpkg", "zpkg.tool"]
    assert str(proj / "app.pyz" / "__main__.py") in trace.paths
    assert str(proj / "app.pyz" / "zpkg" / "tool.py") in trace.paths


def test_a_zipapp_traceback_is_pythons(tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    make_zipapp(proj, "import zpkg.tool\nzpkg.tool.run(-1)\n")
    assert same_as_python(proj, ["app.pyz"]).returncode == 1


def test_a_directory_or_zip_without_main_is_bad_recorder_input(tmp_path):
    proj = write_tree(tmp_path / "proj", {"empty/x.py": "", "src/x.py": ""})
    zipapp.create_archive(str(proj / "src"), str(proj / "nomain.pyz"), main="x:f")
    import zipfile
    with zipfile.ZipFile(str(proj / "plain.zip"), "w") as archive:
        archive.writestr("x.py", "")
    for target in ("empty", "plain.zip"):
        recorded = _run(proj, [sys.executable, "-m", "recorder", "-o", str(tmp_path / "t"),
                               target], "")
        lines = recorded.stderr.decode().splitlines()
        assert recorded.returncode == 2 and lines == [
            "recorder: error: can't find '__main__' module in %r" % target]
        assert not (tmp_path / "t").exists()


# -- -c CODE and - (stdin) -------------------------------------------------------------------

PROGRAM_WITHOUT_FILE = SHOW + '''
def f(n):
    return n * 2
_show("nofile")
print(f(21))
'''


def test_dash_c_runs_as_under_python(tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    same_as_python(proj, ["-c", PROGRAM_WITHOUT_FILE, "a", "-m", "b"])
    out = tmp_path / "trace"
    trace = trace_of(out)
    assert [c for c in calls(trace) if c[0] in ("<__main__>", "f")] == [
        ("<__main__>", "<string>"), ("f", "<string>")]
    assert (trace.metadata["program"], trace.metadata["args"]) == ("-c", ["-c", "a", "-m", "b"])
    assert trace.paths[0] == "<toplevel>" and "<string>" in trace.paths
    assert not (out / "files" / "<string>").exists()


@pytest.mark.parametrize("code", ["x = (", "def f(:\n  pass", "1/0",
                                  "import sys; sys.exit('bye')",
                                  "# coding: latin-1\nprint(ascii('\u00e9'))"])
def test_dash_c_errors_and_cookies_are_pythons(tmp_path, code):
    proj = tmp_path / "proj"
    proj.mkdir()
    same_as_python(proj, ["-c", code])
    trace_of(tmp_path / "trace")


def test_the_program_on_stdin_runs_as_under_python(tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    source = PROGRAM_WITHOUT_FILE + "import sys\nprint(repr(sys.stdin.read()))\n"
    same_as_python(proj, ["-", "a"], stdin=source)
    out = tmp_path / "trace"
    trace = trace_of(out)
    assert [c for c in calls(trace) if c[0] in ("<__main__>", "f")] == [
        ("<__main__>", "<stdin>"), ("f", "<stdin>")]
    assert (trace.metadata["program"], trace.metadata["args"]) == ("-", ["-", "a"])


def test_the_option_forms_python_accepts(tmp_path):
    proj = package_tree(tmp_path / "proj")
    same_as_python(proj, ["-mpkg.sub.mod"])
    same_as_python(proj, ["-cprint(42)"])


# -- what the program sees of the recorder ---------------------------------------------------

STACK_WALKER = '''
import inspect, os, sys, traceback

def where():
    return [(os.path.basename(f.filename), f.function) for f in inspect.stack()]

def main():
    try:
        {}["missing"]
    except KeyError:
        traceback.print_exc()
    print(where())
    depth = 0
    while True:
        try:
            sys._getframe(depth)
        except ValueError:
            break
        depth += 1
    print(depth)

main()
'''


@pytest.mark.parametrize("target", ["script", "module"])
def test_a_program_walking_the_stack_finds_one_frame_of_ours_below_runpys(tmp_path, target):
    proj = write_tree(tmp_path / "proj", {"walker.py": STACK_WALKER})
    args = ["walker.py"] if target == "script" else ["-m", "walker"]
    plain = _run(proj, [sys.executable] + args, "")
    recorded = _run(proj, [sys.executable, "-m", "recorder", "-o", str(tmp_path / "t")] + args,
                    "")
    assert recorded.stderr == plain.stderr  # traceback.print_exc() inside an except
    assert recorded.returncode == plain.returncode == 0
    plain_stack, plain_depth = plain.stdout.decode().splitlines()
    stack, depth = recorded.stdout.decode().splitlines()
    runpy = os.path.basename(runpy_module._run_code.__code__.co_filename)  # 3.11+: frozen
    ours = [("__main__.py", "<module>"), (runpy, "_run_code"), (runpy, "_run_module_as_main")]
    assert eval(stack) == eval(plain_stack) + ours
    assert int(depth) == int(plain_depth) + 3


ENDINGS = '''
import atexit, sys
@atexit.register
def report():
    main = sys.modules["__main__"]
    print("file" , "__file__" in vars(main), "__cached__" in vars(main),
          type(getattr(sys, "last_value", None)).__name__)
how = sys.argv[1]
if how == "exit":
    sys.exit(0)
if how == "raise":
    raise LookupError("uncaught")
'''


@pytest.mark.parametrize("how", ["end", "exit", "raise"])
def test_what_atexit_handlers_see_of_main_and_the_last_exception(tmp_path, how):
    proj = write_tree(tmp_path / "proj", {"app.py": ENDINGS})
    same_as_python(proj, ["app.py", how])
    same_as_python(proj, ["-", how], stdin=ENDINGS)


@pytest.mark.skipif(not hasattr(sys.flags, "safe_path"), reason="-P is new in 3.11")
def test_safe_path_keeps_the_script_directory_off_sys_path(tmp_path):
    # python -P puts neither the script's directory nor the working directory on sys.path,
    # but still a directory it runs (its __main__ must be found there)
    show = "import sys\nprint(sys.path[:2])\n"
    proj = write_tree(tmp_path / "proj", {"app.py": show, "appdir/__main__.py": show})
    for target in ("app.py", "appdir"):
        plain = _run(proj, [sys.executable, "-P", target], "")
        recorded = _run(proj, [sys.executable, "-P", "-m", "recorder", "-o",
                               str(tmp_path / "t"), target], "")
        assert (recorded.stdout, recorded.stderr) == (plain.stdout, plain.stderr)
