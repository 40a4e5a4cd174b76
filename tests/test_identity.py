"""The module identity resolver (recorder/identity.py), without the tracer.

Module-level frames are caught with ``sys.setprofile`` (enough to get each ``<module>`` code
object and its globals, as a backend would) and named by a fresh :class:`ModuleResolver`.
Every package is built in ``tmp_path``; modules imported from there are dropped afterwards.
The tracer-level versions of these checks are in tests/test_identity_tracing.py.
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
import threading
import zipfile
from pathlib import Path
from types import CodeType
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from recorder.identity import ModuleResolver, is_dotted_name
from recorder.importhook import ImportHook

from conftest import write_tree

REPO = str(Path(__file__).resolve().parents[1])

Captured = List[Tuple[CodeType, dict]]


# -- helpers ---------------------------------------------------------------------------------



def capture_module_frames(fn: Callable[[], Any]) -> Captured:
    """Run ``fn``; return (code, f_globals) of every module-level frame that started."""
    seen: Captured = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_name == "<module>":
            seen.append((frame.f_code, frame.f_globals))

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return seen


def labels(resolver: ModuleResolver, frames: Captured, with_globals: bool = True
           ) -> Dict[str, str]:
    """{file name relative-ish: label} for the captured frames."""
    out = {}
    for code, globals_ in frames:
        label, _module = resolver.label_for(code, globals_ if with_globals else None)
        out[code.co_filename] = label
    return out


def by_label(resolver: ModuleResolver, frames: Captured, with_globals: bool = True
             ) -> List[str]:
    return [resolver.label_for(code, g if with_globals else None)[0] for code, g in frames]


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``tmp_path`` on ``sys.path``; modules imported from it are forgotten afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    # Every module these tests create is named ident_* or weird*: forget exactly those
    # (looking at a stale namespace package's __path__ would recompute it and fail).
    for name in set(sys.modules) - before:
        if name.startswith(("ident_", "weird")):
            sys.modules.pop(name, None)
    importlib.invalidate_caches()


# -- first-party, third-party, namespace, zip, sourceless -------------------------------------

def test_package_and_subpackages_are_named_by_their_dotted_names(sandbox: Path) -> None:
    write_tree(sandbox, {
        "ident_app/__init__.py": "from . import sub\n",
        "ident_app/sub/__init__.py": "from . import mod\n",
        "ident_app/sub/mod.py": "X = 1\n",
    })
    frames = capture_module_frames(lambda: importlib.import_module("ident_app"))
    resolver = ModuleResolver()
    assert by_label(resolver, frames) == ["<ident_app>", "<ident_app.sub>", "<ident_app.sub.mod>"]
    # The module name comes with the label, for the filters.
    assert [resolver.label_for(c, g)[1] for c, g in frames] == \
        ["ident_app", "ident_app.sub", "ident_app.sub.mod"]
    # Without frame globals, the fallbacks (sys.modules index) give the same answer.
    assert by_label(ModuleResolver(), frames, with_globals=False) == \
        ["<ident_app>", "<ident_app.sub>", "<ident_app.sub.mod>"]


def test_third_party_like_package_in_a_directory_added_to_sys_path(
        tmp_path: Path, sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "venv" / "lib" / "site-packages"
    write_tree(site, {
        "ident_vendor/__init__.py": "from .core import run\n",
        "ident_vendor/core.py": "def run():\n    return 1\n",
    })
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    frames = capture_module_frames(lambda: importlib.import_module("ident_vendor"))
    assert by_label(ModuleResolver(), frames) == ["<ident_vendor>", "<ident_vendor.core>"]
    # A fresh resolver with no globals at all: the longest sys.path root wins over tmp_path.
    resolver = ModuleResolver()
    core = str(site / "ident_vendor" / "core.py")
    monkeypatch.setattr(resolver, "_from_index", lambda norm: None)
    assert resolver.module_of_file(core) == "ident_vendor.core"


def test_namespace_package_gets_the_full_dotted_name(sandbox: Path) -> None:
    write_tree(sandbox, {
        "ident_ns/inner/mod.py": "X = 1\n",     # ident_ns and ident_ns.inner: no __init__
        "ident_ns/leaf.py": "Y = 2\n",
    })
    def body() -> None:
        importlib.import_module("ident_ns.inner.mod")
        importlib.import_module("ident_ns.leaf")
    frames = capture_module_frames(body)
    assert by_label(ModuleResolver(), frames) == ["<ident_ns.inner.mod>", "<ident_ns.leaf>"]
    assert by_label(ModuleResolver(), frames, with_globals=False) == \
        ["<ident_ns.inner.mod>", "<ident_ns.leaf>"]


def test_zip_import_gets_real_names(sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = sandbox / "ident_bundle.zip"
    with zipfile.ZipFile(str(archive), "w") as zf:
        zf.writestr("ident_zpkg/__init__.py", "from . import zmod\n")
        zf.writestr("ident_zpkg/zmod.py", "def f():\n    return 3\n")
    monkeypatch.syspath_prepend(str(archive))
    frames = capture_module_frames(lambda: importlib.import_module("ident_zpkg"))
    assert [c.co_filename for c, _ in frames] == [
        os.path.join(str(archive), "ident_zpkg", "__init__.py"),
        os.path.join(str(archive), "ident_zpkg", "zmod.py")]
    assert by_label(ModuleResolver(), frames) == ["<ident_zpkg>", "<ident_zpkg.zmod>"]
    assert by_label(ModuleResolver(), frames, with_globals=False) == \
        ["<ident_zpkg>", "<ident_zpkg.zmod>"]
    # sys.path step alone (a zip root needs no marker files on disk)
    resolver = ModuleResolver()
    monkeypatch.setattr(resolver, "_from_index", lambda norm: None)
    assert resolver.module_of_file(frames[1][0].co_filename) == "ident_zpkg.zmod"


@pytest.mark.parametrize("in_package", [False, True])
def test_sourceless_pyc_only_module_gets_its_real_name(sandbox: Path, in_package: bool) -> None:
    rel = "ident_spkg/compiled.py" if in_package else "ident_compiled.py"
    write_tree(sandbox, {rel: "VALUE = 42\n"})
    if in_package:
        write_tree(sandbox, {"ident_spkg/__init__.py": ""})
    source = sandbox / rel
    # Compiled under another name, as a build machine would: co_filename is not the .pyc.
    py_compile.compile(str(source), cfile=str(source) + "c", dfile="/build/src/" + rel,
                       doraise=True)
    source.unlink()
    importlib.invalidate_caches()
    name = rel[:-3].replace("/", ".")
    frames = capture_module_frames(lambda: importlib.import_module(name))
    module = sys.modules[name]
    assert type(module.__loader__).__name__ == "SourcelessFileLoader"
    (code, globals_), = [f for f in frames if f[1].get("__name__") == name]
    assert code.co_filename == "/build/src/" + rel
    assert ModuleResolver().label_for(code, globals_) == ("<%s>" % name, name)


def test_sourceless_pyc_compiled_in_place_resolves_without_globals(sandbox: Path) -> None:
    write_tree(sandbox, {"ident_inplace.py": "V = 1\n"})
    source = sandbox / "ident_inplace.py"
    py_compile.compile(str(source), cfile=str(source) + "c", doraise=True)
    source.unlink()
    importlib.invalidate_caches()
    frames = capture_module_frames(lambda: importlib.import_module("ident_inplace"))
    code, _ = frames[0]
    # co_filename is the deleted .py; the index maps a .pyc to the source it stands for.
    assert ModuleResolver().label_for(code, None) == ("<ident_inplace>", "ident_inplace")


# -- scripts, -m, run_path, exec ---------------------------------------------------------------

SITECUSTOMIZE = '''
import atexit, json, os, sys
sys.path.insert(0, {repo!r})
from recorder.identity import ModuleResolver
from recorder.importhook import ImportHook
_resolver = ModuleResolver()
_hook = ImportHook(_resolver).install() if os.environ.get("IDENT_HOOK") else None
_seen = []
def _profile(frame, event, arg):
    if event == "call" and frame.f_code.co_name == "<module>":
        _seen.append(_resolver.label_for(frame.f_code, frame.f_globals)[0])
sys.setprofile(_profile)
def _dump():
    sys.setprofile(None)
    with open(os.environ["IDENT_OUT"], "w") as f:
        json.dump(_seen, f)
atexit.register(_dump)
'''


def run_python(tmp_path: Path, args: List[str], hook: bool = False,
               cwd: Optional[Path] = None) -> List[str]:
    """Run the interpreter with a sitecustomize that labels every module-level frame."""
    site = tmp_path / "site_hook"
    write_tree(site, {"sitecustomize.py": SITECUSTOMIZE.format(repo=REPO)})
    out = tmp_path / "labels.json"
    env = dict(os.environ, PYTHONPATH=str(site), IDENT_OUT=str(out))
    env.pop("RECORDER_LOG", None)
    if hook:
        env["IDENT_HOOK"] = "1"
    proc = subprocess.run([sys.executable] + args, cwd=str(cwd or tmp_path), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())


@pytest.fixture
def cli_tree(tmp_path: Path) -> Path:
    proj = tmp_path / "proj"
    write_tree(proj, {
        "script.py": "import clipkg.mod\n",
        "clipkg/__init__.py": "",
        "clipkg/__main__.py": "from . import helper\n",
        "clipkg/helper.py": "",
        "clipkg/mod.py": "",
        "clipkg/runme.py": "print('ran')\n",
    })
    return proj


@pytest.mark.parametrize("hook", [False, True], ids=["resolver", "resolver+hook"])
def test_script_is_main(tmp_path: Path, cli_tree: Path, hook: bool) -> None:
    # a relative script path: co_filename is relative on 3.8
    seen = run_python(tmp_path, ["script.py"], hook=hook, cwd=cli_tree)
    assert seen[-3:] == ["<__main__>", "<clipkg>", "<clipkg.mod>"]


@pytest.mark.parametrize("hook", [False, True], ids=["resolver", "resolver+hook"])
def test_dash_m_module_is_its_spec_name(tmp_path: Path, cli_tree: Path, hook: bool) -> None:
    seen = run_python(tmp_path, ["-m", "clipkg.mod"], hook=hook, cwd=cli_tree)
    assert seen[-2:] == ["<clipkg>", "<clipkg.mod>"]
    assert "<__main__>" not in seen


@pytest.mark.parametrize("hook", [False, True], ids=["resolver", "resolver+hook"])
def test_dash_m_package_is_its_main_submodule(tmp_path: Path, cli_tree: Path,
                                              hook: bool) -> None:
    seen = run_python(tmp_path, ["-m", "clipkg"], hook=hook, cwd=cli_tree)
    assert seen[-3:] == ["<clipkg>", "<clipkg.__main__>", "<clipkg.helper>"]


def test_run_path_is_module_never_a_guess(sandbox: Path) -> None:
    # The file sits inside a real package on sys.path: the path alone would say
    # ident_rp.tool, but run_path runs it as "<run_path>", which is not a module name.
    write_tree(sandbox, {"ident_rp/__init__.py": "", "ident_rp/tool.py": "X = 1\n"})
    path = str(sandbox / "ident_rp" / "tool.py")
    frames = capture_module_frames(lambda: runpy.run_path(path))
    (code, globals_), = [f for f in frames if f[0].co_filename == path]
    assert globals_["__name__"] == "<run_path>"
    assert ModuleResolver().label_for(code, globals_) == ("<module>", None)


def test_run_path_relative_in_a_subprocess(tmp_path: Path, cli_tree: Path) -> None:
    seen = run_python(tmp_path, ["-c", "import runpy; runpy.run_path('clipkg/runme.py')"],
                      cwd=cli_tree)
    assert seen[-1] == "<module>"


def test_exec_of_a_string_is_never_named_after_the_caller(sandbox: Path) -> None:
    write_tree(sandbox, {"ident_caller.py": """
        SRC = "Z = 1\\n"
        exec(compile(SRC, "<string>", "exec"))
        exec(SRC)
        exec(compile(SRC, "<string>", "exec"), globals())
        eval(compile("1", "<string>", "eval"))
    """})
    frames = capture_module_frames(lambda: importlib.import_module("ident_caller"))
    resolver = ModuleResolver()
    assert [resolver.label_for(c, g) for c, g in frames] == \
        [("<ident_caller>", "ident_caller")] + [("<module>", None)] * 4
    assert all(g["__name__"] == "ident_caller" for _, g in frames)


def test_stdin_and_doctest_names_stay_module() -> None:
    resolver = ModuleResolver()
    for filename in ("<stdin>", "<doctest x[0]>", "<ipython-input-1>"):
        code = compile("x = 1", filename, "exec")
        assert resolver.label_for(code, {"__name__": "__main__"}) == ("<module>", None)


def test_frozen_module_keeps_module_label_but_reports_its_module() -> None:
    code = compile("x = 1", "<frozen os>", "exec")
    assert ModuleResolver().label_for(code, {"__name__": "os"}) == ("<module>", "os")
    assert ModuleResolver().module_of_file("<frozen importlib._bootstrap>") == \
        "importlib._bootstrap"
    assert ModuleResolver().module_of_file("<string>") is None


def test_exec_with_a_real_filename_and_foreign_globals_uses_the_file(sandbox: Path) -> None:
    write_tree(sandbox, {"ident_real/__init__.py": "", "ident_real/target.py": "T = 1\n"})
    importlib.import_module("ident_real.target")
    path = str(sandbox / "ident_real" / "target.py")
    code = compile("T = 2\n", path, "exec")
    # globals of another module: the file check fails, the file's own module is found
    label = ModuleResolver().label_for(code, {"__name__": "ident_other", "__file__": "/x.py"})
    assert label == ("<ident_real.target>", "ident_real.target")


# -- invalid names ------------------------------------------------------------------------------

def test_module_whose_name_is_not_an_identifier_gets_no_invalid_label(sandbox: Path) -> None:
    write_tree(sandbox, {"weird_file.py": "W = 1\n"})
    path = str(sandbox / "weird_file.py")
    spec = importlib.util.spec_from_file_location("weird-name", path)
    module = importlib.util.module_from_spec(spec)
    frames = capture_module_frames(lambda: spec.loader.exec_module(module))
    (code, globals_), = frames
    assert globals_["__name__"] == "weird-name"
    assert ModuleResolver().label_for(code, globals_) == ("<module>", None)
    # Registered in sys.modules under the invalid name, without globals: still valid or none.
    sys.modules["weird-name"] = module
    label, name = ModuleResolver().label_for(code, None)
    assert label == "<module>" or is_dotted_name(label[1:-1])
    assert name is None or is_dotted_name(name)


@pytest.mark.parametrize("name,ok", [
    ("pkg", True), ("pkg.sub.mod", True), ("__main__", True), ("_x1.y_", True),
    ("weird-name", False), ("<run_path>", False), ("a..b", False), ("", False), (".a", False),
    ("a.", False), ("1abc", False), (None, False), (3, False)])
def test_is_dotted_name(name: Any, ok: bool) -> None:
    assert is_dotted_name(name) is ok


def test_path_with_invalid_identifier_parts_is_not_a_module(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    write_tree(tmp_path, {"my-tool.py": "", "good/__init__.py": "", "good/my-mod.py": ""})
    monkeypatch.syspath_prepend(str(tmp_path))
    resolver = ModuleResolver()
    assert resolver.module_of_file(str(tmp_path / "my-tool.py")) is None
    assert resolver.module_of_file(str(tmp_path / "good" / "my-mod.py")) is None
    code = compile("", str(tmp_path / "my-tool.py"), "exec")
    assert resolver.label_for(code, None) == ("<module>", None)


def test_longest_sys_path_root_with_package_markers(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    write_tree(tmp_path, {
        "src/ident_lay/__init__.py": "", "src/ident_lay/deep/__init__.py": "",
        "src/ident_lay/deep/m.py": "", "nomark/m.py": "",
    })
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    resolver = ModuleResolver()
    assert resolver.module_of_file(str(tmp_path / "src/ident_lay/deep/m.py")) == \
        "ident_lay.deep.m"
    assert resolver.module_of_file(str(tmp_path / "src/ident_lay/__init__.py")) == "ident_lay"
    # src/ has no __init__.py: never "src.ident_lay..."; nomark/ neither
    assert resolver.module_of_file(str(tmp_path / "nomark/m.py")) is None


def test_relative_file_names_resolve_against_the_start_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tree(tmp_path, {"ident_rel/__init__.py": "", "ident_rel/m.py": ""})
    monkeypatch.syspath_prepend(str(tmp_path))
    resolver = ModuleResolver(cwd=str(tmp_path))
    monkeypatch.chdir("/")
    assert resolver.module_of_file(os.path.join("ident_rel", "m.py")) == "ident_rel.m"


# -- reload, functions, bindings -----------------------------------------------------------------

def test_reload_gives_the_same_label_to_the_new_code_object(sandbox: Path) -> None:
    write_tree(sandbox, {"ident_rl/__init__.py": "", "ident_rl/m.py": "V = 1\n"})
    first = capture_module_frames(lambda: importlib.import_module("ident_rl.m"))
    module = sys.modules["ident_rl.m"]
    (sandbox / "ident_rl" / "m.py").write_text("V = 2\nW = 3\n")
    importlib.invalidate_caches()
    second = capture_module_frames(lambda: importlib.reload(module))
    assert module.V == 2
    old_code = [c for c, _ in first if c.co_filename.endswith("m.py")][0]
    (new_code, new_globals), = second
    assert new_code is not old_code
    resolver = ModuleResolver()
    assert resolver.label_for(old_code, first[-1][1]) == ("<ident_rl.m>", "ident_rl.m")
    assert resolver.label_for(new_code, new_globals) == ("<ident_rl.m>", "ident_rl.m")
    assert resolver.label_for(new_code, None) == ("<ident_rl.m>", "ident_rl.m")


def test_function_code_gets_no_label_but_its_module(sandbox: Path) -> None:
    write_tree(sandbox, {"ident_fn.py": "def f():\n    return 1\nclass C:\n    def m(self): pass\n"})
    module = importlib.import_module("ident_fn")
    resolver = ModuleResolver()
    assert resolver.label_for(module.f.__code__, module.__dict__) == (None, "ident_fn")
    assert resolver.label_for(module.C.m.__code__, None) == (None, "ident_fn")
    exec_fn = {}  # type: Dict[str, Any]
    exec("def g():\n    pass\n", module.__dict__, exec_fn)
    assert resolver.label_for(exec_fn["g"].__code__, module.__dict__) == (None, None)


def test_import_hook_bindings_are_used_when_globals_do_not_say(tmp_path: Path) -> None:
    path = str(tmp_path / "nowhere" / "bound.py")
    resolver = ModuleResolver()
    code = compile("", path, "exec")
    resolver.bind(path, "ident_bound.mod")
    assert resolver.label_for(code, None) == ("<ident_bound.mod>", "ident_bound.mod")
    assert resolver.steps["hook"] == 1
    # a binding to a code object wins for that code; invalid names are ignored
    other = compile("", str(tmp_path / "x.py"), "exec")
    resolver.bind(other, "ident_by_code")
    resolver.bind(str(tmp_path / "y.py"), "not-valid")
    assert resolver.label_for(other, None) == ("<ident_by_code>", "ident_by_code")
    assert resolver.module_of_file(str(tmp_path / "y.py")) is None
    # a .pyc binding also covers the source name such code carries
    resolver.bind(str(tmp_path / "p" / "__pycache__" / "c.cpython-38.pyc"), "ident_c")
    assert resolver.module_of_file(str(tmp_path / "p" / "c.py")) == "ident_c"


def test_hook_teaches_the_resolver_so_no_index_is_needed(sandbox: Path) -> None:
    write_tree(sandbox, {"ident_taught/__init__.py": "", "ident_taught/m.py": ""})
    resolver = ModuleResolver()
    hook = ImportHook(resolver).install()
    try:
        frames = capture_module_frames(lambda: importlib.import_module("ident_taught.m"))
    finally:
        hook.uninstall()
    assert by_label(resolver, frames, with_globals=False) == ["<ident_taught>", "<ident_taught.m>"]
    assert resolver.index_builds == 0
    assert resolver.steps["hook"] == 2


# -- the cache -----------------------------------------------------------------------------------

def test_each_code_object_is_resolved_once_and_forgotten_when_it_dies(sandbox: Path) -> None:
    import gc
    import weakref
    resolver = ModuleResolver()
    code = compile("x = 1", str(sandbox / "ident_alive.py"), "exec")
    ref = weakref.ref(code)
    first = resolver.label_for(code, None)
    for _ in range(100):
        assert resolver.label_for(code, None) == first
    assert resolver.resolutions == 1
    assert resolver.stats()["cached_codes"] == 1
    del code
    gc.collect()
    assert ref() is None, "the cache must not keep code made at run time alive"
    assert resolver.stats()["cached_codes"] == 0, "the entry goes before the id can be reused"


def test_sys_modules_is_indexed_at_most_once_per_growth(sandbox: Path) -> None:
    write_tree(sandbox, {"ident_grow_a.py": "", "ident_grow_b.py": ""})
    resolver = ModuleResolver()
    unknown = [compile("", "/nonexistent/dir%d/m.py" % i, "exec") for i in range(50)]
    for code in unknown:
        assert resolver.label_for(code, None) == ("<module>", None)
    assert resolver.index_builds == 1
    for i in range(50):  # module_of_file misses without growth: no rebuild
        resolver.module_of_file("/nonexistent/again%d.py" % i)
    assert resolver.index_builds == 1
    importlib.import_module("ident_grow_a")
    later = [compile("", "/nonexistent/later%d/m.py" % i, "exec") for i in range(20)]
    for code in later:
        resolver.label_for(code, None)
    assert resolver.index_builds == 2
    # the new module is found through the refreshed index
    path = str(sandbox / "ident_grow_a.py")
    assert resolver.label_for(compile("", path, "exec"), None)[1] == "ident_grow_a"
    assert resolver.index_builds == 2
    # frame globals answer without touching the index at all
    fresh = ModuleResolver()
    importlib.import_module("ident_grow_b")
    module = sys.modules["ident_grow_b"]
    code = compile("", module.__file__, "exec")
    assert fresh.label_for(code, module.__dict__) == ("<ident_grow_b>", "ident_grow_b")
    assert fresh.index_builds == 0


def test_index_is_built_once_under_concurrent_lookups() -> None:
    resolver = ModuleResolver()
    codes = [compile("", "/nonexistent/t%d/m.py" % i, "exec") for i in range(400)]
    barrier = threading.Barrier(8)

    def work(chunk: List[CodeType]) -> None:
        barrier.wait()
        for code in chunk:
            resolver.label_for(code, None)

    threads = [threading.Thread(target=work, args=(codes[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert resolver.index_builds == 1


def test_index_does_not_touch_lazy_or_odd_modules(sandbox: Path) -> None:
    write_tree(sandbox, {"ident_lazy.py": "LOADED = True\n"})
    spec = importlib.util.find_spec("ident_lazy")
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["ident_lazy"] = module
    loader.exec_module(module)

    class Odd:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError("touched")
    sys.modules["ident_odd"] = Odd()  # type: ignore[assignment]
    try:
        resolver = ModuleResolver()
        resolver.label_for(compile("", "/nonexistent/q.py", "exec"), None)
        assert resolver.index_builds == 1
        assert "LOADED" not in object.__getattribute__(module, "__dict__"), \
            "indexing must not trigger a lazy module's load"
        assert resolver.module_of_file(str(sandbox / "ident_lazy.py")) == "ident_lazy"
    finally:
        sys.modules.pop("ident_odd", None)


# -- RECORDER_LOG=debug ----------------------------------------------------------------------------

def test_debug_log_prints_one_line_per_fallback(sandbox: Path, monkeypatch: pytest.MonkeyPatch,
                                                capfd: pytest.CaptureFixture) -> None:
    write_tree(sandbox, {"ident_dbg.py": "exec('y = 1')\n"})
    frames = capture_module_frames(lambda: importlib.import_module("ident_dbg"))
    monkeypatch.setenv("RECORDER_LOG", "debug")
    resolver = ModuleResolver()
    monkeypatch.delenv("RECORDER_LOG")  # read once, at construction
    capfd.readouterr()
    for code, globals_ in frames:
        resolver.label_for(code, globals_)
        resolver.label_for(code, globals_)  # cached: no second line
    unknown = compile("", "/nonexistent/z.py", "exec")
    resolver.label_for(unknown, None)
    err = capfd.readouterr().err.splitlines()
    assert len(err) == 2, err  # the exec'd string and the unknown file; not ident_dbg
    assert "'<string>'" in err[0] and "ident_dbg" in err[0]  # says whose name it refused
    assert "/nonexistent/z.py" in err[1]
    assert all(line.startswith("recorder: debug: identity: <module> for ") for line in err)


def test_no_debug_output_by_default(monkeypatch: pytest.MonkeyPatch,
                                    capfd: pytest.CaptureFixture) -> None:
    monkeypatch.delenv("RECORDER_LOG", raising=False)
    resolver = ModuleResolver()
    resolver.label_for(compile("", "<string>", "exec"), None)
    resolver.label_for(compile("", "/nonexistent/n.py", "exec"), None)
    assert capfd.readouterr().err == ""


def test_debug_names_the_fallback_step(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    resolver = ModuleResolver(debug=True)
    path = str(tmp_path / "b.py")
    resolver.bind(path, "ident_via_hook")
    capfd.readouterr()
    assert resolver.label_for(compile("", path, "exec"), {"__name__": "x"})[0] == \
        "<ident_via_hook>"
    err = capfd.readouterr().err
    assert "via hook" in err and err.count("\n") == 1


def test_resolver_errors_never_escape(monkeypatch: pytest.MonkeyPatch) -> None:
    resolver = ModuleResolver()
    monkeypatch.setattr(resolver, "_located", lambda filename: 1 / 0)
    assert resolver.label_for(compile("", "/nonexistent/e.py", "exec"), None) == ("<module>", None)
