"""Imported only by the first recording of stale.py."""


def work():
    return 42
