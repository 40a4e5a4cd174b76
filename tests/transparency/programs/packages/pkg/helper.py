"""Imported relatively by pkg/__main__.py."""
from .sub.mod_for_import import VALUE


def twice(n):
    return 2 * n + VALUE - VALUE
