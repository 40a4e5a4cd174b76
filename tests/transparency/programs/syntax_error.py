"""A script that does not compile: python's own SyntaxError report (file, line, caret) on
stderr and exit status 1; nothing of it runs."""
print("never printed")


def broken(:
    pass
