"""Imported by dir_main/__main__.py from the directory (sys.path[0])."""


def greet(who):
    return "hello from " + who
