"""What trace_metadata.json and trace_paths.json promise for a CLI run (docs/trace-format.md)
and what the README says the first command writes."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any, Dict, List

from conftest import RECORDER_DIR, write_tree

ROOT = os.path.dirname(RECORDER_DIR)


def _env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("RECORDER_") and k != "RECORDER_BACKEND")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    return env


def record(cwd: Any, args: List[str]) -> "subprocess.CompletedProcess[str]":
    proc = subprocess.run([sys.executable, "-m", "recorder", "-o", "trace"] + args,
                          cwd=str(cwd), capture_output=True, text=True, env=_env(),
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc


def load(out_dir: Any, name: str) -> Any:
    with open(os.path.join(str(out_dir), name)) as fh:
        return json.load(fh)


def test_a_script_run_says_its_absolute_program_process_and_bounds(tmp_path: Any) -> None:
    write_tree(tmp_path, {"sub/app.py": "print('hi')\n"})
    proc = subprocess.Popen([sys.executable, "-m", "recorder", "-o", "trace", "sub/app.py"],
                            cwd=str(tmp_path), stdout=subprocess.PIPE, env=_env())
    assert proc.communicate(timeout=60)[0] == b"hi\n"
    meta = load(tmp_path / "trace", "trace_metadata.json")
    assert meta["program"] == str(tmp_path / "sub" / "app.py")
    assert meta["args"] == ["sub/app.py"]
    assert meta["process"] == {"pid": proc.pid, "ppid": os.getpid(), "started_by": "cli",
                               "trace_root": None}
    assert meta["parent"] is None
    assert meta["values"]["max_types"] == 1024
    assert load(tmp_path / "trace", "trace_paths.json")[0] == str(tmp_path / "sub" / "app.py")


def test_under_m_the_toplevel_path_is_the_module_file(tmp_path: Any) -> None:
    write_tree(tmp_path, {"pkg/__init__.py": "", "pkg/mod.py": "print('mod')\n",
                          "pkg/__main__.py": "print('main')\n"})
    for target, path in (("pkg.mod", "pkg/mod.py"), ("pkg", "pkg/__main__.py")):
        record(tmp_path, ["-m", target])
        paths = load(tmp_path / "trace", "trace_paths.json")
        assert paths[0] == str(tmp_path / path)
        assert os.path.isfile(paths[0])
        assert load(tmp_path / "trace", "trace_metadata.json")["program"] == "-m " + target


def test_the_readme_names_the_files_its_first_command_writes(tmp_path: Any) -> None:
    with open(os.path.join(ROOT, "README.md")) as fh:
        readme = fh.read()
    command = re.search(r"python3 -m recorder (docs/examples/\S+) (\S+)", readme)
    assert command
    record(tmp_path, [os.path.join(ROOT, command.group(1)), command.group(2)])
    promised = re.search(r"Install, then record.*?\n\n", readme, re.S).group(0)
    always = re.search(r"\(a CodeTracer trace directory:\s+(.*?)[;)]", promised, re.S).group(1)
    names = set(re.findall(r"`([^`]+)`", always))
    written = {n + "/" if os.path.isdir(str(tmp_path / "trace" / n)) else n
               for n in os.listdir(str(tmp_path / "trace"))}
    assert names == written
