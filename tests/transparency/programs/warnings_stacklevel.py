"""``warnings.warn`` with ``stacklevel`` 1, 2 and 3 (the location printed is the warning's,
its caller's, its caller's caller's), a DeprecationWarning shown in ``__main__``, a warning
turned into an error, and ``catch_warnings(record=True)`` seeing the same filename/lineno."""
import warnings


def deprecated_api():
    warnings.warn("level 1", UserWarning, stacklevel=1)
    warnings.warn("level 2", UserWarning, stacklevel=2)
    warnings.warn("level 3", UserWarning, stacklevel=3)


def caller():
    deprecated_api()


def old():
    warnings.warn("old is deprecated", DeprecationWarning, stacklevel=2)


warnings.simplefilter("always")
caller()
old()
with warnings.catch_warnings(record=True) as caught:
    caller()
print([(w.lineno, str(w.message)) for w in caught])
warnings.simplefilter("error", RuntimeWarning)
try:
    warnings.warn("now an error", RuntimeWarning, stacklevel=1)
except RuntimeWarning as exc:
    print("raised", exc)
