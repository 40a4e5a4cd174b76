"""Secret redaction and value rules, through the CLI and the trace writer.

A redacted value never reaches the disk: every test here builds its secrets at run time (so
they are not literals in the copied sources under ``files/``) and then searches every file of
the trace directory for them.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

from recorder.filters import DEFAULT_SECRETS, SecretMatcher
from recorder.formats import read_trace_dir
from conftest import RECORDER_DIR

ROOT = os.path.dirname(RECORDER_DIR)

# -- the corpus -----------------------------------------------------------------------------

SECRET_NAMES = [
    "password", "db_password", "userPassword", "PASSWORD", "new_password2", "passwd",
    "passphrase", "secret", "client_secret", "SECRET_KEY", "secrets", "api_key", "apiKey",
    "APIKey", "x-api-key", "apikey", "token", "access_token", "refreshToken", "auth_tokens",
    "auth", "basic_auth", "authToken", "Authorization", "oauth", "credentials",
    "aws_credential", "creds", "private_key", "privateKey", "cookie", "cookies",
    "Set-Cookie", "session_id", "sessionId", "sessionid", "csrf_token", "bearer", "jwt",
    "otp", "ssn", "cvv", "card_number", "signing_key", "OAuthToken",
]
HARMLESS_NAMES = [
    "author", "authors", "panel", "expand", "discard", "cardinality", "session",
    "_active_session", "tokenize", "tokenizer", "max_tokens", "token_count", "tokens_count",
    "num_tokens", "password_length", "auth_type", "api_key_env", "secretary", "keyboard",
    "monkey", "key", "keys", "passenger", "passage", "compass", "bypass", "authority",
    "authenticate", "get_company_span", "company", "spanish", "pancake", "cardiff",
    "discarded", "expanded", "card", "pass_count", "session_factory", "cookbook", "otter",
]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_true_secrets_are_redacted(name: str) -> None:
    assert SecretMatcher(DEFAULT_SECRETS).is_secret(name)


@pytest.mark.parametrize("name", HARMLESS_NAMES)
def test_harmless_look_alikes_are_kept(name: str) -> None:
    assert not SecretMatcher(DEFAULT_SECRETS).is_secret(name)


def test_the_corpus_is_large_enough() -> None:
    assert len(SECRET_NAMES) + len(HARMLESS_NAMES) >= 30
    assert len(SECRET_NAMES) >= 30 and len(HARMLESS_NAMES) >= 30


def test_extra_patterns_and_the_allow_list() -> None:
    m = SecretMatcher(list(DEFAULT_SECRETS) + ["pin code", "pin"], allow=["csrf_token",
                                                                         "legacy_*"])
    assert m.is_secret("pinCode") and m.is_secret("PIN") and m.is_secret("pins")
    assert not m.is_secret("spinner") and not m.is_secret("csrf_token")
    assert not m.is_secret("legacy_password") and m.is_secret("csrf")


# -- helpers --------------------------------------------------------------------------------



def run(tmp: Path, program: str, backend: str, *options: str,
        env_extra: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    (tmp / "app.py").write_text(textwrap.dedent(program))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RECORDER_")}
    environ["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, environ.get("PYTHONPATH")) if p)
    environ.update(env_extra or {})
    proc = subprocess.run([sys.executable, "-m", "recorder", "-o", "out", "--backend",
                           backend] + list(options) + ["app.py"], cwd=str(tmp),
                          capture_output=True, text=True, env=environ, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc


def show(value: Dict[str, Any], types: List[Dict[str, Any]]) -> Any:
    """A ValueRecord as plain Python: text, number, list, {field: value} for a Struct, or
    '<redacted>'/'<dropped>'."""
    kind = value["kind"]
    if kind == "String":
        return value["text"]
    if kind in ("Int", "Float", "Bool"):
        return value.get("i", value.get("f", value.get("b")))
    if kind == "None":
        return None
    if kind in ("Sequence", "Tuple"):
        return [show(v, types) for v in value["elements"]]
    if kind == "Struct":
        fields = types[value["type_id"]]["specific_info"]["fields"]
        return {f["name"]: show(v, types) for f, v in zip(fields, value["field_values"])}
    if kind == "Raw":
        return value["r"]
    return value["msg"]


class Trace:
    """Values by variable name (all frames), args and returns by function name."""

    def __init__(self, out: Path) -> None:
        self.dir = read_trace_dir(str(out))
        self.meta = self.dir.metadata
        self.values: Dict[str, List[Any]] = defaultdict(list)
        self.args: Dict[Tuple[str, str], List[Any]] = defaultdict(list)
        self.returns: Dict[str, List[Any]] = defaultdict(list)
        self.output: List[str] = []
        for trace in [self.dir.main] + list(self.dir.threads.values()):
            names: List[str] = []
            funcs: List[str] = []
            types: List[Dict[str, Any]] = []
            stack: List[str] = []
            for record in trace.events:
                (kind, payload), = record.items()
                if kind == "VariableName":
                    names.append(payload)
                elif kind == "Type":
                    types.append(payload)
                elif kind == "Function":
                    funcs.append(payload["name"])
                elif kind == "Call":
                    fn = funcs[payload["function_id"]]
                    stack.append(fn)
                    for arg in payload["args"]:
                        self.args[(fn, names[arg["variable_id"]])].append(
                            show(arg["value"], types))
                elif kind == "Value":
                    self.values[names[payload["variable_id"]]].append(
                        show(payload["value"], types))
                elif kind == "Return":
                    self.returns[stack.pop()].append(show(payload["return_value"], types))
                elif kind == "Event" and payload["kind"] in (0, 2):
                    self.output.append(payload["content"])

    def stats(self) -> Dict[str, Any]:
        return self.meta["trace_filter"]["stats"]


def leaks(out: Path, secrets: List[str]) -> List[str]:
    found = []
    for folder, _dirs, files in os.walk(str(out)):
        for name in files:
            path = os.path.join(folder, name)
            data = open(path, "rb").read()
            for secret in secrets:
                if secret.encode() in data or json.dumps(secret).encode() in data:
                    found.append("%s in %s" % (secret, os.path.relpath(path, str(out))))
    return found


# Secrets are built at run time from pieces, so the copied source never holds them.
DEFAULTS_PROGRAM = """
    import collections, dataclasses, sys

    def mk(tag):
        return "S3" + "cr" + tag + "-" + str(7 * 6)

    @dataclasses.dataclass
    class Login:
        user: str
        password: str

    class Slotted:
        __slots__ = ("name", "api_key")
        def __init__(self, name, api_key):
            self.name = name
            self.api_key = api_key
        def __repr__(self):
            return "Slotted(%s, %s)" % (self.name, self.api_key)

    Creds = collections.namedtuple("Creds", "user token")

    def connect(host, password, author="ann"):
        session_id = mk("sid")
        panel = "p-1"
        expand, discard, cardinality = True, False, 3
        max_tokens = 512
        headers = {"Authorization": mk("hdr"), "Accept": "json"}
        login = Login("bob", mk("dc"))
        slotted = Slotted("svc", mk("slot"))
        pair = Creds("bob", mk("nt"))
        return session_id

    def get_token():
        return mk("ret")

    API_KEY = mk("glob")
    sid = connect("db.local", mk("arg"))
    tok = get_token()
    print("using", sid)
    try:
        raise ValueError("rejected " + tok)
    except ValueError as exc:
        sys.stderr.write("caught %s\\n" % exc)
    authorName = "Ann"
    done = True
"""
SECRETS = ["S3cr%s-42" % tag for tag in ("sid", "hdr", "dc", "slot", "nt", "ret", "glob",
                                         "arg")]


def test_default_redaction_end_to_end(tmp_path: Path, backend: str) -> None:
    proc = run(tmp_path, DEFAULTS_PROGRAM, backend)
    assert "S3crsid-42" in proc.stdout  # the program itself is unchanged
    out = tmp_path / "out"
    assert leaks(out, SECRETS) == []
    t = Trace(out)
    R = "<redacted>"
    assert set(t.values["password"]) == {R} and t.args[("connect", "password")] == [R]
    assert set(t.values["session_id"]) == {R}
    assert set(t.values["API_KEY"]) == {R}
    assert t.returns["get_token"] == [R]
    # the value returned by a harmless function is still hidden: it was hidden as session_id
    assert t.returns["connect"] == [R] and set(t.values["sid"]) == {R}
    # look-alikes are recorded
    assert t.args[("connect", "author")] == ["ann"] and "Ann" in t.values["authorName"]
    assert "p-1" in t.values["panel"] and True in t.values["expand"]
    assert False in t.values["discard"] and 3 in t.values["cardinality"]
    assert 512 in t.values["max_tokens"] and "db.local" in t.values["host"]
    # attributes and mapping keys inside values
    headers = [h for h in t.values["headers"] if h][-1]
    assert ["Authorization", R] in headers and ["Accept", "json"] in headers
    # objects are recorded from their state (their reprs never run): fields by name
    assert {"user": "bob", "password": R} in t.values["login"]          # dataclass
    assert {"name": "svc", "api_key": R} in t.values["slotted"]        # __slots__
    assert {"user": "bob", "token": R} in t.values["pair"]             # namedtuple
    # captured output and exception messages
    assert "using <redacted>\n" in "".join(t.output)
    assert "caught rejected <redacted>\n" in "".join(t.output)
    stats = t.stats()
    for kind in ("argument", "local", "global", "return", "attribute"):
        assert stats["value_redactions"][kind] > 0, kind
    assert set(stats["value_drops"].values()) == {0}


def test_program_reprs_are_scrubbed_too(tmp_path: Path, backend: str) -> None:
    run(tmp_path, DEFAULTS_PROGRAM, backend, "--reprs", "program")
    out = tmp_path / "out"
    assert leaks(out, SECRETS) == []
    t = Trace(out)
    assert [x for x in t.values["login"] if "Login(" in x][-1] == \
        "Login(user='bob', password=<redacted>)"
    assert [x for x in t.values["slotted"] if "Slotted(" in x][-1] == "Slotted(svc, <redacted>)"


RULES_PROGRAM = """
    import collections
    CONFIG = {"mode": "fast"}
    SETTING_A = "alpha"
    PUBLIC = "pub"
    Row = collections.namedtuple("Row", "internal visible")

    class Box:
        def __init__(self):
            self.private_note = "note-" + str(6 * 7)
            self.size = 2
        def __repr__(self):
            return "Box(%r, %r)" % (self.private_note, self.size)

    def compute(user_name, blob, level):
        big = list(range(50))
        hidden_local = "h"
        kept = "k"
        row = Row("in", "vis")
        mapping = {"internal": 1, "other": 2}
        box = Box()
        return level * 2

    def noisy():
        return "n" * 3

    def only_here(scoped):
        return scoped

    def elsewhere(scoped):
        return scoped

    compute("ann", b"xx", 4)
    noisy()
    only_here("s1")
    elsewhere("s2")
"""
RULES = """
    [[values.rules]]
    selector = "local:big"
    action = "drop"
    [[values.rules]]
    selector = "local:hidden_local"
    action = "redact"
    [[values.rules]]
    selector = "arg:word:user"
    action = "redact"
    [[values.rules]]
    selector = "arg:blob"
    action = "drop"
    [[values.rules]]
    selector = "global:CONFIG"
    action = "drop"
    [[values.rules]]
    selector = "global:regex:SETTING_.*"
    action = "redact"
    [[values.rules]]
    selector = "ret:compute"
    action = "redact"
    [[values.rules]]
    selector = "ret:noisy"
    action = "drop"
    [[values.rules]]
    selector = "attr:internal"
    action = "drop"
    [[values.rules]]
    selector = "attr:private_*"
    action = "redact"
    [[values.rules]]
    selector = "local:kept"
    action = "redact"
    [[values.rules]]
    selector = "local:kept"
    action = "allow"
    reason = "the last matching rule wins"
    [[values.rules]]
    selector = "any:scoped"
    action = "redact"
    [[values.rules]]
    selector = "arg:scoped"
    action = "allow"
    scope = "obj:__main__.elsewhere"
"""


def test_value_rules_each_kind_and_action(tmp_path: Path, backend: str) -> None:
    (tmp_path / "rules.toml").write_text(textwrap.dedent(RULES))
    run(tmp_path, RULES_PROGRAM, backend, "--filter", "rules.toml")
    t = Trace(tmp_path / "out")
    R = "<redacted>"
    assert "big" not in t.values                              # local drop
    assert set(t.values["hidden_local"]) == {R}                # local redact
    assert "k" in t.values["kept"]                             # last rule wins: allow
    assert t.args[("compute", "user_name")] == [R]             # arg redact (word)
    assert ("compute", "blob") not in t.args                   # arg drop
    assert t.args[("compute", "level")] == [4]
    assert "CONFIG" not in t.values                            # global drop
    assert set(t.values["SETTING_A"]) == {R} and "pub" in t.values["PUBLIC"]  # global redact
    assert t.returns["compute"] == [R]                         # ret redact
    assert t.returns["noisy"] == ["<dropped>"]                 # ret drop: a marker stands
    assert {"visible": "vis"} in t.values["row"]               # attr drop (namedtuple)
    assert [["other", 2]] in t.values["mapping"]               # attr drop (mapping key)
    assert {"private_note": R, "size": 2} in t.values["box"]   # attr redact (object)
    assert t.args[("only_here", "scoped")] == [R]              # any: redact ...
    assert t.args[("elsewhere", "scoped")] == ["s2"]           # ... loosened in one scope
    assert t.returns["elsewhere"] == ["s2"] and t.returns["only_here"] == ["s1"]
    stats = t.stats()
    assert stats["value_drops"]["argument"] == 1 and stats["value_drops"]["return"] == 1
    assert stats["value_redactions"]["return"] == 1
    assert stats["value_redactions"]["argument"] == 2
    # one drop per Step that saw it: big from the line after it was bound, one more than
    # hidden_local (bound a line later)
    assert stats["value_drops"]["local"] == len(t.values["hidden_local"]) + 1
    assert stats["value_drops"]["global"] > 0 and stats["value_drops"]["attribute"] >= 2
    assert stats["value_redactions"]["attribute"] >= 1


LOOSEN_PROGRAM = """
    def mk(tag):
        return "S3" + "cr" + tag + "-" + str(7 * 6)
    def f(password, token, pin):
        local_copy = 1
        return local_copy
    f(mk("pw"), mk("tk"), mk("pin"))
"""


@pytest.mark.parametrize("later, visible, hidden, dropped", [
    # a later source loosening everything does not drop the secret patterns
    ('[[values.rules]]\nselector = "any:*"\naction = "allow"\n'
     '[[values.rules]]\nselector = "arg:password"\naction = "allow"\n',
     ["pin"], ["password", "token"], []),
    # ... a rule can only make a secret stricter
    ('[[values.rules]]\nselector = "arg:password"\naction = "drop"\n',
     ["pin"], ["token"], ["password"]),
    # the [secrets] table says so explicitly
    ('[secrets]\nallow = ["password"]\n', ["password", "pin"], ["token"], []),
    ('[secrets]\ndefaults = false\n', ["password", "token", "pin"], [], []),
    ('[secrets]\ndefaults = false\npatterns = ["pin"]\n', ["password", "token"], ["pin"], []),
], ids=["allow-all", "drop", "allow-list", "defaults-off", "own-patterns"])
def test_secret_patterns_survive_later_sources_unless_said_explicitly(
        tmp_path: Path, backend: str, later: str, visible: List[str], hidden: List[str],
        dropped: List[str]) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[[tool.recorder.scope.rules]]\nselector = "pkg:__main__"\naction = "trace"\n')
    (tmp_path / "later.toml").write_text(later)
    run(tmp_path, LOOSEN_PROGRAM, backend, "--filter", "later.toml")
    t = Trace(tmp_path / "out")
    for name in visible:
        assert t.args[("f", name)][0].startswith("S3cr"), name
    for name in hidden:
        assert t.args[("f", name)] == ["<redacted>"], name
    for name in dropped:
        assert ("f", name) not in t.args
    tags = {"password": "pw", "token": "tk", "pin": "pin"}
    assert leaks(tmp_path / "out", ["S3cr%s-42" % tags[n] for n in hidden + dropped]) == []
    secrets = t.meta["trace_filter"]["secrets"]
    assert secrets["defaults"] is ("defaults = false" not in later)
    assert [s["kind"] for s in t.meta["trace_filter"]["filters"]] == ["builtin", "pyproject",
                                                                      "file"]


def test_values_hidden_on_one_thread_stay_hidden_on_another(tmp_path: Path,
                                                            backend: str) -> None:
    program = """
        import threading
        def mk():
            return "S3" + "cr" + "thr-" + str(7 * 6)
        def producer(box):
            api_token = mk()
            box.append(api_token)
        def consumer(box):
            value = box[0]
            return value
        box = []
        t = threading.Thread(target=producer, args=(box,)); t.start(); t.join()
        t = threading.Thread(target=consumer, args=(box,)); t.start(); t.join()
    """
    run(tmp_path, program, backend)
    assert leaks(tmp_path / "out", ["S3crthr-42"]) == []
    t = Trace(tmp_path / "out")
    assert t.returns["consumer"] == ["<redacted>"]
