"""Recording again into the same ``-o`` directory: what the earlier recording wrote there
(its ``imports.jsonl``, its ``files/`` source copies, its thread files) is gone, and
nothing else in the directory is touched (docs/trace-format.md)."""
from __future__ import annotations

import os
from typing import Any, List

from recorder.formats.reader import read_trace_dir
from test_autostart import assert_balanced
from test_cli import run_plain, run_recorded


def tree(root: Any) -> List[str]:
    found = []
    for folder, _dirs, files in os.walk(str(root)):
        found += [os.path.relpath(os.path.join(folder, name), str(root)) for name in files]
    return sorted(found)


def copies(out: Any) -> List[str]:
    return sorted(os.path.basename(p) for p in tree(out / "files"))


def test_a_second_recording_leaves_nothing_of_the_first(tmp_path: Any) -> None:
    (tmp_path / "helper.py").write_text("def f():\n    return 1\n")
    (tmp_path / "first.py").write_text(
        "import threading, helper\n"
        "t = threading.Thread(target=helper.f)\nt.start()\nt.join()\n")
    (tmp_path / "second.py").write_text("print('second')\n")
    out = tmp_path / "trace-out"
    first = run_recorded(tmp_path, ["first.py"])
    assert first.returncode == 0, first.stderr
    assert copies(out) == ["first.py", "helper.py"]
    assert (out / "imports.jsonl").exists() and (out / "threads").is_dir()
    (out / "notes.txt").write_text("mine")  # not ours: stays
    (out / "analysis").mkdir()
    (out / "analysis" / "plot.png").write_text("mine")

    plain = run_plain(tmp_path, ["second.py"])
    second = run_recorded(tmp_path, ["second.py"])
    assert (second.returncode, second.stdout, second.stderr) == (
        plain.returncode, plain.stdout, plain.stderr)
    trace = read_trace_dir(str(out))
    assert_balanced(trace)
    assert trace.metadata["imports"] == {"file": None, "count": 0}
    assert trace.threads == {}
    assert tree(out) == ["analysis/plot.png", "files/" + os.path.relpath(
        str(tmp_path / "second.py"), "/"), "notes.txt", "trace.json", "trace_metadata.json",
        "trace_paths.json", "trace_times.bin"]


def test_a_files_directory_without_an_earlier_trace_is_not_ours(tmp_path: Any) -> None:
    """``-o .`` in a project with a ``files/`` folder of its own: nothing of it is deleted
    (only a ``files/`` beside an earlier trace holds our copies)."""
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "data.txt").write_text("the user's")
    (tmp_path / "app.py").write_text("print('hi')\n")
    done = run_recorded(tmp_path, ["app.py"], options=("-o", "."))
    assert (done.returncode, done.stdout) == (0, "hi\n"), done.stderr
    assert (tmp_path / "files" / "data.txt").read_text() == "the user's"
