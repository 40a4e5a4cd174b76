"""``python -m recorder repair DIR``: the same as ``python -m recorder --repair DIR``
(docs/trace-format.md, "A killed process")."""
from __future__ import annotations

import argparse

from recorder.inspect.errors import InspectError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="the trace directory a killed process left")


def run(args: argparse.Namespace) -> int:
    from recorder.cli import UsageError, repair

    try:
        return repair(args.dir)
    except UsageError as exc:  # its message names the option: name the command instead
        message = str(exc)
        raise InspectError("repair: " + message[len("--repair: "):]
                           if message.startswith("--repair: ") else message)
