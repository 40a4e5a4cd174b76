"""``from delta import D`` while delta imports this module: an ImportError."""
from delta import D  # noqa: F401

G = "gamma"
