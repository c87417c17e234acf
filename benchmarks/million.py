"""One million concurrent loopback connections from one machine, against netprobe's own server (issue 19).

Runs ``netprobe ramp --to N`` (1,000,000 by default) in a child process, which spreads its server
and client over as many processes as the hard fd limit requires, and prints: the wall time, each
step's time and rate, user memory per connection on each side (the RSS growth over the ramp),
kernel memory per connection (the slab's growth), the kernel's own count of TCP sockets beside
netprobe's, and the prediction beside what was reached. Where the machine cannot reach N, the
ramp stops at a named limit: the script checks it against the prediction (within 5%). Afterwards
it checks that nothing is left: no process of the ramp, no established socket more than before.
The kernel's count is the machine's (``TCP: inuse``): run it on an otherwise quiet machine.

    python benchmarks/million.py [--to 1000000] [--hold 1] [--verify connect] [--anchors DIR] [--netns-ehash BUCKETS]

Beside its own figures it runs the C anchor (``million.c``, built with the system's C compiler
from ``--anchors``, the workplace's ``../shared/anchors`` by default) to the same count in steps of
a tenth, and prints both runs' time to open them all, first, median and last step, and CPU per
connection, with netprobe's as ratios of C's. ``million.c`` checks each connection by its
handshake and notices one that drops: ``--verify connect`` gives netprobe the same work (the
default also checks an echo on every connection).

Beside each step it prints where the machine's CPU went over that step's whole cycle (opening,
hold and sampling, from one step's last connection to the next's, told by the kernel's count):
the ramp's own processes, the rest of the kernel's and other programs' busy time, time stolen by
the hypervisor, and idle time; and at the end the programs other than the ramp that used the most.
A step that grows while the ramp's CPU per connection stays flat is waiting on something else;
the ramp's CPU per connection is split into user space (Python and netprobe's code) and the
kernel (its socket calls: the TCP hash lookups, the slab pages each connection takes).

After the ramp it touches 2 GiB of fresh memory and prints the cost per page, 128 MiB at a time:
on a VM that hands its free memory back to the host, the pages past what the guest keeps backed
cost a fault on the host too, and so does every connection once the ramp has used that up.

Every TCP packet is looked up in the kernel's established hash; Linux sizes it at boot (262,144
buckets on this 24 GiB machine) and never grows it, so with two million sockets each chain holds
about eight. ``--netns-ehash`` runs the same ramp in a new network namespace whose hash has
BUCKETS buckets (``net.ipv4.tcp_child_ehash_entries``, Linux 6.1+, as root), to show whether that
is what makes the last steps slower than the first.
"""

from __future__ import annotations

import argparse
import json
import mmap
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import psutil
from anchors import DEFAULT_SOURCE, MillionRun, build_anchors, children_cpu, run_million
from tabulate import tabulate

from netprobe import platform


@dataclass
class Sample:
    """What the watcher saw at one moment: the kernel's TCP sockets and CPU seconds so far."""

    at: float
    tcp_sockets: int
    machine: Any  # psutil.cpu_times(): user, system, irq, softirq, steal, idle, ...
    ramp_cpu: float  # user + system seconds of every process of the ramp, ended ones included
    ramp_user: float  # of which in user space: Python and netprobe's own code


class RampCpu:
    """CPU seconds used by the ramp's processes, remembered for those that have ended."""

    def __init__(self) -> None:
        self.known: dict[int, psutil.Process] = {}
        self.last: dict[int, tuple[float, float]] = {}

    def total(self, parents: list[psutil.Process]) -> tuple[float, float]:
        """(user + system, user) seconds of the ramp's processes so far."""
        for parent in parents:
            try:
                for proc in [parent, *parent.children(recursive=True)]:
                    self.known.setdefault(proc.pid, proc)
            except psutil.Error:
                pass
        for pid, proc in self.known.items():
            try:
                times = proc.cpu_times()
                self.last[pid] = (times.user + times.system, times.user)
            except psutil.Error:
                pass  # ended: its last reading stands
        return sum(t[0] for t in self.last.values()), sum(t[1] for t in self.last.values())


def _busy(times: Any) -> float:
    return times.user + times.nice + times.system + times.irq + times.softirq


def _cycles(samples: list[Sample], base: int, counts: list[int]) -> list[Optional[tuple[Sample, Sample]]]:
    """For each step, the samples where its cycle began and ended: when the kernel first held its connections."""
    ends: list[Optional[Sample]] = []
    for count in counts:
        ends.append(next((s for s in samples if s.tcp_sockets - base >= 2 * count), None))
    starts = [samples[0] if samples else None, *ends[:-1]]
    return [(a, b) if a is not None and b is not None and b.at > a.at else None for a, b in zip(starts, ends)]


def _cpu_columns(cycle: Optional[tuple[Sample, Sample]], new: int) -> list[str]:
    """A step's cycle: seconds; core-seconds of the ramp, other busy, steal, idle; ramp us/connection, user, kernel."""
    if cycle is None:
        return ["?"] * 8
    a, b = cycle
    ramp = b.ramp_cpu - a.ramp_cpu
    other = _busy(b.machine) - _busy(a.machine) - ramp
    steal = b.machine.steal - a.machine.steal
    idle = b.machine.idle + b.machine.iowait - a.machine.idle - a.machine.iowait
    user = b.ramp_user - a.ramp_user
    return [f"{b.at - a.at:.1f}", f"{ramp:.1f}", f"{other:.1f}", f"{steal:.1f}", f"{idle:.1f}",
            f"{1e6 * ramp / new:,.0f}", f"{1e6 * user / new:,.0f}", f"{1e6 * (ramp - user) / new:,.0f}"]


def _cpu_by_program() -> dict[int, tuple[str, float]]:
    """Every process's name and CPU seconds so far, kernel threads included."""
    out = {}
    for proc in psutil.process_iter(["name", "cpu_times"]):
        times = proc.info["cpu_times"]
        if times is not None:
            out[proc.pid] = (proc.info["name"] or "?", times.user + times.system)
    return out


def main() -> int:
    """Ramp, watch the kernel meanwhile, print the table and the checks."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--to", type=int, default=1_000_000)
    parser.add_argument("--hold", type=float, default=1.0)
    parser.add_argument("--verify", choices=["echo", "connect"], help="the ramp's check (default: the ramp's own)")
    parser.add_argument("--anchors", type=Path, default=DEFAULT_SOURCE, help="where million.c is")
    parser.add_argument("--netns-ehash", type=int, metavar="BUCKETS",
                        help="run in a new network namespace with a TCP established hash of BUCKETS (Linux, root)")
    args = parser.parse_args()
    if args.netns_ehash:
        return _in_network_namespace(args.netns_ehash, args.to, args.hold)
    verify = ["--verify", args.verify] if args.verify else []
    print(f"TCP established hash: {_ehash_buckets() or '?'} buckets")
    slab_before = platform.kernel_slab_bytes()
    established_before = platform.kernel_tcp_stats()[0]
    slab_peak = [slab_before or 0]
    done = threading.Event()
    ramp: list[psutil.Process] = []
    seen: set[int] = set()  # every process of the ramp's, to check that none outlives it
    samples: list[Sample] = []
    ramp_cpu = RampCpu()
    programs_before = _cpu_by_program()

    def watch() -> None:
        while not done.wait(0.5):
            now = platform.kernel_slab_bytes()
            if now is not None:
                slab_peak[0] = max(slab_peak[0], now)
            for parent in ramp:
                try:
                    seen.update(child.pid for child in parent.children(recursive=True))
                except psutil.Error:
                    pass
            tcp = platform.kernel_tcp_stats()[0]
            if tcp is not None:
                samples.append(Sample(time.monotonic(), tcp, psutil.cpu_times(), *ramp_cpu.total(ramp)))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ramp.json"
        started, cpu_before = time.monotonic(), children_cpu()
        proc = subprocess.Popen([sys.executable, "-m", "netprobe", "ramp", "--to", str(args.to), "--max",
                                 str(2 * args.to), "--hold", str(args.hold), "--quiet", "--format", "json",
                                 "--output", str(out), *verify],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        ramp.append(psutil.Process(proc.pid))
        _, stderr = proc.communicate()
        wall = time.monotonic() - started
        ramp_cpu_per_connection = (children_cpu() - cpu_before) / args.to
        done.set()
        watcher.join()
        programs_after = _cpu_by_program()
        if not out.exists():
            print(f"the ramp wrote no report (exit {proc.returncode}): {stderr.strip()[-300:]}")
            return 1
        data = json.loads(out.read_text())
    steps = data["steps"]
    cycles = _cycles(samples, established_before or 0, [s["connections"] for s in steps])
    rows, previous, previous_rss = [], 0, None
    for s, cycle in zip(steps, cycles):
        new = max(1, s["connections"] - previous)
        previous = s["connections"]
        rss = s["client_rss"] + s["server_rss"]
        grew = "" if previous_rss is None else f"{(rss - previous_rss) / new:,.0f}"
        previous_rss = rss
        # CPU over the sample interval (the step and its hold), per connection the step added, each side.
        client, server = ((s[side] or 0) / 100 * (s["seconds"] + args.hold) for side in ("client_cpu", "server_cpu"))
        rows.append([f"{s['connections']:,}", f"{s['seconds']:.1f}", f"{s['rate']:,.0f}",
                     f"{s['kernel_tcp_inuse']:,}" if s.get("kernel_tcp_inuse") is not None else "?",
                     grew, f"{1e6 * (client + server) / new:,.0f}", f"{1e6 * client / new:,.0f}",
                     f"{1e6 * server / new:,.0f}", *_cpu_columns(cycle, new)])
    print(tabulate(rows, headers=["connections", "step s", "conn/s", "kernel TCP sockets",
                                  "RSS B/new conn", "CPU us/new conn", "client", "server",
                                  "cycle s", "ramp core-s", "other busy", "steal", "idle", "ramp us/conn", "user",
                                  "kernel"]))
    others = sorted(((after - programs_before.get(pid, ("", 0.0))[1], name)
                     for pid, (name, after) in programs_after.items()
                     if pid not in seen and pid not in ramp_cpu.known and pid != psutil.Process().pid), reverse=True)
    print("other programs' CPU over the ramp: " + (", ".join(f"{name} {cpu:.1f} s" for cpu, name in others[:6])
                                                     or "none"))
    reached, config, predicted = data["reached"], data["config"], data["predicted"]
    first, last = steps[0], steps[-1]
    grown = max(1, last["connections"] - first["connections"])
    kernel = (slab_peak[0] - slab_before) / reached if slab_before and reached else None
    # The kernel's TCP sockets more than before, less the server processes' listeners: two per connection.
    sockets = (last.get("kernel_tcp_inuse") or 0) - (established_before or 0) - config["server_processes"]
    print()
    print(f"reached      {reached:,} of {args.to:,} (exit {proc.returncode}) in {wall:.0f} s wall, "
          f"{data['seconds']:.0f} s of ramp; {config['server_processes']} server and "
          f"{config['client_processes']} client processes")
    print(f"stop         {data['stop']['reason'] + ': ' + data['stop']['message'] if data['stop'] else 'none'}")
    print(f"predicted    {predicted['max_connections']:,} by {predicted['binding_limit']} ({predicted['detail']})")
    print(f"kernel count {sockets:,} TCP sockets more than before (less the listeners): {sockets / 2:,.0f} "
          "connections (2 ends each)")
    print(f"memory/conn  client {(last['client_rss'] - first['client_rss']) / grown:,.0f} B, server "
          f"{(last['server_rss'] - first['server_rss']) / grown:,.0f} B (RSS growth from the first step), "
          f"kernel {kernel:,.0f} B (slab growth, both ends)" if kernel else "kernel unknown")
    servers = [p["held"] for p in data.get("processes") or [] if p["side"] == "server"]
    if servers:
        print(f"server share {min(servers):,} to {max(servers):,} held per process (mean "
              f"{sum(servers) / len(servers):,.0f}; the kernel spreads them by hash)")
    times = [s["seconds"] for s in steps]
    print(f"step time    first {times[0]:.1f} s, median {sorted(times)[len(times) // 2]:.1f} s, "
          f"last {times[-1]:.1f} s (last/first {times[-1] / times[0]:.2f})")
    time.sleep(2)
    left = [pid for pid in seen if psutil.pid_exists(pid)
            and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    after = platform.kernel_tcp_stats()[0]
    print(f"left behind  {len(left)} processes; kernel TCP sockets {after:,} (before {established_before:,})"
          if after is not None and established_before is not None else f"left behind  {len(left)} processes")
    if reached == args.to:
        _beside_c(args.anchors, args.to, times, ramp_cpu_per_connection, args.verify)
    touch = _first_touch_us_per_page()
    print("first touch  " + " ".join(f"{us:.1f}" for us in touch) + " us per 4 KiB page, "
          f"{TOUCH_CHUNK >> 20} MiB at a time (memory the guest handed back to its host faults there first)")
    ok = sockets / 2 == reached if data["stop"] is None else abs(reached - predicted["max_connections"]) <= (
        0.05 * predicted["max_connections"])
    # /proc/net/sockstat counts every program's TCP sockets: run this on an otherwise quiet machine.
    print("checks       " + (f"the kernel agrees with netprobe's count: {ok}" if data["stop"] is None else
                             f"stopped within 5% of the prediction: {ok}"))
    return 0 if ok and not left else 1


def _beside_c(source: Path, n: int, times: list[float], cpu_per_connection: float, verify: Optional[str]) -> None:
    """Run ``million.c`` to ``n`` and print its figures beside netprobe's, netprobe's as ratios of C's."""
    with tempfile.TemporaryDirectory() as tmp:
        million = build_anchors(source, Path(tmp), ("million",))["million"]
        theirs = run_million(million, n) if million is not None else None
    if theirs is None:
        print(f"C anchor     not run (no C compiler, or no {source / 'million.c'}): the ratios are unknown")
        return
    ours = MillionRun(sum(times), cpu_per_connection, "--verify " + verify if verify else "its default check")
    time_ratio, cpu_ratio = ours.against(theirs)
    print(f"C anchor     {theirs.summary}")
    print(f"vs C         netprobe ({ours.summary}) {ours.seconds:.1f} s of steps, "
          f"{ours.cpu_per_connection * 1e6:,.0f} us CPU/conn; C {theirs.seconds:.1f} s, "
          f"{theirs.cpu_per_connection * 1e6:,.0f} us CPU/conn: time {time_ratio:.2f}x, "
          f"CPU per connection {cpu_ratio:.2f}x")


TOUCH_CHUNK = 128 << 20
TOUCH_CHUNKS = 16


def _first_touch_us_per_page() -> list[float]:
    """Microseconds to touch each 4 KiB page of fresh anonymous memory, per chunk of 2 GiB in all.

    On bare metal every chunk costs the same (the guest's page fault and zeroing). A VM whose
    balloon reports free pages to the host (virtio-balloon free page reporting) keeps only some
    of its free memory backed: chunks past that cost a fault on the host as well, several times
    dearer. Every new connection takes kernel memory, so a ramp that has used up the backed
    memory pays that on every page it takes from then on: its first steps are the cheaper ones.
    """
    page = mmap.PAGESIZE
    area = mmap.mmap(-1, TOUCH_CHUNK * TOUCH_CHUNKS)
    try:
        out = []
        for chunk in range(TOUCH_CHUNKS):
            started = time.perf_counter()
            for offset in range(chunk * TOUCH_CHUNK, (chunk + 1) * TOUCH_CHUNK, page):
                area[offset] = 1
            out.append((time.perf_counter() - started) * 1e6 / (TOUCH_CHUNK // page))
        return out
    finally:
        area.close()


EHASH = Path("/proc/sys/net/ipv4/tcp_ehash_entries")
CHILD_EHASH = Path("/proc/sys/net/ipv4/tcp_child_ehash_entries")


def _ehash_buckets() -> Optional[int]:
    """Buckets of this network namespace's established hash (negative in the file: the shared one)."""
    try:
        return abs(int(EHASH.read_text()))
    except (OSError, ValueError):
        return None


def _in_network_namespace(buckets: int, to: int, hold: float) -> int:
    """Run this benchmark again inside a new network namespace whose established hash has ``buckets``."""
    try:
        before = CHILD_EHASH.read_text().strip()
        CHILD_EHASH.write_text(str(buckets))
    except OSError as exc:
        print(f"--netns-ehash needs Linux 6.1+ and root: {exc}")
        return 2
    try:
        inner = f"ip link set lo up && exec {sys.executable} {__file__} --to {to} --hold {hold}"
        return subprocess.run(["unshare", "--net", "sh", "-c", inner]).returncode
    finally:
        CHILD_EHASH.write_text(before)


if __name__ == "__main__":
    raise SystemExit(main())
