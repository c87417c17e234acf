"""Parsers of other platforms' output, on recorded real output (tests/data/README.md)."""

from netprobe.platform import _darwin, _linux, _windows
from tests.conftest import DATA


def test_netsh_dynamicport_recorded_on_windows_10():
    text = (DATA / "windows_netsh_dynamicport_tcp.txt").read_text()
    assert _windows.parse_dynamicport(text) == (49152, 16384)
    facts = _windows.facts_from_netsh(text)
    assert (facts.port_low, facts.port_high, facts.port_count) == (49152, 65535, 16384)
    assert facts.system_max is None
    assert {n.field for n in facts.notes} >= {"system_max", "somaxconn"}


def test_netsh_with_localized_labels():
    german = "Protokoll tcp Dynamischer Portbereich\n-----------\nStartport       : 10000\nAnzahl der Ports: 55536\n"
    assert _windows.parse_dynamicport(german) == (10000, 55536)


def test_netsh_garbage_becomes_a_note_not_a_crash():
    facts = _windows.facts_from_netsh("The following command was not found: int ipv4 show.")
    assert facts.port_low is None
    assert any(n.field == "port_low" for n in facts.notes)


def test_sysctl_mojave_colon_format():
    values = _darwin.parse_sysctl((DATA / "darwin_sysctl_mojave.txt").read_text())
    assert values == {"kern.maxfiles": 12288, "kern.maxfilesperproc": 10240}
    facts = _darwin.facts_from_sysctl(values)
    assert facts.system_max == 12288 and facts.per_process_max == 10240
    missing = {n.field for n in facts.notes}
    assert missing == {"system_in_use", "somaxconn", "port_low", "port_high"}


def test_sysctl_lion_mixed_formats():
    values = _darwin.parse_sysctl((DATA / "darwin_sysctl_lion.txt").read_text())
    assert values["kern.maxfiles"] == 32768
    assert values["kern.maxfilesperproc"] == 16384
    assert values["kern.num_files"] == 2049


def test_sockstat_recorded_here():
    inuse, mem = _linux.parse_sockstat((DATA / "linux_sockstat.txt").read_text())
    assert inuse == 1 and mem == 168


def test_linux_facts_from_missing_proc_are_notes(tmp_path):
    facts = _linux.facts_from_proc_sys(str(tmp_path))
    assert facts.system_max is None and facts.somaxconn is None
    noted = {n.field for n in facts.notes}
    assert "system_max" in noted and "somaxconn" in noted
    assert "nf_conntrack_max" not in noted  # absent without the module: normal, not noteworthy
