"""A local package imported by imports.py."""
from conf_pkg.sub import double

VERSION = double(21)
