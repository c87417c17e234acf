"""What well-known servers say when they refuse a connection at their cap, and the setting behind it.

A server that closes a connection it accepted often says why first ("-ERR max number of clients
reached"); netprobe keeps those words (``Sweep.said``) and, where it knows them, names the
server's setting and its remedy in the stop. Users teach it their own servers' words in a JSON
file named by ``$NETPROBE_REFUSALS``, read as untrusted input.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Optional

from netprobe.errors import RecordError, UsageError
from netprobe.records import Record
from netprobe.stops import StopReason
from netprobe.untrusted import parse_json, read_regular_file


@dataclass(frozen=True)
class Refusal(Record):
    """What a well-known server says when it refuses a connection at its cap, and the setting behind it."""

    said: str  # text the server sends before it closes (matched case-insensitively)
    server: str
    setting: str
    remedy: str
    #: What the refusal means for the ramp: a cap of the server's (the default), or a refusal of
    #: this client's address or credentials (StopReason.ACCESS_DENIED).
    stop: StopReason = StopReason.CLOSED_BY_SERVER


# The refusals netprobe recognises in what a server said before closing. Add a row to teach it
# another server; the tests check each against the real server where one is installed. Users add
# their own in a JSON file named by $NETPROBE_REFUSALS: a list of {said, server, setting, remedy}
# and, for a refusal of the client rather than a cap, "stop" naming that stop reason.
REFUSALS: tuple[Refusal, ...] = (
    Refusal("max number of clients reached", "redis", "maxclients",
            "raise redis's maxclients (`CONFIG SET maxclients N` or redis.conf) and its fd limit with it"),
    Refusal("redis is running in protected mode", "redis", "protected-mode",
            "redis takes clients from addresses other than 127.0.0.1 only with a password set or "
            "`protected-mode no`; netprobe's local clients and workers connect from 127.0.0.1 unless --source-ips "
            "asks for more or one address's ports run short",
            StopReason.ACCESS_DENIED),
    Refusal("no pg_hba.conf entry for host", "PostgreSQL", "pg_hba.conf",
            "add a pg_hba.conf line for the client's address and user, then `SELECT pg_reload_conf()`",
            StopReason.ACCESS_DENIED),
    Refusal("is not allowed to connect to this", "MySQL/MariaDB", "the account's host",
            "grant the user access from the client's address (`CREATE USER 'u'@'ADDRESS'`)",
            StopReason.ACCESS_DENIED),
    Refusal("too many open connections", "memcached", "-c",
            "start memcached with a larger -c N (and an fd limit above N)"),
    Refusal("remaining connection slots are reserved", "PostgreSQL", "max_connections",
            "raise max_connections in postgresql.conf (superuser_reserved_connections of it are kept for "
            "superusers), or put a pooler (PgBouncer) in front"),
    Refusal("sorry, too many clients already", "PostgreSQL", "max_connections",
            "raise max_connections in postgresql.conf, or put a pooler (PgBouncer) in front"),
    Refusal("too many connections", "MySQL/MariaDB", "max_connections",
            "raise max_connections (`SET GLOBAL max_connections = N`)"),
    Refusal("503 service unavailable", "an HTTP server or proxy", "its connection or queue limit",
            "raise the limit the server or proxy applies (nginx worker_connections, haproxy maxconn)"),
)


REFUSALS_ENV = "NETPROBE_REFUSALS"
# A refusal table is a few rows of text: anything larger is not one.
MAX_REFUSALS_BYTES = 1024 * 1024


def refusals() -> tuple[Refusal, ...]:
    """The user's refusals (the file $NETPROBE_REFUSALS names), then netprobe's own; UsageError if the file is bad."""
    path = os.environ.get(REFUSALS_ENV)
    return (_user_refusals(path) if path else ()) + REFUSALS


@cache
def _user_refusals(path: str) -> tuple[Refusal, ...]:
    raw = read_regular_file(path, MAX_REFUSALS_BYTES, f"${REFUSALS_ENV}")
    try:
        data = parse_json(raw)
    except ValueError as exc:
        raise UsageError(f"${REFUSALS_ENV} {path!r}: cannot read a JSON list of refusals ({exc})") from None
    if not isinstance(data, list):
        raise UsageError(f"${REFUSALS_ENV} {path!r}: expected a JSON list of {{said, server, setting, remedy}}")
    try:
        rows = tuple(Refusal.from_dict(row, f"{path}[{i}]") for i, row in enumerate(data))
    except RecordError as exc:
        raise UsageError(f"${REFUSALS_ENV}: {exc}") from None
    return tuple(Refusal(r.said.lower(), r.server, r.setting, r.remedy, r.stop) for r in rows if r.said.strip())


def recognise_refusal(said: Optional[str]) -> Optional[Refusal]:
    """The refusal ``said`` (what a server sent before closing) matches, if netprobe knows it."""
    if not said:
        return None
    text = said.lower()
    return next((r for r in refusals() if r.said in text), None)
