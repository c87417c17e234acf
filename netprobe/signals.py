"""Ctrl-C and SIGTERM end a run the same way: once, with cleanup, and with the report still written.

The first SIGINT or SIGTERM raises KeyboardInterrupt where the run is; any later one is
ignored until the process ends, so a second Ctrl-C (or a supervisor's SIGTERM right after the
first) cannot cut the cleanup short, leave a server child or a temporary file behind, or lose
the partial report.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from types import FrameType
from typing import Any, NoReturn, Optional

from netprobe.errors import ExitStatus

_fired: list[int] = []


def _handler(signum: int, frame: Optional[FrameType]) -> None:
    if _fired:
        return  # already ending: let the cleanup and the report finish
    # Noted before it is raised: Python ignores what a weakref callback raises (the import system's
    # module locks have one), so the KeyboardInterrupt can be lost; ``interrupted()`` is not.
    _fired.append(signum)
    raise KeyboardInterrupt


def _quiet_about_our_interrupt(previous: Callable[[Any], object]) -> Callable[[Any], None]:
    """A ``sys.unraisablehook`` that says nothing of a KeyboardInterrupt Python swallowed after ``_handler`` noted it.

    Python prints "Exception ignored" and a traceback for what a weakref callback raises (the
    import system's module locks have one): a Ctrl-C that lands there would show the user a
    traceback, though ``interrupted()`` has it and the run ends with one line. Anything else goes
    to ``previous``.
    """
    def hook(unraisable: Any) -> None:
        if not (_fired and unraisable.exc_type is KeyboardInterrupt):
            previous(unraisable)
    return hook


@contextmanager
def _handling(handler: Callable[[int, Optional[FrameType]], None]) -> Iterator[None]:
    """SIGINT and SIGTERM go to ``handler`` within the block (main thread only: elsewhere it runs as it is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    previous_hook, sys.unraisablehook = sys.unraisablehook, _quiet_about_our_interrupt(sys.unraisablehook)
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        for sig, old in previous.items():
            signal.signal(sig, old)


def catch_signals() -> None:
    """From now on, for the whole process, the first SIGINT or SIGTERM is noted and raised, later ones ignored.

    For the program's entry, before its modules load: a signal whose KeyboardInterrupt the import
    system swallows is still seen by ``interrupted()``. Main thread only.
    """
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _handler)
    sys.unraisablehook = _quiet_about_our_interrupt(sys.unraisablehook)


def interrupt_once() -> AbstractContextManager[None]:
    """Within this block, the first SIGINT or SIGTERM raises KeyboardInterrupt and later ones are ignored.

    SIGINT is set explicitly: a shell starts background jobs with SIGINT ignored, and Python
    then installs no handler of its own.
    """
    return _handling(_handler)


def _record(signum: int, frame: Optional[FrameType]) -> None:
    if not _fired:
        _fired.append(signum)


def deferred() -> AbstractContextManager[None]:
    """Within this block (cleanup), SIGINT and SIGTERM are noted, not raised; later ones are then ignored."""
    return _handling(_record)


def interrupted() -> bool:
    """Whether a SIGINT or SIGTERM already arrived in this process."""
    return bool(_fired)


def is_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` is the KeyboardInterrupt of a Ctrl-C or SIGTERM, also one that struck while a class was made.

    Python 3.11 wraps what a descriptor's ``__set_name__`` raises in a RuntimeError (3.12 no
    longer does): a Ctrl-C while ``ipaddress`` defines ``IPv4Interface`` (its ``cached_property``)
    arrives as ``RuntimeError: Error calling __set_name__``, with the KeyboardInterrupt as its cause.
    """
    return isinstance(exc, KeyboardInterrupt) or (isinstance(exc, RuntimeError)
                                                   and isinstance(exc.__cause__, KeyboardInterrupt))


def exit_with(status: int) -> NoReturn:
    """End the process with ``status``, also after a Ctrl-C that was caught and answered.

    CPython marks a KeyboardInterrupt that escapes any evaluation of source text as unhandled,
    even when a caller catches it, and then ends the process by SIGINT instead of with its status
    (``run_eval_code_obj`` in Python/pythonrun.c, from bpo-1054041). dataclasses build their
    methods that way, so a Ctrl-C while a module loads sets the mark; each evaluation clears it
    first, and one more is the only way to clear it.
    """
    eval("None")
    sys.exit(status)


def exit_interrupted() -> NoReturn:
    """Say the run was interrupted and end with 130: for a Ctrl-C before anything started."""
    sys.stderr.write("netprobe: interrupted\n")
    exit_with(ExitStatus.INTERRUPTED)
