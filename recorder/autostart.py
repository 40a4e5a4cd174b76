"""Record without touching code: ``RECORDER_TRACE=DIR`` records every Python process of a run.

A CI job or a user with a flaky program sets one variable; every Python process that starts
with it set (the program, the Python subprocesses it runs, its multiprocessing workers, its
forked children) writes its own complete trace directory ``DIR/<program>-<pid>/``, linked to
the process that started it. docs/autostart.md is the user's guide; this module is the
mechanism:

* **The startup hook.** The wheel installs ``recorder_autostart.pth`` into site-packages. Its
  one line looks at ``os.environ`` and imports nothing of ours unless ``RECORDER_TRACE`` is
  set and not empty, so an interpreter that does not record pays a dictionary lookup
  (benchmarks/startup.py measures it): an eager ``import`` in a ``.pth`` would tax every
  Python start on the machine. Where ``.pth`` files are not
  processed (or once PEP 829 retires their ``import`` lines), :data:`SITECUSTOMIZE` is the
  same guard for a ``sitecustomize.py``. Running both, or either twice, starts once.
* **One session implementation.** :func:`start` builds a
  :class:`~recorder.formats.codetracer.CodeTracerWriter` and a
  :class:`~recorder.session.Session` from :class:`~recorder.config.Config` exactly as the
  CLI does; only the directory naming, the parent link and the process-end hooks are ours.
* **Children.** Subprocesses inherit ``RECORDER_TRACE`` (made absolute) and
  ``RECORDER_PARENT`` (this process's pid and trace directory) through ``os.environ``, from
  :meth:`Config.to_env`. After ``os.fork()`` the session drops the parent's recording in the
  child (it never writes the parent's files) and calls :func:`_on_fork`, which starts the
  child's own trace, linked to the parent's.
* **However the process ends** the trace is finished, with the exit status
  (:mod:`recorder.endings`, which the CLI uses too). The trace directory is named after the
  program (:mod:`recorder.program_name`).

Nothing here may stop the program: every failure is one ``recorder: warning:`` line on
stderr and the program runs unrecorded.
"""
from __future__ import annotations

import functools
import os
import sys
from types import FrameType
from typing import Any, Dict, Optional, Tuple

from recorder.config import Config
from recorder.endings import _install_hooks, _last_exception, _state
from recorder.errors import RecorderError, warn
from recorder.program_name import _Program, program_name  # noqa: F401  (in __all__)

__all__ = ["start", "trace_dir", "PTH_NAME", "PTH_SOURCE", "SITECUSTOMIZE", "program_name"]

_HERE = os.path.dirname(os.path.abspath(__file__))

#: The startup hook's file name in site-packages. ``.pth`` files run in alphabetical order:
#: this one comes after ``__editable__*`` finders, so an editable install is importable.
PTH_NAME = "recorder_autostart.pth"
#: The hook as shipped (the wheel build copies this file to the top of site-packages).
PTH_SOURCE = os.path.join(_HERE, PTH_NAME)

#: The ``sitecustomize.py`` route, for interpreters that skip ``.pth`` files: the same guard.
SITECUSTOMIZE = '''\
# recorder auto-start (docs/autostart.md): with RECORDER_TRACE unset this costs one lookup.
import os
if os.environ.get("RECORDER_TRACE", "").strip():
    try:
        import recorder.autostart
        recorder.autostart.start("sitecustomize")
    except Exception as exc:
        import sys
        sys.stderr.write("recorder: warning: not recording, the auto-start failed: %s: %s\\n"
                         % (type(exc).__name__, exc))
'''



def start(via: str = "pth") -> Optional[str]:
    """Start recording this process if ``RECORDER_TRACE`` says so; return its trace directory.

    Called by the ``.pth`` hook (``via="pth"``) or a ``sitecustomize`` (``"sitecustomize"``).
    Idempotent: only the first call in a process does anything. Never raises: a bad
    variable, an unusable directory or a backend that cannot run here is one warning line
    and the program runs unrecorded.
    """
    if _state.tried:
        return _state.trace_dir
    _state.tried = True
    try:
        return _start(via)
    except Exception as exc:
        warn("not recording, the auto-start failed: %s: %s" % (type(exc).__name__, exc))
        return None


def trace_dir() -> Optional[str]:
    """The trace directory this process is recording into, if the auto-start is recording."""
    session = _state.session
    return _state.trace_dir if session is not None and session.active else None


def _start(via: str) -> Optional[str]:
    try:
        config = Config.from_env()
    except RecorderError as exc:
        warn("not recording: %s" % exc)
        return None
    if config.trace_root is None:
        return None
    program = _Program.of_this_process()
    if program.is_recorder_cli:
        return None  # python -m recorder records into its own -o directory
    from recorder.session import active_session
    if active_session() is not None:
        return None
    _state.config = config
    _state.program = program
    if via == "pth" and _defer_until_site_is_done():
        return None
    return _go(via)


def _go(via: str) -> Optional[str]:
    from recorder.session import active_session
    if active_session() is not None:
        return None
    _state.last_exception_at_start = _last_exception()
    path = _begin(_state.config.parent_link(), via)  # type: ignore[union-attr]
    if path is not None:
        _install_hooks()
    return path


def _record_children(session: Any, config: Config, trace_dir: str, target: Any) -> None:
    """The CLI's process tells its children what an auto-started one would: the recording
    options it was given (not ``-o``, which is its own) and its trace directory as their
    parent."""
    _state.config = config.updated(out_dir=Config.from_env().out_dir)
    # the CLI's target kinds are ours, but for "path" (a script, a directory, a zip file)
    _state.program = _Program("script" if target.kind == "path" else target.kind,
                              target.value)
    _state.parent = None
    session.on_fork = _on_fork
    for name, value in _exports(_state.config, trace_dir).items():
        os.environ[name] = value



def _defer_until_site_is_done() -> bool:
    """Start once ``site.main()`` has run the last customize hook, not from inside the
    ``.pth`` line: site may process the same ``.pth`` twice (it does in a venv), and each
    run is freshly compiled code that would otherwise be recorded as the program's. False
    when site is not running us (a program's own ``site.addsitedir()``): start now."""
    site = sys.modules.get("site")
    frame: Optional[FrameType] = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "main" and frame.f_globals.get("__name__") == "site":
            break
        frame = frame.f_back
    if frame is None or site is None:
        return False

    originals: Dict[str, Any] = {}

    def after(name: str) -> None:
        real = originals[name] = getattr(site, name, None)
        if real is None:
            return

        @functools.wraps(real)
        def customize(*args: Any, **kwargs: Any) -> Any:
            try:
                return real(*args, **kwargs)
            finally:
                if name == "execusercustomize" or not getattr(site, "ENABLE_USER_SITE", None):
                    for original, function in originals.items():
                        if function is not None:
                            setattr(site, original, function)
                    try:
                        _go("pth")
                    except Exception as exc:
                        warn("not recording, the auto-start failed: %s: %s"
                             % (type(exc).__name__, exc))
        setattr(site, name, customize)

    after("execsitecustomize")  # the last hook, unless user site is enabled:
    after("execusercustomize")  # then this one
    return True


def _begin(parent: Optional[Tuple[int, str]], started_by: str,
           previous: Optional[str] = None) -> Optional[str]:
    """Create this process's trace directory, writer and session, and tell children."""
    from recorder.backends import select
    from recorder.filter_chain import load_chain
    from recorder.formats.codetracer import CodeTracerWriter, writer_options
    from recorder.formats.storage import FileModes
    from recorder.session import Session

    config, program = _state.config, _state.program
    assert config is not None and program is not None and config.trace_root is not None
    root = os.path.abspath(config.trace_root)
    try:
        backend = select(config.backend)
        path = _claim_dir(root, program.name, FileModes(config.file_mode))
    except (RecorderError, OSError) as exc:
        warn("not recording: %s" % (exc,))
        return None
    process = {"pid": os.getpid(), "ppid": os.getppid(), "started_by": started_by,
               "trace_root": root}
    if previous is not None:
        process["continues"] = previous
    link = None if parent is None else {"pid": parent[0], "trace_dir": parent[1]}
    writer = None
    # Computed before recording starts: Config's dataclass __init__ is exec'd code that the
    # scope rule would take for the program's.
    exports = _exports(config, path)
    try:
        writer = CodeTracerWriter(path, program=program.display, args=list(sys.argv),
                                  values=config.values, reprs=config.reprs,
                                  backend=backend.name,
                                  metadata={"process": process, "parent": link},
                                  **writer_options(config))
        target = _target_package(program)
        chain = load_chain(config, target_package=target) if target is not None else None
        session = Session(writer, config, filters=chain, selection=backend)
        session.on_fork = _on_fork
        session.stop_at_exit = False  # _at_exit stops it, knowing the exit status
        if started_by in ("pth", "sitecustomize"):
            # What runs us now is site's exec of the .pth line or a sitecustomize: not the
            # program, never recorded (a forked child's stack is the program's: attached).
            frame: Optional[FrameType] = sys._getframe(1)
            while frame is not None:
                session.catalog.skip(frame.f_code)
                frame = frame.f_back
        session.start()
    except Exception as exc:
        warn("not recording: %s: %s" % (type(exc).__name__, exc))
        if writer is not None:
            try:
                writer.close("<not started>")
            except Exception:
                pass
        import shutil  # only here: a start that failed
        shutil.rmtree(path, ignore_errors=True)
        return None
    _state.session = session
    _state.trace_dir = path
    _state.pid = os.getpid()
    _state.parent = parent
    _state.status = None
    _state.report = None
    with session.at_work:  # os.environ's code is the standard library's, recording now
        if config.report:  # the auto-start prints only when asked (RECORDER_REPORT=1)
            from recorder.report import EndOfRun
            _state.report = EndOfRun(writer, session.filters, config).print
        for name, value in exports.items():
            os.environ[name] = value
    return path


def _target_package(program: "_Program") -> Optional[Tuple[str, str]]:
    """``python -m pkg.mod``: pkg is recorded even when installed (docs/filters.md)."""
    if program.kind != "module" or not program.value:
        return None
    from recorder.filter_chain import target_package
    return target_package(program.value)


def _claim_dir(root: str, name: str, modes: Any) -> str:
    """``root/<name>-<pid>``, made by this process alone (``-1``, ``-2``... when an earlier
    process with the same pid, or this one before an exec, already has it). Both made with
    the trace's directory mode (``modes``: a FileModes); an existing root is left as it is."""
    modes.mkdir(root)
    base = os.path.join(root, "%s-%d" % (name, os.getpid()))
    path = base
    for n in range(1, 10000):
        try:
            modes.make_dir(path)
            return path
        except FileExistsError:
            path = "%s-%d" % (base, n)
    raise RecorderError("no free trace directory name under %s" % root)


def _exports(config: Config, path: str) -> Dict[str, str]:
    """What a child needs in ``os.environ`` (inherited by subprocess, multiprocessing
    spawn/forkserver and os.exec*): this config through :meth:`Config.to_env`, with
    ``RECORDER_TRACE`` absolute and ``RECORDER_PARENT`` naming this trace. A variable left
    at its default stays unset, so the program's environment changes as little as possible."""
    child = config.updated(trace_root=os.path.abspath(config.trace_root or "."),
                           parent="%d:%s" % (os.getpid(), path))
    defaults = Config().to_env()
    changes: Dict[str, str] = {}
    for name, value in child.to_env().items():
        current = os.environ.get(name)
        if current == value or (current is None and defaults.get(name) == value):
            continue
        changes[name] = value
    return changes

# -- fork ------------------------------------------------------------------------------------

def _on_fork(parent_session: Any) -> None:
    """``Session.on_fork``: in the child of ``os.fork()`` (the parent's recording is already
    dropped), start the child's own trace, linked to the parent's."""
    parent = (_state.pid, _state.trace_dir or "")
    _state.by_cli = False  # the child's recording is auto-started, even under the CLI
    _state.terminating = None  # a SIGTERM helper thread does not survive the fork
    _state.terminated = False
    _state.session = None
    _state.trace_dir = None
    _state.status = None
    if _forking_to_exec():
        return  # subprocess's fork+exec child (preexec_fn): the program it runs records itself
    _begin(parent, "fork")


#: Standard library functions that fork only to exec at once (their child runs a few lines
#: of Python first): subprocess with preexec_fn, os.spawn*.
_FORK_TO_EXEC = {("subprocess", "_execute_child"), ("os", "_spawnvef")}


def _forking_to_exec() -> bool:
    frame: Optional[FrameType] = sys._getframe(1)
    while frame is not None:
        if (frame.f_globals.get("__name__"), frame.f_code.co_name) in _FORK_TO_EXEC:
            return True
        frame = frame.f_back
    return False
