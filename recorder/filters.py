"""Trace filters: which code is recorded, and which of its values may reach the trace.

Two decisions, both made once and cached (docs/filters.md is the user's version):

* **Scope**, per code object: trace it or skip it. Skipped code costs nothing per event: the
  :class:`~recorder.codes.CodeCatalog` caches ``None`` for it, so the monitoring backend
  returns ``DISABLE`` and the settrace backend installs no local trace function. Code that
  skipped code calls (``sorted(key=user_fn)``, a thread target started by ``threading``) is
  decided on its own and still recorded.
* **Values**, per (code object, kind, name): allow, redact or drop. The trace writer asks once
  per variable name of each code object and keeps the answer next to the variable's id, so a
  value costs the same dict lookup with or without rules.

Rules come from an ordered chain of *sources*: the built-in defaults, the recorded project's
``pyproject.toml`` ``[tool.recorder]`` table, the files in ``RECORDER_FILTER``, then the files
given to ``--filter`` / ``install(filters=[...])``. For both scope and values the **last
matching rule wins** (later sources after earlier ones, later rules after earlier ones in a
file), so a later source can loosen or tighten what an earlier one said. Secret redaction is
a separate layer on top: a rule can make a secret name *stricter* (drop) but never visible;
only a ``[secrets]`` table can (``allow = [...]``, or ``defaults = false``).

Selectors are ``kind:pattern`` or ``kind:match:pattern`` with ``match`` one of ``glob``
(default), ``regex``, ``literal`` and (value selectors only) ``word``:

=========  ==========================================================================
``pkg``    the module the code belongs to, as the session's resolver names it
           (``pkg:requests`` covers ``requests`` and every ``requests.*`` submodule)
``file``   the code's file (real path); relative patterns are relative to the source's
           directory; a pattern also covers everything under a matching directory
``obj``    ``module.qualname`` (``obj:app.models.User`` covers its methods too)
``group``  ``stdlib`` (incl. ``<frozen ...>``), ``third-party`` (site-packages),
           ``synthetic`` (``<string>``: exec/eval code), ``program`` (everything else)
``local``  a function's (or class body's) local variable; ``global``: module-level variable;
``arg``    an argument; ``ret``: the return/yield value, by the function's name;
``attr``   an attribute or string mapping key inside a recorded value; ``any``: all five
=========  ==========================================================================

The recorder's own code and the import hook's frames are never recorded, whatever the rules.
"""
from __future__ import annotations

import fnmatch
import os
import re
import sys
from types import CodeType, FrameType
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from recorder import env
from recorder.errors import ConfigError
from recorder.events import CodeInfo
from recorder.importhook import HOOK_CODE_IDS
from recorder.qualname import qualname_of

__all__ = [
    "ALLOW", "REDACT", "DROP", "SCOPE_KINDS", "VALUE_KINDS", "GROUPS", "DEFAULT_SECRETS",
    "DESCRIPTOR_WORDS", "FLAG_GROUPS", "Selector", "FilterSource", "FilterChain",
    "FilterEngine", "load_chain", "load_file", "parse_source", "identifier_words",
    "SecretMatcher", "scope_flag_selector", "flags_source", "target_package",
]

#: Value actions, ordered by strictness (the secret layer takes the maximum).
ALLOW, REDACT, DROP = 0, 1, 2
_VALUE_ACTIONS = {"allow": ALLOW, "redact": REDACT, "drop": DROP}
_ACTION_NAMES = {ALLOW: "allow", REDACT: "redact", DROP: "drop"}
_SCOPE_ACTIONS = {"trace": True, "skip": False}

SCOPE_KINDS = ("pkg", "file", "obj", "group")
VALUE_KINDS = ("local", "global", "arg", "ret", "attr")
_VALUE_SELECTOR_KINDS = VALUE_KINDS + ("any",)
_MATCHES = ("glob", "regex", "literal", "word")
GROUPS = ("stdlib", "third-party", "synthetic", "program")
#: The metadata names of the value kinds (those of codetracer-python-recorder's metadata).
COUNT_NAMES = {"arg": "argument", "local": "local", "global": "global", "ret": "return",
               "attr": "attribute"}

#: The built-in secret patterns: whole words of identifiers (``snake_case``, ``camelCase``,
#: ``kebab-case`` parts; adjacent words may also be written together: ``apikey``), singular
#: or plural. ``author``, ``panel``, ``expand``, ``discard``, ``cardinality`` match none.
DEFAULT_SECRETS = (
    "password", "passwd", "passphrase", "secret", "token", "api key", "access key",
    "private key", "signing key", "encryption key", "auth", "authorization", "oauth",
    "credential", "cred", "creds", "cookie", "session id", "session key", "csrf", "xsrf",
    "bearer", "jwt", "otp", "ssn", "cvv", "card number",
)
#: A name of two words or more that starts or ends with one of these words describes a
#: secret (its size, kind, where it lives) rather than holding it: ``max_tokens``,
#: ``token_count``, ``password_length``, ``auth_type``, ``api_key_env`` are not redacted.
DESCRIPTOR_WORDS = frozenset((
    "count", "counts", "num", "n", "nb", "max", "min", "total", "len", "length", "size",
    "limit", "type", "kind", "ttl", "timeout", "expiry", "expires", "expiration", "lifetime",
    "name", "url", "uri", "path", "file", "env", "var", "field",
))

_TOP_KEYS = ("meta", "scope", "values", "secrets")
_META_KEYS = ("name", "description", "version")
_SCOPE_KEYS = ("default", "rules")
_SCOPE_RULE_KEYS = ("selector", "action", "reason")
_VALUES_KEYS = ("rules",)
_VALUE_RULE_KEYS = ("selector", "action", "scope", "reason")
_SECRETS_KEYS = ("defaults", "patterns", "allow")


# -- identifiers and words ------------------------------------------------------------------

_WORDS = re.compile(r"[A-Z]+(?=[A-Z][^\W\d_A-Z])|[A-Z]?[^\W\d_A-Z]+|[A-Z]+|\d+")


def identifier_words(name: str) -> List[str]:
    """``"userAPIKey_2"`` -> ``["user", "api", "key", "2"]``: snake_case, camelCase,
    kebab-case and digit runs, lower-cased."""
    return [w.lower() for w in _WORDS.findall(name)]


def _word_pattern(text: str) -> Optional[str]:
    """A word pattern ("api key", "apiKey", "API_KEY") as its joined words ("apikey")."""
    words = identifier_words(text)
    return "".join(words) if words else None


def _runs(words: Sequence[str], longest: int = 4) -> Iterable[Tuple[int, int, str]]:
    """(start, end, joined) for every run of up to ``longest`` adjacent words."""
    n = len(words)
    for i in range(n):
        joined = ""
        for j in range(i, min(n, i + longest)):
            joined += words[j]
            yield i, j, joined


def _word_match(joined_patterns: Mapping[str, Any], words: Sequence[str]
                ) -> Optional[Tuple[int, int]]:
    """The first (start, end) of a run of ``words`` equal to a pattern, or to its plural."""
    for i, j, joined in _runs(words):
        if joined in joined_patterns or (joined[-1:] == "s" and joined[:-1] in joined_patterns):
            return i, j
    return None


class SecretMatcher:
    """Is this identifier a secret? Whole-word patterns, descriptor exemption, allow list."""

    def __init__(self, patterns: Iterable[str], allow: Iterable[str] = ()) -> None:
        self.patterns = [p for p in patterns]
        self._joined: Dict[str, str] = {}
        for p in self.patterns:
            joined = _word_pattern(p)
            if joined:
                self._joined.setdefault(joined, p)
        self.allow = list(allow)
        self._allow_exact = {a for a in self.allow if not _has_glob(a)}
        self._allow_globs = [re.compile(fnmatch.translate(a)) for a in self.allow
                             if _has_glob(a)]

    def is_secret(self, name: str) -> bool:
        if not self._joined or not isinstance(name, str):
            return False
        if name in self._allow_exact or any(g.match(name) for g in self._allow_globs):
            return False
        words = identifier_words(name)
        if not words:
            return False
        found = _word_match(self._joined, words)
        if found is None:
            return False
        if len(words) > 1:
            start, end = found
            if (start > 0 and words[0] in DESCRIPTOR_WORDS) or \
                    (end < len(words) - 1 and words[-1] in DESCRIPTOR_WORDS):
                return False
        return True


def _has_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


# -- selectors ------------------------------------------------------------------------------

class _SelectorError(Exception):
    """A problem with one selector (turned into a ConfigError naming file and rule)."""


def _glob_regex(pattern: str, sep: str, subtree: bool) -> str:
    """A glob as a regex: ``*`` and ``?`` stay within one ``sep``-separated part, ``**``
    crosses parts (``a/**/b`` also matches ``a/b``), ``[...]`` as in fnmatch. ``subtree``:
    the pattern also matches everything under what it names."""
    s = re.escape(sep)
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern[i:i + 2] == "**":
                i += 2
                if pattern[i:i + 1] == sep:
                    out.append("(?:.*%s)?" % s)
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^%s]*" % s)
        elif c == "?":
            out.append("[^%s]" % s)
        elif c == "[":
            j = pattern.find("]", i + 2 if pattern[i + 1:i + 2] in ("!", "]") else i + 1)
            if j < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:j]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    regex = "".join(out)
    if subtree:
        regex += "(?:%s.*)?" % s
    return regex


class Selector:
    """One parsed selector: ``kind``, ``match``, ``pattern`` and a test for a subject."""

    __slots__ = ("text", "kind", "match", "pattern", "test")

    def __init__(self, text: str, kind: str, match: str, pattern: str,
                 test: Callable[[str], bool]) -> None:
        self.text = text
        self.kind = kind
        self.match = match
        self.pattern = pattern
        self.test = test

    def __repr__(self) -> str:
        return "Selector(%r)" % self.text


def parse_selector(text: Any, kinds: Sequence[str], base_dir: str) -> Selector:
    """Parse ``kind[:match]:pattern``; raise :class:`_SelectorError` saying what is wrong."""
    if not isinstance(text, str):
        raise _SelectorError("selector must be a string, not %s" % type(text).__name__)
    kind, sep, rest = text.partition(":")
    kind = kind.strip()
    if not sep:
        raise _SelectorError("selector %r has no kind: write kind:pattern with kind one of %s"
                             % (text, ", ".join(kinds)))
    if kind not in kinds:
        other = "value" if kind in _VALUE_SELECTOR_KINDS else \
            "scope" if kind in SCOPE_KINDS else None
        raise _SelectorError("selector %r: unknown kind %r here (use one of %s%s)" % (
            text, kind, ", ".join(kinds),
            "; %r is a %s selector kind" % (kind, other) if other else ""))
    match = "glob"
    head, sep2, tail = rest.partition(":")
    if sep2 and head in _MATCHES:
        match, pattern = head, tail
    else:
        pattern = rest
    if not pattern:
        raise _SelectorError("selector %r has an empty pattern" % text)
    value_kind = kind in _VALUE_SELECTOR_KINDS
    if match == "word" and not value_kind:
        raise _SelectorError("selector %r: word matching is for value selectors "
                             "(local, global, arg, ret, attr, any)" % text)
    if match == "regex":
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise _SelectorError("selector %r: invalid regular expression: %s" % (text, exc))
        return Selector(text, kind, match, pattern, _fullmatch(compiled))
    if kind == "group":
        names = [pattern] if match == "literal" else \
            [g for g in GROUPS if fnmatch.fnmatchcase(g, pattern)]
        if not names or any(g not in GROUPS for g in names):
            raise _SelectorError("selector %r: unknown group %r (groups: %s)"
                                 % (text, pattern, ", ".join(GROUPS)))
        chosen = frozenset(names)
        return Selector(text, kind, match, pattern, chosen.__contains__)
    if match == "word":
        joined = _word_pattern(pattern)
        if not joined:
            raise _SelectorError("selector %r: the word pattern has no words" % text)
        table = {joined: pattern}

        def test_words(name: str) -> bool:
            return _word_match(table, identifier_words(name)) is not None
        return Selector(text, kind, match, pattern, test_words)
    if kind in ("pkg", "obj"):
        if match == "literal":
            prefix = pattern + "."
            return Selector(text, kind, match, pattern,
                            lambda name: name == pattern or name.startswith(prefix))
        return Selector(text, kind, match, pattern,
                        _fullmatch(re.compile(_glob_regex(pattern, ".", subtree=True))))
    if kind == "file":
        absolute = _absolute_pattern(pattern, base_dir)
        if match == "literal":
            prefix = absolute.rstrip(os.sep) + os.sep
            return Selector(text, kind, match, pattern,
                            lambda path: path == absolute or path.startswith(prefix))
        return Selector(text, kind, match, pattern,
                        _fullmatch(re.compile(_glob_regex(absolute, os.sep, subtree=True))))
    # value kinds: identifiers, no hierarchy
    if match == "literal":
        return Selector(text, kind, match, pattern, pattern.__eq__)
    return Selector(text, kind, match, pattern,
                    _fullmatch(re.compile(fnmatch.translate(pattern))))


def _fullmatch(compiled: "re.Pattern[str]") -> Callable[[str], bool]:
    fm = compiled.fullmatch
    return lambda subject: fm(subject) is not None


def _norm_path(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def _absolute_pattern(pattern: str, base_dir: str) -> str:
    """File patterns: absolute and ``**...`` patterns as given, ``<...>`` names (``<string>``)
    as given, ``~`` expanded, others relative to the source's directory."""
    if pattern.startswith("<"):
        return pattern
    pattern = os.path.expanduser(pattern)
    if pattern.startswith("**"):
        return os.path.normcase(pattern)
    if not os.path.isabs(pattern):
        pattern = os.path.join(base_dir, pattern)
    # resolve symlinks in the part before the first wildcard, as code paths are real paths
    head = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
    cut = head.rfind(os.sep)
    if cut > 0 and len(head) < len(pattern):
        return os.path.normcase(_norm_path(pattern[:cut]) + pattern[cut:])
    return _norm_path(pattern)


# -- sources --------------------------------------------------------------------------------

class _ScopeRule:
    __slots__ = ("selector", "trace", "reason", "source")

    def __init__(self, selector: Selector, trace: bool, reason: str, source: str) -> None:
        self.selector = selector
        self.trace = trace
        self.reason = reason
        self.source = source


class _ValueRule:
    __slots__ = ("selector", "action", "scope", "reason", "source")

    def __init__(self, selector: Selector, action: int, scope: Optional[Selector],
                 reason: str, source: str) -> None:
        self.selector = selector
        self.action = action
        self.scope = scope
        self.reason = reason
        self.source = source


class FilterSource:
    """One link of the chain: the built-in defaults, a pyproject table or a filter file."""

    def __init__(self, name: str, kind: str, path: Optional[str] = None,
                 sha256: Optional[str] = None, description: str = "",
                 version: Any = None) -> None:
        self.name = name
        #: "builtin", "pyproject" or "file"
        self.kind = kind
        self.path = path
        self.sha256 = sha256
        self.description = description
        self.version = version
        self.scope_rules: List[_ScopeRule] = []
        self.value_rules: List[_ValueRule] = []
        #: [secrets] defaults: None (not said), True or False
        self.secret_defaults: Optional[bool] = None
        self.secret_patterns: List[str] = []
        self.secret_allow: List[str] = []

    def describe(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"name": self.name, "kind": self.kind, "path": self.path,
                               "sha256": self.sha256}
        if self.version is not None:
            out["version"] = self.version
        out["scope_rules"] = ["%s %s" % (r.selector.text, "trace" if r.trace else "skip")
                              for r in self.scope_rules]
        out["value_rules"] = ["%s %s%s" % (r.selector.text, _ACTION_NAMES[r.action],
                                           " in %s" % r.scope.text if r.scope else "")
                              for r in self.value_rules]
        if self.secret_defaults is not None:
            out["secret_defaults"] = self.secret_defaults
        if self.secret_patterns:
            out["secret_patterns"] = list(self.secret_patterns)
        if self.secret_allow:
            out["secret_allow"] = list(self.secret_allow)
        return out


def _fail(origin: str, where: str, problem: str) -> ConfigError:
    return ConfigError("filter %s: %s: %s" % (origin, where, problem) if where
                       else "filter %s: %s" % (origin, problem))


def _check_keys(table: Any, allowed: Sequence[str], origin: str, where: str) -> Dict[str, Any]:
    if not isinstance(table, dict):
        raise _fail(origin, where, "must be a table, not %s" % _type_word(table))
    unknown = [k for k in table if k not in allowed]
    if unknown:
        hint = ""
        if where in ("", "[scope]") and any(k in ("default_exec", "default_value_action")
                                             for k in unknown):
            hint = " (a codetracer-python-recorder filter? see docs/filters.md, Migrating)"
        raise _fail(origin, where, "unknown key%s %s (known: %s)%s" % (
            "s" if len(unknown) > 1 else "", ", ".join(repr(k) for k in unknown),
            ", ".join(allowed), hint))
    return table


def _type_word(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


def _string(table: Dict[str, Any], key: str, origin: str, where: str,
            required: bool = False) -> Optional[str]:
    value = table.get(key)
    if value is None:
        if required:
            raise _fail(origin, where, "%r is missing" % key)
        return None
    if not isinstance(value, str):
        raise _fail(origin, where, "%r must be a string, not %s" % (key, _type_word(value)))
    return value


def _strings(table: Dict[str, Any], key: str, origin: str, where: str) -> List[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(origin, where, "%r must be an array of strings" % key)
    return list(value)


def _rule_where(section: str, index: int, rule: Any) -> str:
    where = "[[%s]] #%d" % (section, index + 1)
    if isinstance(rule, dict) and isinstance(rule.get("selector"), str):
        where += " (selector %r)" % rule["selector"]
    return where


def parse_source(data: Mapping[str, Any], name: str, kind: str, origin: str,
                 base_dir: str, path: Optional[str] = None,
                 sha256: Optional[str] = None) -> FilterSource:
    """A :class:`FilterSource` from a parsed TOML table. ``origin`` names it in errors
    ("file /p/f.toml", "pyproject /p/pyproject.toml [tool.recorder]")."""
    data = _check_keys(dict(data), _TOP_KEYS, origin, "")
    meta = _check_keys(data.get("meta", {}), _META_KEYS, origin, "[meta]")
    source_name = _string(meta, "name", origin, "[meta]") or name
    version = meta.get("version")
    if version is not None and (not isinstance(version, (int, str)) or isinstance(version, bool)):
        raise _fail(origin, "[meta]", "'version' must be an integer or a string")
    source = FilterSource(source_name, kind, path, sha256,
                          _string(meta, "description", origin, "[meta]") or "", version)

    scope = _check_keys(data.get("scope", {}), _SCOPE_KEYS, origin, "[scope]")
    default = _string(scope, "default", origin, "[scope]")
    if default is not None:
        if default not in _SCOPE_ACTIONS:
            raise _fail(origin, "[scope]", "default=%r is not one of trace, skip" % default)
        everything = Selector("group:*", "group", "glob", "*", lambda _g: True)
        source.scope_rules.append(_ScopeRule(everything, _SCOPE_ACTIONS[default],
                                             "[scope] default", source_name))
    rules = scope.get("rules", [])
    if not isinstance(rules, list):
        raise _fail(origin, "[scope]", "'rules' must be an array of tables ([[scope.rules]])")
    for i, rule in enumerate(rules):
        where = _rule_where("scope.rules", i, rule)
        _check_keys(rule, _SCOPE_RULE_KEYS, origin, where)
        action = _string(rule, "action", origin, where, required=True)
        if action not in _SCOPE_ACTIONS:
            raise _fail(origin, where, "action=%r is not one of trace, skip" % action)
        try:
            selector = parse_selector(rule.get("selector"), SCOPE_KINDS, base_dir)
        except _SelectorError as exc:
            raise _fail(origin, where, str(exc))
        source.scope_rules.append(_ScopeRule(selector, _SCOPE_ACTIONS[action],  # type: ignore
                                             _string(rule, "reason", origin, where) or "",
                                             source_name))

    values = _check_keys(data.get("values", {}), _VALUES_KEYS, origin, "[values]")
    rules = values.get("rules", [])
    if not isinstance(rules, list):
        raise _fail(origin, "[values]", "'rules' must be an array of tables ([[values.rules]])")
    for i, rule in enumerate(rules):
        where = _rule_where("values.rules", i, rule)
        _check_keys(rule, _VALUE_RULE_KEYS, origin, where)
        action = _string(rule, "action", origin, where, required=True)
        if action not in _VALUE_ACTIONS:
            raise _fail(origin, where, "action=%r is not one of allow, redact, drop" % action)
        try:
            selector = parse_selector(rule.get("selector"), _VALUE_SELECTOR_KINDS, base_dir)
            scope_text = _string(rule, "scope", origin, where)
            in_scope = parse_selector(scope_text, SCOPE_KINDS, base_dir) \
                if scope_text is not None else None
        except _SelectorError as exc:
            raise _fail(origin, where, str(exc))
        if in_scope is not None and selector.kind in ("attr", "any"):
            raise _fail(origin, where, "'scope' cannot restrict %s selectors: attributes are "
                        "decided by name everywhere (use local/global/arg/ret)"
                        % selector.kind)
        source.value_rules.append(_ValueRule(selector, _VALUE_ACTIONS[action],  # type: ignore
                                             in_scope,
                                             _string(rule, "reason", origin, where) or "",
                                             source_name))

    secrets = _check_keys(data.get("secrets", {}), _SECRETS_KEYS, origin, "[secrets]")
    defaults = secrets.get("defaults")
    if defaults is not None and not isinstance(defaults, bool):
        raise _fail(origin, "[secrets]", "'defaults' must be true or false, not %s"
                    % _type_word(defaults))
    source.secret_defaults = defaults
    source.secret_patterns = _strings(secrets, "patterns", origin, "[secrets]")
    for p in source.secret_patterns:
        if not _word_pattern(p):
            raise _fail(origin, "[secrets]", "pattern %r has no words" % p)
    source.secret_allow = _strings(secrets, "allow", origin, "[secrets]")
    return source


def _toml_module() -> Any:
    if env.HAS_TOMLLIB:
        import tomllib
        return tomllib
    try:
        import tomli
    except ImportError:
        raise ConfigError("reading filter files on Python %d.%d needs the tomli package "
                          "(pip install 'tomli>=1.1')" % sys.version_info[:2])
    return tomli


def _sha256(raw: bytes) -> str:
    import hashlib  # only when there is a file: loading OpenSSL costs start-up time
    return hashlib.sha256(raw).hexdigest()


def _read(path: str, origin: str) -> Tuple[bytes, Dict[str, Any]]:
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise _fail(origin, "", "cannot read it: %s" % (exc.strerror or exc))
    toml = _toml_module()
    try:
        text = raw.decode("utf-8")
        data = toml.loads(text)
    except UnicodeDecodeError as exc:
        raise _fail(origin, "", "not UTF-8 text: %s" % exc)
    except toml.TOMLDecodeError as exc:
        raise _fail(origin, "", "not valid TOML: %s" % exc)
    return raw, data


def load_file(path: str) -> FilterSource:
    """A filter file (``--filter``, ``RECORDER_FILTER``); a ``pyproject.toml`` given here is
    read for its ``[tool.recorder]`` table."""
    path = os.path.abspath(os.fspath(path))
    if os.path.basename(path) == "pyproject.toml":
        source = load_pyproject(path, required=True)
        assert source is not None
        source.kind = "file"
        return source
    origin = "file %s" % path
    raw, data = _read(path, origin)
    name = os.path.splitext(os.path.basename(path))[0]
    return parse_source(data, name, "file", origin, os.path.dirname(_norm_path(path)), path,
                        _sha256(raw))


#: A ``[tool.recorder]`` (or ``[tool.recorder.x]``, ``[[tool.recorder.x]]``) table header.
_TOOL_TABLE = re.compile(br'(?m)^[ \t]*\[\[?[ \t]*tool[ \t]*\.[ \t]*"?recorder"?[ \t]*[\].]')


def load_pyproject(path: str, required: bool = False) -> Optional[FilterSource]:
    """The ``[tool.recorder]`` table of ``path``, or None when it has none. A pyproject.toml
    without a ``[tool.recorder...]`` table header is not parsed at all (it is not ours to
    judge, and parsing costs)."""
    origin = "pyproject %s [tool.recorder]" % path
    if not required:
        try:
            with open(path, "rb") as handle:
                if not _TOOL_TABLE.search(handle.read()):
                    return None
        except OSError:
            return None
    raw, data = _read(path, "pyproject %s" % path)
    tool = data.get("tool", {})
    table = tool.get("recorder") if isinstance(tool, dict) else None
    if table is None:
        if required:
            raise _fail(origin, "", "the file has no [tool.recorder] table")
        return None
    return parse_source(table, "pyproject", "pyproject", origin,
                        os.path.dirname(_norm_path(path)), path, _sha256(raw))


def find_pyproject(start: str) -> Optional[str]:
    """The first ``pyproject.toml`` in ``start`` or a parent directory."""
    directory = os.path.abspath(start)
    while True:
        candidate = os.path.join(directory, "pyproject.toml")
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


#: Interpreter-environment hooks that run inside every import of a program without being
#: part of it (setuptools' distutils shim, virtualenv's, the finders of ``pip install -e``
#: projects): skipped like the standard library, and not counted as skipped code.
ENVIRONMENT_HOOKS = ("file:**/_distutils_hack/**", "file:**/_virtualenv.py",
                     "file:**/__editable__*")
_HOOK_REASON = "an environment hook"


def builtin_source(trace_stdlib: bool = False,
                   target_package: Optional[Tuple[str, str]] = None) -> FilterSource:
    """The defaults: record the program's own code, skip the standard library
    (``trace_stdlib``: record it), installed third-party packages and the environment
    hooks; the default secret patterns. ``target_package``: (name, file or directory) of
    the top-level package the command line runs (``-m pkg.mod``), recorded even when it is
    installed: the user asked to run it."""
    source = FilterSource("builtin", "builtin")
    cwd = os.getcwd()
    source.scope_rules.append(_ScopeRule(parse_selector("group:stdlib", SCOPE_KINDS, cwd),
                                         trace_stdlib, "the standard library", "builtin"))
    source.scope_rules.append(_ScopeRule(parse_selector("group:third-party", SCOPE_KINDS,
                                                        cwd),
                                         False, "installed third-party packages", "builtin"))
    for text in ENVIRONMENT_HOOKS:
        source.scope_rules.append(_ScopeRule(parse_selector(text, SCOPE_KINDS, cwd), False,
                                             _HOOK_REASON, "builtin"))
    if target_package is not None:
        name, location = target_package
        # A file rule, not pkg:NAME: file and group rules keep one decision per file name.
        selector = parse_selector("file:literal:" + location, SCOPE_KINDS, cwd)
        source.scope_rules.append(_ScopeRule(selector, True, "the -m target's package %s"
                                             % name, "builtin"))
    source.secret_defaults = True
    return source


#: ``--include``/``--exclude`` words that name a group (docs/filters.md).
FLAG_GROUPS = ("third-party", "stdlib", "program", "synthetic")
#: A package name or a glob of package names (``requests``, ``myapp.*``, ``django*``).
_PACKAGE_GLOB = re.compile(r"[^\W\d]|[*?\[]")
_PACKAGE_CHARS = re.compile(r"[\w.*?\[\]!]+\Z")


def scope_flag_selector(flag: str, value: Any) -> Selector:
    """What one ``--include``/``--exclude`` value (or ``RECORDER_INCLUDE`` item) selects:

    * a group: ``third-party``, ``stdlib``, ``program``, ``synthetic`` (``group:NAME`` too);
    * a selector of docs/filters.md: ``pkg:...``, ``file:...``, ``obj:...``, ``group:...``;
    * a path (it holds a ``/``, or ends with ``.py``): ``file:PATH``, relative to the
      working directory, covering everything under a directory;
    * else a package name or glob: ``pkg:VALUE`` (the package and everything under it).

    Raises :class:`ConfigError` naming ``flag`` and the value."""
    cwd = os.getcwd()
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("%s %r: give a group (%s), a package name or a selector"
                          % (flag, value, ", ".join(FLAG_GROUPS)))
    value = value.strip()
    if value in FLAG_GROUPS:
        text = "group:" + value
    elif value.partition(":")[0] in SCOPE_KINDS:
        text = value
    elif "/" in value or os.sep in value or value.endswith(".py"):
        text = "file:" + value
    elif _PACKAGE_CHARS.match(value) and _PACKAGE_GLOB.match(value):
        text = "pkg:" + value
    elif ":" not in value and all(part.isalnum() for part in value.split("-")):
        raise ConfigError("%s %r: unknown group (groups: %s; a package name has no '-')"
                          % (flag, value, ", ".join(FLAG_GROUPS)))
    else:
        raise ConfigError("%s %r: not a group (%s), a package name or glob, a path or a "
                          "selector (pkg:, file:, obj:, group:)"
                          % (flag, value, ", ".join(FLAG_GROUPS)))
    try:
        return parse_selector(text, SCOPE_KINDS, cwd)
    except _SelectorError as exc:
        raise ConfigError("%s %r: %s" % (flag, value, exc))


def flags_source(config: Any) -> Optional[FilterSource]:
    """The scope flags as the last source of the chain: ``record_all`` (``--all``) first,
    then each ``include`` (trace), then each ``exclude`` (skip), so an exclude wins over an
    include and both over every filter file. None when no flag is given."""
    include = list(getattr(config, "include", None) or [])
    exclude = list(getattr(config, "exclude", None) or [])
    record_all = bool(getattr(config, "record_all", False))
    if not (include or exclude or record_all):
        return None
    source = FilterSource("flags", "flags")
    if record_all:
        everything = Selector("group:*", "group", "glob", "*", lambda _g: True)
        source.scope_rules.append(_ScopeRule(everything, True, "--all", "flags"))
    for flag, patterns, trace in (("--include", include, True),
                                  ("--exclude", exclude, False)):
        for value in patterns:
            source.scope_rules.append(_ScopeRule(scope_flag_selector(flag, value), trace,
                                                 "%s %s" % (flag, value), "flags"))
    return source


class FilterChain:
    """The ordered sources of one recording (parsed and validated; no resolver yet)."""

    def __init__(self, sources: Sequence[FilterSource]) -> None:
        self.sources = list(sources)

    def describe(self) -> List[Dict[str, Any]]:
        return [s.describe() for s in self.sources]


def load_chain(config: Any = None, project_dir: Optional[str] = None,
               pyproject: bool = True,
               target_package: Optional[Tuple[str, str]] = None) -> FilterChain:
    """Built-in defaults, then ``[tool.recorder]`` of the first ``pyproject.toml`` found from
    ``project_dir`` (default: the working directory) upwards, then ``config.filters`` in
    order (``RECORDER_FILTER``'s files, then ``--filter``/``install(filters=)``), then the
    scope flags (``RECORDER_ALL``/``--all``, ``RECORDER_INCLUDE``/``--include``,
    ``RECORDER_EXCLUDE``/``--exclude``). The last matching rule wins.
    Raises :class:`ConfigError` naming the file, the rule and the problem."""
    trace_stdlib = bool(getattr(config, "trace_stdlib", False))
    files = list(getattr(config, "filters", None) or [])
    sources = [builtin_source(trace_stdlib, target_package)]
    if pyproject:
        found = find_pyproject(project_dir or os.getcwd())
        if found is not None:
            source = load_pyproject(found)
            if source is not None:
                sources.append(source)
    for path in files:
        sources.append(load_file(path))
    flags = flags_source(config)
    if flags is not None:
        sources.append(flags)
    return FilterChain(sources)


def target_package(module: str) -> Optional[Tuple[str, str]]:
    """(top-level package name, its file or directory) of a ``-m`` target, found without
    running any of its code (``importlib.util.find_spec`` of a top-level name imports
    nothing), or None when it is not found or not a file on disk."""
    import importlib.util

    top = module.partition(".")[0]
    if not top:
        return None
    try:
        found = sys.modules.get(top)
        spec = getattr(found, "__spec__", None) if found is not None else \
            importlib.util.find_spec(top)
    except Exception:
        return None
    return package_location(top, spec)


def package_location(top: str, spec: Any) -> Optional[Tuple[str, str]]:
    """(``top``, the real path of its package directory or module file) from its spec."""
    if spec is None:
        return None
    locations = list(spec.submodule_search_locations or [])
    location = locations[0] if locations else spec.origin
    if not isinstance(location, str) or not os.path.exists(location):
        return None
    return top, _norm_path(location)


# -- where code lives ---------------------------------------------------------------------

def _norm_dir(path: str) -> str:
    return _norm_path(path).rstrip(os.sep) + os.sep


class _Places:
    """Classifies files: the recorder, the standard library, third-party, synthetic, program.
    One answer per file name string (one ``realpath`` per file in the whole run)."""

    def __init__(self, cwd: str) -> None:
        import site
        import sysconfig

        self.cwd = cwd
        self.own = _norm_dir(os.path.dirname(os.path.abspath(__file__)))
        paths = sysconfig.get_paths()
        self.stdlib = tuple({_norm_dir(paths[k]) for k in ("stdlib", "platstdlib")
                             if k in paths})
        site_dirs = {paths[k] for k in ("purelib", "platlib") if k in paths}
        try:
            site_dirs.update(site.getsitepackages())
        except Exception:
            pass
        try:
            user = site.getusersitepackages()
            if isinstance(user, str):
                site_dirs.add(user)
        except Exception:
            pass
        self.site = tuple({_norm_dir(p) for p in site_dirs})
        self._markers = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)
        self._by_file: Dict[str, Tuple[str, str]] = {}

    def of(self, filename: str) -> Tuple[str, str]:
        """(group or "recorder", normalised path) of a code object's file name."""
        known = self._by_file.get(filename)
        if known is None:
            known = self._by_file[filename] = self._classify(filename)
        return known

    def _classify(self, filename: str) -> Tuple[str, str]:
        if filename.startswith("<"):
            if filename.startswith("<frozen "):
                return "stdlib", filename
            return "synthetic", filename
        try:
            path = _norm_path(os.path.join(self.cwd, filename))
        except (OSError, ValueError):
            path = filename
        if path.startswith(self.own):
            return "recorder", path
        if path.startswith(self.site) or any(m in path for m in self._markers):
            return "third-party", path
        if path.startswith(self.stdlib):
            return "stdlib", path
        return "program", path

    def top_of(self, path: str) -> str:
        """The first part of ``path`` below the site-packages or standard library directory
        holding it (``.../site-packages/requests/api.py`` -> ``requests``,
        ``<frozen importlib._bootstrap>`` -> ``importlib``), else its file name."""
        if path.startswith("<frozen "):
            return path[len("<frozen "):].rstrip(">").partition(".")[0]
        for roots in (self.site, self.stdlib):
            for root in roots:
                if path.startswith(root):
                    return _module_part(path[len(root):])
        for marker in self._markers:
            cut = path.rfind(marker)
            if cut >= 0:
                return _module_part(path[cut + len(marker):])
        return _module_part(os.path.basename(path))

    def of_synthetic(self, frame: Optional[FrameType]) -> str:
        """The group of exec/eval/compile code (``<string>``): that of the module whose
        globals it runs in (a dataclass's generated ``__init__`` is its module's), the
        standard library for ``collections.namedtuple``'s generated methods, else
        "synthetic". Never runs program code (plain dict reads)."""
        globals_ = frame.f_globals if frame is not None else None
        if not isinstance(globals_, dict):
            return "synthetic"
        name = dict.get(globals_, "__name__")
        if not isinstance(name, str):
            return "synthetic"
        if name.startswith("namedtuple_"):
            return "stdlib"
        module = sys.modules.get(name)
        try:
            owned = module is not None and object.__getattribute__(module, "__dict__") \
                is globals_
        except Exception:
            owned = False
        filename = dict.get(globals_, "__file__")
        if not owned or not isinstance(filename, str) or filename.startswith("<"):
            return "synthetic"
        return self.of(filename)[0]


def _module_part(relative: str) -> str:
    """``requests/api.py`` -> ``requests``, ``six.py`` -> ``six``."""
    first = relative.lstrip(os.sep).split(os.sep, 1)[0]
    return first.partition(".")[0] or first


# -- the engine -----------------------------------------------------------------------------

_UNSET = object()


class CodeValues:
    """The value decisions for one code object: ``action(kind, name)``, cached per name."""

    __slots__ = ("_engine", "_info", "_rules", "_cache", "ret")

    def __init__(self, engine: "FilterEngine", info: CodeInfo,
                 rules: List[_ValueRule]) -> None:
        self._engine = engine
        self._info = info
        #: the value rules whose ``scope`` admits this code (latest last)
        self._rules = rules
        self._cache: Dict[Tuple[str, str], int] = {}
        #: the action for the code's return/yield values
        self.ret = self.action("ret", info.name)

    def action(self, kind: str, name: str) -> int:
        key = (kind, name)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._engine._decide_value(self._rules, kind, name)
        return found


class FilterEngine:
    """The chain compiled against the session's resolver.

    ``engine(code, frame)`` is the catalog's scope predicate (called once per code object);
    :meth:`values_for` gives a code object's value decisions; :meth:`attr_action` decides
    attribute names and mapping keys. Counters feed ``trace_metadata.json``.
    """

    def __init__(self, chain: FilterChain, resolver: Any) -> None:
        self.chain = chain
        #: The session's one ModuleResolver (never a new one: docs/naming.md).
        self.resolver = resolver
        self._places = _Places(getattr(resolver, "cwd", None) or os.getcwd())
        self.scope_rules: List[_ScopeRule] = [r for s in chain.sources for r in s.scope_rules]
        self.value_rules: List[_ValueRule] = [r for s in chain.sources for r in s.value_rules]
        defaults = True
        patterns: List[str] = []
        allow: List[str] = []
        for s in chain.sources:
            if s.secret_defaults is not None:
                defaults = s.secret_defaults
            patterns.extend(s.secret_patterns)
            allow.extend(s.secret_allow)
        self.secret_defaults = defaults
        self.secrets = SecretMatcher((list(DEFAULT_SECRETS) if defaults else []) + patterns,
                                     allow)
        self._extra_patterns = patterns
        kinds = {r.selector.kind for r in self.scope_rules}
        #: only file/group rules: one decision per file name
        self._per_file = not kinds & {"pkg", "obj"}
        self._file_decisions: Dict[str, bool] = {}
        #: groups of exec'd code, by (filename, first line, name)
        self._synthetic: Dict[Tuple[str, int, str], str] = {}
        self._attr_rules = [r for r in self.value_rules if r.selector.kind in ("attr", "any")]
        self._attr_cache: Dict[str, int] = {}
        self._values: Dict[int, Tuple[CodeInfo, CodeValues]] = {}
        #: counters
        self.scopes_skipped = 0
        self.scopes_traced = 0
        #: skipped code objects by file name (named by package only in :meth:`skipped`),
        #: and skipped exec'd code by (group, top-level module of its globals)
        self._skipped_files: Dict[str, int] = {}
        self._skipped_synthetic: Dict[Tuple[str, str], int] = {}
        #: the environment hooks' rules: what they skip is not counted as skipped code
        self._hook_rules = [r for r in self.scope_rules if r.reason == _HOOK_REASON]
        self.redactions: Dict[str, int] = {k: 0 for k in VALUE_KINDS}
        self.drops: Dict[str, int] = {k: 0 for k in VALUE_KINDS}

    # -- scope --------------------------------------------------------------------------------

    def __call__(self, code: CodeType, frame: Optional[FrameType] = None) -> bool:
        """Trace ``code``? Called once per code object by the catalog."""
        decision = self._decide_scope(code, frame)
        if decision:
            self.scopes_traced += 1
        else:
            self.scopes_skipped += 1
        return decision

    def _decide_scope(self, code: CodeType, frame: Optional[FrameType]) -> bool:
        if id(code) in HOOK_CODE_IDS:
            return False  # the import hook's frames, filed under importlib's name
        filename = code.co_filename
        group, path = self._places.of(filename)
        if group == "synthetic":
            group = self._places.of_synthetic(frame)
            self._synthetic[(filename, code.co_firstlineno, code.co_name)] = group
            if group == "recorder":
                return False
            decision = self._walk(code, frame, group, path)
            if not decision:
                key = (group, _globals_top(frame))
                self._skipped_synthetic[key] = self._skipped_synthetic.get(key, 0) + 1
            return decision
        if group == "recorder":
            return False
        if self._per_file:
            known = self._file_decisions.get(filename)
            if known is None:
                known = self._file_decisions[filename] = self._walk(
                    code, frame, group, path)
        else:
            known = self._walk(code, frame, group, path)
        if not known:  # one dict store per skipped code object, never per call
            self._skipped_files[filename] = self._skipped_files.get(filename, 0) + 1
        return known

    def _walk(self, code: CodeType, frame: Optional[FrameType], group: str, path: str) -> bool:
        """The last matching scope rule decides; nothing matches: trace. The module and the
        qualified name are computed only if a rule needs them."""
        module: Any = _UNSET
        obj: Any = _UNSET
        for rule in reversed(self.scope_rules):
            sel = rule.selector
            kind = sel.kind
            if kind == "group":
                subject = group
            elif kind == "file":
                subject = path
            elif kind == "pkg":
                if module is _UNSET:
                    module = self._module(code, frame)
                subject = module
            else:
                if obj is _UNSET:
                    if module is _UNSET:
                        module = self._module(code, frame)
                    obj = _obj_name(module, qualname_of(code, frame))
                subject = obj
            if subject is not None and sel.test(subject):
                return rule.trace
        return True

    def _module(self, code: CodeType, frame: Optional[FrameType]) -> Optional[str]:
        globals_ = frame.f_globals if frame is not None else None
        return self.resolver.label_for(code, globals_)[1]

    def _info_subject(self, info: CodeInfo, kind: str) -> Optional[str]:
        if kind == "group" or kind == "file":
            group, path = self._places.of(info.filename)
            if group == "synthetic":
                group = self._synthetic.get((info.filename, info.firstlineno, info.name), group)
            return group if kind == "group" else path
        if kind == "pkg":
            return info.module
        return _obj_name(info.module, info.qualname)

    # -- values -------------------------------------------------------------------------------

    def values_for(self, info: CodeInfo) -> CodeValues:
        """The value decisions of one (recorded) code object; one object per code."""
        entry = self._values.get(id(info))
        if entry is not None and entry[0] is info:
            return entry[1]
        rules = []
        for rule in self.value_rules:
            if rule.scope is not None:
                subject = self._info_subject(info, rule.scope.kind)
                if subject is None or not rule.scope.test(subject):
                    continue
            rules.append(rule)
        values = CodeValues(self, info, rules)
        self._values[id(info)] = (info, values)
        return values

    def release_code(self, info: CodeInfo) -> None:
        """``info``'s code object has died: forget its value decisions (a new code object
        gets a new CodeInfo). Called by the session's code catalog, on any thread."""
        entry = self._values.get(id(info))
        if entry is not None and entry[0] is info:
            self._values.pop(id(info), None)

    def _decide_value(self, rules: List[_ValueRule], kind: str, name: str) -> int:
        action = ALLOW
        for rule in reversed(rules):
            sel_kind = rule.selector.kind
            if (sel_kind == kind or sel_kind == "any") and rule.selector.test(name):
                action = rule.action
                break
        if action < REDACT and self.secrets.is_secret(name):
            action = REDACT
        return action

    def attr_action(self, name: str) -> int:
        """The action for an attribute name or string mapping key (any code)."""
        found = self._attr_cache.get(name)
        if found is None:
            if len(self._attr_cache) >= 4096:
                self._attr_cache.clear()
            found = self._attr_cache[name] = self._decide_value(self._attr_rules, "attr",
                                                                name)
        return found

    def value_action(self, info: CodeInfo, kind: str, name: str) -> int:
        """Convenience: the action for ``name`` of ``kind`` in ``info``'s code."""
        if kind == "attr":
            return self.attr_action(name)
        return self.values_for(info).action(kind, name)

    def count(self, redactions: Mapping[str, int], drops: Mapping[str, int]) -> None:
        """Add a sink's counts of values it redacted and dropped."""
        for k, n in redactions.items():
            self.redactions[k] = self.redactions.get(k, 0) + n
        for k, n in drops.items():
            self.drops[k] = self.drops.get(k, 0) + n

    # -- what was skipped ---------------------------------------------------------------------

    def skipped(self) -> Dict[str, Any]:
        """The skipped code objects (functions, methods, module and class bodies, lambdas,
        comprehensions) that ran at least once, by top-level package: ``{"functions":
        {package: n}, "groups": {package: group}}``, most first. A skipped function is
        decided once and never seen again (sys.monitoring disables it), so these are code
        objects, not calls. Environment hooks, the import hook and the recorder are left
        out: they are never the program's."""
        counts: Dict[str, int] = {}
        groups: Dict[str, str] = {}
        hooks = self._hook_rules
        for filename, n in list(self._skipped_files.items()):
            group, path = self._places.of(filename)
            if any(rule.selector.test(path) for rule in hooks):
                continue
            package = self._top_package(filename, group, path)
            counts[package] = counts.get(package, 0) + n
            groups.setdefault(package, group)
        for (group, package), n in list(self._skipped_synthetic.items()):
            counts[package] = counts.get(package, 0) + n
            groups.setdefault(package, group)
        order = sorted(counts, key=lambda p: (-counts[p], p))
        return {"functions": {p: counts[p] for p in order},
                "groups": {p: groups[p] for p in order}}

    def _top_package(self, filename: str, group: str, path: str) -> str:
        """The top-level package of a skipped file: the resolver's module name (import
        bindings, ``sys.modules``, ``sys.path``), else the first part of its path below the
        site-packages or standard library directory, else the file's name."""
        module = None
        try:
            module = self.resolver.module_of_file(filename)
        except Exception:
            pass
        if module and module != "__main__":
            return module.partition(".")[0]
        return self._places.top_of(path)

    # -- metadata -----------------------------------------------------------------------------

    def scope_metadata(self) -> Dict[str, Any]:
        """``scope`` of ``trace_metadata.json``: the scope rules in the order they apply
        (the last matching one wins) and what they skipped."""
        return {
            "rules": [{"selector": r.selector.text, "action": "trace" if r.trace else "skip",
                       "source": r.source, "reason": r.reason} for r in self.scope_rules],
            "skipped": self.skipped(),
        }

    def metadata(self) -> Dict[str, Any]:
        """``trace_filter`` of ``trace_metadata.json``: the chain, secrets, counts."""
        return {
            "filters": self.chain.describe(),
            "secrets": {"defaults": self.secret_defaults,
                        "patterns": list(self.secrets.patterns),
                        "allow": list(self.secrets.allow)},
            "stats": {
                "scopes_skipped": self.scopes_skipped,
                "scopes_traced": self.scopes_traced,
                "value_redactions": {COUNT_NAMES[k]: self.redactions.get(k, 0)
                                     for k in VALUE_KINDS},
                "value_drops": {COUNT_NAMES[k]: self.drops.get(k, 0) for k in VALUE_KINDS},
            },
        }


def _globals_top(frame: Optional[FrameType]) -> str:
    """The top-level module exec'd code runs in (plain dict reads), or ``<exec>``."""
    globals_ = frame.f_globals if frame is not None else None
    name = dict.get(globals_, "__name__") if isinstance(globals_, dict) else None
    if not isinstance(name, str) or not name:
        return "<exec>"
    if name.startswith("namedtuple_"):
        return "collections"
    return name.partition(".")[0]


def _obj_name(module: Optional[str], qualname: str) -> str:
    return "%s.%s" % (module, qualname) if module else qualname
