"""What a registry entry is: a named class in a module, imported only when used, with what it needs."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from netprobe.errors import RecordError, UnavailableError, UsageError

I = TypeVar("I")  # noqa: E741 (the implementation type a registration loads)


@dataclass(frozen=True)
class Registration(Generic[I]):
    """How to find, describe and check one registered implementation (a backend, a client model).

    A registration travels inside specs and records as its name (``record_encode``) and is looked
    up again once on arrival (``record_decode``), so a child process gets the same entry.
    """

    #: The registry of this kind of registration, set by ``Registry.__init__``.
    registry: ClassVar[Registry[Any]]

    name: str
    module: str
    class_name: str
    summary: str  # one line, for --help and the docs
    #: Modules it needs beyond the standard library; absent ones make it unavailable here.
    requires: tuple[str, ...] = ()

    def available(self) -> bool:
        """Whether every module it needs is installed here."""
        return all(importlib.util.find_spec(m) is not None for m in self.requires)

    def load(self) -> type[I]:
        """Import its module and return its class."""
        cls: type[I] = getattr(importlib.import_module(self.module), self.class_name)
        return cls

    def record_encode(self) -> str:
        """The word a record writes for it: its name."""
        return self.name

    @classmethod
    def record_decode(cls, value: object, where: str) -> Registration[I]:
        """The registration named ``value``; whether it can run here is asked where it is run, not here.

        A report reads documents of other machines, whose backends this one may not have.
        """
        if not isinstance(value, str):
            raise RecordError(f"{where}: expected a {cls.registry.kind} name, got {type(value).__name__}")
        spec: Registration[I] = cls.registry.known(value, where)
        return spec


R = TypeVar("R", bound=Registration[Any])


class Registry(Generic[R]):
    """Registrations of one kind, in registration order, looked up by the name users type."""

    def __init__(self, entry_type: type[R], kind: str, option: str, reserved: tuple[str, ...] = ()) -> None:
        self.kind = kind  # "backend", "client model": for messages
        self.option = option  # "--backend", "--client"
        self._reserved = reserved  # names the CLI gives a meaning of its own ("all")
        self._entries: dict[str, R] = {}
        entry_type.registry = self

    def register(self, spec: R) -> None:
        """Add ``spec``; its name must be new."""
        if spec.name in self._entries or spec.name in self._reserved:
            raise ValueError(f"{self.kind} name {spec.name!r} is taken")
        self._entries[spec.name] = spec

    def names(self) -> tuple[str, ...]:
        """Every registered name, available here or not."""
        return tuple(self._entries)

    def specs(self) -> tuple[R, ...]:
        """Every registration, available here or not."""
        return tuple(self._entries.values())

    def available(self) -> list[R]:
        """The registrations this Python can run."""
        return [spec for spec in self._entries.values() if spec.available()]

    def known(self, name: str, where: str) -> R:
        """The registration of ``name``, available here or not; RecordError if there is none."""
        spec = self._entries.get(name)
        if spec is None:
            raise RecordError(f"{where}: {name!r} is not a {self.kind} ({', '.join(self._entries)})")
        return spec

    def get(self, name: str) -> R:
        """The registration of ``name``; UsageError if there is none, UnavailableError if it cannot run here."""
        spec = self._entries.get(name)
        if spec is None:
            raise UsageError(f"{self.option} must be one of {', '.join(self._entries)}, got {name!r}")
        if not spec.available():
            raise UnavailableError(f"{self.kind} {name!r} is not available here: it needs "
                                   f"{', '.join(spec.requires)} (available: "
                                   f"{', '.join(s.name for s in self.available())})")
        return spec
