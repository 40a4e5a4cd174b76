"""The filter engine: which code is recorded, and which of its values may reach the trace.

Two decisions, both made once and cached (docs/filters.md is the user's version; the rules
come from :mod:`recorder.filter_chain`):

* **Scope**, per code object: trace it or skip it. Skipped code costs nothing per event: the
  :class:`~recorder.codes.CodeCatalog` caches ``None`` for it, so the monitoring backend
  returns ``DISABLE`` and the settrace backend installs no local trace function. Code that
  skipped code calls (``sorted(key=user_fn)``, a thread target started by ``threading``) is
  decided on its own and still recorded.
* **Values**, per (code object, kind, name): allow, redact or drop. The trace writer asks once
  per variable name of each code object and keeps the answer next to the variable's id, so a
  value costs the same dict lookup with or without rules. Secret names are decided by
  :mod:`recorder.redaction`.

The recorder's own code and the import hook's frames are never recorded, whatever the rules.
"""
from __future__ import annotations

import os
import sys
from types import CodeType, FrameType
from typing import Any, Dict, List, Mapping, Optional, Tuple

from recorder.events import CodeInfo
from recorder.filter_chain import (  # noqa: F401  (re-exported: the names of recorder.filters)
    COUNT_NAMES, FLAG_GROUPS, GROUPS, SCOPE_KINDS, VALUE_KINDS, FilterChain, FilterSource,
    Selector, _HOOK_REASON, _ScopeRule, _ValueRule, _norm_path, builtin_source,
    flags_source, load_chain, load_file, parse_selector, parse_source, scope_flag_selector,
    target_package)
from recorder.importhook import HOOK_CODE_IDS
from recorder.qualname import qualname_of
from recorder.redaction import (  # noqa: F401  (re-exported)
    ALLOW, DEFAULT_SECRETS, DESCRIPTOR_WORDS, DROP, REDACT, SecretMatcher, identifier_words)

__all__ = [
    "ALLOW", "REDACT", "DROP", "SCOPE_KINDS", "VALUE_KINDS", "GROUPS", "DEFAULT_SECRETS",
    "DESCRIPTOR_WORDS", "FLAG_GROUPS", "Selector", "FilterSource", "FilterChain",
    "FilterEngine", "load_chain", "load_file", "parse_source", "identifier_words",
    "SecretMatcher", "scope_flag_selector", "flags_source", "target_package", "builtin_source",
    "parse_selector",
]


# -- where code lives ---------------------------------------------------------------------

def _norm_dir(path: str) -> str:
    return _norm_path(path).rstrip(os.sep) + os.sep


#: cwd -> its _Places (see _places_for)
_PLACES: Dict[str, "_Places"] = {}


def _places_for(cwd: str) -> "_Places":
    """The one :class:`_Places` of this process for ``cwd``: sessions one after another (the
    pytest plugin records each test in its own) share what they learnt about files, which a
    file keeps for the whole run (a ``realpath`` per file costs ~10 us, and a test run meets
    thousands)."""
    places = _PLACES.get(cwd)
    if places is None:
        places = _PLACES[cwd] = _Places(cwd)
    return places


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
        self._places = _places_for(getattr(resolver, "cwd", None) or os.getcwd())
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
