"""Imports gamma's G, which is not defined yet."""
from gamma import G  # noqa: F401

D = "delta"
