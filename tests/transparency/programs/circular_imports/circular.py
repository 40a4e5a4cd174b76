"""Circular imports: ``alpha`` imports ``beta`` which imports ``alpha`` (partially
initialised, works for names defined before), and a ``from ... import`` of a name not yet
defined fails with python's "partially initialized module" ImportError."""
import alpha

print("alpha", alpha.A, alpha.beta.B, alpha.beta.seen_from_beta)
try:
    import gamma  # noqa: F401
except ImportError as exc:
    print("ImportError:", exc)
