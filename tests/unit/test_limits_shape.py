"""The limits JSON has the same keys whatever the platform module returns."""

from netprobe.limits import build_limits_report
from netprobe.models import MemoryStats, PlatformInfo, ProcessStats, SelectorCap
from netprobe.platform import _darwin, _linux, _parsers, _windows
from tests.conftest import DATA

NETSH_DYNAMIC = DATA / "windows_netsh_dynamicport_tcp.txt"


def _keys(obj, prefix=""):
    if isinstance(obj, dict):
        keys = set()
        for k, v in obj.items():
            if prefix.endswith("caps.") or k in ("caps",):
                keys.add(prefix + k)
                continue
            keys |= {prefix + k} | _keys(v, f"{prefix}{k}.")
        return keys
    return set()


def _report(system, facts, soft, hard, missing, cap, available, default):
    return build_limits_report(
        info=PlatformInfo(system, "1", "x86_64", "3.12.0", "cpython"),
        soft=soft, hard=hard, rlimit_missing=missing, facts=facts, select_cap=cap,
        available=available, default=default,
        process=ProcessStats(1234, 12, 20_000_000, 1, 0.1),
        memory=MemoryStats(16 << 30, 8 << 30),
    ).to_dict()


def test_same_keys_on_linux_macos_and_windows(tmp_path):
    linux = _report("Linux", _linux.facts_from_proc_sys(str(tmp_path)), 1024, 4096, None,
                    SelectorCap("fd_number", 1024, ""), ["EpollSelector", "PollSelector", "SelectSelector"],
                    "EpollSelector")
    lion = _parsers.parse_sysctl((DATA / "darwin_sysctl_lion.txt").read_text("utf-8"))
    mac = _report("Darwin", _darwin.facts_from_sysctl(lion),
                  256, None, None, SelectorCap("fd_number", 1024, ""),
                  ["KqueueSelector", "PollSelector", "SelectSelector"], "KqueueSelector")
    windows = _report("Windows", _windows.facts_from_netsh(NETSH_DYNAMIC.read_text("utf-8")),
                      *_windows.fd_limits(), SelectorCap("count", 512, ""), ["SelectSelector"], "SelectSelector")
    assert _keys(linux) == _keys(mac) == _keys(windows)
    assert windows["fds"]["soft"] is None
    assert any(n["field"] == "fds.soft" for n in windows["notes"])


def test_windows_prediction_is_select_count_bound():
    windows = _report("Windows", _windows.facts_from_netsh(NETSH_DYNAMIC.read_text("utf-8")),
                      *_windows.fd_limits(), SelectorCap("count", 512, ""), ["SelectSelector"], "SelectSelector")
    process = next(p for p in windows["predicted"] if p["placement"] == "process")
    assert process["max_connections"] == 511 and process["binding_limit"] == "select_limit"
    assert "SelectSelector" in windows["summary"]


def test_macos_default_limit_predicts_kqueue_at_251():
    facts = _darwin.facts_from_sysctl(_parsers.parse_sysctl((DATA / "darwin_sysctl_mojave.txt").read_text("utf-8")))
    mac = _report("Darwin", facts, 256, None, None, SelectorCap("fd_number", 1024, ""),
                  ["KqueueSelector", "PollSelector", "SelectSelector"], "KqueueSelector")
    kq = next(p for p in mac["predicted"] if p["selector"] == "KqueueSelector" and p["placement"] == "process")
    assert (kq["max_connections"], kq["binding_limit"]) == (251, "fd_limit")
