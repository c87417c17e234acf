"""The words netprobe's reports, options and processes share, each defined once.

Every side, placement, output format and verification mode is a member of
one of these enums; producers write the member, consumers compare against it, and the JSON
carries its value. Members are ``StrEnum`` members, so ``Side.CLIENT == "client"``
holds and ``json.dumps`` writes the bare word.

Stop reasons, with what each means and its remedies, are records of their own in
``netprobe.stops``; backends and client models are registries next to their classes:
``netprobe.servers.registry`` and ``netprobe.clients.registry``.
"""

from __future__ import annotations

import enum


class Word(enum.StrEnum):
    """A vocabulary word: compares, hashes and prints as its value."""

    @classmethod
    def values(cls) -> tuple[str, ...]:
        """Every word of this vocabulary, in definition order."""
        return tuple(m.value for m in cls)

    @classmethod
    def parse(cls, text: str, option: str) -> Word:
        """Return the member spelled ``text``; raise ValueError naming ``option`` and the choices."""
        try:
            return cls(text)
        except ValueError:
            raise ValueError(f"{option} must be one of {', '.join(cls.values())}, got {text!r}") from None


class Side(Word):
    """Which end of the connections met a limit."""

    CLIENT = "client"
    SERVER = "server"
    SYSTEM = "system"
    #: Neither end: something between them (a firewall, on this machine or on the way) stopped the connections.
    NETWORK = "network"


class Placement(Word):
    """Where the ramp's own server runs (``--placement``; ``--server`` is its older spelling).

    ``process``: a child process with its own fd budget, 1 fd per connection on each side.
    ``thread``: inside netprobe's own process, so every connection costs this process 2 fds.
    """

    PROCESS = "process"
    THREAD = "thread"


class Message(Word):
    """What master and workers of a distributed ramp say to each other, over locust's custom messages."""

    HELLO = "np_hello"  # worker -> master: who it is, what it can hold
    REFUSE = "np_refuse"  # master -> worker: not this one (another netprobe version)
    HOLD = "np_hold"  # master -> worker: hold this many connections
    HELD = "np_held"  # worker -> master: what it holds, and its first failure
    PROGRESS = "np_progress"  # worker -> master: a step still under way, and how far it got
    CLOSE = "np_close"  # master -> worker: close everything


class ServerKind(Word):
    """What a ramp's server is to netprobe: what it can read of it, and whose fd limit binds it."""

    CHILD = "child"  # netprobe's own, in one child process: its counters, pid and soft limit are known
    GROUP = "group"  # netprobe's own, as several child processes on one port: each member's are known
    IN_PROCESS = "in_process"  # netprobe's own, inside this process: this process's fd limit binds it
    EXTERNAL = "external"  # not netprobe's: only what the client sees, and what the OS tells


class ChildOp(Word):
    """What a parent tells a child process it started, one ``ChildOrder`` record a line on the child's stdin."""

    STATUS = "status"  # server child: answer with its ServerStatus
    QUIT = "quit"  # server child: stop serving and exit
    GO = "go"  # bench echo's load: its connections are open; start the ping-pong now


class Verify(Word):
    """How a ramp checks each connection: its echo, the handshake alone, or a probe's reply (``--probe``)."""

    ECHO = "echo"
    CONNECT = "connect"
    PROBE = "probe"


class Format(Word):
    """Output formats of every command."""

    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"
    HTML = "html"


class ProtocolName(Word):
    """What a server says back."""

    ECHO = "echo"
    UPPER = "upper"
    FILE = "file"


class Operation(Word):
    """What a client was doing when it failed; classification of an errno depends on it."""

    SOCKET = "socket"
    BIND = "bind"
    CONNECT = "connect"
    ACCEPT = "accept"
    THREAD = "thread"
    VERIFY = "verify"
    TIMEOUT = "timeout"
