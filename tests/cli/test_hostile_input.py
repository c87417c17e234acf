"""Hostile and absurd input at the command line and in records: one line and exit 2, never a traceback.

(Found in issue 20's adversarial pass.)

The distributed ones are in tests/integration/test_distributed.py, the servers' in the backend contract.
"""

from __future__ import annotations

import json

import pytest

from netprobe import platform
from netprobe.cli import run
from netprobe.errors import RecordError
from netprobe.ramp_spec import RampSpec
from tests.conftest import run_netprobe


def test_a_worker_connects_only_where_its_own_user_allows():
    """Whoever speaks on the master's port: a worker refuses a target off loopback without --allow-remote."""
    from netprobe.distributed.worker import target_refused

    assert target_refused(("127.0.0.1", 80), allow_remote=False) is None
    assert target_refused(("::1", 80), allow_remote=False) is None
    refused = target_refused(("192.0.2.1", 80), allow_remote=False)  # a guard tested as a function: no packet
    assert refused is not None and "192.0.2.1" in refused and "--allow-remote" in refused
    assert target_refused(("192.0.2.1", 80), allow_remote=True) is None
    assert target_refused(("example.com", 80), allow_remote=True) is not None  # no DNS names but localhost


def test_more_than_254_local_workers_get_real_loopback_addresses():
    import ipaddress

    from netprobe.sockets import local_source_ips

    addresses = [a for pair in local_source_ips(1000) for a in pair]
    if not addresses:
        pytest.skip("this OS answers only 127.0.0.1 on loopback")
    assert len(set(addresses)) == 1000
    assert all(ipaddress.ip_address(a).is_loopback for a in addresses)


@pytest.mark.parametrize("inject, problem", [
    (lambda text: text.replace('"pid": ', '"pid": ' + "9" * 5000 + ", \"x\": ", 1), "not a netprobe report"),
    (lambda text: text.replace('"system": "', '"system": "\\ud800', 1), "lone surrogate"),
])
def test_a_huge_number_or_a_lone_surrogate_is_one_line_not_a_traceback(tmp_path, capsys, inject,
                                                                                   problem):
    limits = run_netprobe("limits", "--format", "json")
    bad = tmp_path / "bad.json"
    bad.write_text(inject(limits.stdout))
    assert run(["report", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and problem in err and "Traceback" not in err


def test_control_sequences_arriving_in_a_document_are_escaped():
    from netprobe.models import PlatformInfo

    info = PlatformInfo.from_dict({"system": "\x1b[31mLinux", "release": "6", "machine": "x86_64",
                                   "python": "3.11", "implementation": "cpython"})
    assert "\x1b" not in info.system and info.system == "\\x1b[31mLinux"


@pytest.mark.parametrize("args, problem", [
    (["--hold", "1e10"], "above 604,800 seconds"),
    (["--timeout", "1e-300"], "below 0.001 s"),
    (["--ports", "30000"], "above 1024"),
])
def test_absurd_durations_and_port_counts_are_usage_errors(args, problem):
    proc = run_netprobe("ramp", "--to", "10", *args)
    assert proc.returncode == 2 and problem in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("args, problem", [
    (["--target", "[::1%lo]:80"], "scoped IPv6"),
    (["--target", "[::1]:80", "--source-ips", "3"], "IPv6 --target"),
    (["--target", "127.0.0.1:80", "--processes", "3"], "--processes shapes netprobe's own server"),
    (["--client-processes", "0"], "--client-processes must be 1-256"),
    (["--client-processes", "257"], "--client-processes must be 1-256"),
    (["--client-processes", "2", "--placement", "thread"], "cannot go with --placement thread"),
    (["--target", "127.0.0.1:80", "--client-processes", "2", "--workers", "2"], "cannot go with --workers"),
])
def test_targets_and_options_that_cannot_go_together_are_one_line_before_any_socket(args, problem):
    proc = run_netprobe("ramp", "--to", "10", *args)
    assert proc.returncode == 2 and problem in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_the_plot_cannot_replace_the_report(tmp_path):
    same = str(tmp_path / "same.png")
    proc = run_netprobe("ramp", "--to", "10", "--output", same, "--plot", same)
    assert proc.returncode == 2 and "would replace the report" in proc.stderr


@pytest.mark.slow
def test_report_reads_the_ceiling_table_of_another_machine(tmp_path, capsys, ceilings_document):
    path = tmp_path / "ceilings.json"
    path.write_text(ceilings_document)
    assert run(["report", str(path), "--format", "json"]) == 0
    rows = {r["name"]: r["values"] for r in json.loads(capsys.readouterr().out)["rows"]}
    assert rows["selectors ceiling"] == ["50 (reached)"]


def test_a_malformed_record_never_reaches_the_core():
    data = json.loads(RampSpec(to=10).to_json())
    for key, bad in (("to", "10"), ("timeout", float("nan")), ("backend", "nosuch"), ("verify", "maybe")):
        with pytest.raises(RecordError):
            RampSpec.from_dict({**data, key: bad})


@pytest.mark.skipif(platform.NAME != "linux", reason="reads the child's peak RSS as Linux gives it (ru_maxrss in KiB)")
def test_report_memory_is_bounded_over_all_its_files(tmp_path):
    """Files of empty objects (1.6 GB of RSS each before) or of short strings (1 GB) are refused before parsing."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    measured = ("import resource, sys\nfrom netprobe.cli import run\nstatus = run(['report', *sys.argv[1:]])\n"
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\nsys.exit(status)")
    paths = []
    for n in range(3):
        path = tmp_path / f"empty{n}.json"
        path.write_bytes(b'{"schema": "netprobe.ramp/1", "x": [' + b"{}," * (6 * 2**20) + b"{}]}")  # 18 MiB each
        paths.append(str(path))
    strings = tmp_path / "strings.json"
    strings.write_bytes(b'{"schema": "netprobe.ramp/1", "x": [' + b'"ab",' * (12 * 2**20) + b'"ab"]}')  # 60 MiB
    for args in (paths[:1], paths, [str(strings)]):
        done = subprocess.run([sys.executable, "-c", measured, *args], capture_output=True, text=True, timeout=120,
                              cwd=ROOT)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert "more JSON values" in done.stderr or "add up to" in done.stderr
        peak_kib = int(done.stdout.split()[-1])
        assert peak_kib < 400 * 1024, f"report peaked at {peak_kib // 1024} MiB"



def test_control_and_bidi_characters_from_outside_are_shown_escaped_never_obeyed(tmp_path):
    from netprobe.render.safe import safe_text

    assert safe_text("\x1b[2J\x9b31m\u202eabc") == "\\x1b[2J\\x9b31m\\u202eabc"
    assert safe_text("é 中 plain") == "é 中 plain"
    evil = str(tmp_path / "x\x1b[2J\u202e.json")
    proc = run_netprobe("report", evil)
    assert proc.returncode == 2
    assert "\x1b" not in proc.stderr and "\u202e" not in proc.stderr and "\\x1b[2J" in proc.stderr
