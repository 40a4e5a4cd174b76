"""The parent package: runs first under ``-m pkg.sub.mod`` and ``-m pkg``."""
import sys

print("pkg.__init__", __name__, __package__, sys.argv[0] == "-m", sys.argv[1:])
