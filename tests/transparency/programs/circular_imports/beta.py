"""Imports alpha while alpha is importing beta."""
import alpha

seen_from_beta = (alpha.EARLY, hasattr(alpha, "A"))
B = "beta done"
