"""What a registry entry is: a named class in a module, imported only when used, with what it needs."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Generic, TypeVar

from netprobe.errors import UnavailableError, UsageError


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


R = TypeVar("R", bound=Registration)


class Registry(Generic[R]):
    """Registrations of one kind, in registration order, looked up by the name users type."""

    def __init__(self, kind: str, option: str, reserved: tuple[str, ...] = ()) -> None:
        self.kind = kind  # "backend", "client model": for messages
        self.option = option  # "--backend", "--client"
        self._reserved = reserved  # names the CLI gives a meaning of its own ("all")
        self._entries: dict[str, R] = {}

    def register(self, spec: R) -> None:
        if spec.name in self._entries or spec.name in self._reserved:
            raise ValueError(f"{self.kind} name {spec.name!r} is taken")
        self._entries[spec.name] = spec

    def names(self) -> tuple[str, ...]:
        """Every registered name, available here or not."""
        return tuple(self._entries)

    def specs(self) -> tuple[R, ...]:
        return tuple(self._entries.values())

    def available(self) -> list[str]:
        """Names this Python can run."""
        return [name for name, spec in self._entries.items() if spec.available()]

    def get(self, name: str) -> R:
        """The registration of ``name``; UsageError if there is none, UnavailableError if it cannot run here."""
        spec = self._entries.get(name)
        if spec is None:
            raise UsageError(f"{self.option} must be one of {', '.join(self._entries)}, got {name!r}")
        if not spec.available():
            raise UnavailableError(f"{self.kind} {name!r} is not available here: it needs "
                                   f"{', '.join(spec.requires)} (available: {', '.join(self.available())})")
        return spec
