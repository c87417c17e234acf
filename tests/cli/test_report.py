"""`netprobe report` on JSON from real runs here plus results built from recorded Windows and macOS output."""

from __future__ import annotations

import json

import pytest

from netprobe import platform, stops
from netprobe.cli import run
from netprobe.hostinfo import platform_info
from netprobe.limits import build_limits_report
from netprobe.models import MemoryStats, Peak, PlatformInfo, Prediction, ProcessStats, RampResult, SelectorCap, StopInfo
from netprobe.platform import _darwin, _parsers, _windows
from netprobe.ramp_spec import RampSpec
from netprobe.selector_catalog import default_selector
from netprobe.stops import StopReason
from tests.conftest import DATA


def _write(path, record):
    path.write_text(json.dumps(record.to_dict()))
    return str(path)


@pytest.fixture
def windows_files(tmp_path):
    """A limits report built from netsh output recorded on Windows 10, and a ramp that met select()'s cap."""
    info = PlatformInfo("Windows", "10", "AMD64", "3.12.4", "cpython")
    facts = _windows.facts_from_netsh((DATA / "windows_netsh_dynamicport_tcp.txt").read_text("utf-8"))
    limits = build_limits_report(info, *_windows.fd_limits(), facts, SelectorCap("count", 512, "measured"),
                                 ["SelectSelector"], "SelectSelector", ProcessStats(4321, 180, 30 << 20, 4, 0.2),
                                 MemoryStats(16 << 30, 9 << 30))
    stop = StopInfo("select_limit", "server", None, "too many file descriptors in select()", 511, 700, 520,
                    stops.remedy(StopReason.SELECT_LIMIT, "windows", "server", None), 511)
    ramp = RampResult(RampSpec(to=1000), False, 1000, 511, Peak(700, 520, 40 << 20, 30 << 20), stop,
                      Prediction("SelectSelector", "process", 511, "select_limit", "count cap"), "Stopped at 511",
                      [], info)
    return _write(tmp_path / "limits-windows.json", limits), _write(tmp_path / "ramp-windows.json", ramp)


@pytest.fixture
def macos_limits(tmp_path):
    info = PlatformInfo("Darwin", "23.6.0", "arm64", "3.12.4", "cpython")
    facts = _darwin.facts_from_sysctl(_parsers.parse_sysctl((DATA / "darwin_sysctl_mojave.txt").read_text("utf-8")))
    limits = build_limits_report(info, 256, None, None, facts, SelectorCap("fd_number", 1024, "measured"),
                                 ["KqueueSelector", "PollSelector", "SelectSelector"], "KqueueSelector",
                                 ProcessStats(99, 12, 20 << 20, 1, 0.1), MemoryStats(8 << 30, 4 << 30))
    return _write(tmp_path / "limits-macos.json", limits)


@pytest.fixture
def here_files(tmp_path):
    """A limits report and a short ramp made on this machine, whatever its OS."""
    limits = tmp_path / "limits-here.json"
    ramp = tmp_path / "ramp-here.json"
    assert run(["limits", "--format", "json", "--output", str(limits)]) == 0
    assert run(["ramp", "--to", "200", "--format", "json", "--output", str(ramp), "--quiet"]) == 0
    return str(limits), str(ramp)


def test_side_by_side_markdown(capsys, here_files, macos_limits):
    assert run(["report", *here_files, macos_limits, "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("|") and "Python" in line)
    assert platform_info().system in header and "Darwin arm64 / Python 3.12.4" in header
    assert "| default selector" in out and "KqueueSelector" in out and default_selector() in out
    kq_row = next(line for line in out.splitlines() if line.startswith("| predicted max"))
    assert "251" in kq_row  # macOS's 256 soft limit, less the server's 5 fds


def test_a_short_ramp_fails_the_report(capsys, here_files, windows_files):
    assert run(["report", *here_files, *windows_files]) == 1
    out = capsys.readouterr().out
    assert "Ramp short of its target on: Windows AMD64 / Python 3.12.4" in out
    select_row = next(line for line in out.splitlines() if line.startswith("select cap"))
    here = platform.probe_select_cap()
    assert "512 (sockets per list)" in select_row and f"{here.limit} (" in select_row
    assert any(line.startswith("stop reason") and "select_limit" in line for line in out.splitlines())


def test_json_output(capsys, windows_files):
    assert run(["report", *windows_files, "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == "netprobe.report/1" and data["ok"] is False
    soft = next(r for r in data["rows"] if r["name"] == "soft fd limit")
    assert soft["values"] == [None]  # Windows has no RLIMIT_NOFILE


@pytest.mark.parametrize("content, message", [
    ('{"hello": 1}', "not a netprobe limits or ramp report"),
    ('{"schema": "netprobe.limits/9", "platform": {}}', "unknown schema"),
    ("not json at all", "not JSON"),
    ('{"schema": "netprobe.ramp/1"}', "netprobe.ramp/1: config: missing"),
])
def test_bad_files_exit_2_with_one_line(capsys, tmp_path, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert run(["report", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "bad.json" in err


def test_missing_file(capsys, tmp_path):
    assert run(["report", str(tmp_path / "nope.json")]) == 2
    assert "no such file" in capsys.readouterr().err
