"""Code made at run time is not kept alive by a recording, and its dead ids are not misread.

Every table keyed by ``id(code)`` (the catalog, the module resolver, the backends' bytecode
and line maps, the qualname cache below 3.11) forgets a code object when it dies; the writer
and the filters drop what they cached for its CodeInfo (recorder/lifetimes.py).
"""
from __future__ import annotations

import gc
import json
import os
import weakref
from pathlib import Path
from typing import Any, List

import recorder
from recorder.events import Event, Kind
from recorder.formats.codetracer import CodeTracerWriter

from conftest import assert_balanced

SOURCE = '''
def made(n):
    total = 0
    for i in range(n):
        total += i
    return total

def counted(n):
    for i in range(n):
        yield i

result = made(3) + sum(counted(3))
'''


def test_code_made_at_run_time_dies_while_recording(backend: str, tmp_path: Path) -> None:
    """100 modules compiled, run and dropped while the trace writer records them with every
    value: each code object dies as soon as the program lets go of it."""
    writer = CodeTracerWriter(str(tmp_path / "out"), program="made", values="full")
    refs: List[Any] = []
    session = recorder.install(writer, backend=backend)
    try:
        for n in range(100):
            code = compile(SOURCE, "<made>", "exec")
            namespace: dict = {}
            exec(code, namespace)
            assert namespace["result"] == 6
            refs.append(weakref.ref(code))
            refs.extend(weakref.ref(c) for c in code.co_consts if hasattr(c, "co_code"))
            del code, namespace
        gc.collect()
        alive = [ref for ref in refs if ref() is not None]
        decided = len(session.catalog.infos)
    finally:
        recorder.uninstall()
    assert not alive, "%d of %d code objects kept alive by the recording" % (
        len(alive), len(refs))
    assert decided < 100, "the catalog holds %d entries" % decided
    trace = json.loads((tmp_path / "out" / "trace.json").read_text())
    functions = [r["Function"]["name"] for r in trace if "Function" in r]
    # one Function per (path, line, name): a code object made again keeps its id
    assert functions.count("made") == 1 and functions.count("counted") == 1
    calls = [functions[r["Call"]["function_id"]] for r in trace if "Call" in r]
    # (the format writes a generator's start and each of its 3 resumes as a Call)
    assert calls.count("made") == 100 and calls.count("counted") == 400


def test_an_id_reused_by_new_code_gets_its_own_decision(backend: str, tmp_path: Path) -> None:
    """A dead code object's id is often reused at once by the next one of the same size.
    Alternating skipped and recorded code, generators and functions, each is decided and
    classified on its own (its own scope decision, bytecode map and line map)."""
    rules = tmp_path / "skip.toml"
    rules.write_text('[[scope.rules]]\nselector = "obj:skipme"\naction = "skip"\n')
    shapes = {
        "keep": "def keep(n):\n    for i in range(n):\n        yield i\n    return n\n",
        "skipme": "def skipme(n):\n    x = yield n\n    return x\n",
        "plain": "def plain(n):\n    return n + 1\n",
    }
    events: List[Event] = []
    with recorder.recording(events.append, backend=backend, filters=[str(rules)]):
        for n in range(60):
            name = ("keep", "skipme", "plain")[n % 3]
            namespace: dict = {}
            exec(compile(shapes[name], "<shape>", "exec"), namespace)
            function = namespace[name]
            if name == "plain":
                function(n)
            else:
                list(function(2))
            del namespace, function
    mine = [e for e in events if e.code is None or e.code.filename == "<shape>"]
    assert_balanced(mine)
    by_name: dict = {}
    for e in mine:
        if e.code is not None and e.code.kind != "module":
            by_name.setdefault(e.code.name, []).append(e.kind)
    assert "skipme" not in by_name
    # a generator's run: CALL, YIELD, RESUME, YIELD, RESUME, RETURN (lines dropped)
    keep = [k for k in by_name["keep"] if k != Kind.LINE]
    assert keep == [Kind.CALL, Kind.YIELD, Kind.RESUME, Kind.YIELD, Kind.RESUME,
                    Kind.RETURN] * 20
    plain = [k for k in by_name["plain"] if k != Kind.LINE]
    assert plain == [Kind.CALL, Kind.RETURN] * 20
    returns = [e.value for e in mine if e.kind == Kind.RETURN and e.code.name == "keep"]
    assert returns == [2] * 20
