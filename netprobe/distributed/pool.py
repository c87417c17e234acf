"""The workers of a distributed ramp as one holder of connections, which the ramp's one engine drives.

Each ``open`` splits the step's total over the workers, sends each its ``HoldOrder`` and waits
for every ``HeldReport``; what they report is summed into one ``BatchOutcome``. A failure a
worker met is named on its own machine (its errno numbers and limits are its own) and handed to
the engine as a ``HolderFailure``; so is a worker lost meanwhile (``worker_lost``: its share is never
moved onto the others, as locust would do for its users) or one that sent a report no worker
could have sent. Runs inside the master process, on locust's gevent hub.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Optional

from netprobe import platform
from netprobe.clients.holder import ConnectionHolder
from netprobe.clients.outcome import BatchOutcome, HolderFailure
from netprobe.clients.traffic import Tally, TrafficPlan
from netprobe.clients.watch import Sweep
from netprobe.common_records import Note
from netprobe.distributed.messages import MASTER_SILENCE, HeldReport, HoldOrder, Progress
from netprobe.models import Prediction
from netprobe.models.ramp import WorkerSummary
from netprobe.ramp.evidence import QUEUE_GRACE
from netprobe.stops import StopReason
from netprobe.vocabulary import Message, Side

if TYPE_CHECKING:
    from netprobe.distributed.master import Master

# Seconds a worker may stay silent beyond its verification timeout before it counts as lost: a busy
# worker says it is still working every second, so three missed words, as locust's heartbeat allows.
STEP_GRACE = 3.0
CLOCK_TICK = 0.25  # seconds between the master's looks at its own clock
# A gap this long between two looks means the master did not run meanwhile.
PAUSE_NOTICE = 3.0


class WorkerPool(ConnectionHolder):
    """Every worker of one distributed ramp, holding its share of each step's connections."""

    def __init__(self, master: Master) -> None:
        self.master = master
        self.workers: dict[str, WorkerSummary] = {}
        self.replies: dict[str, HeldReport] = {}
        self.asked: dict[str, int] = {}  # each worker's share of the order under way
        self.heard: dict[str, float] = {}  # when each worker last said it was still working on it
        self.untrusted: dict[str, str] = {}  # workers whose report no worker could have sent, and why
        self.order = -1  # the number of the order under way; a report for another is stale
        self.recount_due = False
        self.settled_at = 0.0  # when every worker last answered an order
        self.lost_in_traffic: dict[str, str] = {}  # workers lost while carrying traffic: the next sweep names them

    # --- messages, as the master receives them

    def on_held(self, node_id: str, report: HeldReport) -> None:
        """A worker's account of an order: taken when it could be true, its sender named when not."""
        if node_id not in self.workers or report.step != self.order:
            return
        problem = report.problem(self.asked.get(node_id, 0))
        if problem is not None:
            self.untrusted.setdefault(node_id, problem)
            return
        self.replies[node_id] = report

    def on_progress(self, node_id: str, progress: Progress) -> None:
        """A worker still opening its share: its deadline for the order moves on."""
        if node_id in self.workers and progress.step == self.order:
            self.heard[node_id] = time.monotonic()

    # --- the holder

    @property
    def held(self) -> int:
        """Connections every worker holds, summed."""
        return sum(w.held for w in self.workers.values())

    def split(self, total: int) -> dict[str, int]:
        """Each worker's share of ``total``, as even as whole connections allow."""
        ids = sorted(self.workers)
        share, extra = divmod(total, len(ids))
        return {w: share + (1 if i < extra else 0) for i, w in enumerate(ids)}

    def open(self, count: int, timeout: float, should_abort: Callable[[], bool]) -> BatchOutcome:
        """Have the workers hold ``count`` more between them, and sum what they say."""
        before = self.held
        goal = before + count
        lost = self._order(self.split(goal), timeout)
        out = BatchOutcome()
        for reply in self.replies.values():
            out.latencies_ms.extend(reply.latencies)
        out.verified = max(0, self.held - before)
        out.named = self._lost(lost) if lost else self._failures()
        self.recount_due = out.named is not None or self.held < goal
        return out

    def sweep_until_quiet(self, grace: float, wait: Callable[[float], object], pause: float = 0.05) -> Sweep:
        """After a step that lost connections, have every worker sweep once more and say what it still holds.

        A server at its cap may close one worker's connections while another's arrive (nginx frees
        idle ones for new ones), after the first worker swept: the count is the one after the last.
        """
        if self.lost_in_traffic:
            lost, self.lost_in_traffic = self.lost_in_traffic, {}
            return Sweep(lost=self._lost(lost))
        if not self.recount_due:
            return Sweep()
        before = self.held
        self.recount_due = False
        lost = self._order({worker: entry.held for worker, entry in self.workers.items()}, grace)
        for entry in self.workers.values():
            if len(entry.by_step) >= 2:
                entry.by_step[-2:] = entry.by_step[-1:]  # a recount, not a step of its own
        if lost:
            return Sweep()  # the step's own stop names what happened; a lost worker's count stays its last
        said = next((r.failure.said for r in self.replies.values() if r.failure and r.failure.said), None)
        return Sweep(closed=max(0, before - self.held), said=said)

    def traffic(self, plan: TrafficPlan, tally: Tally) -> None:
        """Every worker carries the traffic on its connections at once; their counts and histograms add up."""
        self.lost_in_traffic = self._order({w: entry.held for w, entry in self.workers.items()}, plan.timeout,
                                           plan.share(len(self.workers)))
        for entry in self.workers.values():
            if len(entry.by_step) >= 2:
                entry.by_step[-2:] = entry.by_step[-1:]  # the same step, with traffic: not a step of its own
        for reply in self.replies.values():  # each checked on arrival (HeldReport.problem): its histogram decodes
            if reply.traffic is not None:
                tally.add(reply.traffic)

    def close(self) -> None:
        """Tell every worker to close its connections (the master stops locust's runner after)."""
        self.master.tell_workers_to_close()

    def wait(self, seconds: float) -> None:
        """Let time pass on locust's hub, so its heartbeats and the workers' messages are served."""
        self.master.gevent.sleep(seconds)

    def interrupted(self) -> bool:
        """Whether a signal, or the CLI going away, asked the master to stop."""
        return self.master.interrupted

    def usage(self) -> Optional[tuple[Optional[int], Optional[int]]]:
        """The workers' fds and RSS, summed from their last reports (None each where any did not say)."""
        fds = [w.fds for w in self.workers.values()]
        rss = [w.rss for w in self.workers.values()]
        return (sum(f for f in fds if f is not None) if fds and None not in fds else None,
                sum(r for r in rss if r is not None) if rss and None not in rss else None)

    def prediction(self) -> Prediction:
        """The sum of what each worker can hold: its soft fd limit less its fds, and its ports."""
        ceilings = []  # (connections, the limit that binds them) per worker
        for w in self.workers.values():
            caps: list[tuple[int, StopReason]] = []
            if w.soft_fds is not None:
                caps.append((w.soft_fds - w.fds_at_start, StopReason.FD_LIMIT))
            if w.ports is not None:
                caps.append((w.ports * max(1, len(w.source_ips)), StopReason.PORT_EXHAUSTION))
            if not caps:
                return Prediction("target", "workers", None, None, "a worker could not read its limits")
            ceilings.append(min(caps))
        if not ceilings:
            return Prediction("target", "workers", None, None, "no worker connected")
        total = sum(n for n, _ in ceilings)
        binding = min(ceilings)[1]  # the limit of the worker that holds the least: it binds first
        return Prediction("target", "workers", total, binding,
                          f"the sum over {len(self.workers)} workers of each one's own fd and port ceiling")

    def notes(self) -> list[Note]:
        """Who held the connections, and what the run's authentication turned away."""
        return [Note("workers", f"{len(self.workers)} workers, master at {self.master.bind}"),
                *self.master.security_notes()]

    def worker_summaries(self) -> list[WorkerSummary]:
        """Every worker, sorted: who it is and what it held at each step."""
        return [w for _, w in sorted(self.workers.items())]

    # --- one order to every worker

    def _order(self, shares: dict[str, int], timeout: float, traffic: Optional[TrafficPlan] = None) -> dict[str, str]:
        """Ask each worker to hold its share; wait for every answer; return the workers lost meanwhile."""
        spec = self.master.spec
        assert spec.target_address is not None
        self.order += 1
        self.asked, self.replies, self.heard = dict(shares), {}, {}
        for worker, share in shares.items():
            order = HoldOrder(self.order, share, spec.target_address, timeout, spec.verify, spec.probe,
                              grace=min(timeout, QUEUE_GRACE), traffic=traffic)
            self.master.channel.send(Message.HOLD, order, worker, to_worker=True)
        lost = self._collect(spec.timeout + STEP_GRACE + (traffic.seconds + traffic.timeout if traffic else 0.0))
        if not lost:
            self.settled_at = time.monotonic()
        for worker, reply in self.replies.items():
            entry = self.workers[worker]
            entry.held = reply.held
            entry.by_step.append(reply.held)
            entry.fds, entry.rss = reply.fds, reply.rss
            if reply.failure is not None and entry.failure is None:
                entry.failure = reply.failure
        return lost

    def _collect(self, silence: float) -> dict[str, str]:
        """Wait for every worker's answer; return the workers lost meanwhile, with why.

        The deadline follows the work: a worker is lost when it has neither answered nor said it
        is still opening connections for ``silence`` seconds, so a slow server (workers retrying
        handshakes) is told from a lost worker.
        """
        started = time.monotonic()
        while True:
            if self.master.interrupted:
                raise KeyboardInterrupt  # the engine names the stop and has the workers close
            lost = {w: "stopped answering" for w in self.master.lost(self.workers)}
            lost.update({w: f"sent a report no worker could have sent ({why})" for w, why in self.untrusted.items()})
            if lost:
                return lost
            waiting = [w for w in self.workers if w not in self.replies]
            if not waiting:
                return {}
            now = time.monotonic()
            silent = [w for w in waiting if now - max(started, self.heard.get(w, started)) > silence]
            if silent:
                return {w: f"neither answered nor reported progress for {silence:g} s" for w in silent}
            self.master.gevent.sleep(0.02)

    def name_of(self, worker: str) -> str:
        """A worker as the verdict names it: its id, host and pid."""
        w = self.workers.get(worker)
        return f"{worker} (host {w.host}, pid {w.pid})" if w else worker

    def _lost(self, lost: dict[str, str]) -> HolderFailure:
        """The stop for workers lost in a step: each named, with why; or the master's own pause, blaming none.

        Workers close their connections when the master is silent for ``MASTER_SILENCE``: where
        the master itself did not run that long since the last full exchange, that is the stop.
        """
        self.master.gevent.sleep(2 * CLOCK_TICK)  # the master's clock watch sees a pause just ended first
        paused = self.master.paused_since(self.settled_at)
        if paused >= MASTER_SILENCE:
            for worker in lost:
                if worker in self.workers:
                    self.workers[worker].held = 0  # closed on the master's silence
            reason = StopReason.MASTER_PAUSED
            return HolderFailure(reason, Side.CLIENT, None,
                                 f"the master did not run for {paused:.0f} s (stopped, a paused VM or a starved "
                                 f"CPU); {len(lost)} of {len(self.workers)} workers, without word from it for "
                                 f"{MASTER_SILENCE:g} s, closed their connections", 0, 0,
                                 platform.remedy(reason, Side.CLIENT, platform.fd_limits()[1]))
        said = "; ".join(f"worker {self.name_of(w)} {why}" for w, why in sorted(lost.items()))
        reason = StopReason.WORKER_LOST
        return HolderFailure(reason, Side.CLIENT, None, f"{said}; its connections are not moved to the others",
                             sum(self.workers[w].held for w in lost if w in self.workers), 0,
                             platform.remedy(reason, Side.CLIENT, platform.fd_limits()[1]),
                             worker=", ".join(sorted(lost)))

    def _failures(self) -> Optional[HolderFailure]:
        """One worker's own limit is a client-side stop naming it; every worker failing is the server's."""
        failed = {w: r.failure for w, r in self.replies.items() if r.failure is not None}
        if not failed:
            return None
        client_side = {w: f for w, f in failed.items() if f.side == Side.CLIENT}
        if client_side:
            worker, f = sorted(client_side.items())[0]
            message = (f"worker {self.name_of(worker)} met its own limit holding {f.held:,} "
                       f"with {f.in_flight:,} in flight: {f.message}")
            return dataclasses.replace(f, message=message, worker=worker)
        worker, f = sorted(failed.items())[0]
        every = "every worker" if len(failed) == len(self.workers) else f"{len(failed)} of {len(self.workers)} workers"
        message = f"{every} failed near {self.held:,} in all: {f.message}"
        return dataclasses.replace(f, side=Side.SERVER, message=message, worker=worker)

