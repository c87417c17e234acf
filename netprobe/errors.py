"""Typed errors raised by netprobe's core, and the exit statuses they map to."""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """Program exit status codes: the one contract CI scripts rely on."""

    SUCCESS = 0
    LIMIT_HIT = 1  # a ramp stopped short of its target, or a report gate failed
    USAGE = 2  # bad input: the user can fix the command line
    INTERRUPTED = 130  # 128 + SIGINT


class NetprobeError(Exception):
    """Base class of every error netprobe raises on purpose."""

    exit_status = ExitStatus.USAGE


class UsageError(NetprobeError):
    """The command line or an input file asks for something impossible here."""


class UnavailableError(UsageError):
    """A selector, backend or feature does not exist on this platform."""
