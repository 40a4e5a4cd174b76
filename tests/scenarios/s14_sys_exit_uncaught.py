"""Sys.exit() deep in nested calls, not caught by the program."""
import sys


def leave():
    print("leaving")
    sys.exit("bye")


def middle():
    try:
        leave()
    finally:
        pass


def main():
    middle()
