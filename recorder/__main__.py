"""``python -m recorder``: see recorder/cli.py and docs/cli.md."""
import sys

from recorder.cli import Run

if __name__ == "__main__":
    run = Run()
    with run as program:
        program()  # the program's frames start here: this one is ours below them
    sys.exit(run.status)
