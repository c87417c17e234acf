"""One client spread over child processes: past one process's fd limit and one source address's ports.

A ramp that must hold more connections than one process can (its hard fd limit) or one source
address can reach (its ephemeral ports per destination) runs its client model in several child
processes, each bound to its own loopback source address, each holding a share. ``SpreadClient``
is a ``Client`` like the others, so the ramp's step loop, classification and verdict do not
change: each step it tells each child its share in a ``HoldOrder`` (the order a distributed
ramp's workers get) and sums the ``HeldReport`` each answers; closing a child's stdin ends it.
The child side is ``python -m netprobe.clients.spread``.
"""

from __future__ import annotations

import subprocess
import sys
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional, Union

from netprobe import platform
from netprobe.children import python_command, start_command
from netprobe.clients.base import Client
from netprobe.clients.orders import HeldReport, HoldOrder
from netprobe.clients.outcome import BatchOutcome, ClientFailure, HolderFailure
from netprobe.clients.registry import ClientSpec
from netprobe.clients.traffic import Tally, TrafficPlan
from netprobe.clients.watch import Sweep
from netprobe.errors import ExitStatus, RecordError
from netprobe.records import Record
from netprobe.stops import StopReason
from netprobe.vocabulary import Operation, Side, Verify


@dataclass(frozen=True)
class SpreadChildSpec(Record):
    """What one child needs: the client model, where to connect from and to, and its fd budget."""

    model: ClientSpec
    destinations: list[tuple[str, int]]
    source_ips: list[str]
    payload: str  # latin-1 text of the payload bytes
    verify: Verify
    batch: int
    want_fds: int
    probe: Optional[str] = None


def split(total: int, parts: int) -> list[int]:
    """``total`` over ``parts``, as even as whole connections allow."""
    share, extra = divmod(total, parts)
    return [share + (1 if i < extra else 0) for i in range(parts)]


class SpreadClient(Client):
    """``processes`` children, each running ``model`` from its own source addresses; this process holds none."""

    name = "spread"

    def __init__(self, destinations: list[tuple[str, int]], sources: list[list[str]], payload: bytes,
                 verify: Verify, batch: int, model: ClientSpec, per_child_fds: int,
                 probe: Optional[str] = None) -> None:
        super().__init__(destinations, None, payload, verify, batch)
        self.children: list[subprocess.Popen[str]] = []
        self.held_by: list[int] = []
        self.step = 0
        self.probe_text = probe
        try:
            for own in sources:
                child_spec = SpreadChildSpec(model, destinations, own, payload.decode("latin-1"), verify, batch,
                                             per_child_fds, probe)
                child = start_command(python_command("netprobe.clients.spread"), "a client process",
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=1)
                self.children.append(child)
                self.held_by.append(0)
                self._send(child, child_spec.to_json())
            for child in self.children:
                started = self._read(child, 0)
                if isinstance(started, str) or started.error is not None:
                    why = started if isinstance(started, str) else started.error
                    raise OSError(f"a client process could not start: {why}")
        except BaseException:
            self.close()
            raise

    @property
    def pids(self) -> list[int]:
        """The children's process ids (their fds and memory are the client side's)."""
        return [c.pid for c in self.children]

    def endpoints(self) -> Optional[list[tuple[str, int]]]:
        return None  # the connections are the children's: their addresses are not asked for

    @staticmethod
    def _send(child: subprocess.Popen[str], line: str) -> None:
        assert child.stdin is not None
        child.stdin.write(line + "\n")
        child.stdin.flush()

    @staticmethod
    def _ended(child: subprocess.Popen[str]) -> str:
        """How a child that is gone ended: its connections went with it."""
        try:
            status = child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return f"client process {child.pid} stopped answering"
        how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
        return f"client process {child.pid} {how}"

    def _read(self, child: subprocess.Popen[str], goal: int) -> Union[HeldReport, str]:
        """The child's report on the order under way (at most ``goal`` held), or how it was lost."""
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            return self._ended(child)
        try:
            report = HeldReport.from_json(line, "a client process's report")
        except RecordError as exc:
            return f"client process {child.pid} answered garbage ({exc})"
        problem = report.problem(goal) or (None if report.step == self.step else "it answers another order")
        if problem is not None:
            return f"client process {child.pid} sent a report it could not have sent: {problem}"
        return report

    def _everyone(self, goals: list[int], timeout: float, grace: Optional[float],
                  traffic: Optional[TrafficPlan] = None) -> tuple[list[HeldReport], list[str]]:
        """Send each child its order, then read every report: the children work at the same time.

        A child that is gone (killed, crashed) cannot take its order: it is named among the lost,
        and what it held is no longer held.
        """
        self.step += 1
        reached = []
        for child, goal in zip(self.children, goals):
            order = HoldOrder(self.step, goal, None, timeout, Verify(self.verify), self.probe_text, grace, traffic)
            try:
                self._send(child, order.to_json())
                reached.append(True)
            except (BrokenPipeError, OSError, ValueError):
                reached.append(False)
        answers = [self._read(child, goal) if sent else self._ended(child)
                   for child, goal, sent in zip(self.children, goals, reached)]
        self.held_by = [0 if isinstance(a, str) else a.held for a in answers]
        return [a for a in answers if not isinstance(a, str)], [a for a in answers if isinstance(a, str)]

    def _lost(self, gone: list[str], in_flight: int) -> Optional[HolderFailure]:
        """The stop when a client process was lost: named for the first, with what the others still hold."""
        if not gone:
            return None
        reason = StopReason.WORKER_LOST
        return HolderFailure(reason, Side.CLIENT, None,
                             f"{'; '.join(gone)}: its connections went with it; the other processes hold "
                             f"{self.held:,}", self.held, in_flight,
                             platform.remedy(reason, Side.CLIENT, platform.fd_limits()[1]))

    @property
    def held(self) -> int:
        """Connections every child holds, summed."""
        return sum(self.held_by)

    def open(self, count: int, timeout: float, should_abort: Callable[[], bool]) -> BatchOutcome:
        """Spread ``count`` new connections over the children (the least held first) and sum the outcome."""
        goals = [max(want, has) for want, has in zip(split(self.held + count, len(self.children)), self.held_by)]
        in_flight = sum(goals) - self.held
        out = BatchOutcome()
        reports, gone = self._everyone(goals, timeout, None)
        out.named = self._lost(gone, in_flight)
        for report in reports:
            if report.error is not None and out.failure is None:
                out.failure = ClientFailure(Operation.CONNECT, None, report.error)
            report.add_to(out)
        return out

    def sample(self, count: int, exclude_newest: int) -> list[Any]:
        """No connection of this process to check again: the children hold them (the sweep watches them)."""
        return []

    def reverify(self, conns: list[Any], timeout: float) -> BatchOutcome:
        """Nothing to check again here (see ``sample``)."""
        return BatchOutcome()

    def sweep(self) -> Sweep:
        """Every child sweeps its held connections once."""
        return self._sweep(0.0)

    def sweep_until_quiet(self, grace: float, wait: Callable[[float], object], pause: float = 0.05) -> Sweep:
        """Every child sweeps until its server has said all it will within ``grace``; summed."""
        return self._sweep(grace)

    def _sweep(self, grace: float) -> Sweep:
        reports, gone = self._everyone(list(self.held_by), grace, grace)
        said = next((r.said for r in reports if r.said), None)
        return Sweep(closed=sum(r.closed for r in reports), said=said, lost=self._lost(gone, 0))

    def traffic(self, plan: TrafficPlan, tally: Tally) -> None:
        """Every child carries the traffic on its connections at once; their counts and histograms add up.

        A child lost meanwhile is named by the sweep that follows, as at any step.
        """
        reports, _ = self._everyone(list(self.held_by), plan.timeout, None, plan.share(len(self.children)))
        for report in reports:  # each checked on arrival (HeldReport.problem): its histogram decodes
            if report.traffic is not None:
                tally.add(report.traffic)

    def pingpong(self, payload: bytes, deadline: float, latencies: array[float]) -> tuple[int, int]:
        """Not offered: ``bench echo`` runs one client process."""
        raise NotImplementedError("a spread client holds connections for a ramp; bench echo runs one process")

    def close(self) -> None:
        """End every child (its stdin closes: it closes its connections and exits), then reap it."""
        for child in self.children:
            try:
                if child.stdin is not None:
                    child.stdin.close()
            except OSError:
                pass  # a dead child's pipe: what was buffered for it has nowhere to go
        for child in self.children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            if child.stdout is not None:
                child.stdout.close()
        self.children = []


def main() -> int:
    """The child side: hold a share with the client model, answering each order on stdout."""
    import time

    from netprobe.probes import probe_of

    def say(report: HeldReport) -> None:
        sys.stdout.write(report.to_json() + "\n")
        sys.stdout.flush()

    import signal

    # Ctrl-C in a terminal reaches the whole process group: the ramp handles it and closes this child.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    spec = SpreadChildSpec.from_json(sys.stdin.readline(), "the client process's spec")
    try:
        soft, _, _ = platform.fd_limits()
        if soft is not None and soft < spec.want_fds:
            platform.raise_soft_fd_limit(spec.want_fds)
        platform.presize_fd_table(spec.want_fds)
        client = spec.model.create(spec.destinations, spec.source_ips or None, spec.payload.encode("latin-1"),
                                   spec.verify, spec.batch, probe_of(spec.probe))
    except (OSError, RecordError) as exc:
        say(HeldReport(0, 0, [], None, None, None, error=str(exc)))
        return ExitStatus.RUN_FAILED
    say(HeldReport(0, 0, [], None, None, None))
    try:
        for line in sys.stdin:  # until the parent closes our stdin
            order = HoldOrder.from_json(line, "an order")
            want = order.goal - client.held
            out = client.open(want, order.timeout, lambda: False) if want > 0 else BatchOutcome()
            closed, said, traffic = 0, None, None
            if order.grace is not None:
                swept = client.sweep_until_quiet(order.grace, time.sleep) if order.grace else client.sweep()
                closed, said = swept.closed, swept.said
            if order.traffic is not None:
                tally = Tally()
                client.traffic(order.traffic, tally)
                traffic = tally.count()
            say(HeldReport.of(order.step, client.held, out, closed, said, traffic=traffic))
    finally:
        client.close()
    return ExitStatus.SUCCESS


if __name__ == "__main__":
    from netprobe.children import run_child

    run_child(main)
