"""Every error netprobe raises on purpose, in one tree, and the exit status each maps to.

The CLI turns a ``NetprobeError`` into its ``exit_status`` in one place (``netprobe.cli.run``);
anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """Program exit status codes: the one contract CI scripts rely on."""

    SUCCESS = 0
    LIMIT_HIT = 1  # a ramp stopped short of its target, or a report gate failed
    RUN_FAILED = 1  # the run itself failed: a process it started crashed or answered garbage
    USAGE = 2  # bad input: the user can fix the command line
    INTERRUPTED = 130  # 128 + SIGINT


class NetprobeError(Exception):
    """Base class of every error netprobe raises on purpose."""

    exit_status = ExitStatus.USAGE


class UsageError(NetprobeError):
    """The command line or an input file asks for something impossible here."""


class UnavailableError(UsageError):
    """A selector, backend or feature does not exist on this platform."""


class RecordError(NetprobeError):
    """A typed record (a JSON document, a message from another process) failed its checks on arrival.

    A process or peer of the run that answers garbage fails the run (exit 1); where the record is a
    file the user handed in (``report``, ``$NETPROBE_REFUSALS``), the reader words it as a
    ``UsageError`` naming the file.
    """

    exit_status = ExitStatus.RUN_FAILED


class Unauthenticated(RecordError):
    """A message of a distributed run lacks proof of the run's secret: dropped, never acted on."""


class PlatformError(NetprobeError):
    """This platform cannot do what was asked; the message names no command-line option."""


class Unsupported(PlatformError):
    """The platform lacks the feature altogether (RLIMIT_NOFILE on Windows)."""


class AboveHardLimit(PlatformError):
    """A soft fd limit above the hard one was asked for."""

    def __init__(self, wanted: int, hard: int) -> None:
        super().__init__(f"{wanted} is above the hard fd limit {hard}")
        self.wanted = wanted
        self.hard = hard


class OutputError(NetprobeError):
    """The result exists but could not be written where the user asked."""

    exit_status = ExitStatus.LIMIT_HIT


class ServerGone(NetprobeError):
    """The server process exited or stopped answering."""

    exit_status = ExitStatus.LIMIT_HIT


class ChildStartError(NetprobeError):
    """The OS refused to start a process netprobe needs (out of processes, fds or memory; Wine's CreateProcess)."""

    exit_status = ExitStatus.LIMIT_HIT


class ChildFailed(NetprobeError):
    """A process netprobe started for the run crashed, or ended without its result."""

    exit_status = ExitStatus.RUN_FAILED


class DistributedError(NetprobeError):
    """A distributed ramp's master could not run it (no workers, a version mismatch, a port it cannot bind)."""

    def __init__(self, message: str, status: int = ExitStatus.LIMIT_HIT) -> None:
        super().__init__(message)
        self.exit_status = ExitStatus(status)


class ProtocolError(NetprobeError):
    """The peer broke the file protocol: the message goes back in an ``X`` frame, then the connection closes."""


class Refused(ProtocolError):
    """A well-formed request the server will not serve: an ``X`` frame, and the connection goes on."""


class FrameError(ProtocolError):
    """A frame's length prefix or body is outside the protocol's bounds."""
