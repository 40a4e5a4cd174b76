"""The import hook (recorder/importhook.py): IMPORT events, and invisibility to the program.

Two kinds of tests:

* in-process ones for the events (balance, nesting, failures, circular imports, threads) and
  for the hook's own failures, with packages built in ``tmp_path``;
* what the import hook must leave as it is (docs/naming.md), each case run twice in a fresh interpreter, with and
  without the hook, and required to observe exactly the same things (values, types, stdout,
  stderr, tracebacks, warnings) while the hook run also shows the expected IMPORT events.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import threading
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

from recorder.events import ImportInfo, Kind
from recorder.identity import ModuleResolver
from recorder.importhook import HOOK_CODES, ImportHook

from conftest import write_tree

REPO = str(Path(__file__).resolve().parents[1])

Events = List[Tuple[Kind, ImportInfo]]


# -- helpers ---------------------------------------------------------------------------------



def write_zip(archive: Path, files: Dict[str, str]) -> Path:
    with zipfile.ZipFile(str(archive), "w") as zf:
        for rel, text in files.items():
            zf.writestr(rel, textwrap.dedent(text))
    importlib.invalidate_caches()
    return archive


def check_balanced(events: Events) -> None:
    """Per thread: every START has its END, properly nested, depth = nesting level."""
    stacks: Dict[int, List[ImportInfo]] = {}
    for kind, info, *rest in events:
        thread = rest[0] if rest else 0
        stack = stacks.setdefault(thread, [])
        if kind == Kind.IMPORT_START:
            assert info.depth == len(stack), (info, [i.name for i in stack])
            assert info.end is None and info.ok is None
            stack.append(info)
        else:
            assert kind == Kind.IMPORT_END
            assert stack, "END without START: %r" % (info,)
            start = stack.pop()
            assert (start.name, start.depth, start.start) == (info.name, info.depth, info.start)
            assert info.end is not None and info.end >= info.start
    for thread, stack in stacks.items():
        assert not stack, "left open on %s: %r" % (thread, stack)


def starts(events: Events) -> List[str]:
    return [info.name for kind, info, *_ in events if kind == Kind.IMPORT_START]


def ends(events: Events) -> Dict[str, ImportInfo]:
    return {info.name: info for kind, info, *_ in events if kind == Kind.IMPORT_END}


class Recorded:
    """An installed hook plus what it emitted."""

    def __init__(self) -> None:
        self.events: Events = []
        self.resolver = ModuleResolver()
        self.hook = ImportHook(self.resolver, self.on_import)

    def on_import(self, kind: Kind, info: ImportInfo) -> None:
        self.events.append((kind, info, threading.get_ident()))  # type: ignore[arg-type]


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith("hk_"):
            sys.modules.pop(name, None)
    importlib.invalidate_caches()


@pytest.fixture
def rec(sandbox: Path) -> Iterator[Recorded]:
    recorded = Recorded()
    meta_path = sys.meta_path
    snapshot = list(meta_path)
    recorded.hook.install()
    try:
        yield recorded
    finally:
        recorded.hook.uninstall()
        assert sys.meta_path is meta_path
        assert len(meta_path) == len(snapshot) and all(
            a is b for a, b in zip(meta_path, snapshot)), "sys.meta_path not restored"


# -- install / uninstall -------------------------------------------------------------------------

def test_finder_goes_first_and_uninstall_restores_meta_path_exactly() -> None:
    meta_path = sys.meta_path
    snapshot = list(meta_path)
    hook = ImportHook()
    hook.install()
    hook.install()  # idempotent
    try:
        assert meta_path[0] is hook.finder
        assert [f for f in meta_path if f is hook.finder] == [hook.finder]
        assert meta_path[1:] == snapshot
    finally:
        hook.uninstall()
    hook.uninstall()  # idempotent
    assert sys.meta_path is meta_path and meta_path == snapshot


def test_uninstall_leaves_finders_added_meanwhile_in_place() -> None:
    class Other:
        def find_spec(self, name: str, path: Any, target: Any = None) -> None:
            return None
    other = Other()
    snapshot = list(sys.meta_path)
    hook = ImportHook().install()
    sys.meta_path.insert(0, other)
    try:
        hook.uninstall()
        assert sys.meta_path == [other] + snapshot
    finally:
        sys.meta_path.remove(other)


def test_finder_still_searches_when_not_observing(sandbox: Path) -> None:
    """Stopped, or already removed from sys.meta_path while another thread's importlib was
    iterating it: the finder answers as the finders after it would, so no finder is skipped
    by the list shift, and it observes nothing."""
    write_tree(sandbox, {"hk_late.py": ""})
    events: List[Any] = []
    hook = ImportHook(ModuleResolver(), lambda kind, info: events.append(info))
    hook.install()
    hook.uninstall()
    spec = hook.finder.find_spec("hk_late", None)  # type: ignore[attr-defined]
    assert spec is not None and spec.name == "hk_late"
    assert "exec_module" not in vars(spec.loader) and events == []


def test_hook_code_objects_are_filed_as_importlib() -> None:
    """The contract with the tracer: these frames are the recorder's, to be skipped."""
    assert len(HOOK_CODES) >= 4
    assert {c.co_filename for c in HOOK_CODES} == {"<frozen importlib._bootstrap>"}
    assert {"find_spec", "create_module", "exec_module", "load_module"} <= \
        {c.co_name for c in HOOK_CODES}


# -- events ----------------------------------------------------------------------------------------

def test_nested_imports_give_balanced_events_with_depth_origin_and_times(
        rec: Recorded, sandbox: Path) -> None:
    write_tree(sandbox, {
        "hk_app/__init__.py": "from . import a\n",
        "hk_app/a.py": "from . import b\nfrom . import c\n",
        "hk_app/b.py": "import time\nX = 1\n",
        "hk_app/c.py": "Y = 2\n",
    })
    import hk_app  # noqa: F401
    check_balanced(rec.events)
    assert starts(rec.events) == ["hk_app", "hk_app.a", "hk_app.b", "hk_app.c"]
    done = ends(rec.events)
    assert done["hk_app.b"].depth == 2 and done["hk_app.c"].depth == 2
    assert done["hk_app.a"].origin == str(sandbox / "hk_app" / "a.py")
    assert all(i.ok is True and i.error is None for i in done.values())
    assert done["hk_app"].duration >= done["hk_app.a"].duration >= done["hk_app.b"].duration
    # START and END are distinct objects: a consumer keeping the START sees it unchanged
    first = rec.events[0][1]
    assert first.end is None and first.ok is None


def test_circular_imports_are_balanced(rec: Recorded, sandbox: Path) -> None:
    write_tree(sandbox, {
        "hk_cyc_a.py": "import hk_cyc_b\nA = 1\n",
        "hk_cyc_b.py": "import hk_cyc_a\nB = 2\n",
    })
    import hk_cyc_a
    assert hk_cyc_a.hk_cyc_b.B == 2
    check_balanced(rec.events)
    assert starts(rec.events) == ["hk_cyc_a", "hk_cyc_b"]  # the cycle hits sys.modules


def test_circular_import_that_fails_records_the_failure(rec: Recorded, sandbox: Path) -> None:
    write_tree(sandbox, {
        "hk_cyc_x.py": "from hk_cyc_y import Y\nX = 1\n",
        "hk_cyc_y.py": "from hk_cyc_x import X\nY = 2\n",
    })
    with pytest.raises(ImportError) as caught:
        import hk_cyc_x  # noqa: F401
    check_balanced(rec.events)
    done = ends(rec.events)
    assert done["hk_cyc_y"].ok is False and done["hk_cyc_x"].ok is False
    assert done["hk_cyc_x"].error is caught.value
    assert isinstance(done["hk_cyc_y"].error, ImportError)
    assert "hk_cyc_x" not in sys.modules and "hk_cyc_y" not in sys.modules


def test_import_that_raises_is_recorded_and_unchanged(rec: Recorded, sandbox: Path) -> None:
    write_tree(sandbox, {"hk_bad.py": "import os\nraise ValueError('boom')\n"})
    for attempt in range(2):
        with pytest.raises(ValueError, match="boom") as caught:
            import hk_bad  # noqa: F401
        info = ends(rec.events)["hk_bad"]
        assert info.ok is False and info.error is caught.value
    check_balanced(rec.events)
    assert starts(rec.events) == ["hk_bad", "hk_bad"]


def test_missing_module_gives_no_events(rec: Recorded) -> None:
    with pytest.raises(ModuleNotFoundError):
        import hk_does_not_exist  # noqa: F401
    assert rec.events == []


def test_loader_keeps_its_type_identity_and_dict(rec: Recorded, sandbox: Path) -> None:
    write_tree(sandbox, {"hk_plain.py": "L = __loader__\nS = __spec__\n"})
    import hk_plain
    loader = hk_plain.__loader__
    assert type(loader) is importlib.machinery.SourceFileLoader
    assert hk_plain.__spec__.loader is loader and hk_plain.L is loader and hk_plain.S is \
        hk_plain.__spec__
    assert sorted(vars(loader)) == ["name", "path"]  # the wrappers are gone after the load
    fresh = importlib.machinery.SourceFileLoader("hk_plain", str(sandbox / "hk_plain.py"))
    assert loader == fresh  # FileLoader.__eq__ compares __dict__
    assert starts(rec.events) == ["hk_plain"]


def test_loaders_found_but_never_loaded_are_restored_at_uninstall(sandbox: Path) -> None:
    write_tree(sandbox, {"hk_probe.py": ""})
    hook = ImportHook().install()
    try:
        spec = importlib.util.find_spec("hk_probe")
        assert "exec_module" in vars(spec.loader)  # wrapped, waiting for a load
    finally:
        hook.uninstall()
    assert sorted(vars(spec.loader)) == ["name", "path"]


def test_sourceless_module_import_is_observed(rec: Recorded, sandbox: Path) -> None:
    import py_compile
    write_tree(sandbox, {"hk_nosrc.py": "V = 5\n"})
    source = sandbox / "hk_nosrc.py"
    py_compile.compile(str(source), cfile=str(source) + "c", doraise=True)
    source.unlink()
    importlib.invalidate_caches()
    import hk_nosrc
    assert hk_nosrc.V == 5
    assert type(hk_nosrc.__loader__) is importlib.machinery.SourcelessFileLoader
    assert ends(rec.events)["hk_nosrc"].origin == str(sandbox / "hk_nosrc.pyc")
    # the resolver learnt both the .pyc and the source name its code carries
    assert rec.resolver.module_of_file(str(source)) == "hk_nosrc"


def test_module_from_spec_without_exec_is_still_balanced(rec: Recorded, sandbox: Path) -> None:
    write_tree(sandbox, {"hk_half.py": "", "hk_after.py": ""})
    spec = importlib.util.find_spec("hk_half")
    importlib.util.module_from_spec(spec)  # create_module runs; exec never does
    import hk_after  # noqa: F401
    check_balanced(rec.events)
    assert starts(rec.events) == ["hk_half", "hk_after"]
    assert ends(rec.events)["hk_half"].depth == 0 == ends(rec.events)["hk_after"].depth


def test_manual_module_from_spec_then_exec_is_one_import(rec: Recorded, sandbox: Path) -> None:
    write_tree(sandbox, {"hk_manual.py": "M = 1\n"})
    spec = importlib.util.find_spec("hk_manual")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.M == 1
    check_balanced(rec.events)
    assert starts(rec.events) == ["hk_manual"]


def test_uninstall_during_an_import_closes_it(sandbox: Path) -> None:
    recorded = Recorded()
    write_tree(sandbox, {"hk_stopper.py": "import hk_stop_ctl\nhk_stop_ctl.stop()\n",
                         "hk_stop_ctl.py": "stop = None\n"})
    recorded.hook.install()
    import hk_stop_ctl
    hk_stop_ctl.stop = recorded.hook.uninstall
    import hk_stopper  # noqa: F401
    check_balanced(recorded.events)
    assert ends(recorded.events)["hk_stopper"].ok is None  # not seen to finish


def test_legacy_load_module_loader_is_observed(rec: Recorded) -> None:
    class LegacyLoader:
        def load_module(self, fullname: str) -> Any:
            module = sys.modules.setdefault(fullname, type(sys)(fullname))
            module.__loader__ = self
            module.VALUE = 7
            return module

    class Finder:
        def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
            if name == "hk_legacy":
                return importlib.util.spec_from_loader(name, LegacyLoader())
            return None

    finder = Finder()
    sys.meta_path.append(finder)
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ImportWarning)
            import hk_legacy
        assert hk_legacy.VALUE == 7 and type(hk_legacy.__loader__) is LegacyLoader
    finally:
        sys.meta_path.remove(finder)
    check_balanced(rec.events)
    assert starts(rec.events) == ["hk_legacy"]
    assert vars(hk_legacy.__loader__) == {}


def test_finder_without_find_spec_behaves_as_without_the_hook(rec: Recorded) -> None:
    """A legacy ``find_module``-only finder: the hook hands over to importlib, which uses it
    (3.8-3.11) or skips it (3.12+) exactly as without the hook."""
    class Loader:
        def load_module(self, fullname: str) -> Any:
            module = sys.modules.setdefault(fullname, type(sys)(fullname))
            module.__loader__ = self
            return module

    class OldFinder:
        def find_module(self, name: str, path: Any = None) -> Any:
            return Loader() if name == "hk_old" else None

    def attempt() -> str:
        import warnings
        sys.modules.pop("hk_old", None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                importlib.import_module("hk_old")
                return "imported"
            except ImportError as exc:
                return type(exc).__name__

    finder = OldFinder()
    sys.meta_path.append(finder)
    try:
        with_hook = attempt()
        rec.hook.uninstall()
        without_hook = attempt()
        rec.hook.install()
    finally:
        sys.meta_path.remove(finder)
        sys.modules.pop("hk_old", None)
    assert with_hook == without_hook


def test_reentrant_finder_is_not_observed_twice(rec: Recorded, sandbox: Path) -> None:
    write_tree(sandbox, {"hk_needed_by_finder.py": "N = 1\n", "hk_target.py": "T = 1\n"})
    calls: List[str] = []

    class ImportingFinder:
        def find_spec(self, name: str, path: Any, target: Any = None) -> None:
            calls.append(name)
            if name == "hk_target":
                import hk_needed_by_finder  # noqa: F401 - an import during the search
            return None

    finder = ImportingFinder()
    sys.meta_path.insert(1, finder)  # right after ours: our delegation calls it
    try:
        import hk_target  # noqa: F401
    finally:
        sys.meta_path.remove(finder)
    assert "hk_needed_by_finder" in sys.modules
    check_balanced(rec.events)
    # the finder's own import ran under the guard: importlib served it, we stayed out
    assert starts(rec.events) == ["hk_target"]
    assert calls.count("hk_target") == 1


def test_concurrent_imports_are_balanced_per_thread(rec: Recorded, sandbox: Path) -> None:
    files = {}
    for t in range(6):
        files["hk_thr%d/__init__.py" % t] = "from . import m1, m2\n"
        files["hk_thr%d/m1.py" % t] = "import time\ntime.sleep(0.01)\n"
        files["hk_thr%d/m2.py" % t] = "X = 2\n"
    write_tree(sandbox, files)
    errors: List[BaseException] = []
    barrier = threading.Barrier(6)

    def work(t: int) -> None:
        try:
            barrier.wait()
            importlib.import_module("hk_thr%d" % t)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    check_balanced(rec.events)
    assert len(starts(rec.events)) == 18


# -- the hook's own failures -------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["_found", "_begin", "_stack", "bind"])
def test_a_bug_in_the_hook_never_breaks_the_import(rec: Recorded, sandbox: Path, where: str,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capfd: pytest.CaptureFixture) -> None:
    write_tree(sandbox, {"hk_victim/__init__.py": "from . import inner\nV = 1\n",
                         "hk_victim/inner.py": "I = 2\n", "hk_next.py": "N = 3\n"})

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("hook bug")

    target = rec.resolver if where == "bind" else rec.hook
    monkeypatch.setattr(target, where, broken)
    capfd.readouterr()
    import hk_victim
    import hk_next
    assert hk_victim.V == 1 and hk_victim.inner.I == 2 and hk_next.N == 3
    err = capfd.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("recorder: warning: import hook disabled")
    assert "hook bug" in err[0]
    assert not rec.hook.active and rec.hook.failure
    check_balanced(rec.events)


def test_a_bug_after_the_start_still_ends_the_import(rec: Recorded, sandbox: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capfd: pytest.CaptureFixture) -> None:
    write_tree(sandbox, {"hk_mid.py": "import hk_mid_inner\n", "hk_mid_inner.py": ""})
    original = ImportHook._created

    def created_then_break(self: ImportHook, entry: Any) -> None:
        original(self, entry)
        if entry.name == "hk_mid_inner":
            self._fail("testing", RuntimeError("late bug"))
    monkeypatch.setattr(ImportHook, "_created", created_then_break)
    import hk_mid  # noqa: F401
    check_balanced(rec.events)  # both STARTs got their END
    assert starts(rec.events) == ["hk_mid", "hk_mid_inner"]
    assert "late bug" in capfd.readouterr().err


def test_a_failing_callback_disables_the_hook_and_the_import_proceeds(
        sandbox: Path, capfd: pytest.CaptureFixture) -> None:
    write_tree(sandbox, {"hk_cb.py": "C = 1\n", "hk_cb2.py": ""})
    calls: List[Kind] = []

    def callback(kind: Kind, info: ImportInfo) -> None:
        calls.append(kind)
        raise ZeroDivisionError("sink bug")

    hook = ImportHook(ModuleResolver(), callback).install()
    try:
        import hk_cb
        import hk_cb2  # noqa: F401
        assert hk_cb.C == 1
    finally:
        hook.uninstall()
    assert calls == [Kind.IMPORT_START]
    assert capfd.readouterr().err.count("recorder: warning: import hook disabled") == 1


# -- transparency: the same program, with and without the hook ----------------------------------------

DRIVER = '''
import json, os, runpy, sys
sys.path.insert(0, {repo!r})
from recorder.identity import ModuleResolver
from recorder.importhook import ImportHook
EVENTS = []
import pkgutil  # run_path imports it: keep it out of the events
def on_import(kind, info):
    EVENTS.append([kind.name, info.name, info.depth, info.ok,
                   type(info.error).__name__ if info.error is not None else None,
                   info.origin])
HOOK = ImportHook(ModuleResolver(), on_import)
SNAPSHOT = list(sys.meta_path)
if os.environ.get("WITH_HOOK"):
    HOOK.install()
ns = runpy.run_path({main!r}, run_name="__main__")
HOOK.uninstall()
with open({out!r}, "w") as f:
    json.dump({{"obs": ns.get("OBS", {{}}), "events": EVENTS,
               "restored": sys.meta_path == SNAPSHOT}}, f, sort_keys=True, default=repr)
'''


def run_case(tmp_path: Path, main: str, files: Optional[Dict[str, str]] = None,
             zips: Optional[Dict[str, Dict[str, str]]] = None, with_hook: bool = True
             ) -> Dict[str, Any]:
    """Run ``main`` as __main__ in a fresh interpreter; return its observations, stdout,
    stderr and (with the hook) IMPORT events."""
    tree = tmp_path / "tree"
    tree.mkdir(exist_ok=True)
    write_tree(tree, files or {})
    for archive, members in (zips or {}).items():
        write_zip(tree / archive, members)
    write_tree(tree, {"case_main.py": main})
    out = tmp_path / ("with.json" if with_hook else "without.json")
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER.format(repo=REPO, main=str(tree / "case_main.py"), out=str(out)))
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(tree))
    env.pop("WITH_HOOK", None)
    env.pop("RECORDER_LOG", None)
    if with_hook:
        env["WITH_HOOK"] = "1"
    proc = subprocess.run([sys.executable, str(driver)], cwd=str(tree), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    result.update(stdout=proc.stdout, stderr=proc.stderr)
    return result


def same_with_and_without(tmp_path: Path, main: str, **kwargs: Any) -> Dict[str, Any]:
    """Both runs observe the same; returns the hook run (its events checked balanced)."""
    without = run_case(tmp_path, main, with_hook=False, **kwargs)
    with_ = run_case(tmp_path, main, with_hook=True, **kwargs)
    assert with_["obs"] == without["obs"]
    assert with_["stdout"] == without["stdout"]
    assert with_["stderr"] == without["stderr"]
    assert with_["restored"] and without["restored"]
    assert without["events"] == []
    stack: List[str] = []
    for kind, name, depth, ok, error, origin in with_["events"]:
        if kind == "IMPORT_START":
            assert depth == len(stack)
            stack.append(name)
        else:
            assert stack.pop() == name
    assert not stack
    with_["started"] = [e[1] for e in with_["events"] if e[0] == "IMPORT_START"]
    # the case's own modules (from its tree or archives), without stdlib modules it pulled in
    tree = str(tmp_path / "tree")
    with_["local"] = [e[1] for e in with_["events"]
                      if e[0] == "IMPORT_START" and e[5] is not None
                      and os.path.join(tree, e[5]).startswith(tree)]
    return with_


RESOURCE_PKG = {
    "rpkg/__init__.py": "def hello():\n    return 'hi'\n",
    "rpkg/data.txt": "payload\n",
}
RESOURCE_ZIP = {"bundle.zip": {"zpkg/__init__.py": "def hello():\n    return 'zhi'\n",
                               "zpkg/data.txt": "zpayload\n"}}


def test_importlib_resources_files(tmp_path: Path) -> None:
    main = """
        import importlib.resources as r, sys
        sys.path.insert(0, 'bundle.zip')
        import rpkg, zpkg
        OBS = {}
        for name in ("rpkg", "zpkg"):
            if hasattr(r, "files"):
                node = r.files(name) / "data.txt"
                OBS[name] = [node.read_text(), node.is_file(), type(node).__name__]
            else:  # 3.8: no files(); read_text goes through the same loader reader
                OBS[name] = [r.read_text(name, "data.txt"), r.is_resource(name, "data.txt")]
    """
    result = same_with_and_without(tmp_path, main, files=RESOURCE_PKG, zips=RESOURCE_ZIP)
    assert result["obs"]["rpkg"][0] == "payload\n" and result["obs"]["zpkg"][0] == "zpayload\n"
    assert result["local"] == ["rpkg", "zpkg"]


def test_pkgutil_get_data(tmp_path: Path) -> None:
    main = """
        import pkgutil, sys
        sys.path.insert(0, 'bundle.zip')
        OBS = {"rpkg": pkgutil.get_data("rpkg", "data.txt").decode(),
               "zpkg": pkgutil.get_data("zpkg", "data.txt").decode()}
    """
    result = same_with_and_without(tmp_path, main, files=RESOURCE_PKG, zips=RESOURCE_ZIP)
    assert result["obs"] == {"rpkg": "payload\n", "zpkg": "zpayload\n"}
    assert result["local"] == ["rpkg", "zpkg"]


def test_inspect_getsource(tmp_path: Path) -> None:
    main = """
        import inspect, sys
        sys.path.insert(0, 'bundle.zip')
        import rpkg, zpkg
        OBS = {"rpkg": inspect.getsource(rpkg.hello), "zpkg": inspect.getsource(zpkg.hello),
               "module": inspect.getsource(rpkg), "file": inspect.getsourcefile(zpkg.hello)}
    """
    result = same_with_and_without(tmp_path, main, files=RESOURCE_PKG, zips=RESOURCE_ZIP)
    assert result["obs"]["zpkg"] == "def hello():\n    return 'zhi'\n"


def test_importlib_reload(tmp_path: Path) -> None:
    main = """
        import importlib, os
        import rl_mod
        first_id, first_loader = id(rl_mod), rl_mod.__loader__
        with open(rl_mod.__file__, "w") as f:
            f.write("V = 2\\n")
        importlib.invalidate_caches()
        again = importlib.reload(rl_mod)
        OBS = {"same_module": again is rl_mod, "V": rl_mod.V,
               "loader_type": type(rl_mod.__loader__).__name__,
               "spec_loader_is_loader": rl_mod.__spec__.loader is rl_mod.__loader__,
               "loader_dict": sorted(vars(rl_mod.__loader__))}
        with open(rl_mod.__file__, "w") as f:
            f.write("V = 1\\n")
    """
    result = same_with_and_without(tmp_path, main, files={"rl_mod.py": "V = 1\n"})
    assert result["obs"]["V"] == 2 and result["obs"]["same_module"]
    assert result["local"] == ["rl_mod", "rl_mod"]


def test_zip_imports(tmp_path: Path) -> None:
    main = """
        import sys
        sys.path.insert(0, 'bundle.zip')
        import zpkg
        import zpkg.sub.leaf as leaf
        OBS = {"loader": type(zpkg.__loader__).__name__, "file": zpkg.__file__,
               "leaf": leaf.LEAF, "leaf_loader_dict": sorted(vars(leaf.__loader__)),
               "spec_loader_is_loader": leaf.__spec__.loader is leaf.__loader__}
    """
    zips = {"bundle.zip": {"zpkg/__init__.py": "", "zpkg/sub/__init__.py": "",
                           "zpkg/sub/leaf.py": "LEAF = 'leaf'\n"}}
    result = same_with_and_without(tmp_path, main, zips=zips)
    assert result["obs"]["loader"] == "zipimporter"
    assert result["local"] == ["zpkg", "zpkg.sub", "zpkg.sub.leaf"]


def test_zip_import_error_traceback_is_unchanged(tmp_path: Path) -> None:
    """With a ``load_module``-only loader (zipimport before it had ``exec_module``), CPython
    does not trim importlib's frames from the traceback, so our wrapper shows as one more
    ``<frozen importlib._bootstrap>`` line among them: the one visible trace of the hook,
    documented in docs/naming.md. With ``exec_module`` loaders the traceback is identical."""
    import zipimport
    main = """
        import sys, traceback
        sys.path.insert(0, 'bundle.zip')
        OBS = {}
        try:
            import zbad
        except ValueError:
            OBS["tb"] = traceback.format_exc()
    """
    zips = {"bundle.zip": {"zbad.py": "raise ValueError(1)\n"}}
    if hasattr(zipimport.zipimporter, "exec_module"):
        result = same_with_and_without(tmp_path, main, zips=zips)
        assert "zbad.py" in result["obs"]["tb"]
        return
    without = run_case(tmp_path, main, zips=zips, with_hook=False)["obs"]["tb"].splitlines()
    with_ = run_case(tmp_path, main, zips=zips, with_hook=True)["obs"]["tb"].splitlines()
    marker = 'File "<frozen importlib._bootstrap>", line'
    assert [line for line in with_ if marker not in line] == \
        [line for line in without if marker not in line]
    assert len(with_) == len(without) + 1
    assert "recorder" not in "\n".join(with_)


def test_namespace_packages(tmp_path: Path) -> None:
    main = """
        import nsp.mod, nsp.deeper.leaf
        import nsp
        OBS = {"loader": type(nsp.__loader__).__name__,
               "spec_loader": type(nsp.__spec__.loader).__name__,
               "path": list(nsp.__path__), "origin": nsp.__spec__.origin,
               "file": getattr(nsp, "__file__", "absent"), "x": nsp.mod.X,
               "leaf": nsp.deeper.leaf.L}
    """
    files = {"nsp/mod.py": "X = 1\n", "nsp/deeper/leaf.py": "L = 2\n"}
    result = same_with_and_without(tmp_path, main, files=files)
    # namespace packages have no code: no import to time, only their modules
    assert result["local"] == ["nsp.mod", "nsp.deeper.leaf"]


EXTENSION_MAIN = """
    import importlib.machinery, importlib.util, sys
    CANDIDATES = ["mmap", "_bz2", "_lzma", "_csv", "_queue", "_uuid", "cmath", "_statistics",
                  "_ctypes", "array", "_json", "_random", "select", "unicodedata", "zlib"]
    OBS = {}
    for name in CANDIDATES:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or not str(spec.origin).endswith(
                tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            continue
        module = __import__(name)
        OBS = {"name": name, "loader": type(module.__loader__).__name__,
               "spec_loader_is_loader": module.__spec__.loader is module.__loader__,
               "loader_dict": sorted(vars(module.__loader__)),
               "file": module.__file__, "attrs": sorted(dir(module))[:20]}
        break
"""


def test_c_extensions(tmp_path: Path) -> None:
    result = same_with_and_without(tmp_path, EXTENSION_MAIN)
    obs = result["obs"]
    assert obs, "no extension module candidate on this interpreter"
    assert obs["loader"] == "ExtensionFileLoader"
    assert obs["name"] in result["started"]


def test_frozen_modules(tmp_path: Path) -> None:
    main = """
        import importlib.machinery as m
        before = sorted(vars(m.FrozenImporter))
        import __hello__
        import __phello__.spam
        OBS = {"loader_is_frozen_importer": __hello__.__loader__ is m.FrozenImporter,
               "origin": __hello__.__spec__.origin,
               "class_dict_unchanged": sorted(vars(m.FrozenImporter)) == before,
               "spam": __phello__.spam.__name__}
    """
    result = same_with_and_without(tmp_path, main)
    assert result["obs"]["loader_is_frozen_importer"] and result["obs"]["class_dict_unchanged"]
    # class loaders are never wrapped: no events, no change
    assert not {"__hello__", "__phello__", "__phello__.spam"} & set(result["started"])


def test_tracebacks_and_warnings_of_imported_code_are_unchanged(tmp_path: Path) -> None:
    main = """
        import importlib, traceback, warnings
        import tb_warner          # DeprecationWarning, stacklevel=2: shown, as __main__'s
        OBS = {}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import tb_warner2
        OBS["warning_at"] = [(w.filename.rsplit("/", 1)[-1], w.lineno) for w in caught]
        try:
            import tb_bad
        except ValueError:
            OBS["tb"] = traceback.format_exc()
        try:
            importlib.import_module("tb_bad")
        except ValueError:
            # importlib.import_module shows importlib's own frames; ours must be filed
            # among them, never as a recorder file
            OBS["tb_import_module"] = [line for line in traceback.format_exc().splitlines()
                                       if "<frozen importlib" not in line]
    """
    files = {
        "tb_warner.py": "import warnings\nwarnings.warn('old api', DeprecationWarning, "
                        "stacklevel=2)\n",
        "tb_warner2.py": "import warnings\nwarnings.warn('again', UserWarning, stacklevel=2)\n",
        "tb_bad.py": "X = 1\nraise ValueError('boom')\n",
    }
    result = same_with_and_without(tmp_path, main, files=files)
    assert "DeprecationWarning: old api" in result["stderr"]
    assert result["obs"]["warning_at"] == [["case_main.py", 7]]
    assert "recorder" not in result["obs"]["tb"] and "tb_bad.py" in result["obs"]["tb"]
    assert "importhook" not in "".join(result["obs"]["tb_import_module"])
    assert result["local"] == ["tb_warner", "tb_warner2", "tb_bad", "tb_bad"]


def test_pytest_assertion_rewriting(tmp_path: Path) -> None:
    """pytest's AssertionRewritingHook sits in sys.meta_path; ours goes in front of it
    (installed from conftest.py) and must leave its rewriting intact."""
    tree = tmp_path / "ptree"
    write_tree(tree, {
        "conftest.py": f"""
            import sys
            sys.path.insert(0, {REPO!r})
            from recorder.identity import ModuleResolver
            from recorder.importhook import ImportHook
            NAMES = []
            HOOK = ImportHook(ModuleResolver(), lambda kind, info: NAMES.append(info.name))
            HOOK.install()
            def pytest_unconfigure(config):
                HOOK.uninstall()
                print("OBSERVED", sorted(set(NAMES)))
        """,
        "helper_rw.py": "def value():\n    return 2\n",
        "test_rw.py": """
            import sys
            from helper_rw import value
            def test_rewritten():
                assert type(sys.meta_path[0]).__name__ == "_Finder"
                assert value() == 3
        """,
    })
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTEST_ADDOPTS", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-s",
                           "test_rw.py"], cwd=str(tree), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    out = proc.stdout
    assert proc.returncode == 1, out
    # rewritten assertion: pytest explains the call's value
    assert "where 2 = value()" in out, out
    observed = [line for line in out.splitlines() if line.startswith("OBSERVED")]
    assert observed and "'test_rw'" in observed[0] and "'helper_rw'" in observed[0], out
