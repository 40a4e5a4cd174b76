"""Sys.exit() deep in nested calls, caught higher up."""
import sys


def leave(code):
    sys.exit(code)


def middle():
    leave(3)


def main():
    try:
        middle()
    except SystemExit as exc:
        return "exit code %s" % exc.code
