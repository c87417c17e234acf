"""The choices of the options that name a backend, a client model or a selector, built from their registries.

A new backend or client model shows up here without an edit to this file. Only the commands that
offer these choices (``ramp``, ``serve``, ``bench``) import it, so ``limits`` never loads the registries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from netprobe.clients.registry import client_names
from netprobe.selector_catalog import SELECTOR_NAMES
from netprobe.servers.registry import backend_names
from netprobe.vocabulary import Word

if TYPE_CHECKING:  # type checkers cannot follow enums made at run time; they are Words
    Backend: TypeAlias = Word
    RampBackend: TypeAlias = Word
    ClientModel: TypeAlias = Word
    Selector: TypeAlias = Word
else:
    Selector = Word("Selector", [(name, name) for name in ("default", *SELECTOR_NAMES)])
    Backend = Word("Backend", [(name, name) for name in backend_names()])
    RampBackend = Word("RampBackend", [(name, name) for name in (*backend_names(), "all")])
    ClientModel = Word("ClientModel", [(name, name) for name in client_names()])
