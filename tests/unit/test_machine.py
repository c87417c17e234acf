"""Issue 19 #2: the whole machine's ceiling, and the kernel memory per connection it is measured from."""

from __future__ import annotations

import json

import pytest

from netprobe import platform
from netprobe.machine import LOOPBACK_127_8, KernelMemory, cached_kernel_memory, kernel_memory, machine_limits
from netprobe.platform import SystemFacts

# The development machine's facts (Linux 6.18, 24 GiB, hard fd limit 20,000), as `limits` read them.
FACTS = SystemFacts(system_max=2_466_193, system_in_use=3_165, per_process_max=1_048_576, port_low=32768,
                    port_high=60999)
MEASURED = KernelMemory(7_000, "measured over 1,000 loopback connections")


def test_the_file_table_binds_this_machine_first():
    m = machine_limits(FACTS, 20_000, 24 * 2**30, MEASURED, LOOPBACK_127_8)
    assert m.ceiling == (2_466_193 - 3_165) // 2 and m.binding == "system_fd_limit"
    assert m.processes_needed == 124  # 2 fds per connection over 20,000 per process
    assert m.kernel_bytes_per_connection == 7_000 and m.nr_open == 1_048_576


def test_memory_binds_a_machine_with_a_large_file_table():
    m = machine_limits(SystemFacts(system_max=100_000_000, system_in_use=0, port_low=32768, port_high=60999),
                       1_048_576, 4 * 2**30, MEASURED, LOOPBACK_127_8)
    assert m.binding == "memory" and m.ceiling == 4 * 2**30 // 7_000


def test_one_loopback_source_binds_at_its_ephemeral_ports():
    """macOS and Windows answer only 127.0.0.1 without configured aliases: one address's ports bind."""
    m = machine_limits(FACTS, 20_000, 24 * 2**30, MEASURED, 1)
    assert m.binding == "port_exhaustion" and m.ceiling == 60999 - 32768 + 1 and m.loopback_sources == 1


def test_what_the_os_does_not_tell_is_unknown_not_zero():
    m = machine_limits(SystemFacts(), None, None, KernelMemory(None, "this OS does not tell its kernel's slab"), 1)
    assert m.ceiling is None and m.binding is None and m.processes_needed is None
    assert m.kernel_bytes_per_connection is None and "does not tell" in m.kernel_bytes_how


@pytest.mark.skipif(platform.kernel_slab_bytes() is None, reason="this OS does not publish its kernel's slab")
def test_kernel_memory_is_measured_once_per_kernel_and_cached(tmp_path, monkeypatch, no_time_wait_flood):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = kernel_memory("a-kernel", 20_000, 10)
    assert first.per_connection is not None and 1_000 < first.per_connection < 100_000, first
    cache = json.loads((tmp_path / "netprobe" / "kernel-memory.json").read_text("utf-8"))
    assert cache == {"kernel": "a-kernel", "bytes_per_connection": first.per_connection, "connections": 1000}
    again = kernel_memory("a-kernel", 20_000, 10)
    assert again.per_connection == first.per_connection and "cached for kernel a-kernel" in again.how
    assert kernel_memory("another-kernel", 300, 10).per_connection is None  # too few fds to measure it



@pytest.mark.parametrize("content", [
    '{"kernel": "k", "bytes_per_connection": -5, "connections": 1000}',
    '{"kernel": "k", "bytes_per_connection": true, "connections": 1000}',
    '{"kernel": "k", "bytes_per_connection": 1e30, "connections": 1000}',
    '{"kernel": "k", "bytes_per_connection": 7000, "connections": -1}',
    "[" * 3000 + "]" * 3000,
    '{"kernel": "k", "bytes_per_connection": 7000, "connections": 1000}' + " " * 10_000,
])
def test_a_kernel_memory_cache_that_is_not_netprobes_is_measured_again(tmp_path, monkeypatch, content):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "netprobe").mkdir()
    (tmp_path / "netprobe" / "kernel-memory.json").write_text(content, "utf-8")
    assert cached_kernel_memory("k") is None


def test_a_good_kernel_memory_cache_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "netprobe").mkdir()
    (tmp_path / "netprobe" / "kernel-memory.json").write_text(
        '{"kernel": "k", "bytes_per_connection": 7000, "connections": 1000}', "utf-8")
    cached = cached_kernel_memory("k")
    assert cached is not None and cached.per_connection == 7000


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_or_a_directory_at_the_caches_name_neither_hangs_nor_leaves_a_temp_file(tmp_path, monkeypatch):
    import os

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "netprobe").mkdir()
    os.mkfifo(tmp_path / "netprobe" / "kernel-memory.json")
    assert cached_kernel_memory("k") is None  # at once: a FIFO is not read
    os.remove(tmp_path / "netprobe" / "kernel-memory.json")
    (tmp_path / "netprobe" / "kernel-memory.json").mkdir()
    from netprobe.machine import _remember

    _remember("k", 7000, 1000)
    assert sorted(p.name for p in (tmp_path / "netprobe").iterdir()) == ["kernel-memory.json"]
