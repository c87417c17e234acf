"""Harmless requests whose reply proves a server accepted a connection and serves it (``ramp --probe``).

A server that does not echo cannot be checked with netprobe's echo; a connect-only check cannot
tell a served connection from one still waiting in the listen queue. A probe sends one request
every server of its kind answers at once, and reads the reply until it is whole.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

from netprobe.errors import RecordError, UsageError

MAX_REPLY = 4096


@dataclass(frozen=True)
class Probe:
    """One request, when its reply is whole, and whether the reply means "served"."""

    name: str
    request: bytes
    complete: Callable[[bytes], bool]
    ok: Callable[[bytes], bool]
    summary: str
    asks: str = ""  # the request in a word or two, for the help ("PING")
    #: Whether the request may be sent again on a connection it already checked; a handshake may not
    #: (a PostgreSQL server closes a connection that starts twice): such a connection is re-checked
    #: only by the sweep that notices the server closing it.
    repeatable: bool = True


def _line(reply: bytes) -> bool:
    return b"\r\n" in reply or len(reply) >= MAX_REPLY


def _headers(reply: bytes) -> bool:
    return b"\r\n\r\n" in reply or len(reply) >= MAX_REPLY


def _postgres_startup() -> bytes:
    """A protocol 3.0 StartupMessage for user and database "netprobe": any PostgreSQL answers it at once."""
    body = (196608).to_bytes(4, "big") + b"user\0netprobe\0database\0netprobe\0\0"
    return (len(body) + 4).to_bytes(4, "big") + body


def _postgres_message(reply: bytes) -> bool:
    """Whether the first backend message (type byte, then its length) is whole."""
    return (len(reply) >= 5 and len(reply) >= 1 + int.from_bytes(reply[1:5], "big")) or len(reply) >= MAX_REPLY


def _postgres_served(reply: bytes) -> bool:
    """An authentication request, or any error but "too many connections" (SQLSTATE 53300): the server serves it."""
    return reply[:1] == b"R" or (reply[:1] == b"E" and b"C53300\0" not in reply)


PROBES: dict[str, Probe] = {p.name: p for p in (
    Probe("redis", b"PING\r\n", _line, lambda r: r.startswith(b"+PONG"), "redis PING, answered +PONG", "PING"),
    Probe("memcached", b"version\r\n", _line, lambda r: r.startswith(b"VERSION "),
          "memcached version, answered VERSION ...", "version"),
    Probe("http", b"HEAD / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: netprobe\r\n\r\n", _headers,
          lambda r: r.startswith(b"HTTP/1.") and r[9:10] in b"1234", "HTTP HEAD /, answered by any status below 500",
          "HEAD /"),
    Probe("postgres", _postgres_startup(), _postgres_message, _postgres_served,
          "PostgreSQL startup message, answered by an authentication request or an error but too many clients "
          "(the server then waits for a password up to its authentication_timeout, 60 s by default)",
          "startup", repeatable=False),
)}


def probe_choices(with_requests: bool = False) -> str:
    """The probes ``--probe`` takes, in words: every registered one (with its request), then raw bytes."""
    names = [f"{p.name} ({p.asks})" if with_requests and p.asks else p.name for p in PROBES.values()]
    return ", ".join(names) + " or hex:BYTES"


def parse_request(text: str, option: str = "--request") -> bytes:
    """The bytes of ``hex:BYTES`` (a request for traffic); UsageError naming ``option`` otherwise."""
    if not text.startswith("hex:"):
        raise UsageError(f"{option} {text!r}: give hex:BYTES, the request's bytes in hexadecimal")
    try:
        request = binascii.unhexlify(text[4:])
    except (binascii.Error, ValueError):
        raise UsageError(f"{option} {text!r}: the bytes after hex: are not hexadecimal") from None
    if not request:
        raise UsageError(f"{option} hex: needs at least one byte to send")
    return request


def probe_of(text: Optional[str]) -> Optional[Probe]:
    """The probe a record that arrived names, or None for the echo or a connect check.

    The spec was checked where it was built; a probe that does not parse here came garbled
    through a pipe or from a master, which is a ``RecordError``, not the user's bad input.
    """
    if text is None:
        return None
    try:
        return parse_probe(text)
    except UsageError as exc:
        raise RecordError(f"an order names no probe this netprobe knows ({exc})") from None


def docs_table() -> str:
    """The probe table of docs/ramp.md, in markdown: every registered probe, then raw bytes."""
    rows = ["| `--probe` | request | served when | re-sent at a re-check |", "|---|---|---|---|"]
    rows += [f"| `{p.name}` | {p.asks} | {p.summary} | {'yes' if p.repeatable else 'no'} |" for p in PROBES.values()]
    rows.append("| `hex:BYTES` | the bytes | any reply | no: a handshake of your protocol (traffic: `--request`) |")
    return "\n".join(rows) + "\n"


def parse_probe(text: str) -> Probe:
    """``redis``, ``memcached``, ``http``, or ``hex:BYTES`` (raw bytes; any reply counts); UsageError otherwise."""
    if text in PROBES:
        return PROBES[text]
    if text.startswith("hex:"):
        request = parse_request(text, "--probe")
        # Sent once: raw bytes are often a protocol's handshake (an MQTT CONNECT a broker takes once).
        return Probe(text, request, lambda r: len(r) > 0, lambda r: len(r) > 0, "raw bytes; any reply counts",
                     repeatable=False)
    raise UsageError(f"--probe must be one of {probe_choices()}, got {text!r}")


if __name__ == "__main__":
    print(docs_table(), end="")
