"""Where the filter rules come from: filter files, ``pyproject.toml`` tables and scope flags,
parsed and checked into the ordered :class:`FilterChain` (docs/filters.md is the user's view).

Rules come from an ordered chain of *sources*: the built-in defaults, the recorded project's
``pyproject.toml`` ``[tool.recorder]`` table, the files in ``RECORDER_FILTER``, then the files
given to ``--filter`` / ``install(filters=[...])``, then the scope flags. For both scope and
values the **last matching rule wins** (later sources after earlier ones, later rules after
earlier ones in a file), so a later source can loosen or tighten what an earlier one said.
Secret redaction is a separate layer on top (:mod:`recorder.redaction`): a rule can make a
secret name *stricter* (drop) but never visible; only a ``[secrets]`` table can
(``allow = [...]``, or ``defaults = false``).

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
"""
from __future__ import annotations

import fnmatch
import os
import re
import sys
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from recorder import env
from recorder.errors import ConfigError
from recorder.redaction import ACTION_NAMES as _ACTION_NAMES
from recorder.redaction import VALUE_ACTIONS as _VALUE_ACTIONS
from recorder.redaction import identifier_words, word_match, word_pattern

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

_TOP_KEYS = ("meta", "scope", "values", "secrets")
_META_KEYS = ("name", "description", "version")
_SCOPE_KEYS = ("default", "rules")
_SCOPE_RULE_KEYS = ("selector", "action", "reason")
_VALUES_KEYS = ("rules",)
_VALUE_RULE_KEYS = ("selector", "action", "scope", "reason")
_SECRETS_KEYS = ("defaults", "patterns", "allow")


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
        joined = word_pattern(pattern)
        if not joined:
            raise _SelectorError("selector %r: the word pattern has no words" % text)
        table = {joined: pattern}

        def test_words(name: str) -> bool:
            return word_match(table, identifier_words(name)) is not None
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


def _rules_of(table: Dict[str, Any], section: str, keys: Sequence[str],
              actions: Mapping[str, Any], origin: str) -> Iterable[Tuple[str, Any, str]]:
    """``(where, rule, action)`` of each ``[[section.rules]]`` table, its keys and action
    checked."""
    rules = table.get("rules", [])
    if not isinstance(rules, list):
        raise _fail(origin, "[%s]" % section,
                    "'rules' must be an array of tables ([[%s.rules]])" % section)
    for i, rule in enumerate(rules):
        where = _rule_where(section + ".rules", i, rule)
        _check_keys(rule, keys, origin, where)
        action = _string(rule, "action", origin, where, required=True)
        if action not in actions:
            raise _fail(origin, where, "action=%r is not one of %s"
                        % (action, ", ".join(actions)))
        yield where, rule, action


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
    for where, rule, action in _rules_of(scope, "scope", _SCOPE_RULE_KEYS, _SCOPE_ACTIONS,
                                         origin):
        try:
            selector = parse_selector(rule.get("selector"), SCOPE_KINDS, base_dir)
        except _SelectorError as exc:
            raise _fail(origin, where, str(exc))
        source.scope_rules.append(_ScopeRule(selector, _SCOPE_ACTIONS[action],  # type: ignore
                                             _string(rule, "reason", origin, where) or "",
                                             source_name))

    values = _check_keys(data.get("values", {}), _VALUES_KEYS, origin, "[values]")
    for where, rule, action in _rules_of(values, "values", _VALUE_RULE_KEYS, _VALUE_ACTIONS,
                                         origin):
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
        if not word_pattern(p):
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
