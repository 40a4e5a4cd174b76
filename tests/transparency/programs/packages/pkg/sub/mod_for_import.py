"""Imported relatively (``from ..sub`` and ``from .sub``)."""
from .. import sub as _parent

VALUE = "value from " + _parent.__name__
