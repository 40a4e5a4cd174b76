"""Reloaded by reloader.py, which appends ``VERSION = 2`` to this file."""
try:
    _LOADS  # noqa: F821 (kept across reloads: reload reuses the module's namespace)
except NameError:
    _LOADS = 0
_LOADS += 1
VERSION = 1


def loads():
    return _LOADS
