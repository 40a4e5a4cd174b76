"""Trace filters: selectors, scope rules, precedence across sources, bad files.

Scope decisions are checked on real recordings (``recorder.install`` with an event sink) on
every backend this interpreter has; value rules and redaction, which need the trace writer,
are in tests/test_redaction.py. docs/filters.md is the user's version of what is tested here.
"""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

import recorder
from recorder import env
from recorder.config import Config
from recorder.errors import ConfigError
from recorder.events import Event, Kind
from recorder.filters import (ALLOW, DROP, REDACT, FilterChain, FilterEngine, builtin_source,
                              identifier_words, load_chain, load_file, parse_selector)
from recorder.identity import ModuleResolver
from recorder.session import active_session
from conftest import RECORDER_DIR, write_tree

ROOT = os.path.dirname(RECORDER_DIR)


# -- helpers ------------------------------------------------------------------------------------



def toml(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return str(path)


def record(fn: Callable[[], Any], backend: str, **options: Any) -> List[Event]:
    events: List[Event] = []
    session = recorder.install(events.append, backend=backend, **options)
    try:
        fn()
    finally:
        recorder.uninstall()
    record.last_session = session  # type: ignore[attr-defined]
    return events


def called(events: List[Event], under: Optional[str] = None) -> List[str]:
    """``module.qualname`` of every CALL (optionally only of files under ``under``)."""
    out = []
    for e in events:
        if e.kind == Kind.CALL and e.code is not None:
            if under is None or e.code.filename.startswith(under):
                out.append("%s.%s" % (e.code.module, e.code.qualname))
    return out




@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path, the working directory (so no pyproject.toml above it is
    found), with no RECORDER_* variables; modules named flt_* are forgotten afterwards."""
    for name in list(os.environ):
        if name.startswith("RECORDER_"):
            monkeypatch.delenv(name)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith("flt_"):
            sys.modules.pop(name, None)
    importlib.invalidate_caches()


LIB = {
    "flt_app/__init__.py": "",
    "flt_app/core.py": """
        from flt_app import util
        from flt_app.vendor import engine
        def double(x):
            return x * 2
        def run():
            util.helper()
            return engine.apply(double, 21)
        """,
    "flt_app/util.py": """
        def helper():
            return 1
        """,
    "flt_app/vendor/__init__.py": "",
    "flt_app/vendor/engine.py": """
        def apply(fn, value):
            return inner(fn, value)
        def inner(fn, value):
            return fn(value)
        """,
    "flt_app/models.py": """
        class Account:
            def __init__(self):
                self.n = 0
            def deposit(self):
                self.n += 1
                return self.keep()
            def keep(self):
                return self.n
        def standalone():
            return Account().deposit()
        """,
}


def run_core() -> None:
    importlib.import_module("flt_app.core").run()


# -- words and selectors ------------------------------------------------------------------------

@pytest.mark.parametrize("name, words", [
    ("password", ["password"]),
    ("db_password_hash", ["db", "password", "hash"]),
    ("apiKey", ["api", "key"]),
    ("APIKey", ["api", "key"]),
    ("userAPIKey_2", ["user", "api", "key", "2"]),
    ("sessionID", ["session", "id"]),
    ("X-Auth-Token", ["x", "auth", "token"]),
    ("OAuthToken", ["o", "auth", "token"]),
    ("__secret__", ["secret"]),
    ("HTTPServer", ["http", "server"]),
])
def test_identifier_words(name: str, words: List[str]) -> None:
    assert identifier_words(name) == words


SELECTOR_CASES = [
    # pkg: the module and everything under it; * stays within one part, ** crosses parts
    ("pkg:flt_app", "flt_app", True), ("pkg:flt_app", "flt_app.vendor.engine", True),
    ("pkg:flt_app", "flt_appx", False), ("pkg:flt_app.*", "flt_app", False),
    ("pkg:flt_app.*", "flt_app.core", True), ("pkg:*.vendor", "flt_app.vendor.engine", True),
    ("pkg:**.engine", "flt_app.vendor.engine", True), ("pkg:*.engine", "flt_app.vendor.engine",
                                                       False),
    ("pkg:literal:flt_app.vendor", "flt_app.vendor.engine", True),
    ("pkg:literal:flt_app.v*", "flt_app.vendor", False),
    ("pkg:regex:flt_.*r", "flt_app.vendor", True), ("pkg:regex:flt_", "flt_app", False),
    # obj: module.qualname, covering nested names
    ("obj:m.Account", "m.Account.deposit", True), ("obj:m.Account", "m.Accounts", False),
    ("obj:m.*.keep", "m.Account.keep", True), ("obj:m.f.<locals>.g", "m.f.<locals>.g", True),
    # group
    ("group:stdlib", "stdlib", True), ("group:stdlib", "program", False),
    ("group:*", "third-party", True), ("group:literal:synthetic", "synthetic", True),
    # value kinds: identifiers, whole names unless word/regex
    ("local:password", "password", True), ("local:password", "db_password", False),
    ("local:*pass*", "compass", True), ("arg:word:api key", "userApiKey", True),
    ("arg:word:api key", "rapid_keyboard", False), ("any:word:pin", "pin_code", True),
    ("any:word:pin", "spinner", False), ("global:regex:[A-Z_]+", "API_KEY", True),
    ("attr:literal:x*", "x*", True), ("ret:get_*", "get_token", True),
]


@pytest.mark.parametrize("text, subject, expected", SELECTOR_CASES)
def test_selector_kinds_and_matches(text: str, subject: str, expected: bool) -> None:
    kinds = ("pkg", "file", "obj", "group", "local", "global", "arg", "ret", "attr", "any")
    assert parse_selector(text, kinds, "/base").test(subject) is expected


def test_file_selectors_are_relative_to_the_source_and_cover_directories(tmp_path: Path) -> None:
    base = str(tmp_path.resolve())
    j = os.path.join
    cases = [
        ("file:src", j(base, "src", "a", "m.py"), True),
        ("file:src/*.py", j(base, "src", "m.py"), True),
        ("file:src/*.py", j(base, "src", "a", "m.py"), False),
        ("file:src/**/m.py", j(base, "src", "m.py"), True),
        ("file:src/**/m.py", j(base, "src", "a", "b", "m.py"), True),
        ("file:**/vendor/**", "/elsewhere/vendor/x.py", True),
        ("file:%s" % j(base, "abs.py"), j(base, "abs.py"), True),
        ("file:literal:src/m.py", j(base, "src", "m.py"), True),
        ("file:literal:<string>", "<string>", True),
        ("file:regex:.*/tests?/.*", j(base, "test", "t.py"), True),
    ]
    for text, path, expected in cases:
        assert parse_selector(text, ("file",), base).test(path) is expected, text


# -- scope on recordings --------------------------------------------------------------------------

def test_default_scope_records_the_program_and_skips_the_stdlib(sandbox: Path,
                                                                 backend: str) -> None:
    write_tree(sandbox, LIB)

    def body() -> None:
        import textwrap as tw
        tw.dedent("  x\n")
        run_core()
    events = record(body, backend)
    names = called(events)
    assert "flt_app.core.run" in names and "flt_app.vendor.engine.inner" in names
    assert not [n for n in names if n.startswith(("textwrap.", "importlib", "re."))]
    assert not [e for e in events if e.code is not None
                and e.code.filename.startswith(RECORDER_DIR)]


@pytest.mark.parametrize("selector, skipped, kept", [
    ("pkg:flt_app.vendor", ["flt_app.vendor.engine.apply", "flt_app.vendor.engine.inner"],
     ["flt_app.core.run", "flt_app.core.double", "flt_app.util.helper"]),
    ("file:flt_app/util.py", ["flt_app.util.helper"], ["flt_app.core.run"]),
    ("obj:flt_app.vendor.engine.inner", ["flt_app.vendor.engine.inner"],
     ["flt_app.vendor.engine.apply", "flt_app.core.double"]),
    ("group:program", ["flt_app.core.run", "flt_app.util.helper"], []),
], ids=["pkg", "file", "obj", "group"])
def test_each_scope_selector_skips_only_its_code_and_callees_are_still_recorded(
        sandbox: Path, backend: str, selector: str, skipped: List[str],
        kept: List[str]) -> None:
    write_tree(sandbox, LIB)
    f = toml(sandbox / "filters" / "f.toml", """
        [[scope.rules]]
        selector = "%s"
        action = "skip"
        """ % selector.replace("file:", "file:../"))
    events = record(run_core, backend, filters=[f])
    names = called(events, str(sandbox))
    for name in skipped:
        assert name not in names
    for name in kept:
        assert name in names
    # a skipped function's callee (double, called by engine.inner) is decided on its own
    if selector.startswith("pkg") or selector.startswith("obj"):
        assert "flt_app.core.double" in names


def test_last_matching_rule_wins_within_a_file(sandbox: Path, backend: str) -> None:
    write_tree(sandbox, LIB)
    f = toml(sandbox / "f.toml", """
        [[scope.rules]]
        selector = "obj:flt_app.models.Account"
        action = "skip"
        [[scope.rules]]
        selector = "obj:flt_app.models.Account.keep"
        action = "trace"
        reason = "the one method we care about"
        """)
    events = record(lambda: importlib.import_module("flt_app.models").standalone(), backend,
                    filters=[f])
    names = called(events, str(sandbox))
    assert "flt_app.models.Account.keep" in names
    assert "flt_app.models.standalone" in names
    assert "flt_app.models.Account.deposit" not in names
    assert "flt_app.models.Account.__init__" not in names


def test_sources_combine_in_order_pyproject_env_then_explicit(sandbox: Path, backend: str,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """builtin < pyproject [tool.recorder] < RECORDER_FILTER < install(filters=)/--filter."""
    write_tree(sandbox, LIB)
    (sandbox / "pyproject.toml").write_text(textwrap.dedent("""
        [project]
        name = "flt-demo"
        [[tool.recorder.scope.rules]]
        selector = "pkg:flt_app"
        action = "skip"
        [[tool.recorder.scope.rules]]
        selector = "group:stdlib"
        action = "trace"
        """))
    env_file = toml(sandbox / "env.toml", """
        [[scope.rules]]
        selector = "pkg:flt_app.vendor"
        action = "trace"
        [[scope.rules]]
        selector = "pkg:textwrap"
        action = "skip"
        """)
    explicit = toml(sandbox / "explicit.toml", """
        [[scope.rules]]
        selector = "obj:flt_app.vendor.engine.inner"
        action = "skip"
        """)
    monkeypatch.setenv("RECORDER_FILTER", env_file)

    def body() -> None:
        import textwrap as tw
        import string
        tw.dedent("  x\n")
        string.capwords("a b")
        run_core()
    events = record(body, backend, filters=[explicit])
    names = called(events)
    assert "flt_app.vendor.engine.apply" in names           # env loosened pyproject's skip
    assert "flt_app.vendor.engine.inner" not in names       # explicit tightened it again
    assert "flt_app.core.run" not in names                  # pyproject's skip stands
    assert "string.capwords" in names                       # pyproject loosened the builtin
    assert not [n for n in names if n.startswith("textwrap.")]  # env skipped it again
    chain = record.last_session.filters.chain  # type: ignore[attr-defined]
    assert [(s.kind, s.name) for s in chain.sources] == [
        ("builtin", "builtin"), ("pyproject", "pyproject"), ("file", "env"),
        ("file", "explicit")]


def test_scope_default_skip_records_only_what_is_selected(sandbox: Path, backend: str) -> None:
    write_tree(sandbox, LIB)
    f = toml(sandbox / "only.toml", """
        [meta]
        name = "only-vendor"
        [scope]
        default = "skip"
        [[scope.rules]]
        selector = "pkg:flt_app.vendor"
        action = "trace"
        """)
    events = record(run_core, backend, filters=[f])
    assert sorted(set(called(events, str(sandbox)))) == [
        "flt_app.vendor.<module>", "flt_app.vendor.engine.<module>",
        "flt_app.vendor.engine.apply", "flt_app.vendor.engine.inner"]


def test_trace_stdlib_and_a_later_rule(sandbox: Path, backend: str) -> None:
    f = toml(sandbox / "f.toml", """
        [[scope.rules]]
        selector = "pkg:json"
        action = "skip"
        """)

    def body() -> None:
        import json as j
        import textwrap as tw
        j.dumps({"a": 1})
        tw.dedent("  x\n")
    names = called(record(body, backend, trace_stdlib=True, filters=[f]))
    assert [n for n in names if n.startswith("textwrap.")]
    assert not [n for n in names if n.startswith("json.")]


def test_exec_code_belongs_to_the_module_whose_globals_it_runs_in(sandbox: Path,
                                                                   backend: str) -> None:
    write_tree(sandbox, {"flt_gen.py": """
        import collections, dataclasses
        Point = collections.namedtuple("Point", "x y")
        @dataclasses.dataclass
        class Item:
            name: str
        def main():
            exec(compile("def mine():\\n    return 1\\nmine()\\n", "<mine>", "exec"),
                 globals())
            exec(compile("def loose():\\n    return 2\\nloose()\\n", "<loose>", "exec"), {})
            return Point(1, 2), Item("a")
        """})
    events = record(lambda: importlib.import_module("flt_gen").main(), backend)
    names = [(e.code.filename, e.code.qualname) for e in events if e.kind == Kind.CALL]
    assert ("<mine>", "mine") in names                  # the program's exec: program
    assert ("<loose>", "loose") in names                # no module's globals: synthetic
    assert not [n for n in names if n[1] == "__new__"]  # namedtuple's generated code: stdlib
    assert [n for n in names if n[1].endswith("__init__") and n[0] == "<string>"]  # dataclass
    f = toml(sandbox / "f.toml", """
        [[scope.rules]]
        selector = "group:synthetic"
        action = "skip"
        [[scope.rules]]
        selector = "group:program"
        action = "skip"
        [[scope.rules]]
        selector = "obj:flt_gen.main"
        action = "trace"
        """)
    sys.modules.pop("flt_gen", None)
    events = record(lambda: importlib.import_module("flt_gen").main(), backend, filters=[f])
    names = [(e.code.filename, e.code.qualname) for e in events if e.kind == Kind.CALL]
    assert ("<loose>", "loose") not in names and ("<mine>", "mine") not in names
    assert [n for n in names if n[1] == "main"]


# -- calls from skipped code back into recorded code ---------------------------------------------

def test_user_callbacks_called_from_skipped_code_are_recorded(sandbox: Path,
                                                              backend: str) -> None:
    write_tree(sandbox, {"flt_cb.py": """
        import json, threading
        def by_length(s):
            return len(s)
        def hook(d):
            return sorted(d)
        def worker(out):
            out.append(threading.current_thread().name)
        def main():
            words = sorted(["ccc", "a", "bb"], key=by_length)
            keys = json.loads('{"b": 1, "a": 2}', object_hook=hook)
            out = []
            t = threading.Thread(target=worker, args=(out,), name="flt-worker")
            t.start()
            t.join()
            return words, keys, out
        """})
    events = record(lambda: importlib.import_module("flt_cb").main(), backend)
    calls = [e for e in events if e.kind == Kind.CALL and e.code.module == "flt_cb"]
    names = [e.code.qualname for e in calls]
    assert names.count("by_length") == 3
    assert names.count("hook") == 1
    assert names.count("worker") == 1
    worker = [e for e in calls if e.code.qualname == "worker"][0]
    started = {e.thread: e.value.name for e in events if e.kind == Kind.THREAD_START}
    assert started[worker.thread] == "flt-worker"
    # the stdlib frames in between were skipped, not recorded
    assert not [e for e in events if e.code is not None and e.code.module in
                ("threading", "json", "json.decoder")]


def test_skipped_user_package_still_calls_back(sandbox: Path, backend: str) -> None:
    write_tree(sandbox, LIB)
    f = toml(sandbox / "f.toml", """
        [[scope.rules]]
        selector = "pkg:flt_app.vendor"
        action = "skip"
        """)
    names = called(record(run_core, backend, filters=[f]), str(sandbox))
    assert names.count("flt_app.core.double") == 1
    assert names.index("flt_app.core.run") < names.index("flt_app.core.double")


# -- one resolver, one decision per code object ------------------------------------------------

def test_the_filter_engine_and_the_tracer_share_one_resolver(
        sandbox: Path, backend: str, resolvers_created: List[ModuleResolver],
        monkeypatch: pytest.MonkeyPatch) -> None:
    created = resolvers_created
    write_tree(sandbox, LIB)
    f = toml(sandbox / "f.toml", """
        [[scope.rules]]
        selector = "pkg:flt_app.util"
        action = "skip"
        """)
    asked: List[Any] = []
    original_label_for = ModuleResolver.label_for

    def spying_label_for(self: ModuleResolver, code: Any, globals_: Any = None) -> Any:
        asked.append(self)
        return original_label_for(self, code, globals_)
    monkeypatch.setattr(ModuleResolver, "label_for", spying_label_for)
    events = record(run_core, backend, filters=[f])
    session = record.last_session  # type: ignore[attr-defined]
    assert len(created) == 1
    assert session.filters.resolver is session.resolver is created[0]
    assert asked and all(r is session.resolver for r in asked)
    # the package the filter skipped is the module the trace labels would show
    assert "flt_app.util.helper" not in called(events)
    assert session.resolver.module_of_file(str(sandbox / "flt_app" / "util.py")) == \
        "flt_app.util"


def test_scope_is_decided_once_per_code_object(sandbox: Path, backend: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    write_tree(sandbox, LIB)
    f = toml(sandbox / "f.toml", """
        [[scope.rules]]
        selector = "obj:flt_app.models.Account.deposit"
        action = "skip"
        """)
    decided: List[Any] = []
    original = FilterEngine._decide_scope

    def counting(self: FilterEngine, code: Any, frame: Any) -> bool:
        # the code object itself, kept alive: an id is reused once its code object dies
        # (then deciding the new one is right)
        decided.append(code)
        return original(self, code, frame)
    monkeypatch.setattr(FilterEngine, "_decide_scope", counting)

    def body() -> None:
        models = importlib.import_module("flt_app.models")
        for _ in range(200):
            models.standalone()
    record(body, backend, filters=[f])
    assert len(decided) == len(set(map(id, decided)))
    session = record.last_session  # type: ignore[attr-defined]
    assert session.filters.scopes_skipped + session.filters.scopes_traced == len(decided)


# -- bad filter files ---------------------------------------------------------------------------

BAD_FILES = [
    ("[scopes]\n", "unknown key 'scopes'"),
    ("[scope]\ndefault_exec = 'skip'\n", "codetracer-python-recorder filter"),
    ("[[scope.rules]]\nselector = 'pkg:x'\naction = 'skip'\nwhy = 'x'\n",
     "[[scope.rules]] #1 (selector 'pkg:x'): unknown key 'why'"),
    ("[[scope.rules]]\nselector = 'pkg:a'\naction = 'skip'\n"
     "[[scope.rules]]\nselector = 'package:x'\naction = 'skip'\n",
     "[[scope.rules]] #2 (selector 'package:x'): selector 'package:x': unknown kind"),
    ("[[scope.rules]]\nselector = 'nokind'\naction = 'skip'\n", "has no kind"),
    ("[[scope.rules]]\nselector = 'local:x'\naction = 'skip'\n",
     "'local' is a value selector kind"),
    ("[[scope.rules]]\nselector = 'pkg:regex:(['\naction = 'skip'\n",
     "invalid regular expression"),
    ("[[scope.rules]]\nselector = 'pkg:'\naction = 'skip'\n", "empty pattern"),
    ("[[scope.rules]]\nselector = 'group:tests'\naction = 'skip'\n", "unknown group 'tests'"),
    ("[[scope.rules]]\nselector = 'pkg:word:x'\naction = 'skip'\n",
     "word matching is for value selectors"),
    ("[[scope.rules]]\nselector = 'pkg:x'\naction = 'ignore'\n",
     "action='ignore' is not one of trace, skip"),
    ("[[scope.rules]]\nselector = 'pkg:x'\n", "'action' is missing"),
    ("[[scope.rules]]\nselector = 3\naction = 'skip'\n", "selector must be a string"),
    ("[scope]\nrules = 'pkg:x'\n", "'rules' must be an array of tables"),
    ("[scope]\ndefault = true\n", "'default' must be a string, not a boolean"),
    ("[[values.rules]]\nselector = 'local:x'\naction = 'hide'\n",
     "[[values.rules]] #1 (selector 'local:x'): action='hide' is not one of allow, redact"),
    ("[[values.rules]]\nselector = 'local:regex:*x'\naction = 'drop'\n",
     "invalid regular expression"),
    ("[[values.rules]]\nselector = 'pkg:x'\naction = 'drop'\n", "'pkg' is a scope selector"),
    ("[[values.rules]]\nselector = 'local:x'\naction = 'drop'\nscope = 'local:y'\n",
     "unknown kind 'local' here"),
    ("[[values.rules]]\nselector = 'attr:x'\naction = 'drop'\nscope = 'pkg:y'\n",
     "'scope' cannot restrict attr selectors"),
    ("[secrets]\ndefaults = 'no'\n", "'defaults' must be true or false, not a string"),
    ("[secrets]\npatterns = 'pin'\n", "'patterns' must be an array of strings"),
    ("[secrets]\nallow = [1]\n", "'allow' must be an array of strings"),
    ("[meta]\nname = 5\n", "'name' must be a string, not an integer"),
    ("[scope\n", "not valid TOML"),
]


@pytest.mark.parametrize("text, problem", BAD_FILES)
def test_a_bad_filter_file_is_one_error_naming_file_rule_and_problem(
        sandbox: Path, text: str, problem: str) -> None:
    path = toml(sandbox / "bad.toml", text)
    with pytest.raises(ConfigError) as info:
        load_file(path)
    message = str(info.value)
    assert message.startswith("filter file %s: " % path)
    assert problem in message
    assert "\n" not in message


def test_install_refuses_a_bad_filter_file_and_nothing_is_left_running(sandbox: Path,
                                                                       backend: str) -> None:
    bad = toml(sandbox / "bad.toml", "[[scope.rules]]\nselector = 'pkg:regex:('\n"
                                     "action = 'skip'\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: \[\[scope\.rules\]\] #1"):
        recorder.install(lambda e: None, backend=backend, filters=[bad])
    assert active_session() is None
    assert sys.gettrace() is None
    missing = str(sandbox / "nope.toml")
    with pytest.raises(ConfigError, match="filter file %s: cannot read it" % missing):
        recorder.install(lambda e: None, backend=backend, filters=missing)
    with pytest.raises(ConfigError, match="give a list of filter file paths"):
        recorder.install(lambda e: None, backend=backend, filters=[3])
    assert active_session() is None


def test_a_bad_pyproject_table_is_refused_and_an_unrelated_pyproject_ignored(
        sandbox: Path, backend: str) -> None:
    (sandbox / "pyproject.toml").write_text("[project]\nname = 'recorder-fan'\n"
                                            "broken = [\n")
    record(lambda: None, backend)  # not ours: never parsed, never an error
    (sandbox / "pyproject.toml").write_text("[tool.recorder.scope]\ndefault = 'maybe'\n")
    with pytest.raises(ConfigError) as info:
        recorder.install(lambda e: None, backend=backend)
    assert str(info.value) == ("filter pyproject %s [tool.recorder]: [scope]: default='maybe' "
                               "is not one of trace, skip" % (sandbox / "pyproject.toml"))
    assert active_session() is None


def _cli(cwd: Path, *args: str, env_extra: Optional[Dict[str, str]] = None
         ) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RECORDER_")}
    environ["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, environ.get("PYTHONPATH")) if p)
    environ.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "recorder"] + list(args), cwd=str(cwd),
                          capture_output=True, text=True, env=environ, timeout=120)


@pytest.mark.parametrize("how", ["option", "env", "pyproject"])
def test_cli_bad_filter_exits_2_without_starting_the_program(tmp_path: Path, how: str) -> None:
    (tmp_path / "app.py").write_text("open('started', 'w').close()\nprint('ran')\n")
    text = "[[values.rules]]\nselector = 'local:x'\naction = 'drop'\nreason = 1\n"
    extra: Dict[str, str] = {}
    args = ["-o", "out"]
    if how == "pyproject":
        (tmp_path / "pyproject.toml").write_text(
            "[[tool.recorder.values.rules]]\nselector = 'local:x'\naction = 'drop'\n"
            "reason = 1\n")
        where = "filter pyproject %s [tool.recorder]" % (tmp_path / "pyproject.toml")
    else:
        bad = toml(tmp_path / "bad.toml", text)
        where = "filter file %s" % bad
        if how == "option":
            args += ["--filter", "bad.toml"]
        else:
            extra["RECORDER_FILTER"] = bad
    proc = _cli(tmp_path, *(args + ["app.py"]), env_extra=extra)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == ("recorder: error: %s: [[values.rules]] #1 (selector 'local:x'): "
                           "'reason' must be a string, not an integer\n" % where)
    assert not (tmp_path / "started").exists()
    assert not (tmp_path / "out").exists()


def test_cli_filter_option_is_repeatable_and_options_after_the_script_are_the_programs(
        tmp_path: Path) -> None:
    write_tree(tmp_path, {"flt_cli/__init__.py": "def f():\n    return 1\n"
                                                 "def g():\n    return 2\n",
                          "app.py": "import sys, flt_cli\nflt_cli.f(); flt_cli.g()\n"
                                    "print(sys.argv[1:])\n"})
    toml(tmp_path / "a.toml", "[[scope.rules]]\nselector = 'obj:flt_cli.f'\naction = 'skip'\n")
    toml(tmp_path / "b.toml", "[[scope.rules]]\nselector = 'obj:flt_cli.g'\naction = 'skip'\n")
    proc = _cli(tmp_path, "-o", "out", "--filter", "a.toml", "--filter=b.toml", "app.py",
                "--filter", "x")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "['--filter', 'x']\n"
    trace = json.loads((tmp_path / "out" / "trace.json").read_text())
    names = [e["Function"]["name"] for e in trace if "Function" in e]
    assert "f" not in names and "g" not in names and "<__main__>" in names
    meta = json.loads((tmp_path / "out" / "trace_metadata.json").read_text())
    chain = meta["trace_filter"]["filters"]
    assert [(c["name"], c["kind"]) for c in chain] == [("builtin", "builtin"), ("a", "file"),
                                                       ("b", "file")]
    assert chain[1]["path"] == str(tmp_path / "a.toml") and len(chain[1]["sha256"]) == 64
    assert meta["trace_filter"]["stats"]["scopes_skipped"] >= 2


# -- configuration ------------------------------------------------------------------------------

def test_filters_accumulate_env_first_then_the_callers(tmp_path: Path) -> None:
    config = Config.from_env({"RECORDER_FILTER": os.pathsep.join(["e1.toml", "e2.toml"])})
    merged = config.with_options(filters=["c.toml"], values="args")
    assert merged.filters == ["e1.toml", "e2.toml", "c.toml"] and merged.values == "args"
    assert config.with_options(filters=Path("p.toml")).filters[-1] == "p.toml"
    assert Config.from_env(merged.to_env()).filters == [
        os.path.abspath(p) for p in ("e1.toml", "e2.toml", "c.toml")]
    with pytest.raises(ConfigError, match="filters=5: give a list of filter file paths"):
        Config(filters=5)  # type: ignore[arg-type]


def test_load_chain_order_and_metadata(tmp_path: Path) -> None:
    (tmp_path / "proj" / "src").mkdir(parents=True)
    (tmp_path / "proj" / "pyproject.toml").write_text(
        "[tool.recorder.meta]\nname = 'proj'\nversion = 2\n"
        "[[tool.recorder.scope.rules]]\nselector = 'file:src/gen'\naction = 'skip'\n")
    f = toml(tmp_path / "f.toml", "[secrets]\npatterns = ['pin']\nallow = ['token_*']\n")
    chain = load_chain(Config(filters=[f], trace_stdlib=True),
                       project_dir=str(tmp_path / "proj" / "src"))
    described = chain.describe()
    assert [d["kind"] for d in described] == ["builtin", "pyproject", "file"]
    assert described[0]["scope_rules"] == ["group:stdlib trace",
                                           "group:third-party skip",
                                           "file:**/_distutils_hack/** skip",
                                           "file:**/_virtualenv.py skip",
                                           "file:**/__editable__* skip"]
    assert described[1]["name"] == "proj" and described[1]["version"] == 2
    assert described[1]["scope_rules"] == ["file:src/gen skip"]
    assert described[2]["secret_patterns"] == ["pin"]
    # a pyproject rule's relative file pattern is relative to the project root
    sel = chain.sources[1].scope_rules[0].selector
    assert sel.test(os.path.join(str((tmp_path / "proj").resolve()), "src", "gen", "m.py"))


def test_toml_reader_is_chosen_by_the_env_flag() -> None:
    assert env.HAS_TOMLLIB == (sys.version_info >= (3, 11))
    from recorder.filter_chain import _toml_module
    assert _toml_module().__name__ == ("tomllib" if env.HAS_TOMLLIB else "tomli")


def test_value_decisions_are_made_once_per_code_and_name(sandbox: Path) -> None:
    engine = FilterEngine(FilterChain([builtin_source()]), ModuleResolver())
    from recorder.events import CodeInfo
    info = CodeInfo("/x/m.py", 1, "f", "f", "f", "m", "function", False)
    calls: List[str] = []
    original = engine._decide_value

    def counting(rules: Any, kind: str, name: str) -> int:
        calls.append(name)
        return original(rules, kind, name)
    engine._decide_value = counting  # type: ignore[assignment]
    values = engine.values_for(info)
    assert engine.values_for(info) is values
    for _ in range(100):
        assert values.action("local", "password") == REDACT
        assert values.action("local", "author") == ALLOW
    assert calls.count("password") == 1 and calls.count("author") == 1
    assert values.ret == ALLOW and DROP == 2
