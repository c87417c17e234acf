"""The asyncio event loops this Python offers, found by feature, not by OS name.

``selector``: ``asyncio.SelectorEventLoop`` on ``selectors.DefaultSelector`` (epoll, kqueue; on
Windows select(), capped at 512 sockets). ``proactor``: ``asyncio.ProactorEventLoop`` (IOCP,
Windows only, the default there since 3.8). ``uvloop``: libuv, where the package is installed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import selectors
from typing import Optional

from netprobe.errors import UnavailableError, UsageError

LOOPS = ("default", "selector", "proactor", "uvloop")


def available_loops() -> list[str]:
    """Loop names usable here, ``default`` first."""
    names = ["default", "selector"]
    if hasattr(asyncio, "ProactorEventLoop"):
        names.append("proactor")
    if importlib.util.find_spec("uvloop") is not None:
        names.append("uvloop")
    return names


def default_loop() -> str:
    """The loop ``asyncio.run`` would create here."""
    policy = asyncio.get_event_loop_policy()
    loop = policy.new_event_loop()
    try:
        return "proactor" if type(loop).__name__ == "ProactorEventLoop" else "selector"
    finally:
        loop.close()


def resolve_loop(name: str) -> str:
    """Turn ``--loop`` into a concrete loop name available here; UnavailableError listing the others."""
    available = available_loops()
    if name not in LOOPS:
        raise UsageError(f"--loop must be one of {', '.join(LOOPS)}, got {name!r}")
    if name not in available:
        raise UnavailableError(f"--loop {name!r} is not available here; choose one of: {', '.join(available)}")
    return default_loop() if name == "default" else name


def make_loop(name: str, selector_class: Optional[str] = None) -> tuple[asyncio.AbstractEventLoop, str]:
    """Create a new event loop of a resolved kind; return it and what waits for its sockets.

    ``selector_class`` picks the selector of a ``selector`` loop (default: DefaultSelector).
    """
    if name == "default":
        name = default_loop()
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop(), "uvloop"
    if name == "proactor":
        return asyncio.ProactorEventLoop(), "proactor"  # type: ignore[attr-defined,unused-ignore]
    selector = getattr(selectors, selector_class)() if selector_class else selectors.DefaultSelector()
    return asyncio.SelectorEventLoop(selector), type(selector).__name__
