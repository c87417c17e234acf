"""Parsers of other platforms' output, on recorded real output (tests/data/README.md)."""

import pytest

from netprobe.platform import _darwin, _linux, _parsers, _windows
from tests.conftest import DATA


def test_netsh_dynamicport_recorded_on_windows_10():
    text = (DATA / "windows_netsh_dynamicport_tcp.txt").read_text("utf-8")
    assert _parsers.parse_dynamicport(text) == (49152, 16384)
    facts = _windows.facts_from_netsh(text)
    assert (facts.port_low, facts.port_high, facts.port_count) == (49152, 65535, 16384)
    assert facts.system_max is None
    assert {n.field for n in facts.notes} >= {"system_max", "somaxconn"}


def test_netsh_with_localized_labels():
    german = "Protokoll tcp Dynamischer Portbereich\n-----------\nStartport       : 10000\nAnzahl der Ports: 55536\n"
    assert _parsers.parse_dynamicport(german) == (10000, 55536)


def test_netsh_garbage_becomes_a_note_not_a_crash():
    facts = _windows.facts_from_netsh("The following command was not found: int ipv4 show.")
    assert facts.port_low is None
    assert any(n.field == "port_low" for n in facts.notes)


def test_sysctl_mojave_colon_format():
    values = _parsers.parse_sysctl((DATA / "darwin_sysctl_mojave.txt").read_text("utf-8"))
    assert values == {"kern.maxfiles": 12288, "kern.maxfilesperproc": 10240}
    facts = _darwin.facts_from_sysctl(values)
    assert facts.system_max == 12288 and facts.per_process_max == 10240
    missing = {n.field for n in facts.notes}
    assert missing == {"system_in_use", "somaxconn", "port_low", "port_high"}


def test_sysctl_lion_mixed_formats():
    values = _parsers.parse_sysctl((DATA / "darwin_sysctl_lion.txt").read_text("utf-8"))
    assert values["kern.maxfiles"] == 32768
    assert values["kern.maxfilesperproc"] == 16384
    assert values["kern.num_files"] == 2049


def test_sockstat_recorded_here():
    inuse, mem = _parsers.parse_sockstat((DATA / "linux_sockstat.txt").read_text("utf-8"))
    assert inuse == 1 and mem == 168


def test_slabinfo_recorded_here_sums_the_bytes_of_objects_in_use():
    text = (DATA / "linux_slabinfo.txt").read_text("utf-8")
    in_use = (144 * 256 + 48 * 320 + 66 * 2368 + 224 * 832 + 344 * 256 + 594 * 192 + 722 * 1024)
    assert _parsers.parse_slabinfo(text) == in_use


@pytest.mark.parametrize("text", ["", "MemTotal: 24000000 kB\nSlab: 300000 kB\n",
                                  "slabinfo - version: 2.1\nTCP many 130 2368\n"])
def test_text_that_is_not_slabinfo_gives_no_figure(text):
    assert _parsers.parse_slabinfo(text) is None


def test_linux_facts_from_missing_proc_are_notes(tmp_path):
    facts = _linux.facts_from_proc_sys(str(tmp_path))
    assert facts.system_max is None and facts.somaxconn is None
    noted = {n.field for n in facts.notes}
    assert "system_max" in noted and "somaxconn" in noted
    assert "nf_conntrack_max" not in noted  # absent without the module: normal, not noteworthy


# --- Windows: ports reserved by Hyper-V, WSL2, Docker or WinNAT (recorded output, tests/data/README.md)


@pytest.mark.parametrize("name, first, last, count", [
    ("windows_netsh_excludedportrange_en_2026.txt", (5985, 5985), (53386, 53485), 11),
    ("windows_netsh_excludedportrange_en_runner.txt", (80, 80), (56738, 56837), 5),
    ("windows_netsh_excludedportrange_zh.txt", (1607, 1706), (54235, 54235), 18),
    ("windows_netsh_excludedportrange_es.txt", (1025, 1124), (50000, 50059), 24),
])
def test_excludedportrange_in_several_languages(name, first, last, count):
    ranges = _parsers.parse_excludedportrange((DATA / name).read_text("utf-8"))
    assert (ranges[0], ranges[-1], len(ranges)) == (first, last, count)


def test_excludedportrange_with_nothing_reserved_yet():
    text = (DATA / "windows_netsh_excludedportrange_zh_empty.txt").read_text("utf-8")
    assert _parsers.parse_excludedportrange(text) == []


def test_the_dynamic_range_less_what_hyper_v_reserved_inside_it():
    dynamic = (DATA / "windows_netsh_dynamicport_tcp.txt").read_text("utf-8")
    excluded = (DATA / "windows_netsh_excludedportrange_en_2026.txt").read_text("utf-8")
    facts = _windows.facts_from_netsh(dynamic, excluded)
    # Inside 49152-65535: 49673-49772, 50000-50059, 50060-50159, 50164-50263, 50366-50665 (three
    # touching blocks) and 53286-53485 (two): 100 + 60 + 100 + 100 + 300 + 200 = 860 ports.
    assert facts.excluded_in_range == 860
    assert facts.port_count == 16384 - 860


@pytest.mark.parametrize("excluded, taken", [
    ([], 0),
    ([(100, 200)], 0),  # outside, below
    ([(70000, 70010)], 0),  # outside, above
    ([(1000, 1010)], 11),
    ([(1000, 1010), (1005, 1020)], 21),  # overlapping: counted once
    ([(1000, 1009), (1010, 1019)], 20),  # touching
    ([(990, 1004)], 5),  # straddling the start of the range
    ([(1995, 2100)], 6),  # straddling its end
    ([(900, 2100)], 1001),  # covering all of it
    ([(1500, 1500), (1500, 1500)], 1),  # the same port twice
])
def test_excluded_port_arithmetic(excluded, taken):
    assert _parsers.excluded_in_range(1000, 2000, excluded) == taken


# --- macOS: launchd's maxfiles


def test_launchctl_maxfiles_on_macos_15():
    text = (DATA / "darwin_launchctl_maxfiles_15.txt").read_text("utf-8")
    assert _parsers.parse_launchctl_limit(text) == (256, None)


def test_launchctl_limit_listing_with_a_raised_maxfiles():
    text = (DATA / "darwin_launchctl_limit_2017.txt").read_text("utf-8")
    assert _parsers.parse_launchctl_limit(text) == (524288, 524288)
    assert _parsers.parse_launchctl_limit(text, "maxproc") == (2048, 2048)
    assert _parsers.parse_launchctl_limit("garbage") == (None, None)


# --- errors where only the text survives


@pytest.mark.parametrize("message, code", [
    ("[WinError 10055] An operation on a socket could not be performed because the system lacked "
     "sufficient buffer space or because a queue was full", 10055),
    ("OSError: [WinError 10048] Only one usage of each socket address is normally permitted", 10048),
    ("OSError: [Errno 24] Too many open files", 24),
    ("the server process exited with status 1", None),
])
def test_error_codes_from_messages(message, code):
    assert _parsers.errno_from_message(message) == code


def test_messages_classify_on_every_platform():
    assert _windows.classify_message("[WinError 10055] no buffer space", "connect") == "port_exhaustion"
    assert _windows.classify_message("[WinError 10024] Too many open sockets", "accept") == "fd_limit"
    assert _linux.classify_message("OSError: [Errno 24] Too many open files", "accept") == "fd_limit"
    assert _darwin.classify_message("OSError: [Errno 24] Too many open files", "accept") == "fd_limit"


def test_cpu_pressure_recorded_here_is_the_some_lines_total():
    text = (DATA / "linux_pressure_cpu.txt").read_text("utf-8")
    assert _parsers.parse_cpu_pressure(text) == 1931640926
    assert _parsers.parse_cpu_pressure("full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n") is None
    assert _parsers.parse_cpu_pressure("some avg10=0.00 total=lots\n") is None
