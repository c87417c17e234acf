"""The master of a distributed ramp: waits for its workers, ramps the total over them, names the stop.

Started by ``netprobe ramp --workers N`` as ``python -m netprobe.distributed.master`` with a
``MasterInput`` (the CLI's ``RampSpec`` and the run's secret) as one JSON line on stdin. It prints
``MasterEvent`` lines on stdout: where it listens once workers can connect, then its
``netprobe.ramp/1`` result (with a ``workers`` list) or the error that kept it from running.
SIGINT or SIGTERM ends the ramp: the workers are told to close, and the partial result is still
printed.

A worker that stops answering (locust's heartbeat marks it missing, or a step passes with
neither its answer nor word of progress) ends the ramp with ``worker_lost``: its share is never
moved onto the others, as locust would do for its users. So does a report no worker could have
sent (more connections than it was asked for, a negative or infinite figure), naming its sender.

Only peers holding the run's secret get through the master's socket, and each message must carry
its proof too; what fails is dropped and counted in the result's notes, never acted on.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
import time
from typing import Any, Optional

from netprobe import __version__, platform
from netprobe.clients.base import BatchOutcome
from netprobe.distributed import import_locust
from netprobe.distributed.messages import HeldReport, HoldOrder, MasterEvent, MasterInput, Progress, Refusal
from netprobe.distributed.secret import Channel, CurveKeys
from netprobe.errors import RecordError
from netprobe.hostinfo import platform_info
from netprobe.models import Note, Prediction
from netprobe.models.ramp import Peak, RampResult, RampStep, StopInfo, WorkerFailure, WorkerSummary
from netprobe.ramp.classify import classify_stop
from netprobe.ramp.plan import RampPlan
from netprobe.ramp.runner import settled_queue
from netprobe.ramp.verdict import ramp_ok, reached_at_stop, verdict
from netprobe.ramp_spec import RampSpec
from netprobe.sockets import format_address
from netprobe.stats import p50_p99
from netprobe.stops import StopReason
from netprobe.vocabulary import Message, Side

PAUSE_SLICE = 0.1  # a hold is slept in slices this long, so a signal ends it at once
# Seconds a worker may stay silent beyond its verification timeout before it counts as lost: a busy
# worker says it is still working every second, so three missed words, as locust's heartbeat allows.
STEP_GRACE = 3.0


def _say(event: MasterEvent) -> None:
    try:
        sys.stdout.write(event.to_json() + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        pass  # the CLI is gone: nobody is left to tell


class Master:
    """One distributed ramp: the workers, their answers, and the steps summed over them."""

    def __init__(self, spec: RampSpec, secret: str) -> None:
        assert spec.master_address is not None and spec.target_address is not None and spec.workers is not None
        self.spec = spec
        self.workers: dict[str, WorkerSummary] = {}
        self.replies: dict[str, HeldReport] = {}
        self.asked: dict[str, int] = {}  # each worker's share of the step under way
        self.heard: dict[str, float] = {}  # when each worker last said it was still working on it
        self.untrusted: dict[str, str] = {}  # workers whose report no worker could have sent, and why
        self.step = -1
        self.interrupted = False
        self.mismatch: Optional[str] = None
        locust = import_locust()
        from netprobe.distributed.transport import SecureMasterRunner

        self.gevent = __import__("gevent")
        environment = locust.env.Environment(user_classes=[])
        host, port = spec.master_address
        self.runner = SecureMasterRunner(environment, host, port, CurveKeys.of(secret))
        self.channel = Channel(self.runner, secret)
        self.bind = format_address((host, self.runner.server.port))
        self.runner.register_message(Message.HELLO, self.on_hello)
        self.runner.register_message(Message.HELD, self.on_held)
        self.runner.register_message(Message.PROGRESS, self.on_progress)

    # --- messages

    def on_hello(self, environment: Any, msg: Any) -> None:
        """A worker says who it is; one of another netprobe version is refused."""
        data = self.channel.body(Message.HELLO, msg)
        if data is None:
            return
        if data.get("netprobe") != __version__:
            why = f"master runs netprobe {__version__}, worker {data.get('id')} runs {data.get('netprobe')}"
            self.channel.send(Message.REFUSE, Refusal(why), msg.node_id, to_worker=True)
            self.mismatch = why
            return
        if msg.node_id in self.workers or self.step >= 0:
            self.channel.drop(f"{Message.HELLO.value} from {msg.node_id}: a second hello, or one after the ramp began")
            return
        try:
            self.workers[msg.node_id] = WorkerSummary.from_dict(data, "hello")
        except RecordError as exc:
            self.channel.drop(f"{Message.HELLO.value} from {msg.node_id}: {exc}")

    def on_held(self, environment: Any, msg: Any) -> None:
        """A worker's account of a step: taken when it could be true, its sender named when not."""
        report = self.channel.receive(Message.HELD, msg, HeldReport)
        if report is None or msg.node_id not in self.workers or report.step != self.step:
            return
        problem = report.problem(self.asked.get(msg.node_id, 0))
        if problem is not None:
            self.untrusted.setdefault(msg.node_id, problem)
            return
        self.replies[msg.node_id] = report

    def on_progress(self, environment: Any, msg: Any) -> None:
        """A worker still opening its share: the step's deadline for it moves on."""
        progress = self.channel.receive(Message.PROGRESS, msg, Progress)
        if progress is not None and msg.node_id in self.workers and progress.step == self.step:
            self.heard[msg.node_id] = time.monotonic()

    # --- the ramp

    def lost(self) -> list[str]:
        """Workers locust's heartbeat marked missing, or that quit."""
        from locust.runners import STATE_MISSING

        present = {c.id: c for c in self.runner.clients.all}
        return [w for w in self.workers if w not in present or present[w].state == STATE_MISSING]

    def wait_for_workers(self) -> Optional[str]:
        """Wait until every worker said hello; return why not, if they did not within the wait."""
        count, wait = self.spec.workers or 0, self.spec.worker_wait
        deadline = time.monotonic() + wait
        while len(self.workers) < count and not self.interrupted:
            if self.mismatch:
                return self.mismatch
            if time.monotonic() > deadline:
                return f"{len(self.workers)} of {count} workers connected to {self.bind} within {wait:g} s"
            self.gevent.sleep(0.1)
        return None

    def split(self, total: int) -> dict[str, int]:
        """Each worker's share of ``total``, as even as whole connections allow."""
        ids = sorted(self.workers)
        share, extra = divmod(total, len(ids))
        return {w: share + (1 if i < extra else 0) for i, w in enumerate(ids)}

    def run(self) -> RampResult:
        """Ramp the total over the workers, step by step, and name the stop."""
        spec = self.spec
        assert spec.target_address is not None
        started = time.monotonic()
        plan = RampPlan.build(spec.to, spec.step, spec.max)
        steps: list[RampStep] = []
        stop: Optional[StopInfo] = None
        for number, goal in enumerate(plan):
            if self.interrupted:
                stop = self._stop(StopReason.INTERRUPTED, Side.CLIENT, None, "interrupted by a signal", None)
                break
            t0 = time.perf_counter()
            lost = self._order(number, self.split(goal))
            elapsed = time.perf_counter() - t0
            steps.append(self._step(elapsed, goal))
            if lost:
                stop = self._lost(lost)
                break
            if self.interrupted:
                stop = self._stop(StopReason.INTERRUPTED, Side.CLIENT, None, "interrupted by a signal", None)
                break
            stop = self._verdict_of_failures() or self._stopped_accepting()
            if stop is not None:
                if stop.reason == StopReason.CLOSED_BY_SERVER and not self._recount(number + 1):
                    steps[-1] = dataclasses.replace(steps[-1], connections=sum(w.held for w in self.workers.values()))
                if spec.hold:
                    self._pause(spec.hold)  # the server stays in the state that broke it, for a look
                break
            if spec.hold:
                self._pause(spec.hold)
        reached = reached_at_stop(sum(w.held for w in self.workers.values()), stop)
        if stop is not None:
            stop.at_connections = reached
        prediction = self._prediction()
        return RampResult(
            config=spec, ok=ramp_ok(spec.to, plan.goal, reached, stop), to=spec.to, reached=reached,
            peak=Peak(max((s.client_fds or 0 for s in steps), default=None), None,
                      max((s.client_rss or 0 for s in steps), default=None), None),
            stop=stop, predicted=prediction, verdict=verdict(spec.to, reached, stop, prediction, "workers"),
            steps=steps, platform=platform_info(),
            notes=[Note("workers", f"{len(self.workers)} workers, master at {self.bind}"), *self.security_notes()],
            seconds=round(time.monotonic() - started, 3),
            workers=[w for _, w in sorted(self.workers.items())],
        )

    def _order(self, number: int, shares: dict[str, int]) -> dict[str, str]:
        """Ask each worker to hold its share for step ``number``; wait for every answer (see ``_collect``)."""
        spec = self.spec
        assert spec.target_address is not None
        self.step, self.asked, self.replies = number, dict(shares), {}
        for worker, share in shares.items():
            order = HoldOrder(number, share, spec.target_address, spec.timeout, spec.verify, spec.probe)
            self.channel.send(Message.HOLD, order, worker, to_worker=True)
        return self._collect(spec.timeout + STEP_GRACE)

    def _collect(self, silence: float) -> dict[str, str]:
        """Wait for every worker's answer to the step; return the workers lost meanwhile, with why.

        The deadline follows the work: a worker is lost when it has neither answered nor said it
        is still opening connections for ``silence`` seconds, so a slow server (workers retrying
        handshakes) is told from a lost worker.
        """
        started = time.monotonic()
        self.heard = {}
        while True:
            lost = {w: "stopped answering" for w in self.lost()}
            lost.update({w: f"sent a report no worker could have sent ({why})" for w, why in self.untrusted.items()})
            if lost:
                return lost
            waiting = [w for w in self.workers if w not in self.replies]
            if not waiting:
                break
            now = time.monotonic()
            silent = [w for w in waiting if now - max(started, self.heard.get(w, started)) > silence]
            if silent:
                return {w: f"neither answered nor reported progress for {silence:g} s" for w in silent}
            self.gevent.sleep(0.02)
        for worker, reply in self.replies.items():
            entry = self.workers.get(worker)
            if entry is None:
                continue
            entry.held = reply.held
            entry.by_step.append(reply.held)
            entry.fds, entry.rss = reply.fds, reply.rss
            if reply.failure is not None and entry.failure is None:
                entry.failure = reply.failure
        return {}

    def _step(self, elapsed: float, goal: int) -> RampStep:
        latencies = [x for r in self.replies.values() for x in r.latencies]
        p50, p99 = p50_p99(latencies)
        held = sum(w.held for w in self.workers.values())
        previous = sum(w.by_step[-2] if len(w.by_step) > 1 else 0 for w in self.workers.values())
        fds = [r.fds for r in self.replies.values() if r.fds is not None]
        rss = [r.rss for r in self.replies.values() if r.rss is not None]
        return RampStep(connections=held, client_fds=sum(fds) if fds else None, server_fds=None,
                        client_rss=sum(rss) if rss else None, server_rss=None, client_cpu=None, server_cpu=None,
                        p50_ms=p50, p99_ms=p99, seconds=round(elapsed, 4),
                        rate=round((held - previous) / elapsed, 1) if elapsed > 0 else 0.0)

    def _lost(self, lost: dict[str, str]) -> StopInfo:
        """The stop for workers lost in a step: each named, with why."""
        said = "; ".join(f"worker {self._name(w)} {why}" for w, why in sorted(lost.items()))
        return self._stop(StopReason.WORKER_LOST, Side.CLIENT, None,
                          f"{said}; its connections are not moved to the others", None,
                          worker=", ".join(sorted(lost)))

    def _name(self, worker: str) -> str:
        w = self.workers.get(worker)
        return f"{worker} (host {w.host}, pid {w.pid})" if w else worker

    def _verdict_of_failures(self) -> Optional[StopInfo]:
        """One worker's own limit is a client-side stop naming it; every worker failing is the server's."""
        failed = {w: e.failure for w, e in self.workers.items() if e.failure is not None}
        if not failed:
            return None
        client_side = {w: f for w, f in failed.items() if f.side == Side.CLIENT}
        if client_side:
            worker, f = sorted(client_side.items())[0]
            message = (f"worker {self._name(worker)} met its own limit holding {f.held:,} "
                       f"with {f.in_flight:,} in flight: {f.message}")
            return self._stop(f.reason, Side.CLIENT, f.errno, message, f.remedy, worker, f)
        worker, f = sorted(failed.items())[0]
        every = "every worker" if len(failed) == len(self.workers) else f"{len(failed)} of {len(self.workers)} workers"
        message = f"{every} failed near {sum(e.held for e in self.workers.values()):,} in all: {f.message}"
        return self._stop(f.reason, Side.SERVER, f.errno, message, f.remedy, worker, f)

    def _pause(self, seconds: float) -> None:
        """Hold for ``seconds``, but end at once when a signal or the CLI's going away interrupts the run."""
        deadline = time.monotonic() + seconds
        while not self.interrupted and time.monotonic() < deadline:
            self.gevent.sleep(min(PAUSE_SLICE, max(0.0, deadline - time.monotonic())))

    def _recount(self, number: int) -> dict[str, str]:
        """Ask every worker to sweep once more and say what it still holds; return the workers lost meanwhile.

        A server at its cap may close one worker's connections while another's arrive (nginx frees
        idle ones for new ones), after the first worker swept: the count is the one after the last.
        """
        lost = self._order(number, {worker: entry.held for worker, entry in self.workers.items()})
        for entry in self.workers.values():
            if len(entry.by_step) >= 2:
                entry.by_step[-2:] = entry.by_step[-1:]  # a recount, not a step of its own
        return lost

    def _stopped_accepting(self) -> Optional[StopInfo]:
        """Where the target is on this machine: connections still in its listen queue were never accepted."""
        target = self.spec.target_address
        assert target is not None
        queued = settled_queue([target], self.spec.timeout, self.gevent.sleep)  # None for another machine
        if not queued:
            return None
        held = sum(w.held for w in self.workers.values()) - queued
        named = classify_stop(BatchOutcome(), None, None, self.spec.timeout, None, queued, held)
        stop = self._stop(named.reason, named.side, None, named.message, None)
        stop.unaccepted = queued
        return stop

    def _stop(self, reason: StopReason, side: Side, errno: Optional[str], message: str, remedy: Optional[str],
              worker: Optional[str] = None, failure: Optional[WorkerFailure] = None) -> StopInfo:
        held = sum(w.held for w in self.workers.values())
        return StopInfo(reason=reason, side=side, errno=errno, message=message, at_connections=held,
                        client_fds=None, server_fds=None,
                        remedy=remedy or platform.remedy(reason, side, platform.fd_limits()[1]), worker=worker,
                        said=failure.said if failure else None, setting=failure.setting if failure else None)

    def _prediction(self) -> Prediction:
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

    def security_notes(self) -> list[Note]:
        """What the run's authentication turned away: peers without its key, messages without its proof."""
        notes = []
        if self.runner.denied:
            notes.append(Note("security", f"{self.runner.denied} connections to the master lacked the run's key: "
                                          "their handshakes failed and nothing they sent was read"))
        if self.channel.dropped:
            notes.append(Note("security", f"{self.channel.dropped} messages were dropped unread: "
                                          + "; ".join(self.channel.why_dropped[:3])))
        return notes

    def close(self) -> None:
        """Tell the workers to close their connections, then stop locust's runner."""
        for worker in list(self.runner.clients):
            self.channel.send(Message.CLOSE, None, worker, to_worker=True)
        self.gevent.sleep(0.5)  # the workers close their connections
        self.runner.shutdown()


def _watch_parent(master: Master) -> None:
    """Read stdin to its end (the CLI gone), then interrupt the ramp."""
    try:
        while sys.stdin.read(4096):
            pass
    except (OSError, ValueError):
        pass
    master.interrupted = True


def main() -> int:
    """Read the spec, wait for the workers, ramp, and print the result."""
    given = MasterInput.from_json(sys.stdin.readline(), "the master's input")
    spec = given.spec
    assert spec.master_address is not None
    import_locust()
    import zmq.error
    from locust.exception import RPCError

    where = format_address(spec.master_address)
    try:
        master = Master(spec, given.secret)
    except SystemExit:  # locust exits when the master port is busy
        _say(MasterEvent(error=f"cannot listen for workers on {where}: the port is busy", exit=2))
        return 2
    except (RPCError, zmq.error.ZMQError) as exc:
        _say(MasterEvent(error=f"cannot listen for workers on {where}: {exc}", exit=2))
        return 2

    def interrupt(*_: Any) -> None:
        master.interrupted = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        master.gevent.signal_handler(sig, interrupt)
    # The CLI keeps this process's stdin open for as long as it lives: its end (the CLI killed, even
    # with -9) ends the ramp too, so no master outlives it holding a server's connections.
    threading.Thread(target=_watch_parent, args=(master,), name="netprobe-parent", daemon=True).start()
    _say(MasterEvent(listening=master.bind))
    try:
        problem = master.wait_for_workers()
        if problem is not None:
            _say(MasterEvent(error=problem, exit=2 if master.mismatch else 1))
            return 2 if master.mismatch else 1
        result = master.run()
    finally:
        master.close()
    _say(MasterEvent(result=result))
    if result.interrupted:
        return 130
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
