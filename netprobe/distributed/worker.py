"""A worker of a distributed ramp: holds its share of connections with netprobe's gevent client.

Started by ``netprobe worker --master HOST:PORT`` (or a local ramp's controller) as ``python -m
netprobe.distributed.worker`` with its ``WorkerSpec`` as one JSON line on stdin. It reports
who it is and what it can hold, then on each ``np_hold`` opens and verifies connections until it
holds the count asked, and answers with what it holds and its first failure: the errno, the
stop it means on this machine, and what it held and had in flight then. Counting its fds at a
failure needs no new fd (at EMFILE it could not open /proc/self/fd): it counts what it opened.

While a step is under way it tells the master so every second, so the master can tell a slow
server from a lost worker. It speaks only to a master that holds the run's secret, and only within
its own wait: something else on the master's port, or a master that falls silent for
``MASTER_SILENCE`` seconds (killed before it could say goodbye), ends it with exit status 1.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from typing import TYPE_CHECKING, Any, Optional

from netprobe import __version__, platform
from netprobe.clients.outcome import BatchOutcome
from netprobe.clients.traffic import Tally, TrafficCount, TrafficPlan
from netprobe.cpu import cpu_seconds
from netprobe.distributed import import_locust
from netprobe.distributed.messages import (
    MASTER_SILENCE,
    HeldReport,
    HoldOrder,
    Progress,
    WorkerFailure,
    WorkerRefused,
    WorkerSpec,
    WorkerSummary,
)
from netprobe.distributed.secret import Channel, CurveKeys
from netprobe.errors import ExitStatus, RecordError, UsageError
from netprobe.hostinfo import platform_info
from netprobe.probes import probe_of
from netprobe.ramp.classify import ListenEvidence, classify_stop, refusal_of
from netprobe.ramp.evidence import listener_state
from netprobe.ramp.shape import PAYLOAD
from netprobe.sockets import check_destination, format_address
from netprobe.stops import StopReason
from netprobe.vocabulary import Message, Side

if TYPE_CHECKING:
    import psutil

    from netprobe.clients.gevent_client import GeventClient

BATCH = 128
PROGRESS_EVERY = 1.0  # seconds between a busy worker's words of progress


def wait_for_master(host: str, port: int, seconds: float) -> bool:
    """Whether anything accepts at the master's address within ``seconds`` (a bounded wait, not locust's 5 min)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)


class Worker:
    """One worker's connections and its answers to the master."""

    def __init__(self, runner: Any, spec: WorkerSpec) -> None:
        self.runner = runner
        self.spec = spec
        self.source_ips = spec.source_ips
        self.client: Optional[GeventClient] = None
        self.fds_at_start = platform.process_fds(_me()) or 0
        self.refused: Optional[str] = None
        self.master_gone: Optional[str] = None
        self.channel = Channel(runner, spec.secret)
        runner.register_message(Message.HOLD, self.on_hold, concurrent=True)
        runner.register_message(Message.CLOSE, self.on_close)
        runner.register_message(Message.REFUSE, self.on_refuse)

    def identity(self) -> WorkerSummary:
        """Who this worker is and what it can hold: its first message to the master."""
        import locust

        from netprobe.selector_catalog import default_selector

        soft, hard, _ = platform.fd_limits()
        facts = platform.read_system_facts()
        info = platform_info()
        return WorkerSummary(
            id=self.runner.client_id, host=socket.gethostname(), pid=os.getpid(), netprobe=__version__,
            locust=locust.__version__, python=info.python, system=info.system, soft_fds=soft, hard_fds=hard,
            fds_at_start=self.fds_at_start, port_low=facts.port_low, port_high=facts.port_high,
            ports=facts.port_count, source_ips=self.source_ips, selector=default_selector())

    def on_hold(self, environment: Any, msg: Any) -> None:
        """Open connections until this worker holds its share of the step, and say how it went."""
        order = self.channel.receive(Message.HOLD, msg, HoldOrder)
        if order is None:
            return
        refused = self._refusal(order)
        if refused is not None:
            # Whoever speaks for the master, this worker connects only where its own user allows.
            turned_down = WorkerFailure(StopReason.OTHER, Side.CLIENT, None, refused, 0, order.goal, refused)
            self.say(Message.HELD, HeldReport(order.step, 0, [], turned_down, None, None))
            return
        assert order.target is not None  # checked by _refusal
        if self.client is None:
            from netprobe.clients.gevent_client import GeventClient

            self.client = GeventClient([order.target], self.source_ips or None, PAYLOAD, order.verify, BATCH,
                                       probe_of(order.probe))
        client = self.client
        want = order.goal - client.held
        in_flight = max(0, want)
        from gevent import sleep, spawn

        reporter = spawn(self._report_progress, order.step, client, in_flight)
        try:
            out = client.open(want, order.timeout, lambda: False) if want > 0 else BatchOutcome()
            # Held means accepted and not closed since: sweep until the server has said all it will.
            swept = client.sweep_until_quiet(order.grace or 0.0, sleep)
        finally:
            reporter.kill(block=False)
        failure: Optional[WorkerFailure] = None
        if not out.clean or swept.closed:
            # A target on the worker's own loopback has a listener its kernel can read.
            evidence = ListenEvidence(listener_state(client.destinations))
            named = classify_stop(out, None, None, order.timeout, swept, listener=evidence)
            refusal = refusal_of(swept, out)
            remedy = refusal.remedy if refusal else platform.remedy(named.reason, named.side, platform.fd_limits()[1])
            failure = WorkerFailure(named.reason, named.side, named.errno, named.message, client.held,
                                    in_flight - out.verified, remedy, swept.said,
                                    f"{refusal.server} {refusal.setting}" if refusal else None)
        traffic = None
        if order.traffic is not None and failure is None:
            traffic = self._carry(client, order.traffic)
        report = HeldReport.of(order.step, client.held, out, swept.closed, swept.said, failure,
                               self.fds_at_start + client.sockets_open, _rss(), traffic)
        self.say(Message.HELD, report)

    @staticmethod
    def _carry(client: GeventClient, plan: TrafficPlan) -> TrafficCount:
        """Carry ``plan``'s traffic on every held connection, in a thread of gevent's pool.

        The traffic waits on its own selector: in a thread of its own, the hub keeps serving
        locust's heartbeats and this worker's words of progress meanwhile.
        """
        from gevent import get_hub

        tally = Tally()
        before, started = _cpu_seconds(), time.perf_counter()
        get_hub().threadpool.apply(client.traffic, (plan, tally))
        after, took = _cpu_seconds(), time.perf_counter() - started
        if before is not None and after is not None and took > 0:
            tally.cpu = round(100.0 * (after - before) / took, 1)
        return tally.count()

    def _refusal(self, order: HoldOrder) -> Optional[str]:
        """Why this worker will not carry out ``order`` (no target, one off its loopback, a probe it lacks), or None."""
        if order.target is None:
            return "this worker refuses an order that names no target"
        try:
            probe_of(order.probe)
        except RecordError as exc:
            return f"this worker refuses the order: {exc}"
        return target_refused(order.target, self.spec.allow_remote)

    def _report_progress(self, step: int, client: GeventClient, in_flight: int) -> None:
        from gevent import sleep

        while True:
            sleep(PROGRESS_EVERY)
            self.say(Message.PROGRESS, Progress(step, client.held, in_flight))

    def say(self, kind: Message, record: Any) -> None:
        """Send one sealed record to the master."""
        self.channel.send(kind, record, self.runner.client_id, to_worker=False)

    def on_close(self, environment: Any, msg: Any) -> None:
        """Close every connection this worker holds."""
        if self.channel.body(Message.CLOSE, msg) is None:
            return
        if self.client is not None:
            self.client.close()
            self.client = None

    def on_refuse(self, environment: Any, msg: Any) -> None:
        """The master will not have this worker: stop, and say why."""
        refusal = self.channel.receive(Message.REFUSE, msg, WorkerRefused)
        if refusal is None:
            return
        self.refused = refusal.why
        self.runner.greenlet.kill(block=False)

    def watch_master(self) -> None:
        """End the worker when its master falls silent: killed, or its machine gone, before it said goodbye."""
        from gevent import sleep

        since = time.time()
        while True:
            sleep(1.0)
            last = max(since, self.runner.last_heartbeat_timestamp or since)
            if time.time() - last > MASTER_SILENCE:
                self.master_gone = f"the master fell silent for {MASTER_SILENCE:g} s"
                self.runner.greenlet.kill(block=False)
                return


def target_refused(target: tuple[str, int], allow_remote: bool) -> Optional[str]:
    """Why this worker will not connect to ``target`` (off loopback without its own --allow-remote), or None."""
    try:
        check_destination(target[0], allow_remote, "target")
    except UsageError as exc:
        return f"this worker refuses the master's {exc}"
    return None


def _me() -> psutil.Process:
    import psutil

    return psutil.Process()


def _cpu_seconds() -> Optional[float]:
    """CPU time this process has used; None where it cannot be read."""
    try:
        return cpu_seconds(_me())
    except OSError:
        return None


def _rss() -> Optional[int]:
    """This process's RSS; None where reading it needs an fd the process does not have (EMFILE)."""
    try:
        return int(_me().memory_info().rss)
    except OSError:
        return None


def main() -> int:
    """Read the spec, wait for the master, hold connections until it says close."""
    # Ctrl-C in a terminal reaches the whole process group: the master alone handles it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    spec = WorkerSpec.from_json(sys.stdin.readline(), "the worker spec")
    host, port = check_destination(spec.master[0], spec.allow_remote, "--master"), spec.master[1]
    if spec.fd_limit is not None:
        platform.set_soft_fd_limit(spec.fd_limit)
    deadline = time.monotonic() + spec.wait
    where = format_address((host, port))
    if not wait_for_master(host, port, spec.wait):
        sys.stderr.write(f"netprobe worker: no master at {where} after {spec.wait:g} s\n")
        return ExitStatus.RUN_FAILED
    locust = import_locust()
    from netprobe.distributed.transport import SecureWorkerRunner

    environment = locust.env.Environment(user_classes=[])
    try:
        runner = SecureWorkerRunner(environment, host, port, CurveKeys.of(spec.secret),
                                    max(1.0, deadline - time.monotonic()))
    except ConnectionError:
        sys.stderr.write(f"netprobe worker: no master of this run answered at {where} within {spec.wait:g} s "
                         "(something else listens there, or the master's secret is not this worker's)\n")
        return ExitStatus.RUN_FAILED
    worker = Worker(runner, spec)
    worker.say(Message.HELLO, worker.identity())
    runner.greenlet.spawn(worker.watch_master)
    from gevent.exceptions import LoopExit

    try:
        runner.greenlet.join()
    except LoopExit:
        pass  # the master's "quit" killed every greenlet of the runner: nothing is left to wait for
    if worker.client is not None:
        worker.client.close()
    if worker.refused:
        sys.stderr.write(f"netprobe worker: the master refused this worker: {worker.refused}\n")
        return ExitStatus.USAGE
    if worker.master_gone:
        sys.stderr.write(f"netprobe worker: {worker.master_gone}; its connections are closed\n")
        return ExitStatus.RUN_FAILED
    return ExitStatus.SUCCESS


if __name__ == "__main__":
    from netprobe.children import run_child

    run_child(main)
