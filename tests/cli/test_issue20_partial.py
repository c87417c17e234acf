"""Issue 20's defects fixed so far, each a test named after its number (the rest are still open)."""

from __future__ import annotations

import json

import pytest

from netprobe.cli import run
from netprobe.errors import RecordError
from netprobe.ramp.spec import RampSpec
from tests.conftest import run_netprobe


def test_issue20_2_a_worker_connects_only_where_its_own_user_allows():
    """Whoever speaks on the master's port: a worker refuses a target off loopback without --allow-remote."""
    from netprobe.distributed.worker import target_refused

    assert target_refused(("127.0.0.1", 80), allow_remote=False) is None
    assert target_refused(("::1", 80), allow_remote=False) is None
    refused = target_refused(("192.0.2.1", 80), allow_remote=False)  # a guard tested as a function: no packet
    assert refused is not None and "192.0.2.1" in refused and "--allow-remote" in refused
    assert target_refused(("192.0.2.1", 80), allow_remote=True) is None
    assert target_refused(("example.com", 80), allow_remote=True) is not None  # no DNS names but localhost


def test_issue20_12_more_than_254_local_workers_get_real_loopback_addresses():
    import ipaddress

    from netprobe.distributed.controller import local_source_ips

    addresses = [a for pair in local_source_ips(1000) for a in pair]
    if not addresses:
        pytest.skip("this OS answers only 127.0.0.1 on loopback")
    assert len(set(addresses)) == 1000
    assert all(ipaddress.ip_address(a).is_loopback for a in addresses)


@pytest.mark.parametrize("inject, problem", [
    (lambda text: text.replace('"pid": ', '"pid": ' + "9" * 5000 + ", \"x\": ", 1), "not a netprobe report"),
    (lambda text: text.replace('"system": "', '"system": "\\ud800', 1), "lone surrogate"),
])
def test_issue20_14_a_huge_number_or_a_lone_surrogate_is_one_line_not_a_traceback(tmp_path, capsys, inject,
                                                                                   problem):
    limits = run_netprobe("limits", "--format", "json")
    bad = tmp_path / "bad.json"
    bad.write_text(inject(limits.stdout))
    assert run(["report", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and problem in err and "Traceback" not in err


def test_issue20_14_control_sequences_arriving_in_a_document_are_escaped():
    from netprobe.models import PlatformInfo

    info = PlatformInfo.from_dict({"system": "\x1b[31mLinux", "release": "6", "machine": "x86_64",
                                   "python": "3.11", "implementation": "cpython"})
    assert "\x1b" not in info.system and info.system == "\\x1b[31mLinux"


@pytest.mark.parametrize("args, problem", [
    (["--hold", "1e10"], "above 604,800 seconds"),
    (["--timeout", "1e-300"], "below 0.001 s"),
    (["--ports", "30000"], "above 1024"),
])
def test_issue20_15_17_absurd_durations_and_port_counts_are_usage_errors(args, problem):
    proc = run_netprobe("ramp", "--to", "10", *args)
    assert proc.returncode == 2 and problem in proc.stderr and "Traceback" not in proc.stderr


def test_issue20_16_the_plot_cannot_replace_the_report(tmp_path):
    same = str(tmp_path / "same.png")
    proc = run_netprobe("ramp", "--to", "10", "--output", same, "--plot", same)
    assert proc.returncode == 2 and "would replace the report" in proc.stderr


def test_issue20_20_report_reads_the_ceiling_table_of_another_machine(tmp_path, capsys):
    proc = run_netprobe("ramp", "--backend", "all", "--to", "50", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    path = tmp_path / "ceilings.json"
    path.write_text(proc.stdout)
    assert run(["report", str(path), "--format", "json"]) == 0
    rows = {r["name"]: r["values"] for r in json.loads(capsys.readouterr().out)["rows"]}
    assert rows["selectors ceiling"] == ["50 (reached)"]


def test_issue20_10_a_malformed_record_never_reaches_the_core():
    data = json.loads(RampSpec(to=10).to_json())
    for key, bad in (("to", "10"), ("timeout", float("nan")), ("backend", "nosuch"), ("verify", "maybe")):
        with pytest.raises(RecordError):
            RampSpec.from_dict({**data, key: bad})
