"""Loaded by imports.py from its file under the module name "conf-plugin" (not an identifier)."""


def activate(registry):
    return registry.add("plugin")
