"""Output capture: the program's writes to ``sys.stdout``/``sys.stderr`` are recorded as
trace ``Event`` records (Write / WriteOther) and pass through to the real streams unchanged.

A proxy object replaces each stream while recording; every attribute other than ``write`` and
``writelines`` is the real stream's, so ``isatty()``, ``fileno()``, ``buffer``, ``encoding``
behave as before. Writes that bypass ``sys.stdout`` (``os.write(1, ...)``,
``sys.stdout.buffer.write``, C extensions) are not captured (docs/trace-format.md).
"""
from __future__ import annotations

import sys
from typing import Any, Callable, Iterable


class _Tee:
    """Writes go to the real stream first, then to the trace (never the other way round:
    the program's output must not depend on the recorder)."""

    def __init__(self, real: Any, record: Callable[[str, str], None], name: str) -> None:
        object.__setattr__(self, "_real", real)
        object.__setattr__(self, "_record", record)
        object.__setattr__(self, "_name", name)

    def write(self, text: Any) -> Any:
        result = self._real.write(text)
        if isinstance(text, str) and text:
            try:
                self._record(self._name, text)
            except Exception:
                pass  # capture is best effort; the write itself already happened
        return result

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._real, name, value)

    def __iter__(self) -> Any:
        return iter(self._real)


def capture_output(writer: Any) -> Callable[[], None]:
    """Install the proxies; returns the function that puts the real streams back (only if
    the program has not replaced them itself meanwhile)."""
    real_out, real_err = sys.stdout, sys.stderr
    record = writer.record_output
    tee_out = _Tee(real_out, record, "stdout") if real_out is not None else None
    tee_err = _Tee(real_err, record, "stderr") if real_err is not None else None
    if tee_out is not None:
        sys.stdout = tee_out  # type: ignore[assignment]
    if tee_err is not None:
        sys.stderr = tee_err  # type: ignore[assignment]

    def restore() -> None:
        if sys.stdout is tee_out:
            sys.stdout = real_out
        if sys.stderr is tee_err:
            sys.stderr = real_err

    return restore
