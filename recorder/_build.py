"""Build time only (never imported by the recorder): ship the auto-start hook.

pyproject.toml names :class:`BuildPy` as setuptools' ``build_py`` command. Besides the
package, it copies ``recorder/recorder_autostart.pth`` to the top of the build tree, so
that the wheel installs it into site-packages (purelib) next to the ``recorder`` package,
where the interpreter runs it at every start (docs/autostart.md). setuptools has no
declarative way to place a file there: ``data-files`` go under the installation prefix, not
into site-packages. setuptools loads this file by path, so it imports nothing of ours.
"""
from __future__ import annotations

import os
from typing import List

from setuptools.command.build_py import build_py

PTH_NAME = "recorder_autostart.pth"
PTH_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), PTH_NAME)


class BuildPy(build_py):
    """``build_py`` that also puts the ``.pth`` hook at the top level of the wheel."""

    def run(self) -> None:
        super().run()
        self.copy_file(PTH_SOURCE, os.path.join(self.build_lib, PTH_NAME), preserve_mode=False)
        if getattr(self, "editable_mode", False):
            # An editable wheel (PEP 660) holds only a finder: put the hook in the unpacked
            # wheel itself, which setuptools points the install command at.
            target = getattr(self.distribution.get_command_obj("install"), "install_lib", None)
            if target and os.path.isdir(target):
                self.copy_file(PTH_SOURCE, os.path.join(target, PTH_NAME), preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> List[str]:  # type: ignore[override]
        return list(super().get_outputs(include_bytecode)) + [
            os.path.join(self.build_lib, PTH_NAME)]
