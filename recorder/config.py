"""One typed configuration for every entry point: keyword arguments, the CLI and ``RECORDER_*``.

``recorder.install(**options)``, ``python -m recorder`` and the auto-start hook all build a
:class:`Config`, so an option means the same thing everywhere and is validated in one place.
Environment variables are read only here (:func:`Config.from_env`), and :meth:`Config.to_env`
turns a config back into them for child processes. Every error names the option or variable
and the bad value in one line (docs/configuration.md lists them all).
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

from recorder.errors import ConfigError

BACKENDS = ("auto", "monitoring", "settrace")
VALUES_MODES = ("none", "args", "full")
#: ``builtin``: only reprs implemented by the interpreter or a C extension run while
#: recording; objects whose class has its own Python ``__repr__`` are recorded from their
#: state. ``program``: the program's own ``__repr__`` (and exceptions' ``__str__``) run too.
REPRS_MODES = ("builtin", "program")
LOG_LEVELS = ("warning", "debug")
#: ``on``: a Step for every line run; ``off``: calls, returns, exceptions and I/O only (each
#: Call keeps its Step at the function's first line), for long runs (docs/trace-format.md).
STEPS_MODES = ("on", "off")

#: ``private``: files 0600, directories 0700 (only the user who records can read the trace).
DEFAULT_FILE_MODE = "private"
_NAMED_FILE_MODES = ("private", "umask")

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


class Config:
    """What to record and where. Defaults are the documented ones (docs/configuration.md).

    A plain class, not a dataclass: ``dataclasses`` imports ``inspect`` (and ``ast``,
    ``dis``, ``tokenize``), about 25 ms of every recorded process's start-up."""

    #: The option names, in order (``updated`` accepts exactly these).
    FIELDS = ("backend", "out_dir", "values", "reprs", "filters", "trace_stdlib", "include",
              "exclude", "record_all", "report", "log", "trace_root", "parent", "steps",
              "max_size", "max_records", "file_mode", "timing")

    def __init__(self, backend: str = "auto", out_dir: str = "trace-out", values: str = "full",
                 reprs: str = "builtin", filters: Any = None, trace_stdlib: bool = False,
                 include: Any = None, exclude: Any = None, record_all: bool = False,
                 report: Optional[bool] = None, log: str = "warning",
                 trace_root: Optional[str] = None, parent: Optional[str] = None,
                 steps: str = "on", max_size: Any = None, max_records: Any = None,
                 file_mode: str = DEFAULT_FILE_MODE, timing: bool = True) -> None:
        #: "auto" (sys.monitoring on 3.12+, settrace below), "monitoring" or "settrace".
        self.backend = backend
        #: The trace directory (CLI ``-o``); relative to the working directory.
        self.out_dir = out_dir
        #: Which values the trace writer records: "none", "args" or "full".
        self.values = values
        #: Whose reprs may run while values are recorded: "builtin" or "program".
        self.reprs = reprs
        #: Filter files, in order (docs/filters.md): ``RECORDER_FILTER``'s, then the caller's.
        self.filters: List[str] = _filter_paths([] if filters is None else filters)
        #: Record the standard library too.
        self.trace_stdlib = trace_stdlib
        #: The scope flags (docs/filters.md, "The scope in one flag"), applied after every
        #: filter file: ``record_all`` records everything but the recorder, then each of
        #: ``include`` (a group, a package name or glob, a selector) is recorded, then each
        #: of ``exclude`` is skipped (an exclude wins over an include).
        self.include: List[str] = _scope_patterns("include", include)
        self.exclude: List[str] = _scope_patterns("exclude", exclude)
        self.record_all = record_all
        #: The end-of-run line (docs/cli.md): None prints it when stderr is a terminal
        #: (CLI) or never (auto-start); True always; False never.
        self.report = report
        #: "warning" (default) or "debug" (one line per naming fallback, ...).
        self.log = log
        #: ``RECORDER_TRACE``: record every Python process that starts with it set, each into
        #: its own ``<trace_root>/<program>-<pid>/`` (docs/autostart.md). None: off.
        self.trace_root = trace_root
        #: ``RECORDER_PARENT``, set by the recorder for child processes: ``"<pid>:<trace
        #: dir>"`` of the nearest recorded ancestor (the parent link in a child's metadata).
        self.parent = parent
        #: "on" (a Step per line) or "off" (calls, returns, exceptions and I/O only).
        self.steps = steps
        #: Stop recording once the trace's event files hold this many bytes (None: no limit);
        #: ``"500M"``-style text is accepted (:func:`parse_size`).
        self.max_size: Optional[int] = _limit("max_size", max_size, parse_size)
        #: Stop recording once this many records are written (None: no limit).
        self.max_records: Optional[int] = _limit("max_records", max_records, parse_count)
        #: Permissions of the trace: "private" (0600/0700), "umask", or an octal file mode
        #: (recorder/formats/storage.py).
        self.file_mode = _file_mode("file_mode", file_mode)
        #: Stamp every call and return with the time (the trace writer's ``trace_times.bin``,
        #: docs/trace-format.md "Time"): a few percent on code made of tiny calls.
        self.timing = timing
        self.validate()

    def _values(self) -> Dict[str, Any]:
        return {name: getattr(self, name) for name in self.FIELDS}

    def __repr__(self) -> str:
        return "Config(%s)" % ", ".join("%s=%r" % item for item in self._values().items())

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass it replaces

    def _replace(self, **changes: Any) -> "Config":
        values = self._values()
        values.update(changes)
        return Config(**values)

    def validate(self, source: str = "") -> "Config":
        """Raise :class:`ConfigError` naming the first bad field (``source`` says where the
        value came from, e.g. ``RECORDER_VALUES``)."""
        _choice(source or "backend", self.backend, BACKENDS)
        _choice(source or "values", self.values, VALUES_MODES)
        _choice(source or "reprs", self.reprs, REPRS_MODES)
        _choice(source or "log", self.log, LOG_LEVELS)
        _choice(source or "steps", self.steps, STEPS_MODES)
        for name in ("max_size", "max_records"):
            value = getattr(self, name)
            if value is not None and (type(value) is not int or value < 1):
                raise ConfigError("%s=%r: give a number of at least 1, or None for no limit"
                                  % (source or name, value))
        _file_mode(source or "file_mode", self.file_mode)
        if not isinstance(self.out_dir, str) or not self.out_dir:
            raise ConfigError("%s: the trace directory must be a non-empty path"
                              % (source or "out_dir"))
        if self.trace_root is not None and (not isinstance(self.trace_root, str)
                                            or not self.trace_root.strip()):
            raise ConfigError("%s: the trace root must be a non-empty path"
                              % (source or "trace_root"))
        if self.parent is not None:
            _parent_link(source or "parent", self.parent)
        for flag, attribute in (("include", "include"), ("exclude", "exclude")):
            for pattern in getattr(self, attribute):
                _check_scope_pattern(source or flag, pattern)
        if not isinstance(self.record_all, bool):
            raise ConfigError("%s=%r is not True or False" % (source or "record_all",
                                                              self.record_all))
        if self.report is not None and not isinstance(self.report, bool):
            raise ConfigError("%s=%r is not True, False or None" % (source or "report",
                                                                     self.report))
        return self

    def updated(self, **changes: Any) -> "Config":
        """A copy with ``changes`` (unknown names are a :class:`ConfigError`)."""
        known = set(self.FIELDS)
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError("unknown option%s %s (known: %s)" % (
                "s" if len(unknown) > 1 else "", ", ".join(unknown), ", ".join(sorted(known))))
        return self._replace(**changes)

    def with_options(self, **changes: Any) -> "Config":
        """:meth:`updated`, except that ``filters``, ``include`` and ``exclude`` are added
        after this config's (so ``RECORDER_FILTER``'s files apply first, then
        ``--filter``/``install(filters=)``; ``RECORDER_INCLUDE``'s patterns, then
        ``--include``/``install(include=)``)."""
        if changes.get("filters") is not None:
            changes["filters"] = self.filters + _filter_paths(changes["filters"])
        for name in ("include", "exclude"):
            if changes.get(name) is not None:
                changes[name] = getattr(self, name) + _scope_patterns(name, changes[name])
        return self.updated(**changes)

    # -- the environment -----------------------------------------------------------------------

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None,
                 base: Optional["Config"] = None) -> "Config":
        """``base`` (default: the defaults) with every ``RECORDER_*`` variable applied."""
        environ = os.environ if environ is None else environ
        config = base or cls()
        changes: Dict[str, Any] = {}
        for name, (attribute, parse) in ENV_VARIABLES.items():
            raw = environ.get(name)
            if raw is None:
                continue
            changes[attribute] = parse(name, raw)
        return config._replace(**changes) if changes else config

    def to_env(self) -> Dict[str, str]:
        """The ``RECORDER_*`` variables that reproduce this config in a child process."""
        env: Dict[str, str] = {}
        for name, (attribute, _parse) in ENV_VARIABLES.items():
            value = getattr(self, attribute)
            if attribute == "filters":
                if value:
                    env[name] = os.pathsep.join(os.path.abspath(p) for p in value)
            elif attribute in ("include", "exclude"):
                if value:
                    env[name] = ",".join(value)
            elif isinstance(value, bool):
                env[name] = "1" if value else "0"
            elif attribute == "trace_root":
                if value is not None:  # absolute: children may run in another directory
                    env[name] = os.path.abspath(value)
            elif value is not None:
                env[name] = str(value)
        return env

    def parent_link(self) -> Optional[Tuple[int, str]]:
        """``parent`` as (pid, trace directory), or None."""
        return None if self.parent is None else _parent_link("parent", self.parent)


#: Size units (case-insensitive, with or without B / iB): powers of 1024, as ``ls -h`` and
#: ``du -h`` show sizes.
_SIZE_UNITS = {"": 1, "b": 1}
for _power, _letter in enumerate("kmgtp", 1):
    for _suffix in ("", "b", "ib"):
        _SIZE_UNITS[_letter + _suffix] = 1 << (10 * _power)
del _power, _letter, _suffix
_NO_LIMIT = ("none", "")
SIZE_HINT = "use e.g. 500M, 2G, 1.5GB, or a number of bytes; none for no limit"


def parse_size(text: Any) -> Optional[int]:
    """A size in bytes from ``1024``, ``500K``, ``500M``, ``2G``, ``1.5GB``, ``1GiB``
    (K/M/G/T/P are powers of 1024; a fraction is rounded down to whole bytes); ``none`` (or
    empty) is no limit (None). ``ValueError("invalid size '12XB' (...)")`` otherwise."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 1:
            raise ValueError("invalid size %r: at least 1 byte (%s)" % (text, SIZE_HINT))
        return text
    raw = text.strip().lower() if isinstance(text, str) else None
    if raw is None:
        raise ValueError("invalid size %r (%s)" % (text, SIZE_HINT))
    if raw in _NO_LIMIT:
        return None
    end = len(raw)
    while end and raw[end - 1].isalpha():
        end -= 1
    number, unit = raw[:end].strip(), raw[end:]
    digits = number.replace(".", "", 1)
    if unit not in _SIZE_UNITS or not digits.isdigit() or not digits.isascii():
        raise ValueError("invalid size %r (%s)" % (text, SIZE_HINT))
    scale = _SIZE_UNITS[unit]
    if "." in number:
        whole, _, fraction = number.partition(".")
        size = int(whole or "0") * scale + int(fraction or "0") * scale // 10 ** len(fraction)
    else:
        size = int(number) * scale
    if size < 1:
        raise ValueError("invalid size %r: at least 1 byte (%s)" % (text, SIZE_HINT))
    return size


def parse_count(text: Any) -> Optional[int]:
    """A number of records (``1000000``, ``1_000_000``), at least 1; ``none`` (or empty) is no
    limit (None)."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        raw = text.strip().lower() if isinstance(text, str) else None
        if raw is not None and raw in _NO_LIMIT:
            return None
        digits = None if raw is None else raw.replace("_", "")
        if not digits or not digits.isdigit() or not digits.isascii():
            raise ValueError("invalid number %r (give a whole number such as 1000000, or "
                             "none)" % (text,))
        value = int(digits)
    if value < 1:
        raise ValueError("invalid number %r: at least 1 (or none for no limit)" % (text,))
    return value


def parse_file_mode(text: Any) -> str:
    """``private``, ``umask`` or an octal file mode such as ``0640``/``644``, normalised
    (``0644``); ``ValueError`` with one sentence saying what is accepted."""
    raw = text.strip().lower() if isinstance(text, str) else text
    if raw in _NAMED_FILE_MODES:
        return raw
    if isinstance(raw, str) and raw[:2] == "0o":
        raw = raw[2:]
    try:
        if not isinstance(raw, str) or not raw or not all(c in "01234567" for c in raw):
            raise ValueError
        mode = int(raw, 8)
    except ValueError:
        raise ValueError("invalid file mode %r (use private, umask, or an octal mode such as "
                         "0640)" % (text,)) from None
    if mode > 0o777:
        raise ValueError("invalid file mode %r: only permission bits (at most 0777)" % (text,))
    if mode & 0o600 != 0o600:
        raise ValueError("invalid file mode %r: the owner must be able to read and write "
                         "(0600 at least)" % (text,))
    return "%04o" % mode


def _limit(name: str, value: Any, parse: Any) -> Optional[int]:
    if value is None:
        return None
    try:
        return parse(value)
    except ValueError as exc:
        raise ConfigError("%s: %s" % (name, exc)) from None


def _parse_limit(parse: Any) -> Any:
    def parse_variable(name: str, raw: str) -> Optional[int]:
        return _limit(name, raw, parse)
    return parse_variable


def _file_mode(name: str, value: Any) -> str:
    try:
        return parse_file_mode(value)
    except ValueError as exc:
        raise ConfigError("%s: %s" % (name, exc)) from None


def _parse_file_mode(name: str, raw: str) -> str:
    return _file_mode(name, raw.strip() or DEFAULT_FILE_MODE)


def _filter_paths(value: Any) -> List[str]:
    """Filter file paths as a list of str: one path or a list/tuple of paths."""
    if isinstance(value, (str, os.PathLike)):
        value = [value]
    if not isinstance(value, (list, tuple)) or \
            not all(isinstance(p, (str, os.PathLike)) for p in value):
        raise ConfigError("filters=%r: give a list of filter file paths (docs/filters.md)"
                          % (value,))
    return [os.fspath(p) for p in value]


def _scope_patterns(name: str, value: Any) -> List[str]:
    """Scope flag values as a list of str: one value or a list/tuple of them."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(p, str) for p in value):
        raise ConfigError("%s=%r: give a list of groups, package names or selectors "
                          "(docs/filters.md)" % (name, value))
    return [p.strip() for p in value]


def _check_scope_pattern(source: str, pattern: str) -> None:
    from recorder.filter_chain import scope_flag_selector  # the one parser of these values

    scope_flag_selector(source, pattern)


def _choice(source: str, value: Any, allowed: Tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError("%s=%r is not one of %s" % (source, value, ", ".join(allowed)))
    return value


def _parse_choice(allowed: Tuple[str, ...]) -> Any:
    def parse(name: str, raw: str) -> str:
        return _choice(name, raw.strip().lower() or allowed[0], allowed)
    return parse


def _parse_bool(name: str, raw: str, hint: str = "use 1 or 0") -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError("%s=%r is not a yes/no value (%s)" % (name, raw, hint))


def _parse_optional_bool(name: str, raw: str) -> Optional[bool]:
    """``auto`` (or empty): None, the entry point decides; else a yes/no value."""
    if raw.strip().lower() in ("", "auto"):
        return None
    return _parse_bool(name, raw, "use 1, 0 or auto")


def _parse_scope_list(name: str, raw: str) -> List[str]:
    """Comma-separated groups, package names or selectors (none holds a comma)."""
    values = [p.strip() for p in raw.split(",") if p.strip()]
    for pattern in values:
        _check_scope_pattern("%s=%r" % (name, raw) if len(values) > 1 else name, pattern)
    return values


def _parse_path(name: str, raw: str) -> str:
    if not raw.strip():
        raise ConfigError("%s is set but empty: give a directory" % name)
    return raw


def _parse_paths(name: str, raw: str) -> List[str]:
    return [p for p in raw.split(os.pathsep) if p]


def _parse_trace_root(name: str, raw: str) -> Optional[str]:
    """Empty means off, as unset: ``RECORDER_TRACE= cmd`` disables recording for cmd."""
    return raw if raw.strip() else None


def _parent_link(name: str, raw: str) -> Tuple[int, str]:
    pid, sep, path = raw.partition(":")
    if not sep or not pid.strip().isdigit() or not path:
        raise ConfigError("%s=%r is not '<pid>:<trace directory>' (the recorder sets it for "
                          "child processes; unset it)" % (name, raw))
    return int(pid), path


def _parse_parent(name: str, raw: str) -> Optional[str]:
    if not raw.strip():
        return None
    _parent_link(name, raw)
    return raw


#: ``RECORDER_*`` variable -> (Config attribute, parser). The one list of variables.
ENV_VARIABLES: Dict[str, Tuple[str, Any]] = {
    "RECORDER_BACKEND": ("backend", _parse_choice(BACKENDS)),
    "RECORDER_OUT_DIR": ("out_dir", _parse_path),
    "RECORDER_VALUES": ("values", _parse_choice(VALUES_MODES)),
    "RECORDER_REPRS": ("reprs", _parse_choice(REPRS_MODES)),
    "RECORDER_FILTER": ("filters", _parse_paths),
    "RECORDER_TRACE_STDLIB": ("trace_stdlib", _parse_bool),
    "RECORDER_INCLUDE": ("include", _parse_scope_list),
    "RECORDER_EXCLUDE": ("exclude", _parse_scope_list),
    "RECORDER_ALL": ("record_all", _parse_bool),
    "RECORDER_REPORT": ("report", _parse_optional_bool),
    "RECORDER_LOG": ("log", _parse_choice(LOG_LEVELS)),
    "RECORDER_TRACE": ("trace_root", _parse_trace_root),
    "RECORDER_PARENT": ("parent", _parse_parent),
    "RECORDER_STEPS": ("steps", _parse_choice(STEPS_MODES)),
    "RECORDER_MAX_SIZE": ("max_size", _parse_limit(parse_size)),
    "RECORDER_MAX_RECORDS": ("max_records", _parse_limit(parse_count)),
    "RECORDER_FILE_MODE": ("file_mode", _parse_file_mode),
    "RECORDER_TIMING": ("timing", _parse_bool),
}
