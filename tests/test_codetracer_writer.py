"""The CodeTracer trace directory writer, driven by hand-made event sequences."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from types import FrameType
from typing import Any, Dict, List, Optional, Tuple

import pytest

from recorder.events import CodeInfo, Kind, ThreadInfo
from recorder.formats import CodeTracerWriter, TraceDirError, check_balance, read_trace_dir
from recorder.formats.reader import EventReader, read_events, repair_trace

MAIN_IDENT = threading.main_thread().ident
HERE = os.path.abspath(__file__)


def strict_load(path: str) -> Any:
    def bad(token: str) -> Any:
        raise ValueError(token)
    with open(path, encoding="utf-8") as fh:
        return json.load(fh, parse_constant=bad)


def code(filename: str, line: int, label: str, kind: str = "function") -> CodeInfo:
    name = label.rsplit(".", 1)[-1]
    return CodeInfo(filename, line, name, label, label, "m", kind, kind == "generator")


def main_thread(serial: int = 1) -> ThreadInfo:
    return ThreadInfo(serial, MAIN_IDENT, "MainThread")  # type: ignore[arg-type]


def a_frame(a: Any = 1, b: Any = "two", *rest: Any, **kw: Any) -> FrameType:
    local = [1, 2, 3]  # noqa: F841
    return sys._getframe()


class Driver:
    """Emits events like the normaliser would (depth bookkeeping included)."""

    def __init__(self, writer: CodeTracerWriter, thread: Optional[ThreadInfo] = None) -> None:
        self.w = writer
        self.t = thread or main_thread()
        self.depth = 0
        self.w.emit(Kind.THREAD_START, self.t, None, None, self.t, 0, None)

    def call(self, c: CodeInfo, frame: Optional[FrameType] = None) -> None:
        self.depth += 1
        self.w.emit(Kind.CALL, self.t, c, c.firstlineno, None, self.depth, frame)

    def resume(self, c: CodeInfo, line: int, frame: Optional[FrameType] = None) -> None:
        self.depth += 1
        self.w.emit(Kind.RESUME, self.t, c, line, None, self.depth, frame)

    def attach(self, c: CodeInfo, line: int, frame: Optional[FrameType] = None) -> None:
        self.depth += 1
        self.w.emit(Kind.ATTACH, self.t, c, line, None, self.depth, frame)

    def line(self, c: CodeInfo, line: int, frame: Optional[FrameType] = None) -> None:
        self.w.emit(Kind.LINE, self.t, c, line, None, self.depth, frame)

    def ret(self, c: CodeInfo, value: Any = None, kind: Kind = Kind.RETURN) -> None:
        self.w.emit(kind, self.t, c, None, value, self.depth, None)
        self.depth -= 1

    def raise_(self, c: CodeInfo, line: int, exc: BaseException) -> None:
        self.w.emit(Kind.RAISE, self.t, c, line, exc, self.depth, None)

    def unwind(self, c: CodeInfo, exc: BaseException) -> None:
        self.ret(c, exc, Kind.UNWIND)

    def detach(self, c: CodeInfo) -> None:
        self.ret(c, None, Kind.DETACH)

    def end(self) -> None:
        self.w.emit(Kind.THREAD_END, self.t, None, None, self.t, 0, None)


def load(out: str) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    events = strict_load(os.path.join(out, "trace.json"))
    b = check_balance(events)
    assert b.ok, b.problems
    return events, strict_load(os.path.join(out, "trace_metadata.json"))


def kinds(events: List[Dict[str, Any]]) -> List[str]:
    return [next(iter(e)) for e in events]


def body(events: List[Dict[str, Any]], kind: str) -> List[Any]:
    return [e[kind] for e in events if kind in e]


def types_of(events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return body(events, "Type")


def names(events: List[Dict[str, Any]]) -> List[str]:
    return body(events, "VariableName")


@pytest.fixture
def out(tmp_path: Any) -> str:
    return str(tmp_path / "trace-out")


# -- the basic shape -----------------------------------------------------------------------

def test_header_ordering_and_exit_status(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE, args=["prog", "x"], backend="settrace")
    d = Driver(w)
    mod = code(HERE, 1, "<__main__>", "module")
    fn = code(HERE, 40, "a_frame")
    d.call(mod)
    d.line(mod, 3)
    d.call(fn, a_frame())
    d.line(fn, 42)
    d.ret(fn, 7)
    d.ret(mod)
    d.end()
    w.close(3)
    events, meta = load(out)
    assert kinds(events)[:4] == ["Path", "Function", "Call", "Type"]
    assert events[0] == {"Path": HERE}
    assert events[1] == {"Function": {"path_id": 0, "line": 1, "name": "<toplevel>"}}
    assert events[2] == {"Call": {"function_id": 0, "args": []}}
    assert events[3]["Type"] == {"kind": 30, "lang_type": "None", "specific_info": {"kind": "None"}}
    # every non-toplevel Call is preceded by a Step at its function's line (check_balance)
    calls = body(events, "Call")
    funcs = body(events, "Function")
    assert [funcs[c["function_id"]]["name"] for c in calls] == ["<toplevel>", "<__main__>",
                                                               "a_frame"]
    assert [a["variable_id"] for a in calls[2]["args"]] == [names(events).index(n)
                                                          for n in ("a", "b", "rest", "kw")]
    last = events[-1]["Return"]["return_value"]
    assert last["kind"] == "Int" and last["i"] == 3
    assert body(events, "Return")[0]["return_value"]["i"] == 7
    assert meta["process_exit_status"] == {"code": 3, "label": None}
    assert meta["program"] == HERE and meta["args"] == ["prog", "x"]
    assert meta["backend"] == "settrace" and meta["complete"] is True
    assert meta["recorder"]["name"] == "recorder" and meta["python"]["version"]
    assert meta["start_time"] and meta["end_time"]
    assert meta["threads"][0]["trace"] == "trace.json"
    assert strict_load(os.path.join(out, "trace_paths.json")) == [HERE]


def test_unknown_exit_status_is_exit_label(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE)
    w.close()
    events, meta = load(out)
    assert events[-1]["Return"]["return_value"]["text"] == "<exit>"
    assert meta["process_exit_status"] == {"code": None, "label": "<exit>"}
    w.close(5)  # idempotent


def test_set_exit_status_then_plain_close(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE)
    w.set_exit_status(0)
    w.close()
    events, _ = load(out)
    assert events[-1]["Return"]["return_value"]["i"] == 0


def test_module_step_is_repeated_like_0_3_0(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE, values="none")
    d = Driver(w)
    mod = code(HERE, 1, "<__main__>", "module")
    d.call(mod)
    d.line(mod, 1)
    d.ret(mod)
    w.close(0)
    events, _ = load(out)
    steps = [i for i, k in enumerate(kinds(events)) if k == "Step"]
    assert len(steps) == 2 and kinds(events)[steps[0] + 1] == "Call"
    assert body(events, "Step") == [{"path_id": 0, "line": 1}] * 2


# -- function identity ---------------------------------------------------------------------

def test_functions_keyed_by_path_line_and_name(out: str, tmp_path: Any) -> None:
    m1, m2 = str(tmp_path / "m1.py"), str(tmp_path / "m2.py")
    for p in (m1, m2):
        with open(p, "w") as fh:
            fh.write("def helper():\n    pass\n")
    w = CodeTracerWriter(out, program=m1, values="none")
    d = Driver(w)
    h1, h2 = code(m1, 1, "helper"), code(m2, 1, "helper")
    h1_again = code(m1, 1, "helper")  # another CodeInfo for the same function
    h1_other_line = code(m1, 5, "helper")
    for c in (h1, h2, h1_again, h1_other_line):
        d.call(c)
        d.ret(c)
    w.close(0)
    events, _ = load(out)
    funcs = body(events, "Function")
    paths = body(events, "Path")
    helpers = [(paths[f["path_id"]], f["line"]) for f in funcs if f["name"] == "helper"]
    assert helpers == [(m1, 1), (m2, 1), (m1, 5)]
    ids = [c["function_id"] for c in body(events, "Call")[1:]]
    assert ids[0] == ids[2] and len(set(ids)) == 3
    # the pre-Call Step points into the right file each time (0.3.0 got m1 for both)
    steps_before = [events[i - 1]["Step"] for i, e in enumerate(events)
                    if "Call" in e and e["Call"]["function_id"] != 0]
    assert [paths[s["path_id"]] for s in steps_before] == [m1, m2, m1, m1]
    # sources were copied
    assert os.path.isfile(os.path.join(out, "files", m2.lstrip("/")))


def test_relative_filename_is_made_absolute(out: str, tmp_path: Any) -> None:
    w = CodeTracerWriter(out, program="app.py", workdir=str(tmp_path), values="none")
    d = Driver(w)
    c = code("pkg/app.py", 1, "<pkg.app>", "module")
    d.call(c)
    d.ret(c)
    w.close(0)
    events, _ = load(out)
    assert str(tmp_path / "pkg" / "app.py") in body(events, "Path")


def test_a_file_named_relatively_and_absolutely_is_one_path(out: str, tmp_path: Any) -> None:
    # The program as given on the command line ("app.py", for <toplevel>) and its code's
    # absolute co_filename are one file: one Path record, one path_id.
    (tmp_path / "app.py").write_text("x = 1\n")
    app = str(tmp_path / "app.py")
    w = CodeTracerWriter(out, program="app.py", workdir=str(tmp_path), values="none")
    d = Driver(w)
    c = code(app, 1, "<__main__>", "module")
    d.call(c)
    d.line(c, 1)
    d.ret(c)
    w.close(0)
    events, _ = load(out)
    assert body(events, "Path") == [app]
    assert {s["path_id"] for s in body(events, "Step")} == {0}
    assert {f["path_id"] for f in body(events, "Function")} == {0}
    assert strict_load(os.path.join(out, "trace_paths.json")) == [app]


# -- values modes --------------------------------------------------------------------------

def _run_modes(out: str, mode: str) -> List[Dict[str, Any]]:
    w = CodeTracerWriter(out, program=HERE, values=mode)
    assert w.wants_frames is (mode != "none")
    d = Driver(w)
    fn = code(HERE, 40, "a_frame")
    fr = a_frame(5)
    d.call(fn, fr)
    d.line(fn, 41, fr)
    d.ret(fn, [1, 2])
    w.close(0)
    return load(out)[0]


def test_values_none(out: str) -> None:
    events = _run_modes(out, "none")
    assert "Value" not in kinds(events) and "VariableName" not in kinds(events)
    assert body(events, "Call")[1]["args"] == []
    assert body(events, "Return")[0]["return_value"]["kind"] == "None"


def test_values_args(out: str) -> None:
    events = _run_modes(out, "args")
    k = kinds(events)
    call_at = [i for i, e in enumerate(events) if "Call" in e][1]
    assert k[call_at - 1] == "Step" and k[call_at - 2] == "Value"  # args, Step, Call
    assert "Value" not in k[call_at:]  # no Values after Steps
    assert len(body(events, "Call")[1]["args"]) == 4
    assert body(events, "Return")[0]["return_value"]["kind"] == "Sequence"


def test_values_full(out: str) -> None:
    events = _run_modes(out, "full")
    k = kinds(events)
    step_at = max(i for i, e in enumerate(events) if "Step" in e)
    after = [e["Value"] for e in events[step_at + 1:] if "Value" in e]
    vnames = names(events)
    assert sorted(vnames[v["variable_id"]] for v in after) == ["a", "b", "kw", "local", "rest"]
    assert "Value" in k[step_at + 1:]


def test_bad_values_mode() -> None:
    with pytest.raises(ValueError):
        CodeTracerWriter("/tmp/never", values="some")


def test_module_level_shows_user_globals_only(out: str) -> None:
    ns: Dict[str, Any] = {"__name__": "__main__"}
    exec(compile(textwrap.dedent("""
        import os, sys
        from os.path import join
        def f(): pass
        class K: pass
        x = 1
        _private = [1]
        __dunder__ = 2
        frame = sys._getframe()
    """), "<mod>", "exec"), ns)
    frame = ns["frame"]
    assert frame.f_locals is ns or dict(frame.f_locals) == ns
    w = CodeTracerWriter(out, program=HERE)
    d = Driver(w)
    mod = code(HERE, 1, "<__main__>", "module")
    d.call(mod, frame)
    d.line(mod, 2, frame)
    d.ret(mod)
    w.close(0)
    events, _ = load(out)
    assert sorted(names(events)) == ["_private", "frame", "x"]


# -- exceptions, generators, attach/detach -------------------------------------------------

def test_unwind_is_distinguishable_from_return(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE)
    d = Driver(w)
    outer, inner = code(HERE, 10, "outer"), code(HERE, 20, "inner")
    exc = ValueError("boom")
    d.call(outer)
    d.call(inner)
    d.line(inner, 21)
    d.raise_(inner, 21, exc)
    d.unwind(inner, exc)
    d.raise_(outer, 11, exc)  # propagates: not a second Event
    d.unwind(outer, exc)
    d.call(inner)
    d.ret(inner, KeyError("returned, not raised"))
    w.close(1)
    events, _ = load(out)
    evs = body(events, "Event")
    assert len(evs) == 1 and evs[0]["kind"] == 11 and evs[0]["content"] == "ValueError: boom"
    meta = json.loads(evs[0]["metadata"])
    assert meta["event"] == "raise" and meta["exception"] == "ValueError" and meta["line"] == 21
    types = types_of(events)
    rets = [r["return_value"] for r in body(events, "Return")]
    unwinds = [r for r in rets if r["kind"] == "Error" and types[r["type_id"]]["kind"] == 24]
    assert [u["msg"] for u in unwinds] == ["ValueError: boom", "ValueError: boom"]
    assert all(types[u["type_id"]]["lang_type"] == "ValueError" for u in unwinds)
    normal = rets[2]
    assert normal["kind"] == "Raw" and types[normal["type_id"]]["kind"] == 16


def test_handled_then_reraised_gives_a_new_event(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE, values="args")
    d = Driver(w)
    fn = code(HERE, 10, "fn")
    exc = RuntimeError("x")
    d.call(fn)
    d.raise_(fn, 11, exc)
    w.emit(Kind.HANDLED, d.t, fn, 12, exc, 1, None)
    d.raise_(fn, 13, exc)
    d.unwind(fn, exc)
    w.close(1)
    events, _ = load(out)
    assert len(body(events, "Event")) == 2


def test_values_none_unwind_still_names_the_exception(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE, values="none")
    d = Driver(w)
    fn = code(HERE, 10, "fn")

    class Secret(Exception):
        def __str__(self) -> str:
            raise AssertionError("str() must not be called in values=none")

    d.call(fn)
    d.raise_(fn, 11, Secret())
    d.unwind(fn, Secret())
    w.close(1)
    events, _ = load(out)
    ret = body(events, "Return")[0]["return_value"]
    assert ret["kind"] == "Error" and ret["msg"].endswith("Secret")


def test_generator_resume_and_yield(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE, values="args")
    d = Driver(w)
    g = code(HERE, 30, "gen", "generator")
    fr = a_frame()
    d.call(g, fr)
    d.ret(g, 1, Kind.YIELD)
    d.resume(g, 31, fr)
    d.ret(g, 2, Kind.YIELD)
    d.resume(g, 32, fr)
    d.ret(g, None)
    w.close(0)
    events, _ = load(out)
    calls = body(events, "Call")[1:]
    assert len(calls) == 3 and calls[0]["args"] and calls[1]["args"] == [] == calls[2]["args"]
    assert [r["return_value"].get("i") for r in body(events, "Return")[:3]] == [1, 2, None]
    # each resume Call is preceded by a Step at the def line, as 0.3.0 writes it
    assert check_balance(events).ok


def test_attach_and_detach(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE)
    d = Driver(w)
    outer, inner = code(HERE, 10, "outer"), code(HERE, 20, "inner")
    fr = a_frame()
    d.attach(outer, 15, fr)
    d.attach(inner, 25, fr)
    d.line(inner, 26, fr)
    d.detach(inner)
    d.detach(outer)
    w.close(0)
    events, _ = load(out)
    steps = body(events, "Step")
    assert [s["line"] for s in steps] == [10, 15, 20, 25, 26]
    types = types_of(events)
    rets = [r["return_value"] for r in body(events, "Return")]
    for r in rets[:2]:
        assert r == {"kind": "Error", "msg": "<detached>", "type_id": r["type_id"]}
        assert types[r["type_id"]]["kind"] == 24
        assert types[r["type_id"]]["lang_type"] == "<detached>"


def test_close_balances_what_is_still_open(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE, values="none")
    d = Driver(w)
    for i in range(5):
        d.call(code(HERE, 10 + i, "f%d" % i))
    w.close(0)
    events, _ = load(out)
    assert len(body(events, "Return")) == 6


def test_return_without_call_is_dropped(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE, values="none")
    d = Driver(w)
    fn = code(HERE, 10, "fn")
    d.ret(fn, 1)
    d.unwind(fn, ValueError())
    d.detach(fn)
    w.close(0)
    events, _ = load(out)
    assert len(body(events, "Return")) == 1


def test_import_events_go_to_imports_jsonl_not_trace_json(out: str) -> None:
    import time
    from recorder.events import ImportInfo
    w = CodeTracerWriter(out, program=HERE)
    t = main_thread()
    now = time.perf_counter()
    start = ImportInfo("pkg", "/src/pkg/__init__.py", 0, now)
    w.emit(Kind.IMPORT_START, t, None, None, start, 0, None)
    end = ImportInfo("pkg", "/src/pkg/__init__.py", 0, now, now + 0.25, False,
                     ImportError("nope"), t.ident)
    w.emit(Kind.IMPORT_END, t, None, None, end, 0, None)
    w.close(0)
    events, _ = load(out)
    assert kinds(events) == ["Path", "Function", "Call", "Type", "Type", "Return"]
    with open(os.path.join(out, "imports.jsonl"), encoding="utf-8") as fh:
        (line,) = [json.loads(text) for text in fh]
    assert line["start"] >= 0 and abs(line["duration"] - 0.25) < 1e-6
    del line["start"], line["duration"]
    assert line == {"module": "pkg", "origin": "/src/pkg/__init__.py", "thread": t.serial,
                    "depth": 0, "ok": False, "error": "ImportError: nope"}


# -- hostile values ------------------------------------------------------------------------

def hostile_frame() -> FrameType:
    class Bad:
        def __repr__(self) -> str:
            raise ValueError("no repr")

    selfref: List[Any] = [1]
    selfref.append(selfref)
    selfdict: Dict[str, Any] = {}
    selfdict["me"] = selfdict
    bad = Bad()  # noqa: F841
    big = list(range(10**6))  # noqa: F841
    deep: List[Any] = []
    for _ in range(1000):
        deep = [deep]
    return sys._getframe()


def test_hostile_values_keep_the_trace_small(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE)
    d = Driver(w)
    fn = code(HERE, 10, "hostile")
    fr = hostile_frame()
    d.call(fn, fr)
    for i in range(50):
        d.line(fn, 11 + i % 2, fr)
    d.ret(fn, fr.f_locals["selfref"])
    w.close(0)
    events, _ = load(out)
    size = os.path.getsize(os.path.join(out, "trace.json"))
    assert size < 50 * 4000, size
    values = {names(events)[v["variable_id"]]: v["value"] for v in body(events, "Value")}
    types = types_of(events)
    # its __repr__ never ran: the object is recorded from its (empty) state
    assert values["bad"]["kind"] == "Struct" and values["bad"]["field_values"] == []
    assert types[values["bad"]["type_id"]]["lang_type"].endswith("Bad")
    assert "<cycle>" in json.dumps(values["selfref"])
    assert "<cycle>" in json.dumps(values["selfdict"])
    assert values["big"]["elements"][-1]["r"] == "...(+999984 more)"


def test_keyboard_interrupt_in_repr_is_raised_after_the_event(out: str) -> None:
    class Interrupts:
        def __repr__(self) -> str:
            raise KeyboardInterrupt

    def f(x: Any) -> FrameType:
        return sys._getframe()

    w = CodeTracerWriter(out, program=HERE, reprs="program")
    d = Driver(w)
    fn = code(HERE, 10, "f")
    with pytest.raises(KeyboardInterrupt):
        d.call(fn, f(Interrupts()))
    d.ret(fn, None)  # the Call was recorded: the Return pairs with it
    w.close(130)
    events, _ = load(out)
    assert len(body(events, "Call")) == 2


class Counted:
    """A program class whose __repr__ and __str__ count their calls."""

    calls = 0

    def __init__(self, user: str) -> None:
        self.user = user
        self.password = "pw-" + user

    def __repr__(self) -> str:
        Counted.calls += 1
        return "Counted(%s)" % self.user

    __str__ = __repr__


def record_counted(out: str, **options: Any) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    w = CodeTracerWriter(out, program=HERE, **options)
    d = Driver(w)
    fn = code(HERE, 10, "f")
    fr = a_frame(Counted("ann"), [Counted("bob")])
    d.call(fn, fr)
    d.line(fn, 11, fr)
    d.ret(fn, Counted("cy"))
    w.close(0)
    return load(out)


def test_program_objects_are_structs_and_their_reprs_never_run(out: str) -> None:
    Counted.calls = 0
    events, meta = record_counted(out)
    assert Counted.calls == 0
    assert meta["values"]["reprs"] == "builtin"
    types = types_of(events)
    structs = [t for t in types if t["kind"] == 6]
    assert len(structs) == 1 and structs[0]["lang_type"].endswith("Counted")  # once
    fields = structs[0]["specific_info"]["fields"]
    assert [f["name"] for f in fields] == ["user", "password"]
    assert [types[f["type_id"]]["lang_type"] for f in fields] == ["str", "str"]
    ret = body(events, "Return")[-2]["return_value"]
    assert ret["kind"] == "Struct" and [v["text"] for v in ret["field_values"]] == [
        "cy", "pw-cy"]


def test_reprs_program_runs_the_programs_repr(out: str) -> None:
    Counted.calls = 0
    events, meta = record_counted(out, reprs="program")
    assert Counted.calls > 0 and meta["values"]["reprs"] == "program"
    assert body(events, "Return")[-2]["return_value"]["r"] == "Counted(cy)"
    with pytest.raises(ValueError, match="reprs must be one of builtin, program"):
        CodeTracerWriter(out, reprs="yes")


def test_a_session_applies_its_reprs_to_a_writer_made_without(out: str) -> None:
    import recorder

    def run(writer: CodeTracerWriter, **options: Any) -> str:
        recorder.install(writer, **options).stop()
        return strict_load(os.path.join(writer.out_dir, "trace_metadata.json"))[
            "values"]["reprs"]

    assert run(CodeTracerWriter(out), reprs="program") == "program"
    assert run(CodeTracerWriter(out)) == "builtin"
    assert run(CodeTracerWriter(out, reprs="builtin"), reprs="program") == "builtin"


# -- threads -------------------------------------------------------------------------------

def test_threads_get_their_own_nested_streams(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE, values="none")
    a = Driver(w, main_thread(1))
    b = Driver(w, ThreadInfo(2, 999999, "Worker"))  # type: ignore[arg-type]
    c = Driver(w, ThreadInfo(3, 888888, "Daemon"))  # type: ignore[arg-type]
    step, runner = code(HERE, 10, "step"), code(HERE, 20, "runner")
    a.call(step)
    b.call(runner)       # interleaved with a: must not nest inside step
    a.ret(step)
    b.call(step)
    b.ret(step)
    c.call(runner)       # still running at close
    b.ret(runner)
    b.end()
    w.close(0)
    events, meta = load(out)
    funcs = body(events, "Function")
    assert [funcs[x["function_id"]]["name"] for x in body(events, "Call")] == ["<toplevel>", "step"]
    tdir = read_trace_dir(out)
    assert sorted(tdir.threads) == [2, 3]
    for serial, tr in tdir.threads.items():
        assert tr.complete and check_balance(tr.events).ok
        assert strict_load(tr.path) == tr.events
    b_funcs = body(tdir.threads[2].events, "Function")
    assert [b_funcs[x["function_id"]]["name"] for x in body(tdir.threads[2].events, "Call")] \
        == ["<toplevel>", "runner", "step"]
    c_last = tdir.threads[3].events[-1]["Return"]["return_value"]
    assert c_last["text"] == "<detached>"
    assert [t["serial"] for t in meta["threads"]] == [1, 2, 3]
    assert meta["threads"][1]["trace"] == os.path.join("threads", "trace-2.json")
    assert meta["threads"][1]["ended"] is True and meta["threads"][2]["ended"] is False
    tmeta = strict_load(os.path.join(out, "threads", "trace_metadata-2.json"))
    assert tmeta["thread"]["name"] == "Worker"
    assert strict_load(os.path.join(out, "threads", "trace_paths-2.json")) == [HERE]
    # events after the thread's end are ignored, not a new file
    b.call(step)
    assert sorted(read_trace_dir(out).threads) == [2, 3]


def test_real_threads_concurrently(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE, flush_records=7)
    fns = [code(HERE, 10 * i, "fn%d" % i) for i in range(1, 4)]
    errors: List[BaseException] = []

    def work(serial: int) -> None:
        try:
            ident = threading.get_ident()
            d = Driver(w, ThreadInfo(serial, ident, "T%d" % serial))  # type: ignore[arg-type]
            fr = a_frame(serial)
            for i in range(300):
                for c in fns:
                    d.call(c, fr)
                    d.line(c, c.firstlineno + 1, fr)
                for c in reversed(fns):
                    d.ret(c, i)
                if i % 50 == 0:
                    w.flush()  # from this thread, while others append
            d.end()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(2, 8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.close(0)
    assert not errors
    load(out)
    tdir = read_trace_dir(out)
    assert len(tdir.threads) == 6
    for tr in tdir.threads.values():
        assert tr.complete
        b = check_balance(tr.events)
        assert b.ok and b.calls == 1 + 900, b


# -- streaming, kills, forks ---------------------------------------------------------------

def test_streams_while_running_with_bounded_buffer(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE, values="full", flush_records=64)
    d = Driver(w)
    fn = code(HERE, 10, "fn")
    fr = a_frame()
    path = os.path.join(out, "trace.json")
    sizes = []
    peak = 0
    for i in range(3000):
        d.call(fn, fr)
        d.line(fn, 11, fr)
        d.ret(fn, i)
        peak = max(peak, len(w._main.buf))
        if i % 1000 == 999:
            sizes.append(os.path.getsize(path))
    assert sizes[0] > 0 and sizes[0] < sizes[1] < sizes[2]
    assert peak < 64 + 20
    prefix = read_events(path)
    assert not prefix.complete and len(prefix.events) > 1000
    assert check_balance(prefix.events, complete=False).problems == []
    w.close(0)
    load(out)


def test_time_based_flush(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE, values="none", flush_seconds=0.0)
    d = Driver(w)
    d.call(code(HERE, 10, "fn"))
    got = read_events(os.path.join(out, "trace.json"))
    assert "Call" in kinds(got.events)[3:]
    w.close(0)


def test_a_flush_with_nothing_to_write_keeps_the_array_valid(out: str) -> None:
    # A flush before any record is due (e.g. every record still held back) writes "[" alone;
    # the first record written after it must not start with a comma ("[,").
    from recorder.formats.streams import _Stream
    w = CodeTracerWriter(out, program=HERE)
    path = os.path.join(out, "alone.json")
    st = _Stream(w, 9, None, "worker", path, os.path.join(out, "alone_paths.json"),
                 main=False)
    held = st.buf[:]
    del st.buf[:]
    st.flush()
    with open(path, encoding="utf-8") as fh:
        assert fh.read() == "["
    st.buf.extend(held)
    st.flush()
    st.finish(st.enc.none())
    w.close(0)
    events = strict_load(path)
    assert check_balance(events).ok
    assert next(iter(events[0])) == "Path"


def test_explicit_flush_writes_everything(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE, values="none", flush_seconds=1e9)
    d = Driver(w)
    fn = code(HERE, 10, "fn")
    d.call(fn)
    d.line(fn, 11)
    w.flush()
    got = read_events(os.path.join(out, "trace.json"))
    assert kinds(got.events)[-1] == "Step" and not got.complete
    w.close(0)


KILL_SCRIPT = r"""
import os, signal, sys, threading
sys.path.insert(0, %(root)r)
from recorder.events import CodeInfo, Kind, ThreadInfo
from recorder.formats import CodeTracerWriter
w = CodeTracerWriter(%(out)r, program=%(here)r, flush_records=100)
t = ThreadInfo(1, threading.main_thread().ident, "MainThread")
fn = CodeInfo(%(here)r, 10, "fn", "fn", "fn", "m", "function", False)
def frame(a, b=[1, 2, 3]):
    return sys._getframe()
fr = frame("x" * 50)
depth = 0
for i in range(5000):
    depth += 1
    w.emit(Kind.CALL, t, fn, 10, None, depth, fr)
    w.emit(Kind.LINE, t, fn, 11, None, depth, fr)
    if i %% 3:
        w.emit(Kind.RETURN, t, fn, 11, i, depth, fr)
        depth -= 1
sys.stdout.write("ready\n"); sys.stdout.flush()
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX only")
def test_sigkill_leaves_a_readable_prefix(out: str) -> None:
    root = os.path.dirname(os.path.dirname(HERE))
    script = KILL_SCRIPT % {"root": root, "out": out, "here": HERE}
    proc = subprocess.run([sys.executable, "-c", script], stdout=subprocess.PIPE, timeout=120)
    assert proc.returncode == -signal.SIGKILL and proc.stdout == b"ready\n"
    path = os.path.join(out, "trace.json")
    with pytest.raises(ValueError):
        strict_load(path)  # not a complete JSON document...
    got = read_events(path)  # ...but its prefix reads back
    assert not got.complete and got.error
    assert len(got.events) > 10000
    b = check_balance(got.events, complete=False)
    assert b.problems == [] and b.open > 0
    meta = strict_load(os.path.join(out, "trace_metadata.json"))
    assert meta["complete"] is False
    tdir = read_trace_dir(out)
    assert tdir.paths == [HERE]
    # and it can be made complete for a CodeTracer reader
    fixed = repair_trace(path)
    assert fixed.ok, fixed.problems
    events = strict_load(path)
    assert check_balance(events).ok and len(events) >= len(got.events)


def test_reader_accepts_every_truncation(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE)
    d = Driver(w)
    fn = code(HERE, 40, "a_frame")
    fr = a_frame("ünïcode ✓")
    for i in range(20):
        d.call(fn, fr)
        d.line(fn, 41, fr)
        d.ret(fn, {"i": i})
    w.close(0)
    path = os.path.join(out, "trace.json")
    full = strict_load(path)
    with open(path, "rb") as fh:
        data = fh.read()
    cut_path = path + ".cut"
    # Every cut must drop the closing bracket; a cut after it (just the trailing
    # newline) leaves a complete file, and whether the stride hits it depends on
    # how long the paths in the trace are.
    closing = data.rindex(b"]")
    cuts = list(range(0, closing + 1, max(1, len(data) // 97))) + [closing, closing - 1]
    assert cuts and max(cuts) <= closing
    for cut in cuts:
        with open(cut_path, "wb") as fh:
            fh.write(data[:cut])
        got = read_events(cut_path)
        assert got.events == full[:len(got.events)]
        assert not got.complete
        assert check_balance(got.events, complete=False).problems == []
        assert repair_trace(cut_path).ok
        assert check_balance(strict_load(cut_path)).ok
    # small chunks cross every boundary
    reader = EventReader(path, chunk_size=7)
    assert list(reader) == full and reader.complete


def test_reader_on_0_3_0_single_line_and_garbage(tmp_path: Any) -> None:
    p = str(tmp_path / "t.json")
    recs = [{"Path": "/a.py"}, {"Function": {"path_id": 0, "line": 1, "name": "<toplevel>"}},
            {"Call": {"function_id": 0, "args": []}},
            {"Return": {"return_value": {"kind": "None", "type_id": 0}}}]
    with open(p, "w") as fh:
        json.dump(recs, fh, separators=(",", ":"))
    got = read_events(p)
    assert got.complete and got.events == recs
    with open(p, "w") as fh:
        fh.write("{}")
    assert read_events(p).error == "not a JSON array"
    with open(p, "w") as fh:
        fh.write("")
    assert read_events(p).events == [] and not read_events(p).complete


def test_check_balance_finds_problems() -> None:
    base = [{"Path": "/a.py"}, {"Function": {"path_id": 0, "line": 1, "name": "<toplevel>"}},
            {"Call": {"function_id": 0, "args": []}}]
    assert "Return without an open Call" in " ".join(check_balance(
        base + [{"Return": {"return_value": {"kind": "None", "type_id": 0}}}] * 2).problems)
    assert "not preceded by a Step" in " ".join(check_balance(
        base + [{"Call": {"function_id": 0, "args": []}}]).problems)
    assert "type_id" in " ".join(check_balance(
        base + [{"Return": {"return_value": {"kind": "None", "type_id": 0}}}]).problems)
    assert check_balance(base).open == 1 and not check_balance(base).ok


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_forked_child_never_writes_the_parents_files(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE, values="none")
    d = Driver(w)
    fn = code(HERE, 10, "fn")
    d.call(fn)
    w.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            for _ in range(100):
                d.call(fn)
            w.close(99)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    d.ret(fn)
    w.close(0)
    events, meta = load(out)
    assert len(body(events, "Call")) == 2 and meta["process_exit_status"]["code"] == 0


# -- the directory -------------------------------------------------------------------------

def test_out_dir_is_a_file(tmp_path: Any) -> None:
    p = tmp_path / "file"
    p.write_text("x")
    with pytest.raises(TraceDirError) as info:
        CodeTracerWriter(str(p))
    assert "not a directory" in str(info.value)
    with pytest.raises(TraceDirError):
        CodeTracerWriter(str(p / "sub"))


def _unwritable_dir(tmp_path: Any) -> Any:
    """A directory in which nothing can be created, also for root (who ignores permission
    bits): a read-only directory for ordinary users, sysfs (EPERM for everyone) for root."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        return ro
    if sys.platform.startswith("linux") and os.path.isdir("/sys"):
        return "/sys"
    pytest.skip("running as root on a system without sysfs: no directory refuses root")


def test_out_dir_not_writable(tmp_path: Any) -> None:
    parent = _unwritable_dir(tmp_path)
    try:
        with pytest.raises(TraceDirError) as info:
            CodeTracerWriter(os.path.join(str(parent), "recorder-test-out"))
        assert "recorder-test-out" in str(info.value) and "\n" not in str(info.value)
    finally:
        if parent != "/sys":
            os.chmod(str(parent), 0o700)


def test_stale_files_of_an_earlier_run_are_removed(out: str) -> None:
    os.makedirs(os.path.join(out, "threads"))
    for name in ("trace.json", "threads/trace-9.json", "threads/trace_paths-9.json"):
        with open(os.path.join(out, name), "w") as fh:
            fh.write("old")
    keep = os.path.join(out, "notes.txt")
    with open(keep, "w") as fh:
        fh.write("mine")
    w = CodeTracerWriter(out, program=HERE)
    w.close(0)
    assert read_trace_dir(out).threads == {} and os.path.exists(keep)
    load(out)


def test_record_output_events(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE, values="none")
    d = Driver(w)
    w.record_output("stdout", "hello\n", d.t)
    w.record_output("stderr", "oops\n")
    w.record_output("stdin", "typed\n")
    w.close(0)
    events, _ = load(out)
    evs = body(events, "Event")
    assert [(e["kind"], e["content"]) for e in evs] == [(0, "hello\n"), (2, "oops\n"),
                                                       (3, "typed\n")]
    assert json.loads(evs[0]["metadata"]) == {"stream": "stdout", "thread": 1}


def test_no_locals_where_the_code_says_they_are_unreadable(out: str) -> None:
    """``CodeInfo.locals_readable`` false (3.12 settrace, code with an inlined
    comprehension: recorder.codes decides it, test_codes checks that): no Values after its
    Steps, while other code still shows its locals."""
    def with_comp() -> FrameType:
        xs = [i for i in range(3)]  # noqa: F841
        return sys._getframe()

    w = CodeTracerWriter(out, program=HERE, backend="settrace")
    d = Driver(w)
    c1, c2 = code(HERE, 10, "with_comp"), code(HERE, 40, "a_frame")
    c1.locals_readable = False
    d.call(c1, with_comp())
    d.line(c1, 11, with_comp())
    d.ret(c1)
    d.call(c2, a_frame())
    d.line(c2, 41, a_frame())
    d.ret(c2)
    w.close(0)
    events, _ = load(out)
    assert "xs" not in names(events) and "local" in names(events)


def test_record_output_defaults_to_the_calling_threads_stream(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE, values="none")
    Driver(w)

    def work() -> None:
        Driver(w, ThreadInfo(2, threading.get_ident(), "W"))  # type: ignore[arg-type]
        w.record_output("stdout", "from worker\n")

    t = threading.Thread(target=work)
    t.start()
    t.join()
    w.record_output("stdout", "from main\n")
    w.close(0)
    events, _ = load(out)
    assert [e["content"] for e in body(events, "Event")] == ["from main\n"]
    worker = read_trace_dir(out).threads[2]
    assert [e["content"] for e in body(worker.events, "Event")] == ["from worker\n"]


def test_long_output_is_split_and_written_at_once(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE, values="none")
    text = "x" * (200 * 1024)
    w.record_output("stderr", text)
    assert len(w._main.buf) == 0
    w.close(0)
    events, _ = load(out)
    parts = [e["content"] for e in body(events, "Event")]
    assert len(parts) == 4 and "".join(parts) == text


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_a_forked_child_never_rewrites_the_parents_metadata(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE)
    meta_path = os.path.join(out, "trace_metadata.json")
    with open(meta_path) as fh:
        before = fh.read()
    pid = os.fork()
    if pid == 0:  # the child closes its copy of the writer, then leaves at once
        try:
            w.close(7)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    with open(meta_path) as fh:
        assert fh.read() == before  # untouched by the child
    w.close(0)
    assert strict_load(meta_path)["complete"] is True


def test_time_based_flush_is_checked_at_least_every_64_calls_and_returns(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE, values="none", flush_seconds=1e-9)
    d = Driver(w)
    fn = code(HERE, 10, "fn")
    d.call(fn)  # the first call checks the clock
    path = os.path.join(out, "trace.json")
    assert kinds(read_events(path).events).count("Call") == 2
    for _ in range(31):  # 62 more calls and returns: nothing written
        d.ret(fn, None)
        d.call(fn)
    assert kinds(read_events(path).events).count("Call") == 2
    d.ret(fn, None)  # the 63rd since the check
    assert kinds(read_events(path).events).count("Call") == 2
    d.call(fn)  # the 64th: the clock is read, and everything is written
    assert kinds(read_events(path).events).count("Call") == 34
    w.close(0)


def test_repair_trace_dir_finishes_every_stream_and_the_import_lines(out: str) -> None:
    from recorder.formats.reader import repair_trace_dir
    w = CodeTracerWriter(out, program=HERE)
    main = Driver(w)
    worker = Driver(w, ThreadInfo(2, 999999, "Worker"))  # type: ignore[arg-type]
    fn = code(HERE, 40, "a_frame")
    for d in (main, worker):
        d.call(fn, a_frame())
        d.line(fn, 41, a_frame())
    w.flush()  # ... and the process is killed here: no close
    with open(os.path.join(out, "imports.jsonl"), "w", encoding="utf-8") as fh:
        fh.write('{"module": "a"}\n{"module": "b", "orig')  # a line cut by the kill
    os.remove(os.path.join(out, "threads", "trace_paths-2.json"))  # not yet written
    done = repair_trace_dir(out)
    assert [(os.path.relpath(r.path, out), r.was_complete, r.closed) for r in done] == [
        ("trace.json", False, 2), (os.path.join("threads", "trace-2.json"), False, 2)]
    trace = read_trace_dir(out)
    for read in [trace.main] + list(trace.threads.values()):
        assert read.complete and check_balance(read.events).ok
    with open(os.path.join(out, "threads", "trace_paths-2.json"), encoding="utf-8") as fh:
        assert json.load(fh) == [e["Path"] for e in trace.threads[2].events if "Path" in e]
    with open(os.path.join(out, "imports.jsonl"), encoding="utf-8") as fh:
        assert fh.read() == '{"module": "a"}\n'
    assert trace.metadata["repaired"] == {
        "files": ["trace.json", os.path.join("threads", "trace-2.json")], "closed_calls": 4}
    with pytest.raises(ValueError, match="no trace.json"):
        repair_trace_dir(os.path.join(out, "threads"))


# -- an event retried after RecursionError (the program at its recursion limit) -------------------
# The normaliser gives the event again later; what the first try did must not show.

def _fail_once(obj: Any, name: str) -> None:
    original = getattr(obj, name)
    state = {"failed": False}

    def once(*args: Any, **kwargs: Any) -> Any:
        if not state["failed"]:
            state["failed"] = True
            raise RecursionError("maximum recursion depth exceeded")
        return original(*args, **kwargs)
    setattr(obj, name, once)


def _retry(emit: Any) -> None:
    try:
        emit()
    except RecursionError:
        emit()


def test_a_type_id_is_taken_only_with_its_record(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE, values="args")
    d = Driver(w)
    fn = code(HERE, 10, "fn")
    d.call(fn)
    _fail_once(w._streams[d.t.serial].types, "_write")
    _retry(lambda: w.emit(Kind.RETURN, d.t, fn, None, 2.5, d.depth, None))
    d.depth -= 1
    d.end()
    w.close(0)
    events, _ = load(out)  # every type_id is defined before it is used
    assert {"kind": 8, "lang_type": "float", "specific_info": {"kind": "None"}} in types_of(events)


def test_a_return_is_counted_only_when_written(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE, values="args")
    d = Driver(w)
    outer, inner = code(HERE, 10, "outer"), code(HERE, 20, "inner")
    d.call(outer)
    d.call(inner)
    _fail_once(w._streams[d.t.serial].enc, "encode_exception")
    _retry(lambda: w.emit(Kind.UNWIND, d.t, inner, None, KeyError("k"), d.depth, None))
    d.depth -= 1
    d.ret(outer, 1)
    d.end()
    w.close(0)
    events, _ = load(out)
    assert [e["Call"]["function_id"] for e in events if "Call" in e] == [0, 1, 2]
    assert len(body(events, "Return")) == 3  # inner's, outer's and <toplevel>'s


def test_records_stay_buffered_when_the_write_fails(out: str, monkeypatch: Any) -> None:
    import recorder.formats.storage as ct  # where every append to a trace file is written
    from recorder.formats.timing import count_times, times_path

    w = CodeTracerWriter(out, program=HERE, values="none", flush_records=1)
    d = Driver(w)
    fn = code(HERE, 10, "fn")
    st = w._streams[d.t.serial]
    real = ct.write_all
    failed = []

    def fails_once_half_way(fd: int, data: bytes, at: int) -> None:
        if fd == st.fd and not failed:  # the event file, not its stamps
            failed.append(data)
            os.write(fd, data[:len(data) // 2])  # part of it is on disk when it stops
            raise RecursionError("maximum recursion depth exceeded")
        real(fd, data, at)

    monkeypatch.setattr(ct, "write_all", fails_once_half_way)
    written = w.records_written
    d.call(fn)  # its flush fails: the records wait for the next one
    assert failed and w.records_written == written  # nothing counted for the torn write
    d.line(fn, 11)
    d.ret(fn, None)
    d.end()
    w.close(0)
    events, _ = load(out)  # the torn half was cut off before the next write
    assert [kinds(events).count(k) for k in ("Call", "Step", "Return")] == [2, 2, 2]
    assert w.records_written == len(events)
    assert count_times(times_path(os.path.join(out, "trace.json"))) == 4
