"""The trace views through the real CLI: ``python -m recorder summary|calls|values|export|view``
on a trace recorded by ``python -m recorder`` (the interpreter and backend running the
tests), on a killed one, on a repaired one, and on bad input (docs/inspect.md)."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from typing import Any, Dict, List, Tuple

import pytest

from test_cli import _env

APP = textwrap.dedent("""\
    import threading
    import shapes


    class Odd(Exception):
        pass


    def accumulate(n):
        total = 0
        for i in range(n):
            total += i
        return total


    def check(i):
        if i % 2:
            raise Odd("odd %d" % i)
        return i


    def catches(n):
        caught = 0
        for i in range(n):
            try:
                check(i)
            except Odd:
                caught += 1
        return caught


    def fail():
        raise ValueError("boom")


    def worker(label):
        return accumulate(3)


    def main():
        t = threading.Thread(target=worker, args=("w",), name="helper")
        t.start()
        t.join()
        box = shapes.Box(2, 3)
        a = accumulate(4)
        c = catches(3)
        try:
            fail()
        except ValueError:
            pass
        print(a, c, box.area())


    main()
""")
SHAPES = textwrap.dedent("""\
    class Box:
        def __init__(self, w, h):
            self.w = w
            self.h = h

        def area(self):
            return self.w * self.h
""")
#: lines of APP
LINE_TOTAL_SET, LINE_TOTAL_ADD, LINE_CHECK, LINE_CHECK_RAISE = 10, 12, 16, 18


def rec(cwd: Any, *args: str, timeout: float = 120) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([sys.executable, "-m", "recorder", *args], cwd=str(cwd),
                          capture_output=True, text=True, env=_env(), timeout=timeout)


@pytest.fixture(scope="module")
def traced(tmp_path_factory: Any) -> Any:
    """A directory holding app.py and its trace, ``trace-out`` (recorded once)."""
    root = tmp_path_factory.mktemp("inspect")
    (root / "app.py").write_text(APP)
    (root / "shapes.py").write_text(SHAPES)
    done = rec(root, "app.py")
    assert (done.returncode, done.stdout, done.stderr) == (0, "6 1 6\n", "")
    return root


def ok(proc: "subprocess.CompletedProcess[str]") -> str:
    assert proc.stderr == "" and proc.returncode == 0, (proc.returncode, proc.stderr)
    return proc.stdout


# -- summary ------------------------------------------------------------------------------------

def test_summary_reports_the_run_functions_exceptions_and_imports(traced):
    text = ok(rec(traced, "summary", "trace-out"))
    assert "Program    app.py" in text
    assert "Complete   yes" in text
    assert "exit status 0" in text
    assert "Time       per call and return" in text
    assert "2 helper" in text  # the thread, by serial and name
    lines = text.splitlines()
    calls = lines.index([line for line in lines if line.startswith("Top functions by calls")][0])
    table = lines[calls + 2:calls + 9]
    row = [line for line in table if " check " in line][0]
    assert row.split()[0] == "3" and row.endswith("app.py:%d" % LINE_CHECK)
    assert [line for line in table if " accumulate " in line][0].split()[0] == "2"
    odd = [line for line in lines if "odd 1" in line][0]
    assert "app.py:%d" % LINE_CHECK_RAISE in odd and "check" in odd and "odd 1" in odd
    assert any(" ValueError " in line and "fail" in line for line in lines)
    packages = lines.index("  by top-level package (own: its modules alone; cumulative: "
                           "with what they imported)")
    assert lines[packages + 2].split()[-1] == "shapes"


def test_summary_json_has_the_same_facts_for_tools(traced):
    data = json.loads(ok(rec(traced, "summary", "trace-out", "--json")))
    assert data["complete"] is True and data["exit_status"] == "0" and data["timed"] is True
    by_name = {f["function"]: f for f in data["functions"]["by_calls"]}
    assert by_name["check"]["calls"] == 3 and by_name["check"]["exceptions"] == 1
    assert by_name["accumulate"]["calls"] == 2
    assert by_name["Box.__init__"]["where"] == "shapes.py:2"
    assert all(f["own_time"] >= 0 and f["total_time"] >= f["own_time"] - 1e-9
               for f in data["functions"]["by_time"])
    raised = {e["function"]: e for e in data["exceptions"]}
    assert raised["check"]["exception"].endswith("Odd") and raised["check"]["count"] == 1
    assert raised["fail"]["exception"] == "ValueError"
    assert [t["name"] for t in data["files"]] == ["MainThread", "helper"]
    assert sum(f["records"] for f in data["files"]) == data["records"]
    assert data["records"] == _count_records(traced / "trace-out")
    packages = {p["name"]: p for p in data["imports"]["packages"]}
    assert packages["shapes"]["modules"] == 1
    assert packages["shapes"]["cumulative"] >= packages["shapes"]["self"] >= 0
    assert {d["name"] for d in data["imports"]["distributions"]} >= {"(not installed)"}
    assert data["scope"]["code_objects_skipped"] > 0


def test_without_time_stamps_functions_are_ranked_by_calls(tmp_path):
    from test_timing import record_untimed

    record_untimed(tmp_path / "trace-out")
    summary = json.loads(ok(rec(tmp_path, "summary", "trace-out", "--json")))
    assert summary["timed"] is False and summary["functions"]["by_time"] is None
    assert "Time       none recorded: functions are ranked by calls" in ok(
        rec(tmp_path, "summary", "trace-out"))
    calls = ok(rec(tmp_path, "calls", "trace-out"))
    assert "<lambda>(v=3) -> -3\n" in calls and "us]" not in calls


def _count_records(out: Any) -> int:
    total = 0
    for path in [out / "trace.json"] + sorted((out / "threads").glob("trace-*.json")):
        with open(str(path)) as fh:
            total += sum(1 for line in fh if line.startswith("{"))
    return total


# -- calls --------------------------------------------------------------------------------------

def tree(text: str) -> List[str]:
    """The lines of ``calls`` without the file:line column and without durations. The
    column's width is the same for a whole file, and the first line of each file's output is
    not indented."""
    out = []
    start = None
    for line in text.splitlines():
        if line.startswith(("==", "...", "(the file ends")):
            start = None
            continue
        if start is None:
            start = re.match(r"\S+ +", line).end()  # type: ignore[union-attr]
        line = line[start:]
        out.append(line.rsplit("  [", 1)[0] if line.endswith("]") else line)
    return out


def test_calls_shows_the_tree_with_arguments_and_outcomes(traced):
    text = ok(rec(traced, "calls", "trace-out"))
    lines = tree(text)
    assert "== thread 1 (MainThread): trace-out/trace.json ==" in text
    assert "== thread 2 (helper): trace-out/threads/trace-2.json ==" in text
    start = lines.index("    main()")
    box = lines[start + 1]
    assert box.startswith("      Box.__init__(self=<shapes.Box object at ")
    assert box.endswith(">, w=2, h=3) -> None")
    self_repr = box[box.index("(self=") + 6:box.index(", w=2")]
    assert lines[start + 2:start + 14] == [
        "      accumulate(n=4) -> 6",
        "      catches(n=3)",
        "        check(i=0) -> 0",
        "        check(i=1)",
        "          ! Odd: odd 1",
        "        check !! Odd: odd 1",
        "        check(i=2) -> 2",
        "      catches -> 1",
        "      fail()",
        "        ! ValueError: boom",
        "      fail !! ValueError: boom",
        "      Box.area(self=%s) -> 6" % self_repr]
    assert lines[start + 14:start + 17] == ["    main -> None", "  <__main__> -> None",
                                            "<toplevel> -> 0"]
    assert lines[-5:] == ["<toplevel>()", "  worker(label='w')", "    accumulate(n=3) -> 3",
                          "  worker -> 3", "<toplevel> -> None"]
    durations = [line for line in text.splitlines() if " -> " in line or " !! " in line]
    assert all(line.endswith(("us]", "ms]", " s]")) for line in durations)


def test_calls_filters_by_function_depth_thread_and_limit(traced):
    lines = tree(ok(rec(traced, "calls", "trace-out", "--function", "catches")))
    assert lines[0] == "catches(n=3)" and lines[-1] == "catches -> 1" and len(lines) == 7
    shallow = tree(ok(rec(traced, "calls", "trace-out", "--function", "catches",
                          "--depth", "1")))
    assert shallow == ["catches(n=3) -> 1"]
    thread = ok(rec(traced, "calls", "trace-out", "--thread", "2"))
    assert tree(thread) == ["<toplevel>()", "  worker(label='w')", "    accumulate(n=3) -> 3",
                            "  worker -> 3", "<toplevel> -> None"]
    assert "== thread" not in thread
    limited = ok(rec(traced, "calls", "trace-out", "--limit", "3")).splitlines()
    assert len(limited) == 5  # a thread header, 3 lines, the note
    assert limited[-1] == "... (stopped after 3 lines: --limit)"
    glob = tree(ok(rec(traced, "calls", "trace-out", "--function", "Box.*", "--depth", "1")))
    assert [line.split("(")[0] for line in glob] == ["Box.__init__", "Box.area"]
    top = tree(ok(rec(traced, "calls", "trace-out", "--depth", "2", "--thread", "1")))
    assert top == ["<toplevel>()", "  <__main__>() -> None", "<toplevel> -> 0"]


# -- values -------------------------------------------------------------------------------------

def _history(text: str) -> List[Tuple[str, ...]]:
    rows = []
    for line in text.splitlines():
        if line.startswith(("==", "where")):
            continue
        where, depth, function, call, value = line.split(None, 4)
        rows.append((where, depth, function, value))
    return rows


def test_values_is_the_history_of_a_variable(traced):
    text = ok(rec(traced, "values", "trace-out", "total"))
    rows = _history(text)
    main = [r for r in rows if r[2] == "accumulate"][:4]
    assert [(r[0], r[3]) for r in main] == [
        ("app.py:%d" % LINE_TOTAL_SET, "0"), ("app.py:%d" % LINE_TOTAL_ADD, "1"),
        ("app.py:%d" % LINE_TOTAL_ADD, "3"), ("app.py:%d" % LINE_TOTAL_ADD, "6")]
    assert len(rows) == 7  # and the thread's accumulate(3): 0, 1, 3
    assert [r[3] for r in rows[4:]] == ["0", "1", "3"]
    assert "== thread 2 (helper)" in text
    depth = {r[1] for r in main}
    assert depth == {"3"}  # under <toplevel> (0), <__main__>, main


def test_values_shows_arguments_and_filters_by_function(traced):
    rows = _history(ok(rec(traced, "values", "trace-out", "i", "--function", "check")))
    where = "app.py:%d" % LINE_CHECK
    assert [(r[0], r[2], r[3]) for r in rows] == [
        (where, "check", "0  [argument]"), (where, "check", "1  [argument]"),
        (where, "check", "2  [argument]")]
    loop = _history(ok(rec(traced, "values", "trace-out", "i", "--function", "catches",
                           "--thread", "1")))
    assert [r[3] for r in loop] == ["0", "1", "2"]


# -- export -------------------------------------------------------------------------------------

#: required fields of the trace-event format, per phase
REQUIRED = {"B": ("name", "ts", "pid", "tid"), "E": ("ts", "pid", "tid"),
            "X": ("name", "ts", "dur", "pid", "tid"), "i": ("name", "ts", "pid", "tid", "s"),
            "M": ("name", "pid", "args")}


def validate_chrome(doc: Dict[str, Any]) -> Dict[str, List[Dict[str, Any]]]:
    """Check every event of a Chrome trace-event JSON object; returns them by phase."""
    assert isinstance(doc, dict) and isinstance(doc["traceEvents"], list)
    by_phase: Dict[str, List[Dict[str, Any]]] = {}
    open_slices: Dict[Tuple[Any, Any], List[Dict[str, Any]]] = {}
    last_ts: Dict[Tuple[Any, Any], float] = {}
    for event in doc["traceEvents"]:
        ph = event.get("ph")
        assert ph in REQUIRED, event
        for name in REQUIRED[ph]:
            assert name in event, (name, event)
        assert isinstance(event["pid"], int) and isinstance(event.get("tid", 0), int), event
        if "ts" in event:
            assert isinstance(event["ts"], (int, float)) and event["ts"] >= 0, event
        if ph == "X":
            assert event["dur"] >= 0, event
        if ph == "i":
            assert event["s"] in ("g", "p", "t"), event
        if ph == "M":
            assert event["name"] in ("process_name", "thread_name", "process_sort_index",
                                     "thread_sort_index"), event
        track = (event["pid"], event.get("tid"))
        if ph in ("B", "E"):
            assert event["ts"] >= last_ts.get(track, 0), event  # in order on its track
            last_ts[track] = event["ts"]
            stack = open_slices.setdefault(track, [])
            if ph == "B":
                stack.append(event)
            else:
                assert stack, "E without B: %r" % event
                assert stack.pop()["name"] == event["name"], event
        by_phase.setdefault(ph, []).append(event)
    assert all(not s for s in open_slices.values()), "slices left open"
    return by_phase


def test_export_chrome_is_valid_trace_event_json(traced, tmp_path):
    out = tmp_path / "out.json"
    text = ok(rec(traced, "export", "trace-out", "--format", "chrome", "-o", str(out)))
    assert text.startswith("wrote %s: " % out)
    doc = json.loads(out.read_text())
    phases = validate_chrome(doc)
    calls = [e for e in phases["B"]]
    assert [e["args"] for e in calls if e["name"] == "accumulate"][0]["n"] == "4"
    ends = [e for e in phases["E"] if e["name"] == "fail"]
    assert ends[0]["args"] == {"exception": "ValueError: boom"}
    names = {(e["name"], e["args"]["name"]) for e in phases["M"] if e["name"] != "process_sort_index"}
    assert ("thread_name", "MainThread") in names and ("thread_name", "helper") in names
    assert any(n == "process_name" and v.startswith("app.py") for n, v in names)
    tids = {e["tid"] for e in calls}
    assert tids == {1, 2}  # a track per thread
    assert {e["name"] for e in phases["i"]} >= {"ValueError"}
    assert any(e["name"].endswith("Odd") for e in phases["i"])
    imports = [e for e in phases["X"] if e["cat"] == "import"]
    assert [e["args"]["module"] for e in imports] == ["shapes"]
    assert doc["otherData"]["time"].startswith("recorded")


def test_export_includes_the_child_processes_of_an_auto_start_run(tmp_path):
    from test_autostart import make_venv, run, traces

    python = make_venv(str(tmp_path / "venv"))
    (tmp_path / "child.py").write_text("def hello():\n    return 'hi'\n\nprint(hello())\n")
    done = run(python, tmp_path, """\
        import subprocess, sys
        def spawn():
            return subprocess.run([sys.executable, "child.py"]).returncode
        spawn()
    """, name="parent.py", RECORDER_TRACE=str(tmp_path / "run"))
    assert (done.returncode, done.stdout, done.stderr) == (0, "hi\n", "")
    assert len(traces(tmp_path / "run", count=2)) == 2
    dirs = sorted(p.name for p in (tmp_path / "run").iterdir())
    parent = [d for d in dirs if d.startswith("parent-")][0]
    out = tmp_path / "run.json"
    ok(rec(tmp_path, "export", "run/" + parent, "-o", str(out)))
    phases = validate_chrome(json.loads(out.read_text()))
    processes = {e["args"]["name"].split(" ")[0] for e in phases["M"]
                 if e["name"] == "process_name"}
    assert processes == {"parent.py", "child.py"}
    assert len({e["pid"] for e in phases["B"]}) == 2
    summary = ok(rec(tmp_path, "summary", "run/" + parent))
    assert "Children   1: pid " in summary and "child.py" in summary
    root = ok(rec(tmp_path, "summary", "run"))
    assert root.startswith("Run        run: 2 processes")


# -- view ---------------------------------------------------------------------------------------

def test_view_is_one_self_contained_page(traced, tmp_path):
    out = tmp_path / "view.html"
    text = ok(rec(traced, "view", "trace-out", "-o", str(out)))
    assert text.startswith("wrote %s (" % out)
    html = out.read_text()
    assert "<script src" not in html and "<link" not in html
    assert "http://" not in html and "https://" not in html
    start = html.index('<script type="application/json" id="data">') + len(
        '<script type="application/json" id="data">')
    data = json.loads(html[start:html.index("</script>", start)])
    tree, functions = data["tree"], data["functions"]
    counts: Dict[str, int] = {}
    for node, fid in enumerate(tree["fn"]):
        counts[functions[fid][0]] = counts.get(functions[fid][0], 0) + tree["count"][node]
    assert counts["check"] == 3 and counts["accumulate"] == 2 and counts["main"] == 1
    assert [row[4] for row in data["history"]["total"]] == ["0", "1", "3", "6", "0", "1", "3"]
    assert data["changes"]["total"] == 7
    assert data["timed"] is True


# -- killed, repaired -------------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX only")
def test_every_command_reads_a_killed_trace_and_the_repaired_one(tmp_path):
    from test_cli_kill import start_busy

    proc = start_busy(tmp_path)
    import time
    time.sleep(0.7)  # past the writer's time-based flush
    proc.kill()
    proc.wait(30)
    summary = ok(rec(tmp_path, "summary", "trace-out"))
    assert "Complete   no: the recording process was killed or is still running" in summary
    assert "'python -m recorder repair trace-out' finishes it" in summary
    counted = json.loads(ok(rec(tmp_path, "summary", "trace-out", "--json")))
    calls = {f["function"]: f["calls"] for f in counted["functions"]["by_calls"]}
    assert calls["<toplevel>"] == calls["<__main__>"] == 1  # still open: counted all the same
    assert counted["open_calls"] >= 2
    calls = ok(rec(tmp_path, "calls", "trace-out"))
    assert calls.splitlines()[-1].startswith("(the file ends here: ")
    assert "step(i=0) -> 0" in calls
    history = ok(rec(tmp_path, "values", "trace-out", "i", "--function", "step",
                     "--limit", "2"))
    assert _history(history.split("...")[0]) == [("busy.py:3", "2", "step", "0  [argument]"),
                                                 ("busy.py:3", "2", "step", "1  [argument]")]
    out = tmp_path / "killed.json"
    ok(rec(tmp_path, "export", "trace-out", "-o", str(out)))
    validate_chrome(json.loads(out.read_text()))
    ok(rec(tmp_path, "view", "trace-out", "-o", str(tmp_path / "killed.html")))

    repaired = ok(rec(tmp_path, "repair", "trace-out"))
    assert repaired.startswith("trace.json: finished (")
    summary = ok(rec(tmp_path, "summary", "trace-out"))
    assert "Complete   no, repaired: the process was killed; " in summary
    calls = ok(rec(tmp_path, "calls", "trace-out"))
    assert tree(calls)[-1] == "<toplevel> -> <detached>"
    ok(rec(tmp_path, "export", "trace-out", "-o", str(out)))
    validate_chrome(json.loads(out.read_text()))
    ok(rec(tmp_path, "view", "trace-out", "-o", str(tmp_path / "repaired.html")))


# -- bad input ----------------------------------------------------------------------------------

def _bad(cwd: Any, *args: str) -> str:
    proc = rec(cwd, *args)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("recorder: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0][len("recorder: error: "):]


@pytest.mark.parametrize("command", [["summary"], ["calls"], ["values", "x"],
                                     ["export", "-o", "out.json"], ["view", "-o", "v.html"]])
def test_bad_directories_are_one_line_and_status_2(tmp_path, command):
    name, rest = command[0], command[1:]
    (tmp_path / "plain").mkdir()
    (tmp_path / "afile").write_text("x")
    assert _bad(tmp_path, name, "nowhere", *rest) == "nowhere: no such directory"
    assert _bad(tmp_path, name, "plain", *rest) == ("plain is not a trace directory (no "
                                                     "trace.json)")
    assert _bad(tmp_path, name, "afile", *rest).startswith("afile is not a directory")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "trace.json").write_text("")
    assert _bad(tmp_path, name, "empty", *rest) == "empty/trace.json is empty: not a trace"
    (tmp_path / "notjson").mkdir()
    (tmp_path / "notjson" / "trace.json").write_text("hello\n")
    assert _bad(tmp_path, name, "notjson", *rest) == ("notjson/trace.json is not a trace "
                                                      "(not a JSON array)")
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "v.html").exists()


@pytest.mark.parametrize("command", [["summary"], ["calls"], ["values", "total"],
                                     ["export", "-o", "out.json"], ["view", "-o", "v.html"]])
def test_a_trace_cut_inside_a_record_is_bad_input(traced, tmp_path, command):
    shutil.copytree(str(traced / "trace-out"), str(tmp_path / "cut"))
    data = (tmp_path / "cut" / "trace.json").read_bytes()
    (tmp_path / "cut" / "trace.json").write_bytes(data[:len(data) // 2 - 7])
    message = _bad(tmp_path, command[0], "cut", *command[1:])
    assert message == ("cut/trace.json is truncated: the recording finished "
                       "(trace_metadata.json says complete) but the file stops in the middle "
                       "of a record; 'python -m recorder repair cut' keeps its whole records")


@pytest.mark.parametrize("command", [["summary"], ["calls"], ["values", "total"],
                                     ["export", "-o", "out.json"], ["view", "-o", "v.html"]])
def test_a_damaged_record_is_bad_input(traced, tmp_path, command):
    shutil.copytree(str(traced / "trace-out"), str(tmp_path / "bad"))
    lines = (tmp_path / "bad" / "trace.json").read_text().split("\n")
    number = [n for n, line in enumerate(lines) if line.startswith('{"Step"')][3]
    lines[number] = '{"Step":{"path_id":0,"line":},'
    (tmp_path / "bad" / "trace.json").write_text("\n".join(lines))
    message = _bad(tmp_path, command[0], "bad", *command[1:])
    assert message.startswith("bad/trace.json: record %d is not a valid trace record "
                              "(JSONDecodeError: " % number)


def test_a_record_cut_by_a_kill_is_left_out(traced, tmp_path):
    # a kill in the middle of a write: the metadata says the recording did not finish
    shutil.copytree(str(traced / "trace-out"), str(tmp_path / "killed"))
    meta = json.loads((tmp_path / "killed" / "trace_metadata.json").read_text())
    meta["complete"] = False
    (tmp_path / "killed" / "trace_metadata.json").write_text(json.dumps(meta))
    data = (tmp_path / "killed" / "trace.json").read_bytes()
    cut = data.index(b'{"Call"', len(data) // 2) + 12  # inside a Call record
    (tmp_path / "killed" / "trace.json").write_bytes(data[:cut])
    whole = data[:cut].count(b"\n{") - 1  # the cut record starts a line too
    summary = json.loads(ok(rec(tmp_path, "summary", "killed", "--json")))
    assert summary["complete"] is False
    assert summary["files"][0]["records"] == whole
    assert summary["files"][0]["complete"] is False
    for command in (["calls"], ["values", "total"], ["export", "-o", "k.json"],
                    ["view", "-o", "k.html"]):
        ok(rec(tmp_path, command[0], "killed", *command[1:]))


def test_unknown_names_are_one_line_and_status_2(traced):
    assert _bad(traced, "values", "trace-out", "nosuch") == (
        "values: no variable named 'nosuch' in trace-out (variables: a, box, c, caught, h, "
        "i, label, n, self, t, total, w)")
    assert _bad(traced, "values", "trace-out", "total", "--function", "nope*").startswith(
        "values: no function matches 'nope*' in trace-out (functions: ")
    assert _bad(traced, "calls", "trace-out", "--function", "nope") == (
        "calls: no function matches 'nope' in trace-out")
    assert _bad(traced, "calls", "trace-out", "--thread", "9") == (
        "trace-out has no thread 9 (threads: 1, 2)")
    assert _bad(traced, "calls", "trace-out", "--depth", "0") == (
        "calls: --depth must be 1 or more, not 0")
    assert _bad(traced, "export", "trace-out", "--format", "svg", "-o", "x").startswith(
        "export: argument --format: invalid choice: 'svg'")
    assert _bad(traced, "summary").startswith("summary: the following arguments are "
                                              "required: DIR")


# -- the command line's rule --------------------------------------------------------------------

def test_a_script_named_like_a_command_runs_as_a_path_or_after_dashes(tmp_path):
    (tmp_path / "summary").write_text("import sys\nprint('the script ran', sys.argv[1:])\n")
    assert ok(rec(tmp_path, "./summary", "x")) == "the script ran ['x']\n"
    assert ok(rec(tmp_path, "--", "summary", "x")) == "the script ran ['x']\n"
    assert (tmp_path / "trace-out" / "trace.json").is_file()
    # first, it is the command
    assert _bad(tmp_path, "summary", "x") == "x: no such directory"


def test_repair_command_is_the_repair_option(tmp_path):
    assert _bad(tmp_path, "repair", "nowhere") == (
        "repair: nowhere is not a trace directory (no trace.json)")
