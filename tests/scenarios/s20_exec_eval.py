"""Exec/eval of strings with shared and empty globals; compile with a fake filename."""

EXTRA_FILES = {"<string>", "fake_module_s20.py"}

SOURCE = """
def made(x):
    return x + 1
result = made(41)
"""


def main():
    shared = {}
    exec(SOURCE, shared)
    exec(SOURCE, {})
    value = eval("made(1) + 1", shared)
    code = compile("def faked():\n    return 'fake'\nfaked()\n", "fake_module_s20.py", "exec")
    exec(code, {"__name__": "fake_module_s20"})
    return shared["result"], value, eval("(lambda: 7)()", {})
