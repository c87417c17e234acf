"""The selectors this Python offers, the one DefaultSelector picks, and what caps each."""

from __future__ import annotations

import selectors

from netprobe.common_records import SelectorCap
from netprobe.errors import UnavailableError

# CPython's DefaultSelector preference order (Lib/selectors.py).
SELECTOR_ORDER = ("KqueueSelector", "EpollSelector", "DevpollSelector", "PollSelector", "SelectSelector")
# Short names users type on the command line.
SELECTOR_NAMES = {
    "kqueue": "KqueueSelector",
    "epoll": "EpollSelector",
    "devpoll": "DevpollSelector",
    "poll": "PollSelector",
    "select": "SelectSelector",
}
# Selectors that hold a kernel object (an fd) of their own.
SELECTORS_WITH_FD = frozenset({"KqueueSelector", "EpollSelector", "DevpollSelector"})
NO_CAP = SelectorCap("rlimit", None, "no cap of its own: bounded by the fd limit")


def available_selectors() -> list[str]:
    """Return the selector classes this Python can create, in DefaultSelector's preference order."""
    usable = []
    for name in SELECTOR_ORDER:
        cls = getattr(selectors, name, None)
        if cls is None:
            continue
        try:
            # Existing is not enough: epoll may be compiled in yet refused by a sandbox.
            cls().close()
        except OSError:
            continue
        usable.append(name)
    return usable


def default_selector() -> str:
    """Return the class name ``selectors.DefaultSelector`` resolves to."""
    sel = selectors.DefaultSelector()
    try:
        return type(sel).__name__
    finally:
        sel.close()


def resolve_selector(name: str) -> str:
    """Turn a command-line selector name (``epoll``, ``default``) into a class name present here."""
    if name == "default":
        return default_selector()
    class_name = SELECTOR_NAMES.get(name)
    available = available_selectors()
    if class_name is None or class_name not in available:
        short = [k for k, v in SELECTOR_NAMES.items() if v in available]
        raise UnavailableError(
            f"selector {name!r} is not available here; choose one of: default, {', '.join(short)}"
        )
    return class_name


def catalogue_name(class_name: str) -> str:
    """The command-line word of a selector class (``EpollSelector`` -> ``epoll``); unknown names pass through."""
    for word, name in SELECTOR_NAMES.items():
        if name == class_name:
            return word
    return class_name


def selector_caps(available: list[str], select_cap: SelectorCap) -> dict[str, SelectorCap]:
    """Return each available selector's capacity: select's measured cap, RLIMIT_NOFILE for the rest."""
    return {name: select_cap if name == "SelectSelector" else NO_CAP for name in available}
