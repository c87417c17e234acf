"""The secret of one distributed run: where it comes from, and the keys and seals derived from it.

One secret authenticates a run twice over. Its CURVE keys secure locust's ZeroMQ transport: a
peer without the secret never completes a handshake with the master, so nothing it sends reaches
locust's listener. And every netprobe message carries an HMAC of the secret over its kind, the
worker it concerns and its body, checked on arrival: a message that fails is dropped and counted.

The secret never appears on a command line. A ramp with ``--spawn-local`` makes a fresh one and
hands it to its master and workers on their stdin. Workers started by the user read it from
``--secret-file``, else ``$NETPROBE_SECRET``, else the user's own ``~/.netprobe/secret``, which a
master creates (readable by its owner only) when none is given: workers of the same user on the
same machine then need nothing more, and one on another machine needs a copy of that file, as
Erlang nodes share a cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from typing import Any, Optional, TypeVar

from netprobe.errors import RecordError, Unauthenticated, UsageError
from netprobe.records import Record
from netprobe.untrusted import read_regular_file
from netprobe.vocabulary import Message

SECRET_ENV = "NETPROBE_SECRET"
MIN_SECRET_CHARS = 16
MAX_SECRET_CHARS = 4096
# A secret file holds one line: its characters in UTF-8 (at most 4 bytes each) and a line break.
MAX_SECRET_BYTES = 4 * MAX_SECRET_CHARS + 2
ZAP_DOMAIN = "netprobe"


def new_secret() -> str:
    """A fresh secret for one run: 256 random bits as hex."""
    return secrets.token_hex(32)


def check_secret(text: str, where: str) -> str:
    """``text`` stripped of surrounding whitespace, or UsageError naming ``where`` when it cannot be a secret."""
    secret = text.strip()
    if len(secret) < MIN_SECRET_CHARS:
        raise UsageError(f"{where} holds {len(secret)} characters: a run's secret needs at least {MIN_SECRET_CHARS}")
    if len(secret) > MAX_SECRET_CHARS or not secret.isprintable():
        raise UsageError(f"{where} is not a secret: give one line of at most {MAX_SECRET_CHARS} printable characters")
    return secret


def read_secret(secret_file: Optional[str]) -> Optional[str]:
    """The secret the user gave, from ``secret_file`` or else ``$NETPROBE_SECRET``; None when neither is set."""
    if secret_file is not None:
        return _secret_in(secret_file, "--secret-file")
    if os.environ.get(SECRET_ENV):
        return check_secret(os.environ[SECRET_ENV], f"${SECRET_ENV}")
    return None


def _secret_in(path: str, what: str) -> str:
    """The secret in the file ``path``: a regular file of this user's that no one else can read or change."""
    raw = read_regular_file(path, MAX_SECRET_BYTES, what, private=True)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{what} {path} is not UTF-8 text") from None
    return check_secret(text, f"{what} {path}")


def user_secret_path() -> str:
    """Where the user's own secret lives: ``~/.netprobe/secret``."""
    return os.path.join(os.path.expanduser("~"), ".netprobe", "secret")


def user_secret(create: bool) -> Optional[str]:
    """The user's own secret; made (readable by its owner only) when ``create`` and there is none yet."""
    path = user_secret_path()
    if not os.path.lexists(path):
        if not create:
            return None
        secret = new_secret()
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return user_secret(create=False)  # another run made it first: share that one
        except OSError as exc:
            raise UsageError(f"cannot make the run's secret {path}: {exc.strerror or exc}; "
                             f"give one with --secret-file or ${SECRET_ENV}") from None
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secret + "\n")
        return secret
    return _secret_in(path, "the run's secret")


def run_secret(secret_file: Optional[str], spawn_local: bool) -> str:
    """The secret of a distributed ramp: the user's, else a fresh one for local workers, else the user's own file."""
    given = read_secret(secret_file)
    if given is not None:
        return given
    if spawn_local:
        return new_secret()
    secret = user_secret(create=True)
    assert secret is not None
    return secret


def worker_secret(secret_file: Optional[str]) -> str:
    """The secret a ``netprobe worker`` proves to its master; UsageError when it was given none."""
    secret = read_secret(secret_file)
    if secret is None:
        secret = user_secret(create=False)
    if secret is None:
        raise UsageError(f"a worker needs its master's secret: give --secret-file, set ${SECRET_ENV}, "
                         f"or copy the master's {user_secret_path()}")
    return secret


def _derived(secret: str, label: str) -> bytes:
    return hmac.new(secret.encode(), f"netprobe {label}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class CurveKeys:
    """The run's two CURVE key pairs (Z85 text, as ZeroMQ takes them): the master's and every worker's."""

    server_public: bytes
    server_secret: bytes
    client_public: bytes
    client_secret: bytes

    @classmethod
    def of(cls, secret: str) -> CurveKeys:
        """Derive both key pairs from ``secret`` (any 32 bytes are a Curve25519 secret key)."""
        import zmq
        from zmq.utils import z85

        server = z85.encode(_derived(secret, "curve server"))
        client = z85.encode(_derived(secret, "curve client"))
        return cls(zmq.curve_public(server), server, zmq.curve_public(client), client)


def _mac(secret: str, kind: str, worker: str, body: Any) -> str:
    text = json.dumps([kind, worker, body], sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)
    return hmac.new(_derived(secret, "message"), text.encode(), hashlib.sha256).hexdigest()


def seal(secret: str, kind: str, worker: str, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with the proof that its sender knows ``secret``, bound to the message kind and the worker."""
    return {"body": body, "mac": _mac(secret, kind, worker, body)}


def unseal(secret: str, kind: str, worker: str, data: Any) -> dict[str, Any]:
    """The body of a sealed message; Unauthenticated when it lacks the proof or is not one."""
    if not isinstance(data, dict) or set(data) != {"body", "mac"} or not isinstance(data["body"], dict):
        raise Unauthenticated(f"a {kind} message that is not a sealed netprobe record")
    mac = data["mac"]
    try:
        expected = _mac(secret, kind, worker, data["body"])
    except (TypeError, ValueError):
        raise Unauthenticated(f"a {kind} message whose body is not JSON data") from None
    if not isinstance(mac, str) or not hmac.compare_digest(mac, expected):
        raise Unauthenticated(f"a {kind} message without proof of the run's secret")
    return data["body"]


R = TypeVar("R", bound=Record)
DROPS_KEPT = 20  # why the first messages were dropped; the count goes on


class Channel:
    """One side of a run's messages over a locust runner: seals what it sends, checks what arrives."""

    def __init__(self, runner: Any, secret: str) -> None:
        self.runner = runner
        self.secret = secret
        self.dropped = 0
        self.why_dropped: list[str] = []

    def send(self, kind: Message, record: Optional[Record], worker: str, to_worker: bool) -> None:
        """Send ``record`` sealed; the MAC binds it to ``worker``, the one worker a message concerns."""
        body = record.to_dict() if record is not None else {}
        self.runner.send_message(kind.value, seal(self.secret, kind.value, worker, body),
                                 client_id=worker if to_worker else None)

    def body(self, kind: Message, msg: Any) -> Optional[dict[str, Any]]:
        """The checked body of locust message ``msg``; None, counted, when it lacks the run's proof."""
        try:
            return unseal(self.secret, kind.value, str(msg.node_id), msg.data)
        except RecordError as exc:
            self.drop(f"{kind.value} from {msg.node_id}: {exc}")
            return None

    def receive(self, kind: Message, msg: Any, record_type: type[R]) -> Optional[R]:
        """The record ``msg`` carries, checked and decoded; None, counted, when it is not one."""
        body = self.body(kind, msg)
        if body is None:
            return None
        try:
            return record_type.from_dict(body, kind.value)
        except RecordError as exc:
            self.drop(f"{kind.value} from {msg.node_id}: {exc}")
            return None

    def drop(self, why: str) -> None:
        """Count one message that was not acted on, and keep why for the first few."""
        self.dropped += 1
        if len(self.why_dropped) < DROPS_KEPT:
            self.why_dropped.append(why)
