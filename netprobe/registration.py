"""What a registry entry is: a named class in a module, imported only when used, with what it needs."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True)
class Registration:
    """How to find, describe and check one registered implementation (a backend, a client model)."""

    name: str
    module: str
    class_name: str
    summary: str  # one line, for --help and the docs
    #: Modules it needs beyond the standard library; absent ones make it unavailable here.
    requires: tuple[str, ...] = ()

    def available(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in self.requires)

    def load(self) -> type:
        return getattr(importlib.import_module(self.module), self.class_name)
