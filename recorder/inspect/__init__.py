"""Looking at a trace without CodeTracer: ``python -m recorder <command> DIR ...``.

=========  =====================================================================
summary    the run, top functions, exceptions, import cost, what was skipped
calls      the call tree as indented text, streaming
values     the history of a variable: every step where its value changed
export     the Chrome trace-event format (Perfetto, chrome://tracing)
view       one self-contained, offline HTML page
repair     finish a trace left by a killed process (as ``--repair DIR``)
=========  =====================================================================

``recorder/cli.py`` hands a command line whose first argument is one of
:data:`SUBCOMMANDS` to :func:`run`; anything else runs a program, so a script named
``summary`` runs as ``./summary`` or after ``--`` (docs/cli.md). Each command lives in its
own module with ``add_arguments(parser)`` and ``run(args) -> status``. Bad input
(:class:`InspectError`) is one ``recorder: error:`` line and status 2. docs/inspect.md.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, NoReturn, Sequence

#: command -> (module, one line of help)
COMMANDS = {
    "summary": ("summary", "the run, top functions, exceptions, import cost, scope"),
    "calls": ("calls", "the call tree as indented text, with arguments and return values"),
    "values": ("history", "the history of a variable: every step where its value changed"),
    "export": ("chrome", "export to the Chrome trace-event format (Perfetto)"),
    "view": ("view", "one self-contained HTML page to look at the trace offline"),
    "repair": ("repair", "finish a trace directory left by a killed process"),
}
SUBCOMMANDS = tuple(COMMANDS)
EXIT_USAGE = 2


def run(argv: Sequence[str]) -> int:
    """Run ``argv`` (``[command, args...]``); returns the exit status."""
    from recorder.inspect.errors import InspectError

    command = argv[0]
    module = importlib.import_module("recorder.inspect." + COMMANDS[command][0])
    parser = _parser(command, COMMANDS[command][1])
    module.add_arguments(parser)  # type: ignore[attr-defined]
    try:
        args = parser.parse_args(list(argv[1:]))
        return int(module.run(args))  # type: ignore[attr-defined]
    except InspectError as exc:
        _error(str(exc))
    except BrokenPipeError:
        _quiet_pipe()
        return 0
    except OSError as exc:  # a file that vanished or cannot be read halfway
        _error("%s: %s" % (command, exc))
    except KeyboardInterrupt:
        return 130
    return EXIT_USAGE


def _parser(command: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m recorder " + command,
                                     description=description[0].upper() + description[1:]
                                     + " (docs/inspect.md).")

    def error(message: str) -> NoReturn:
        from recorder.inspect.errors import InspectError
        raise InspectError("%s: %s" % (command, message))

    parser.error = error  # type: ignore[assignment]  # one line, our format, status 2
    return parser


def _error(message: str) -> None:
    sys.stdout.flush()
    sys.stderr.write("recorder: error: %s\n" % message)


def _quiet_pipe() -> None:
    """``... | head``: the reader went away; stop without a traceback (and without
    Python's own complaint when stdout is flushed at exit)."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def command_help() -> List[str]:
    """One line per command, for ``python -m recorder --help``."""
    return ["  %-8s %s" % (name, text) for name, (_, text) in COMMANDS.items()]
