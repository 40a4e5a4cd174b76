"""Imports beta, which imports this module while it is half done."""
EARLY = "early"
import beta  # noqa: E402

A = "alpha done"
