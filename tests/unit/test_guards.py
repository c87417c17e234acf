"""Input guards tested as functions: no packet leaves loopback, not even to test a refusal."""

import pytest

from netprobe import platform
from netprobe.errors import UsageError
from netprobe.ramp.options import RampOptions, build_ramp_spec
from netprobe.sockets import check_destination, is_loopback, parse_host_port
from tests.conftest import fd_limit_refusal


@pytest.mark.parametrize("host", ["127.0.0.1", "127.4.5.6", "::1", "[::1]", "localhost"])
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["10.0.0.1", "192.168.1.1", "8.8.8.8", "::2", "example.com", ""])
def test_other_hosts_are_not_loopback(host):
    assert not is_loopback(host)


def test_remote_destination_needs_allow_remote():
    with pytest.raises(UsageError, match="--allow-remote"):
        check_destination("192.0.2.1", allow_remote=False)
    assert check_destination("192.0.2.1", allow_remote=True) == "192.0.2.1"


def test_names_other_than_localhost_are_refused_without_dns():
    with pytest.raises(UsageError, match="not an IP address"):
        check_destination("db.internal", allow_remote=True)
    assert check_destination("localhost", allow_remote=False) == "127.0.0.1"


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1:6379", ("127.0.0.1", 6379)),
    ("[::1]:80", ("::1", 80)),
    ("localhost:1", ("localhost", 1)),
])
def test_host_port(text, expected):
    assert parse_host_port(text) == expected


@pytest.mark.parametrize("text, problem", [
    ("127.0.0.1", "HOST:PORT"), ("127.0.0.1:80:9", "IPv6"), ("127.0.0.1:99999", "outside"),
    ("127.0.0.1:http", "not a number"), (":80", "HOST:PORT"), ("::1:80", "IPv6"),
])
def test_bad_host_port(text, problem):
    with pytest.raises(UsageError, match=problem):
        parse_host_port(text)


@pytest.mark.parametrize("options, problem", [
    ({"to": 0}, "--to must be greater than 0"),
    ({"to": -5}, "--to must be greater than 0"),
    ({"to": 10, "step": 0}, "--step"),
    ({"to": 10, "timeout": 0}, "--timeout"),
    ({"to": 10, "hold": -1}, "--hold"),
    ({"to": 10, "selector": "nosuch"}, "choose one of"),
    ({"to": 10, "fd_limit": 10**9}, fd_limit_refusal("hard limit")),
    ({"to": 10, "target": "10.1.2.3:80"}, "--allow-remote"),
    ({"to": 10, "target": "127.0.0.1:80", "fd_limit": 100}, "cannot apply to --target"),
    # Where 127.0.0.2 and up need configured aliases, any --source-ips past 1 is refused first.
    ({"to": 10, "source_ips": 300}, "254" if platform.can_bind_loopback_aliases() else "loopback source addresses"),
    ({"to": 200, "max": 100}, "above --max"),
])
def test_ramp_config_rejects(options, problem):
    with pytest.raises(UsageError, match=problem):
        build_ramp_spec(RampOptions(**options))


def test_target_defaults_to_connect_verification():
    cfg = build_ramp_spec(RampOptions(to=10, target="localhost:6379"))
    assert cfg.verify == "connect" and cfg.target_address == ("127.0.0.1", 6379)
    assert build_ramp_spec(RampOptions(to=10)).verify == "echo"


@pytest.mark.parametrize("options, problem", [
    ({"to": 10, "target": "127.0.0.1:6379", "probe": "nosuch"}, "--probe must be one of"),
    ({"to": 10, "target": "127.0.0.1:6379", "probe": "hex:zz"}, "not hexadecimal"),
    ({"to": 10, "target": "127.0.0.1:6379", "probe": "redis", "verify": "connect"}, "cannot go with --verify"),
    ({"to": 10, "target": "127.0.0.1:6379", "verify": "probe"}, "needs --probe"),
])
def test_probe_options_are_checked_before_any_socket(options, problem):
    with pytest.raises(UsageError, match=problem):
        build_ramp_spec(RampOptions(**options))


def test_a_probe_is_a_request_and_a_rule_for_its_reply():
    from netprobe.probes import parse_probe

    redis = parse_probe("redis")
    assert redis.request == b"PING\r\n" and redis.complete(b"+PONG\r\n") and redis.ok(b"+PONG\r\n")
    assert not redis.ok(b"-ERR max number of clients reached\r\n")
    http = parse_probe("http")
    assert http.complete(b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\n") and http.ok(b"HTTP/1.1 200 OK\r\n\r\n")
    assert not http.ok(b"HTTP/1.1 503 Service Unavailable\r\n\r\n")
    raw = parse_probe("hex:0d0a")
    assert raw.request == b"\r\n" and raw.ok(b"x")


def test_users_teach_netprobe_their_servers_refusals(tmp_path, monkeypatch):
    import json

    from netprobe.refusals import recognise_refusal

    rows = tmp_path / "refusals.json"
    rows.write_text(json.dumps([{"said": "POOL EXHAUSTED", "server": "mydb", "setting": "pool_size",
                                 "remedy": "raise mydb's pool_size"}]))
    monkeypatch.setenv("NETPROBE_REFUSALS", str(rows))
    found = recognise_refusal("ERR pool exhausted, try later")
    assert found is not None and (found.server, found.setting) == ("mydb", "pool_size")
    assert recognise_refusal("-ERR max number of clients reached").setting == "maxclients"  # ours still there


@pytest.mark.parametrize("content, problem", [("not json", "cannot read"), ('{"said": 1}', "expected a JSON list"),
                                               ('[{"said": "x"}]', "server: missing"),
                                               # 3.13 parses this nesting; 3.11 hits its recursion limit
                                               ("[" * 5000 + "]" * 5000, "NETPROBE_REFUSALS"),
                                               ("[" + "9" * 5000 + "]", "not JSON netprobe reads")])
def test_a_bad_refusals_file_is_a_usage_error_before_any_socket(tmp_path, monkeypatch, content, problem):
    rows = tmp_path / "refusals.json"
    rows.write_text(content)
    monkeypatch.setenv("NETPROBE_REFUSALS", str(rows))
    with pytest.raises(UsageError, match=problem):
        build_ramp_spec(RampOptions(to=10))
