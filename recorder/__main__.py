"""``python -m recorder``: see recorder/cli.py and docs/cli.md."""
import sys

from recorder.cli import main

if __name__ == "__main__":
    sys.exit(main())
