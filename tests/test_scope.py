"""The default scope (the program's own code) and the flags that widen or narrow it, through
the real CLI and the auto-start (docs/filters.md, "The default scope").

Every test runs a small venv (test_autostart.make_venv) whose site-packages holds a real
installed package, ``thirdpkg``: third-party by the interpreter's own install paths, not
by a directory name. The program calls into it, into a module of its own (``mymod``), into
the standard library (``json``), and ``thirdpkg`` calls back into the program.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any, Dict, List, Sequence, Set

import pytest

from recorder.formats.reader import check_balance, read_trace_dir
from test_autostart import clean_env, make_venv, purelib, traces

APP = """\
import json, sys
import mymod, thirdpkg


def callback(n):
    return mymod.double(n)


def main():
    print(thirdpkg.work(callback), json.dumps([1]))


main()
"""
MYMOD = "def double(x):\n    return x * 2\n"
THIRDPKG = {
    "thirdpkg/__init__.py": "def work(callback):\n    return callback(helper(2))\n\n\n"
                            "def helper(x):\n    return x + 1\n",
    "thirdpkg/tool.py": "import thirdpkg\n\n\ndef run_tool():\n"
                        "    print('tool', thirdpkg.helper(1))\n\n\nrun_tool()\n",
    "thirdpkg/shapes.py": "import dataclasses\n\n\n@dataclasses.dataclass\nclass Box:\n"
                          "    size: int\n",
}


@pytest.fixture(scope="module")
def venv(tmp_path_factory: Any) -> str:
    """A venv with the auto-start hook and ``thirdpkg`` installed in its site-packages."""
    python = make_venv(str(tmp_path_factory.mktemp("venv") / "v"))
    for rel, text in THIRDPKG.items():
        path = os.path.join(purelib(python), rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(text)
    return python


@pytest.fixture
def project(tmp_path: Any) -> Any:
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "mymod.py").write_text(MYMOD)
    return tmp_path


def run_cli(python: str, cwd: Any, options: Sequence[str], target: Sequence[str] = ("app.py",),
            **env: str) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([python, "-m", "recorder", "-o", "trace", *options, *target],
                          cwd=str(cwd), capture_output=True, text=True, timeout=120,
                          env=clean_env(**env))


def calls(out_dir: Any) -> List[str]:
    """The names of the functions (and ``<module>`` labels) the trace calls, in order."""
    trace = read_trace_dir(str(out_dir))
    assert check_balance(trace.main.events).ok
    functions: List[str] = []
    names: List[str] = []
    for record in trace.main.events:
        if "Function" in record:
            functions.append(record["Function"]["name"])
        elif "Call" in record:
            names.append(functions[record["Call"]["function_id"]])
    return names


def called(out_dir: Any) -> Set[str]:
    return set(calls(out_dir))


def metadata(out_dir: Any) -> Dict[str, Any]:
    with open(os.path.join(str(out_dir), "trace_metadata.json")) as fh:
        return json.load(fh)


OWN = {"<toplevel>", "<__main__>", "main", "callback", "<mymod>", "double"}
THIRD = {"<thirdpkg>", "work", "helper"}


@pytest.mark.parametrize("options, recorded, skipped", [
    ([], OWN, THIRD | {"dumps"}),
    (["--include", "third-party"], OWN | THIRD, {"dumps"}),
    (["--include", "thirdpkg"], OWN | THIRD, {"dumps"}),
    (["--include", "third*"], OWN | THIRD, {"dumps"}),
    (["--exclude", "mymod"], OWN - {"<mymod>", "double"}, THIRD | {"<mymod>", "double"}),
    (["--include", "third-party", "--exclude", "thirdpkg"], OWN, THIRD),
    (["--all"], OWN | THIRD | {"dumps"}, set()),
    (["--all", "--exclude", "json"], OWN | THIRD, {"dumps"}),
])
def test_the_scope_flags_through_the_cli(venv: str, project: Any, backend: str,
                                         options: List[str], recorded: Set[str],
                                         skipped: Set[str]) -> None:
    proc = run_cli(venv, project, ["--backend", backend] + options)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "6 [1]\n", "")
    names = called(project / "trace")
    assert recorded <= names, recorded - names
    assert not skipped & names, skipped & names
    assert not any("recorder" in n for n in names)  # --all: everything but the recorder


def test_the_metadata_says_what_was_skipped_and_by_which_rules(venv: str,
                                                                project: Any) -> None:
    proc = run_cli(venv, project, ["--exclude", "mymod"])
    assert proc.returncode == 0, proc.stderr
    scope = metadata(project / "trace")["scope"]
    rules = [(r["selector"], r["action"], r["source"]) for r in scope["rules"]]
    assert rules[:2] == [("group:stdlib", "skip", "builtin"),
                         ("group:third-party", "skip", "builtin")]
    assert rules[-1] == ("pkg:mymod", "skip", "flags")
    skipped = scope["skipped"]
    # code objects that ran, by top-level package: thirdpkg's module body, work, helper
    assert skipped["functions"]["thirdpkg"] == 3
    assert skipped["groups"]["thirdpkg"] == "third-party"
    assert skipped["functions"]["mymod"] == 2  # its module body and double
    assert skipped["groups"]["mymod"] == "program"
    assert skipped["groups"]["json"] == "stdlib"
    assert not any(p.startswith(("recorder", "_distutils_hack", "_virtualenv"))
                   for p in skipped["functions"])


def test_the_m_target_package_is_recorded_even_when_installed(venv: str, project: Any,
                                                               backend: str) -> None:
    proc = run_cli(venv, project, ["--backend", backend], ["-m", "thirdpkg.tool"])
    assert (proc.returncode, proc.stdout) == (0, "tool 2\n"), proc.stderr
    names = called(project / "trace")
    assert {"<thirdpkg>", "<thirdpkg.tool>", "run_tool", "helper"} <= names
    rule = metadata(project / "trace")["scope"]["rules"][-1]
    assert (rule["action"], rule["source"]) == ("trace", "builtin")
    assert rule["selector"].endswith(os.sep + "thirdpkg")
    # and the user can still say otherwise
    proc = run_cli(venv, project, ["--exclude", "thirdpkg"], ["-m", "thirdpkg.tool"])
    assert proc.returncode == 0, proc.stderr
    assert not {"<thirdpkg>", "run_tool", "helper"} & called(project / "trace")


def test_exec_code_belongs_to_the_module_it_runs_in(venv: str, tmp_path: Any) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent("""\
        import dataclasses, collections
        import thirdpkg.shapes
        exec("def made_by_exec():\\n    return 1\\n")
        made_by_exec()

        @dataclasses.dataclass
        class Mine:
            x: int
        Mine(1)
        thirdpkg.shapes.Box(2)
        Point = collections.namedtuple("Point", "x y")
        Point(1, 2)
        """))
    proc = run_cli(venv, tmp_path, [])
    assert proc.returncode == 0, proc.stderr
    names = calls(tmp_path / "trace")
    # exec'd in the program's globals: the program's; a dataclass's generated __init__
    # belongs to the dataclass's module: recorded for Mine, skipped for the installed
    # package's Box; namedtuple's generated __new__ is the standard library's
    assert "made_by_exec" in names
    assert len([n for n in names if n.endswith("__init__")]) == 1
    assert not [n for n in names if n.endswith("__new__")]
    proc = run_cli(venv, tmp_path, ["--include", "third-party"])
    assert proc.returncode == 0, proc.stderr
    assert len([n for n in calls(tmp_path / "trace") if n.endswith("__init__")]) == 2


EDITABLE_FINDER = """\
import importlib.util, sys

MAPPING = {"finder_proj": %r}


class Finder:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name in MAPPING:
            return importlib.util.spec_from_file_location(
                name, MAPPING[name] + "/__init__.py", submodule_search_locations=[MAPPING[name]])
        return None


def install():
    sys.meta_path.append(Finder)
"""


def test_a_project_installed_with_pip_install_e_is_the_program(venv: str,
                                                                tmp_path: Any) -> None:
    """Both ways pip makes an editable install: a path line in a .pth (src layout), and an
    ``__editable__`` finder; the project's files stay in the project."""
    project = tmp_path / "proj"
    (project / "src" / "pth_proj").mkdir(parents=True)
    (project / "src" / "pth_proj" / "__init__.py").write_text("def from_pth():\n    return 1\n")
    (project / "finder_proj").mkdir()
    (project / "finder_proj" / "__init__.py").write_text("def from_finder():\n    return 2\n")
    site_dir = purelib(venv)
    names = ("__editable__.pth_proj.pth", "__editable___finder_proj_finder.py",
             "__editable__.finder_proj.pth")
    try:
        with open(os.path.join(site_dir, names[0]), "w") as fh:
            fh.write(str(project / "src") + "\n")
        with open(os.path.join(site_dir, names[1]), "w") as fh:
            fh.write(EDITABLE_FINDER % str(project / "finder_proj"))
        with open(os.path.join(site_dir, names[2]), "w") as fh:
            fh.write("import __editable___finder_proj_finder; "
                     "__editable___finder_proj_finder.install()\n")
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        (elsewhere / "app.py").write_text("import pth_proj, finder_proj\n"
                                          "pth_proj.from_pth(); finder_proj.from_finder()\n")
        proc = run_cli(venv, elsewhere, [])
        assert proc.returncode == 0, proc.stderr
        assert {"from_pth", "from_finder", "<pth_proj>", "<finder_proj>"} <= \
            called(elsewhere / "trace")
        # the finder itself is an environment hook: neither recorded nor counted as skipped
        skipped = metadata(elsewhere / "trace")["scope"]["skipped"]["functions"]
        assert not [p for p in skipped if p.startswith("__editable__")]
    finally:
        for name in names:
            os.remove(os.path.join(site_dir, name))


def test_c_code_is_the_program(venv: str, tmp_path: Any) -> None:
    proc = run_cli(venv, tmp_path, [], ["-c", "def f():\n    return 1\nf()\n"])
    assert proc.returncode == 0, proc.stderr
    assert {"<__main__>", "f"} <= called(tmp_path / "trace")


@pytest.mark.parametrize("env, recorded, skipped", [
    ({}, OWN - {"<toplevel>"}, THIRD | {"dumps"}),
    ({"RECORDER_INCLUDE": "third-party"}, OWN - {"<toplevel>"} | THIRD, {"dumps"}),
    ({"RECORDER_EXCLUDE": "mymod"}, {"main", "callback"}, THIRD | {"double"}),
    ({"RECORDER_ALL": "1"}, OWN - {"<toplevel>"} | THIRD | {"dumps"}, set()),
])
def test_the_scope_variables_through_the_auto_start(venv: str, project: Any,
                                                     env: Dict[str, str], recorded: Set[str],
                                                     skipped: Set[str]) -> None:
    proc = subprocess.run([venv, "app.py"], cwd=str(project), capture_output=True, text=True,
                          timeout=120, env=clean_env(RECORDER_TRACE=str(project / "traces"),
                                                     **env))
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "6 [1]\n", "")
    (trace,) = traces(project / "traces").values()
    names = called(trace.out_dir)
    assert recorded <= names, recorded - names
    assert not skipped & names, skipped & names


def test_the_auto_start_passes_the_scope_to_children(venv: str, project: Any) -> None:
    (project / "parent.py").write_text(
        "import subprocess, sys\nsubprocess.run([sys.executable, 'app.py'], check=True)\n")
    proc = subprocess.run([venv, "parent.py"], cwd=str(project), capture_output=True,
                          text=True, timeout=120,
                          env=clean_env(RECORDER_TRACE=str(project / "traces"),
                                        RECORDER_INCLUDE="thirdpkg"))
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    found = traces(project / "traces", count=2)
    (child,) = [t for name, t in found.items() if name.startswith("app-")]
    assert THIRD <= called(child.out_dir)


# -- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("options, env, message", [
    (["--include", "thrid-party"], {},
     "recorder: error: --include 'thrid-party': unknown group (groups: third-party, stdlib, "
     "program, synthetic; a package name has no '-')\n"),
    (["--exclude", "group:vendored"], {},
     "recorder: error: --exclude 'group:vendored': selector 'group:vendored': unknown group "
     "'vendored' (groups: stdlib, third-party, synthetic, program)\n"),
    (["--include", "my app"], {},
     "recorder: error: --include 'my app': not a group (third-party, stdlib, program, "
     "synthetic), a package name or glob, a path or a selector (pkg:, file:, obj:, group:)\n"),
    (["--include", "pkg:regex:(x"], {},
     "recorder: error: --include 'pkg:regex:(x': selector 'pkg:regex:(x': invalid regular "
     "expression: missing ), unterminated subpattern at position 0\n"),
    ([], {"RECORDER_INCLUDE": "third-prty"},
     "recorder: error: RECORDER_INCLUDE 'third-prty': unknown group (groups: third-party, "
     "stdlib, program, synthetic; a package name has no '-')\n"),
    ([], {"RECORDER_ALL": "everything"},
     "recorder: error: RECORDER_ALL='everything' is not a yes/no value (use 1 or 0)\n"),
    ([], {"RECORDER_REPORT": "loud"},
     "recorder: error: RECORDER_REPORT='loud' is not a yes/no value (use 1, 0 or auto)\n"),
])
def test_a_bad_scope_value_is_one_line_status_2_and_nothing_written(
        venv: str, project: Any, options: List[str], env: Dict[str, str],
        message: str) -> None:
    (project / "app.py").write_text("open('ran', 'w').close()\n")
    proc = run_cli(venv, project, options, **env)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", message)
    assert sorted(os.listdir(str(project))) == ["app.py", "mymod.py"]  # no trace, no run


def test_a_bad_scope_variable_never_stops_an_auto_started_program(venv: str,
                                                                  project: Any) -> None:
    proc = subprocess.run([venv, "app.py"], cwd=str(project), capture_output=True, text=True,
                          timeout=120, env=clean_env(RECORDER_TRACE=str(project / "traces"),
                                                     RECORDER_EXCLUDE="no such"))
    assert (proc.returncode, proc.stdout) == (0, "6 [1]\n")
    assert proc.stderr == ("recorder: warning: not recording: RECORDER_EXCLUDE 'no such': not "
                           "a group (third-party, stdlib, program, synthetic), a package name "
                           "or glob, a path or a selector (pkg:, file:, obj:, group:)\n")
    assert not (project / "traces").exists()


def test_the_api_takes_the_scope_options(tmp_path: Any, monkeypatch: Any) -> None:
    import recorder
    from recorder.config import Config
    from recorder.events import Kind

    site = tmp_path / "site-packages"
    (site / "apipkg").mkdir(parents=True)
    (site / "apipkg" / "__init__.py").write_text("def api_helper():\n    return 1\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "apipkg", raising=False)
    import apipkg  # noqa: F401  (imported before recording: only the call is decided)

    def names(**options: Any) -> Set[str]:
        seen: List[str] = []
        with recorder.recording(lambda e: seen.append(e.code.name)
                                if e.kind is Kind.CALL else None, **options):
            apipkg.api_helper()
        return set(seen)
    assert "api_helper" not in names()
    assert "api_helper" in names(include=["third-party"])
    assert "api_helper" in names(include="apipkg")
    assert "api_helper" in names(record_all=True)
    assert "api_helper" not in names(record_all=True, exclude=["apipkg"])
    with pytest.raises(recorder.ConfigError, match="include 'third party'"):
        recorder.install(print, include=["third party"])
    # the auto-start's children get the same scope back
    config = Config(include=["third-party", "a.*"], exclude=["b"], record_all=True,
                    report=True)
    assert Config.from_env(config.to_env()) == config
