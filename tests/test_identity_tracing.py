"""Module identity through a real recording, on both backends.

These exercise the session's wiring of recorder/identity.py and recorder/importhook.py (one
ModuleResolver per session shared by the code catalog and the filters; the ImportHook installed
with the session, feeding IMPORT_START/IMPORT_END into the stream; the hook's code objects
never recorded). docs/naming.md, "For the session", lists that wiring.

Everything runs through the public API: ``recorder.install(sink=callable, backend=...)``,
``recorder.uninstall()``, events with ``.kind``, ``.code.label``, ``.code.module``.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import py_compile
import runpy
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Tuple

import pytest

import recorder
from recorder.events import Event, ImportInfo, Kind
from recorder.identity import ModuleResolver, is_dotted_name
from conftest import write_tree

REPO = str(Path(__file__).resolve().parents[1])




def record_all(fn: Callable[[], Any], backend: str, **options: Any) -> List[Event]:
    events: List[Event] = []
    recorder.install(events.append, backend=backend, **options)
    try:
        fn()
    finally:
        recorder.uninstall()
    return events


def module_calls(events: List[Event], under: Optional[str] = None) -> List[Tuple[str, Any]]:
    """(label, module) of every CALL of module-level code, optionally only files ``under``."""
    out = []
    for e in events:
        if e.kind == Kind.CALL and e.code is not None and e.code.kind == "module":
            if under is None or e.code.filename.startswith(under) or \
                    e.code.filename.startswith("<"):
                out.append((e.code.label, e.code.module))
    return out




@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith(("idt_", "weird")):
            sys.modules.pop(name, None)
    importlib.invalidate_caches()


def test_package_and_subpackages(sandbox: Path, backend: str) -> None:
    write_tree(sandbox, {"idt_pkg/__init__.py": "from . import sub\n",
                         "idt_pkg/sub/__init__.py": "from . import mod\n",
                         "idt_pkg/sub/mod.py": "def f():\n    return 1\nf()\n"})
    events = record_all(lambda: importlib.import_module("idt_pkg"), backend)
    assert module_calls(events, str(sandbox)) == [
        ("<idt_pkg>", "idt_pkg"), ("<idt_pkg.sub>", "idt_pkg.sub"),
        ("<idt_pkg.sub.mod>", "idt_pkg.sub.mod")]
    f_call = [e for e in events if e.kind == Kind.CALL and e.code.qualname == "f"]
    assert f_call and f_call[0].code.label == "f" and f_call[0].code.module == "idt_pkg.sub.mod"


def test_third_party_namespace_zip_and_sourceless(sandbox: Path, backend: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    site = sandbox / "site-packages"
    write_tree(site, {"idt_vendor/__init__.py": "", "idt_vendor/core.py": ""})
    write_tree(sandbox, {"idt_ns/part/leaf.py": "", "idt_nosrc.py": "V = 1\n"})
    source = sandbox / "idt_nosrc.py"
    py_compile.compile(str(source), cfile=str(source) + "c", dfile="/build/idt_nosrc.py",
                       doraise=True)
    source.unlink()
    archive = sandbox / "idt_bundle.zip"
    with zipfile.ZipFile(str(archive), "w") as zf:
        zf.writestr("idt_zpkg/__init__.py", "from . import zmod\n")
        zf.writestr("idt_zpkg/zmod.py", "")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(archive))
    importlib.invalidate_caches()

    def body() -> None:
        for name in ("idt_vendor.core", "idt_ns.part.leaf", "idt_zpkg", "idt_nosrc"):
            importlib.import_module(name)
    # third-party code is skipped by default: this test names it, so it includes it
    events = record_all(body, backend, include=["third-party"])
    labels = [label for label, _ in module_calls(events)]
    for expected in ("<idt_vendor>", "<idt_vendor.core>", "<idt_ns.part.leaf>", "<idt_zpkg>",
                     "<idt_zpkg.zmod>", "<idt_nosrc>"):
        assert expected in labels


def test_exec_run_path_and_weird_names_never_borrow_a_name(sandbox: Path, backend: str) -> None:
    write_tree(sandbox, {"idt_caller.py": "exec(compile('Z = 1', '<string>', 'exec'))\n",
                         "idt_tool/__init__.py": "", "idt_tool/script.py": "S = 1\n",
                         "weird_file.py": "W = 1\n"})

    def body() -> None:
        importlib.import_module("idt_caller")
        runpy.run_path(str(sandbox / "idt_tool" / "script.py"))
        spec = importlib.util.spec_from_file_location("weird-name", str(sandbox / "weird_file.py"))
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    events = record_all(body, backend)
    calls = module_calls(events, str(sandbox))
    assert calls[0] == ("<idt_caller>", "idt_caller")
    assert ("<module>", None) in calls[1:2]      # the exec'd string, not <idt_caller>
    assert calls[-2:] == [("<module>", None), ("<module>", None)]  # run_path, weird-name
    for label, module in calls:
        assert label == "<module>" or is_dotted_name(label[1:-1])


def test_reload_keeps_the_label(sandbox: Path, backend: str) -> None:
    write_tree(sandbox, {"idt_rl.py": "V = 1\n"})
    module = importlib.import_module("idt_rl")
    (sandbox / "idt_rl.py").write_text("V = 2\n")
    importlib.invalidate_caches()
    events = record_all(lambda: importlib.reload(module), backend)
    assert module_calls(events, str(sandbox)) == [("<idt_rl>", "idt_rl")]


def test_import_events_are_balanced_and_record_failures(sandbox: Path, backend: str) -> None:
    write_tree(sandbox, {"idt_ca.py": "import idt_cb\n", "idt_cb.py": "import idt_ca\n",
                         "idt_fail.py": "raise KeyError('nope')\n"})

    def body() -> None:
        importlib.import_module("idt_ca")
        try:
            importlib.import_module("idt_fail")
        except KeyError:
            pass
    events = record_all(body, backend)
    imports = [(e.kind, e.value) for e in events
               if e.kind in (Kind.IMPORT_START, Kind.IMPORT_END)]
    names = [(k.name, v.name) for k, v in imports if v.name.startswith("idt_")]
    assert names == [("IMPORT_START", "idt_ca"), ("IMPORT_START", "idt_cb"),
                     ("IMPORT_END", "idt_cb"), ("IMPORT_END", "idt_ca"),
                     ("IMPORT_START", "idt_fail"), ("IMPORT_END", "idt_fail")]
    failed = [v for k, v in imports if k == Kind.IMPORT_END and v.name == "idt_fail"][0]
    assert isinstance(failed, ImportInfo) and failed.ok is False
    assert isinstance(failed.error, KeyError) and failed.duration is not None


def test_the_hook_frames_are_never_recorded(sandbox: Path, backend: str) -> None:
    from recorder.importhook import HOOK_CODES
    hook_ids = {(c.co_filename, c.co_firstlineno, c.co_name) for c in HOOK_CODES}
    write_tree(sandbox, {"idt_quiet.py": ""})
    events = record_all(lambda: importlib.import_module("idt_quiet"), backend,
                        trace_stdlib=True)
    seen = {(e.code.filename, e.code.firstlineno, e.code.name) for e in events if e.code}
    assert not seen & hook_ids


def test_one_resolver_per_session(sandbox: Path, backend: str,
                                  resolvers_created: List[ModuleResolver]) -> None:
    created = resolvers_created
    write_tree(sandbox, {"idt_one/__init__.py": "class K:\n    pass\nf = lambda: 1\nf()\n"})
    events = record_all(lambda: importlib.import_module("idt_one"), backend)
    assert len(created) == 1, "the tracer, filters and summaries must share one resolver"
    assert ("<idt_one>", "idt_one") in module_calls(events, str(sandbox))
    # one answer everywhere: the functions' module is what that resolver says of the file
    resolver = created[0]
    for e in events:
        if e.kind == Kind.CALL and e.code.filename.startswith(str(sandbox)):
            assert e.code.module == resolver.module_of_file(e.code.filename)


SITECUSTOMIZE = '''
import atexit, json, os, sys
sys.path.insert(0, {repo!r})
import recorder
_labels = []
def _sink(event):
    code = event.code
    if event.kind.name == "CALL" and code is not None and code.kind == "module":
        _labels.append(code.label)
recorder.install(_sink, backend=os.environ["IDT_BACKEND"])
def _dump():
    recorder.uninstall()
    with open(os.environ["IDT_OUT"], "w") as f:
        json.dump(_labels, f)
atexit.register(_dump)
'''


@pytest.mark.parametrize("args,expected", [
    (["script.py"], ["<__main__>", "<idt_cli>", "<idt_cli.mod>"]),
    (["-m", "idt_cli.mod"], ["<idt_cli>", "<idt_cli.mod>"]),
    (["-m", "idt_cli"], ["<idt_cli>", "<idt_cli.__main__>"]),
], ids=["script", "dash-m-module", "dash-m-package"])
def test_script_and_dash_m(tmp_path: Path, backend: str, args: List[str],
                           expected: List[str]) -> None:
    proj = write_tree(tmp_path / "proj", {
        "script.py": "import idt_cli.mod\n", "idt_cli/__init__.py": "",
        "idt_cli/__main__.py": "", "idt_cli/mod.py": ""})
    site = write_tree(tmp_path / "site", {"sitecustomize.py": SITECUSTOMIZE.format(repo=REPO)})
    out = tmp_path / "labels.json"
    env = dict(os.environ, PYTHONPATH=str(site), IDT_OUT=str(out), IDT_BACKEND=backend)
    proc = subprocess.run([sys.executable] + args, cwd=str(proj), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    labels = json.loads(out.read_text())
    assert [label for label in labels if label in expected or label == "<__main__>"][-3:] \
        [-len(expected):] == expected
    if args[0] == "-m":
        assert "<__main__>" not in labels
