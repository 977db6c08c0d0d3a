"""after_import(name, fn): fn() once the module `name` has been imported; at once if it already
is. fusedact registers itself with parts of torch that cost seconds to import (TorchDynamo,
DTensor) without importing them: the registration waits for whoever imports them first."""

import importlib.abc
import importlib.util
import sys
from collections.abc import Callable


class _AfterImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the module as Python would, and calls fn once the module has run."""

    def __init__(self, name: str, fn: Callable[[], None]):
        self._name, self._fn = name, fn

    def find_spec(self, name, path, target=None):
        if name != self._name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            self._loader, spec.loader = spec.loader, self
        return spec

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        self._fn()


def after_import(name: str, fn: Callable[[], None]) -> None:
    if name in sys.modules:
        fn()
    else:
        sys.meta_path.insert(0, _AfterImport(name, fn))
