"""One client spread over child processes: past one process's fd limit and one source address's ports.

A ramp that must hold more connections than one process can (its hard fd limit) or one source
address can reach (its ephemeral ports per destination) runs its client model in several child
processes, each bound to its own loopback source address, each holding a share. ``SpreadClient``
is a ``Client`` like the others, so the ramp's step loop, classification and verdict do not
change: it hands each child its share over a pipe as typed records and sums what they answer.
The child side is ``python -m netprobe.clients.spread``.
"""

from __future__ import annotations

import subprocess
import sys
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from netprobe import platform
from netprobe.children import ChildOrder, python_command, start_command
from netprobe.clients.base import Client
from netprobe.clients.outcome import BatchOutcome, ClientFailure, HolderFailure
from netprobe.clients.registry import ClientSpec
from netprobe.clients.watch import Sweep
from netprobe.errors import ExitStatus, RecordError
from netprobe.records import Record
from netprobe.stops import StopReason
from netprobe.vocabulary import ChildOp, Operation, Side, Verify


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


@dataclass(frozen=True)
class SpreadReply(Record):
    """Child to parent: what it holds now, and what the order found."""

    held: int
    verified: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    failure: Optional[ClientFailure] = None
    unconnected: int = 0
    unanswered: int = 0
    peer_closed: int = 0
    closed: int = 0  # a sweep's: connections the server closed since they were verified
    said: Optional[str] = None
    error: Optional[str] = None  # the child could not start
    lost: Optional[str] = None  # the child ended or stopped answering: how (never sent by a child)


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
                started = self._read(child)
                if started.error is not None or started.lost is not None:
                    raise OSError(f"a client process could not start: {started.error or started.lost}")
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
    def _ended(child: subprocess.Popen[str]) -> SpreadReply:
        """The reply of a child that is gone: its connections went with it."""
        try:
            status = child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return SpreadReply(held=0, lost=f"client process {child.pid} stopped answering")
        how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
        return SpreadReply(held=0, lost=f"client process {child.pid} {how}")

    def _read(self, child: subprocess.Popen[str]) -> SpreadReply:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            return self._ended(child)
        try:
            return SpreadReply.from_json(line, "a client process's reply")
        except RecordError as exc:
            return SpreadReply(held=0, lost=f"client process {child.pid} answered garbage ({exc})")

    def _everyone(self, orders: list[ChildOrder]) -> list[SpreadReply]:
        """Send each child its order, then read every answer: the children work at the same time.

        A child that is gone (killed, crashed) cannot take its order: its reply says so, and what it
        held is no longer held.
        """
        reached = []
        for child, order in zip(self.children, orders):
            try:
                self._send(child, order.to_json())
                reached.append(True)
            except (BrokenPipeError, OSError, ValueError):
                reached.append(False)
        replies = [self._read(child) if sent else self._ended(child) for child, sent in zip(self.children, reached)]
        self.held_by = [r.held for r in replies]
        return replies

    def _lost(self, replies: list[SpreadReply], in_flight: int) -> Optional[HolderFailure]:
        """The stop when a client process was lost: named for the first, with what the others still hold."""
        gone = [r.lost for r in replies if r.lost]
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
        target = split(self.held + count, len(self.children))
        orders = [ChildOrder(ChildOp.OPEN, max(0, want - has), timeout) for want, has in zip(target, self.held_by)]
        out = BatchOutcome()
        replies = self._everyone(orders)
        out.named = self._lost(replies, sum(o.count for o in orders))
        for reply in replies:
            out.verified += reply.verified
            out.latencies_ms.extend(reply.latencies_ms)
            out.unconnected += reply.unconnected
            out.unanswered += reply.unanswered
            out.peer_closed += reply.peer_closed
            if reply.error is not None and out.failure is None:
                out.failure = ClientFailure(Operation.CONNECT, None, reply.error)
            if reply.failure is not None and out.failure is None:
                out.failure = reply.failure
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
        replies = self._everyone([ChildOrder(ChildOp.SWEEP, timeout=grace)] * len(self.children))
        said = next((r.said for r in replies if r.said), None)
        return Sweep(closed=sum(r.closed for r in replies), said=said, lost=self._lost(replies, 0))

    def pingpong(self, payload: bytes, deadline: float, latencies: array[float]) -> tuple[int, int]:
        """Not offered: ``bench echo`` runs one client process."""
        raise NotImplementedError("a spread client holds connections for a ramp; bench echo runs one process")

    def close(self) -> None:
        """Tell every child to close its connections, then reap it."""
        for child in self.children:
            try:
                self._send(child, ChildOrder(ChildOp.CLOSE).to_json())
            except (BrokenPipeError, OSError, ValueError):
                pass
        for child in self.children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            for stream in (child.stdin, child.stdout):
                if stream is not None:
                    try:
                        stream.close()
                    except OSError:
                        pass  # a dead child's pipe: what was buffered for it has nowhere to go
        self.children = []


def main() -> int:
    """The child side: hold a share with the client model, answering each order on stdout."""
    import time

    from netprobe.probes import probe_of

    def say(reply: SpreadReply) -> None:
        sys.stdout.write(reply.to_json() + "\n")
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
        say(SpreadReply(held=0, error=str(exc)))
        return ExitStatus.RUN_FAILED
    say(SpreadReply(held=0))
    try:
        for line in sys.stdin:
            order = ChildOrder.from_json(line, "an order")
            if order.op == ChildOp.CLOSE:
                break
            if order.op == ChildOp.OPEN:
                out = client.open(order.count, order.timeout, lambda: False) if order.count else BatchOutcome()
                say(SpreadReply(client.held, out.verified, list(out.latencies_ms), out.failure,
                                out.unconnected, out.unanswered, out.peer_closed))
            elif order.op == ChildOp.SWEEP:
                swept = client.sweep_until_quiet(order.timeout, time.sleep) if order.timeout else client.sweep()
                say(SpreadReply(client.held, closed=swept.closed, said=swept.said))
    finally:
        client.close()
    return ExitStatus.SUCCESS


if __name__ == "__main__":
    sys.exit(main())
