"""Old module paths of erts_kit that still import: each names the module that now holds its code.

``import erts_kit.train`` gives :mod:`erts_kit.training` (the same module object, so attributes set or
patched through either name are shared). Installed on ``sys.meta_path`` by ``erts_kit/__init__.py``;
it answers only for the names below.

Example:
    >>> import erts_kit.train, erts_kit.training
    >>> erts_kit.train is erts_kit.training
    True
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
from types import ModuleType

__all__ = ["MOVED", "MovedModuleFinder"]

#: old path -> new path
MOVED: dict[str, str] = {
    "erts_kit.train": "erts_kit.training",
    "erts_kit.losses": "erts_kit.training.losses",
    "erts_kit.checkpoint": "erts_kit.training.checkpoint",
    "erts_kit.experiments": "erts_kit.results",
    "erts_kit.report": "erts_kit.results.report",
    "erts_kit.paper": "erts_kit.results.paper",
    "erts_kit.params": "erts_kit.course.params",
    "erts_kit.notebooks": "erts_kit.course.runner",
}


class _AliasLoader(importlib.abc.Loader):
    """Returns the already-imported new module; the import system then files it under the old name."""

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the new module is imported already."""


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Finds the old paths of :data:`MOVED` and loads the module that replaced each."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(MOVED[fullname]))
