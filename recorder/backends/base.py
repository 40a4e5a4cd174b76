"""What a backend is: the small protocol the session drives.

A backend turns one interpreter mechanism into calls on the shared
:class:`~recorder.normalise.Normaliser`. It never imports another backend; the selector in
``recorder.backends`` picks one.
"""
from __future__ import annotations

from typing import Protocol

from recorder.codes import CodeCatalog
from recorder.normalise import Normaliser


class Backend(Protocol):
    #: "monitoring" or "settrace": written to trace metadata.
    name: str

    def __init__(self, catalog: CodeCatalog, normaliser: Normaliser,
                 wants_frames: bool, lines: bool = True) -> None:
        """``lines``: report LINE events (False: ``--steps off``, the interpreter is not
        asked for them at all)."""

    def start(self) -> None:
        """Begin recording: ATTACH the frames already running, then hook the interpreter.
        Called from the session with the user's frames above it."""

    def stop(self) -> None:
        """Unhook completely (idempotent); the session then closes the normaliser."""
