"""The gevent event loops this install offers, found by their compiled modules, not by OS name.

``libev``: libev through gevent's C extension (``libev-cext``; ``libev-cffi`` where only that was
built). It waits with epoll or kqueue on POSIX, but gevent's Windows build has only libev's
select() backend, built for 1024 sockets (``FD_SETSIZE`` in gevent's ``_setuputils.py``; the
1025th socket raises "cannot watch more than 1024 sockets" in ``libev_vfd.h``). ``libuv``:
libuv through cffi (``libuv-cffi``), which polls sockets without select() on Windows. gevent's
default is the first of its own list that imports: libuv first on Windows, libev elsewhere.
"""

from __future__ import annotations

import importlib.util
from typing import Optional

from netprobe import platform
from netprobe.common_records import SelectorCap
from netprobe.errors import UnavailableError, UsageError

LOOPS = ("default", "libev", "libuv")

# Each name's candidates in gevent's own vocabulary (gevent.config.loop), best first, with the
# modules that must exist for it to load.
_GEVENT_NAMES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "libev": (("libev-cext", ("gevent.libev.corecext",)),
              ("libev-cffi", ("gevent.libev._corecffi", "_cffi_backend"))),
    "libuv": (("libuv-cffi", ("gevent.libuv._corecffi", "_cffi_backend")),),
}

#: What gevent's Windows build of libev can watch (see the module docstring).
LIBEV_SELECT_SOCKETS = 1024


def _found(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package that cannot be imported
        return False


def gevent_loop_name(name: str) -> Optional[str]:
    """gevent's name (``gevent.config.loop``) for ``libev`` or ``libuv`` here, or None if it is not built."""
    for gevent_name, modules in _GEVENT_NAMES.get(name, ()):
        if all(_found(m) for m in modules):
            return gevent_name
    return None


def available_loops() -> list[str]:
    """Loop names usable here, ``default`` first."""
    return ["default", *(name for name in _GEVENT_NAMES if gevent_loop_name(name) is not None)]


def default_loop() -> str:
    """The loop gevent picks when none is chosen: the first of its own list that is built here."""
    import gevent

    ours_by_gevent_name = {g: ours for ours, candidates in _GEVENT_NAMES.items() for g, _ in candidates}
    for gevent_name in gevent.config.settings["loop"].default:
        ours = ours_by_gevent_name.get(gevent_name)
        if ours is not None and gevent_loop_name(ours) == gevent_name:
            return ours
    raise UnavailableError("gevent has none of its event loops built here (libev, libuv)")


def resolve_loop(name: str) -> str:
    """Turn ``--loop`` into ``libev`` or ``libuv`` as available here; UnavailableError listing the others."""
    if name not in LOOPS:
        raise UsageError(f"--loop of the gevent backend must be one of {', '.join(LOOPS)}, got {name!r}")
    available = available_loops()
    if name not in available:
        hint = " (gevent's libuv loop needs the cffi package)" if name == "libuv" else ""
        raise UnavailableError(f"--loop {name!r} is not available here{hint}; choose one of: {', '.join(available)}")
    return default_loop() if name == "default" else name


def libev_watch_cap(backend: str) -> Optional[SelectorCap]:
    """What caps a libev loop on ``backend`` (its ``loop.backend``), or None where nothing does.

    Only libev's select() backend has a cap: where select() counts sockets (Windows) gevent maps
    each socket to one of 1024 slots; on POSIX, select() refuses fd 1024 and above, as everywhere.
    """
    if backend != "select":
        return None
    if platform.SELECT_COUNTS_SOCKETS:
        return SelectorCap("loop", LIBEV_SELECT_SOCKETS,
                           f"gevent's libev loop waits with select(), built for {LIBEV_SELECT_SOCKETS} sockets, "
                           "the listener and libev's two wake-up sockets among them")
    return SelectorCap("fd_number", LIBEV_SELECT_SOCKETS, "libev's select() backend refuses fd 1024 and above")
