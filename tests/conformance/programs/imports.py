"""Imports of a local module and a local package (module bodies are recorded as calls), and a
module loaded from its file under a name that is not a Python identifier."""
import importlib.util
import json
import os

import conf_helpers
from conf_pkg import VERSION
from conf_pkg.sub import triple


def load_plugin():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conf_plugin.py")
    spec = importlib.util.spec_from_file_location("conf-plugin", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    registry = conf_helpers.Registry()
    registry.add(conf_helpers.greet("world"))
    load_plugin().activate(registry)
    print(json.dumps(registry.items), VERSION, triple(3), conf_helpers.DEFAULT.items)


main()
import conf_helpers  # noqa: E402,F811  (already imported: no second module call)
