"""Real walls for real ramps: a network namespace per case, with its own sysctls, firewall and cgroups.

Everything a case makes lives inside a namespace the harness creates and deletes: its loopback
is the only network the ramp, the servers and the firewall rules see, so a case may listen on a
fixed port and drop every SYN without touching the machine's own traffic. Process limits are
``prlimit`` on one process; thread and memory limits are cgroup v1 groups of their own, removed
after. Nothing here sends a packet outside the namespace.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from netprobe import platform
from netprobe.ramp.knee import stall_percent
from tests.conftest import stopped_by_a_busy_machine
from tests.faults.cases import PORT, Case

CGROUP_ROOT = Path("/sys/fs/cgroup")
RAMP_SECONDS = 120
# Runs of a case made while its outcome cannot judge the wall: netprobe named the machine's
# contention, or named something else while the machine's CPUs were under pressure. CI runs four
# lanes on two cores (a load average of 10 was seen), and a ramp starved of CPU has not met the wall.
TRIES_ON_A_BUSY_MACHINE = 3
# The percent of a run's time in which some task waited for a CPU (Linux's pressure stall information,
# platform.cpu_stalled) from which a case that named the wrong wall is run again rather than failed.
PRESSURE_TO_RUN_AGAIN = 25.0
_names = itertools.count()


def cannot_inject(case: Case) -> Optional[str]:
    """Why this machine cannot inject ``case``'s wall (no root, no namespaces, a missing tool), or None."""
    if not sys.platform.startswith("linux"):
        return "network namespaces, nft and cgroups are Linux's"
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    for tool in ("ip", *(["nft"] if case.nft else []), *(["prlimit"] if case.nofile else []), *case.needs):
        if tool.startswith("python:"):
            if importlib.util.find_spec(tool.removeprefix("python:")) is None:
                return f"{tool.removeprefix('python:')} is not installed (pip install '.[test]' has it)"
        elif shutil.which(fill(tool)) is None:
            return f"{os.path.basename(tool)} is not installed"
    if case.cgroup is not None and not (CGROUP_ROOT / case.cgroup[0]).is_dir():
        return f"no cgroup v1 {case.cgroup[0]} controller at {CGROUP_ROOT / case.cgroup[0]}"
    if case.host_wide:
        return "its setting is host-wide: run alone, when asked (benchmarks/walls.py --host-wide)"
    return None


class Namespace:
    """One network namespace of the harness's own, with loopback up; deleted with all it ran."""

    def __init__(self) -> None:
        self.name = f"np{os.getpid()}x{next(_names)}"
        _run(["ip", "netns", "add", self.name])
        _run(["ip", "-n", self.name, "link", "set", "lo", "up"])

    def argv(self, argv: list[str]) -> list[str]:
        """``argv`` run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def sysctl(self, key: str, value: str) -> None:
        _run(self.argv(["sysctl", "-q", "-w", f"{key}={value}"]))

    def firewall(self, rules: str) -> None:
        """Load ``rules`` (nft lines for an ``input`` and an ``output`` chain) into a table of the namespace."""
        ruleset = "table inet netprobe_walls {\n" + fill(rules) + "\n}\n"
        subprocess.run(self.argv(["nft", "-f", "-"]), input=ruleset, text=True, check=True, capture_output=True)

    def wait_listening(self, port: int, seconds: float = 10) -> None:
        """Return once something in the namespace accepts connects on ``port``."""
        probe = ("import socket, sys, time\n"
                 f"deadline = time.monotonic() + {seconds}\n"
                 "while time.monotonic() < deadline:\n"
                 "    try:\n"
                 f"        socket.create_connection(('127.0.0.1', {port}), timeout=1).close(); sys.exit(0)\n"
                 "    except OSError:\n"
                 "        time.sleep(0.05)\n"
                 "sys.exit(1)\n")
        if subprocess.run(self.argv([sys.executable, "-c", probe])).returncode != 0:
            raise RuntimeError(f"nothing listened on {port} in {self.name} within {seconds:g} s")

    def delete(self) -> None:
        """Kill whatever still runs in the namespace, then delete it (its sockets, TIME_WAIT too, go with it)."""
        pids = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, text=True).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and subprocess.run(["ip", "netns", "pids", self.name], capture_output=True,
                                                             text=True).stdout.strip():
            time.sleep(0.05)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


class Cgroup:
    """A cgroup v1 group of one controller, with one setting; removed once its processes are gone."""

    def __init__(self, controller: str, setting: str, value: str) -> None:
        self.path = CGROUP_ROOT / controller / f"netprobe-walls-{os.getpid()}-{next(_names)}"
        self.path.mkdir()
        (self.path / setting).write_text(value)

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` started inside this group (the shell joins it, then becomes the command)."""
        return ["sh", "-c", f'echo $$ > {self.path}/cgroup.procs && exec "$@"', "sh", *argv]

    def remove(self) -> None:
        for _ in range(100):
            pids = (self.path / "cgroup.procs").read_text().split()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        self.path.rmdir()


class Outcome:
    """A case's ramp: its JSON document and exit status."""

    def __init__(self, document: dict, status: int, stderr: str, pressure: Optional[float] = None) -> None:
        self.document, self.status, self.stderr = document, status, stderr
        self.pressure = pressure  # percent of the run in which some task waited for a CPU; None where unknown

    @property
    def stop(self) -> dict:
        return self.document.get("stop") or {}

    def inconclusive(self, case: Case) -> Optional[str]:
        """Why this run cannot judge ``case``'s wall, or None: a knee named on the machine, or a busy machine's miss."""
        if stopped_by_a_busy_machine(self.document):
            return f"the ramp named the busy machine: {self.stop.get('message')}"
        wrong = self.mismatches(case)
        if wrong and self.pressure is not None and self.pressure >= PRESSURE_TO_RUN_AGAIN:
            return (f"some task waited for a CPU {self.pressure:.0f}% of the run (/proc/pressure/cpu), and the ramp "
                    f"missed: {'; '.join(wrong)}")
        return None

    def mismatches(self, case: Case) -> list[str]:
        """What differs from what the injected wall implies (no stop, where its reason is empty); empty when right."""
        stop, wrong = self.stop, []
        got = (stop.get("reason"), stop.get("side"))
        if got != (case.reason or None, case.side or None):
            wrong.append(f"named {got[0]} on the {got[1]} side, not {case.reason} on the {case.side} side")
        low, high = case.reached
        reached = self.document.get("reached")
        if reached is None or not low <= reached <= high:
            wrong.append(f"reached {reached}, not {low}-{high}")
        if case.remedy is not None and case.remedy not in (stop.get("remedy") or ""):
            wrong.append(f"the remedy does not say {case.remedy!r}: {stop.get('remedy')!r}")
        if case.cause is not None and stop.get("cause") != case.cause:
            wrong.append(f"its cause is {stop.get('cause')!r}, not {case.cause!r}: {stop.get('message')!r}")
        if case.setting is not None and stop.get("setting") != case.setting:
            wrong.append(f"the setting is {stop.get('setting')!r}, not {case.setting!r}")
        status = 1 if case.reason else 0
        if self.status != status:
            wrong.append(f"exit status {self.status}, not {status}")
        return wrong


@contextmanager
def injected(case: Case) -> Iterator[tuple[Namespace, Optional[Cgroup], Path]]:
    """The namespace, cgroup and scratch directory of ``case``, with its servers up; all removed after."""
    restore = [(key, Path("/proc/sys", *key.split(".")).read_text().strip()) for key, _ in case.host_sysctls]
    ns = Namespace()
    group: Optional[Cgroup] = None
    servers: list[subprocess.Popen[bytes]] = []
    scratch = Path(tempfile.mkdtemp(prefix="netprobe-walls-"))
    try:
        for key, value in case.sysctls:
            ns.sysctl(key, value)
        if case.cgroup is not None:
            group = Cgroup(*case.cgroup)
        for name, text in case.files:
            (scratch / name).write_text(fill(text, scratch))
        if case.setup:
            scratch.chmod(0o755)  # a server that runs as its own user reads its files here
        for command in case.setup:
            _run([fill(part, scratch) for part in command])
        for number, command in enumerate(case.servers):
            argv = ns.argv([fill(part, scratch) for part in command])
            if number == 0 and group is not None and case.cgroup_holds == "server":
                argv = group.wrap(argv)  # joined outside: `ip netns exec` mounts a sysfs without the cgroups
            servers.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        if case.servers:
            ns.wait_listening(PORT)
        if case.nft:
            ns.firewall(case.nft)
        for key, value in case.host_sysctls:
            _run(["sysctl", "-q", "-w", f"{key}={value}"])
        yield ns, group, scratch
    finally:
        for key, value in restore:
            _run(["sysctl", "-q", "-w", f"{key}={value}"])
        for proc in servers:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        ns.delete()
        if group is not None:
            group.remove()
        shutil.rmtree(scratch, ignore_errors=True)


def run_case(case: Case) -> Outcome:
    """Inject ``case``'s wall, ramp into it, and return what netprobe said; nothing is left behind.

    Run again while the outcome cannot judge the wall (``Outcome.inconclusive``), at most
    ``TRIES_ON_A_BUSY_MACHINE`` times in all.
    """
    for _ in range(TRIES_ON_A_BUSY_MACHINE):
        outcome = _run_once(case)
        if outcome.inconclusive(case) is None:
            break
    return outcome


def judged_case(case: Case) -> Outcome:
    """``run_case`` for a test: the outcome of a run that can judge the wall, or the test skips saying why not."""
    import pytest

    outcome = run_case(case)
    why = outcome.inconclusive(case)
    if why is not None:
        pytest.skip(f"each of {TRIES_ON_A_BUSY_MACHINE} runs was inconclusive; the last: {why}")
    return outcome


def _run_once(case: Case) -> Outcome:
    with injected(case) as (ns, group, scratch):
        for step in case.before:
            subprocess.run(ns.argv([sys.executable, "-c", fill(step)]), check=True, timeout=60)
        argv = [sys.executable, "-m", "netprobe", "ramp", "--format", "json", "--quiet",
                *[fill(arg) for arg in case.ramp]]
        if case.nofile is not None:
            argv = ["prlimit", f"--nofile={case.nofile}", *argv]
        argv = ns.argv(argv)
        if group is not None and case.cgroup_holds == "ramp":
            argv = group.wrap(argv)
        stalled, started = platform.cpu_stalled(), time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=RAMP_SECONDS,
                              cwd=Path(__file__).resolve().parents[2])
        took, now_stalled = time.monotonic() - started, platform.cpu_stalled()
    try:
        document = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f"no JSON from the ramp (exit {proc.returncode}): {proc.stderr[-2000:]}") from None
    return Outcome(document, proc.returncode, proc.stderr, stall_percent(stalled, now_stalled, took))


def fill(text: str, scratch: Optional[Path] = None) -> str:
    """``text`` with the case's placeholders filled: {port}, {dir} (its scratch directory), {python}."""
    text = text.replace("{port}", str(PORT)).replace("{python}", sys.executable).replace("{pgbin}", _postgres_bin())
    return text.replace("{dir}", str(scratch)) if scratch is not None else text


@functools.cache
def _postgres_bin() -> str:
    """The newest PostgreSQL's programs' directory (Debian keeps them off PATH), or a path that does not exist."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                   key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return str(found[-1]) if found else "/usr/lib/postgresql/missing/bin"


def _run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, capture_output=True)
