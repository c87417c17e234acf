"""Issue 20 #1: the secret of a distributed run, its seals, and where a worker finds it."""

from __future__ import annotations

import os
import stat

import pytest

from netprobe import platform
from netprobe.distributed.messages import HeldReport, HoldOrder
from netprobe.distributed.secret import (
    SECRET_ENV,
    read_secret,
    run_secret,
    seal,
    unseal,
    user_secret_path,
    worker_secret,
)
from netprobe.errors import Unauthenticated, UsageError
from netprobe.vocabulary import Verify

SECRET = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A home of the test's own, and no secret in the environment."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    monkeypatch.delenv(SECRET_ENV, raising=False)
    return tmp_path


def _order() -> dict:
    return HoldOrder(3, 500, ("127.0.0.1", 6379), 5.0, Verify.CONNECT).to_dict()


def test_a_sealed_record_opens_with_the_same_secret_kind_and_worker():
    sealed = seal(SECRET, "np_hold", "w1", _order())
    assert HoldOrder.from_dict(unseal(SECRET, "np_hold", "w1", sealed)).goal == 500


@pytest.mark.parametrize("tamper", [
    lambda m: {**m, "body": {**m["body"], "goal": 10**18}},  # a number changed on the way
    lambda m: {**m, "mac": "0" * 64},
    lambda m: {"body": m["body"]},  # no proof at all
    lambda m: m["body"],  # an unsealed record
    lambda m: {**m, "extra": 1},
    lambda m: b"\x01\x02 not a message",
    lambda m: {**m, "body": {"x": float("nan")}},
])
def test_a_message_without_the_secrets_proof_is_unauthenticated(tamper):
    with pytest.raises(Unauthenticated):
        unseal(SECRET, "np_hold", "w1", tamper(seal(SECRET, "np_hold", "w1", _order())))


@pytest.mark.parametrize("secret, kind, worker", [
    ("another secret of enough length", "np_hold", "w1"),
    (SECRET, "np_held", "w1"),  # the same body replayed as another kind of message
    (SECRET, "np_hold", "w2"),  # or to another worker
])
def test_a_seal_binds_secret_kind_and_worker(secret, kind, worker):
    with pytest.raises(Unauthenticated):
        unseal(secret, kind, worker, seal(SECRET, "np_hold", "w1", _order()))


def test_the_curve_keys_follow_from_the_secret_alone():
    pytest.importorskip("zmq")
    from netprobe.distributed.secret import CurveKeys

    keys, again, other = CurveKeys.of(SECRET), CurveKeys.of(SECRET), CurveKeys.of(SECRET + "x")
    assert keys == again and keys.server_public != other.server_public
    assert len(keys.server_public) == len(keys.client_secret) == 40 and keys.server_public != keys.client_public


def test_local_workers_get_a_fresh_secret_and_the_users_file_is_untouched(home):
    first, second = run_secret(None, spawn_local=True), run_secret(None, spawn_local=True)
    assert first != second and len(first) >= 32
    assert not os.path.exists(user_secret_path())


def test_a_master_for_remote_workers_makes_the_users_private_secret_once(home):
    made = run_secret(None, spawn_local=False)
    path = user_secret_path()
    assert path.startswith(str(home)) and run_secret(None, spawn_local=False) == made
    assert worker_secret(None) == made  # a worker of the same user on this machine needs nothing more
    if platform.HAS_RLIMIT:  # POSIX modes
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        os.chmod(path, 0o644)
        with pytest.raises(UsageError, match="other users"):
            worker_secret(None)


def test_a_worker_without_a_secret_is_told_where_to_get_one(home):
    with pytest.raises(UsageError, match="--secret-file"):
        worker_secret(None)


def test_the_secret_comes_from_the_file_then_the_environment(home, monkeypatch, tmp_path):
    monkeypatch.setenv(SECRET_ENV, "from the environment, long enough")
    assert read_secret(None) == "from the environment, long enough"
    given = _private(tmp_path / "run.secret", (SECRET + "\n").encode())
    assert read_secret(str(given)) == SECRET


def _private(path, content: bytes):
    path.write_bytes(content)
    os.chmod(path, 0o600)
    return path


@pytest.mark.skipif(not platform.HAS_RLIMIT, reason="POSIX owners and modes; Windows keeps files private by ACL")
@pytest.mark.parametrize("where", ["--secret-file", "home"])
def test_a_secret_file_others_can_read_or_that_another_user_owns_is_refused(home, tmp_path, where):
    path = tmp_path / "given.secret" if where == "--secret-file" else home / ".netprobe" / "secret"
    path.parent.mkdir(exist_ok=True)
    _private(path, (SECRET + "\n").encode())
    read = (lambda: read_secret(str(path))) if where == "--secret-file" else (lambda: worker_secret(None))
    assert read() == SECRET
    os.chmod(path, 0o644)
    with pytest.raises(UsageError, match="other users can read"):
        read()
    os.chmod(path, 0o600)
    if os.geteuid() == 0:  # a file another user made and left where root looks: it chose the secret
        os.chown(path, 65534, 65534)
        with pytest.raises(UsageError, match="belongs to another user"):
            read()


@pytest.mark.parametrize("content, problem", [
    ("short", "at least 16"),
    ("x" * 5000, "not a secret"),
    ("line one\nline two of the secret", "not a secret"),
    (b"\xff\xfe not utf-8 at all....", "UTF-8"),
])
def test_a_secret_that_cannot_be_one_is_a_usage_error(home, tmp_path, content, problem):
    given = _private(tmp_path / "bad.secret", content if isinstance(content, bytes) else content.encode())
    with pytest.raises(UsageError, match=problem):
        read_secret(str(given))
    with pytest.raises(UsageError, match="no such file|No such file|cannot find"):
        read_secret(str(tmp_path / "missing"))


@pytest.mark.parametrize("report, problem", [
    (HeldReport(0, 10**18, [], None, None, None), "holds"),
    (HeldReport(0, -1000, [], None, None, None), "holds"),
    (HeldReport(0, 10, [float("nan")], None, None, None), "latencies"),
    (HeldReport(0, 10, [1.0] * 11, None, None, None), "latencies"),
    (HeldReport(0, 10, [], None, -5, None), "fds"),
])
def test_a_report_no_worker_could_send_says_why(report, problem):
    assert problem in (report.problem(asked=10) or "")
    assert HeldReport(0, 10, [0.5] * 10, None, 40, 10_000_000).problem(asked=10) is None
