"""The master of a distributed ramp: locust's transport, its authentication, and the process's ``main``.

Started by ``netprobe ramp --workers N`` as ``python -m netprobe.distributed.master`` with a
``MasterInput`` (the CLI's ``RampSpec`` and the run's secret) as one JSON line on stdin. It prints
``MasterEvent`` lines on stdout: where it listens once workers can connect, then its
``netprobe.ramp/1`` result (with a ``workers`` list) or the error that kept it from running.
SIGINT or SIGTERM ends the ramp: the workers are told to close, and the partial result is still
printed.

The ramp itself is the one engine every ramp runs (``netprobe.ramp.runner``), with the workers as
its holder of connections (``netprobe.distributed.pool.WorkerPool``): the step loop, the stop's
name and the ``ok`` rule are the ones a ramp on one machine has.

Only peers holding the run's secret get through the master's socket, and each message must carry
its proof too; what fails is dropped and counted in the result's notes, never acted on.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import Any, Optional

from netprobe import __version__, platform
from netprobe.distributed import import_locust
from netprobe.distributed.messages import (
    MASTER_HEARTBEAT,
    HeldReport,
    LocalWorkerEnded,
    MasterEvent,
    MasterInput,
    Progress,
    WorkerRefused,
)
from netprobe.distributed.pool import CLOCK_TICK, PAUSE_NOTICE, WorkerPool
from netprobe.distributed.secret import Channel, CurveKeys
from netprobe.errors import ExitStatus, RecordError
from netprobe.models import Note
from netprobe.models.ramp import RampResult, WorkerSummary
from netprobe.ramp.runner import run_ramp
from netprobe.ramp_spec import RampSpec
from netprobe.sockets import format_address
from netprobe.vocabulary import Message

MASTER_FDS = 65536  # the soft fd limit the master asks for, as far as the hard one allows


def _say(event: MasterEvent) -> None:
    try:
        sys.stdout.write(event.to_json() + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        pass  # the CLI is gone: nobody is left to tell


class Master:
    """One distributed ramp's end of locust's transport: who the workers are, and what reaches them."""

    def __init__(self, spec: RampSpec, secret: str) -> None:
        assert spec.master_address is not None and spec.target_address is not None and spec.workers is not None
        self.spec = spec
        self.pool = WorkerPool(self)
        self.started = False  # the ramp began: no worker joins after
        self.interrupted = False
        self.mismatch: Optional[str] = None
        self.local_ended: list[LocalWorkerEnded] = []  # workers the CLI started that ended
        self.pauses: list[tuple[float, float]] = []  # (when it ended, seconds) of each time this process did not run
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
            self.channel.send(Message.REFUSE, WorkerRefused(why), msg.node_id, to_worker=True)
            self.mismatch = why
            return
        if msg.node_id in self.pool.workers or self.started:
            self.channel.drop(f"{Message.HELLO.value} from {msg.node_id}: a second hello, or one after the ramp began")
            return
        try:
            self.pool.workers[msg.node_id] = WorkerSummary.from_dict(data, "hello")
        except RecordError as exc:
            self.channel.drop(f"{Message.HELLO.value} from {msg.node_id}: {exc}")

    def on_held(self, environment: Any, msg: Any) -> None:
        """A worker's account of an order, checked and handed to the pool."""
        report = self.channel.receive(Message.HELD, msg, HeldReport)
        if report is not None:
            self.pool.on_held(msg.node_id, report)

    def on_progress(self, environment: Any, msg: Any) -> None:
        """A worker still opening its share, handed to the pool."""
        progress = self.channel.receive(Message.PROGRESS, msg, Progress)
        if progress is not None:
            self.pool.on_progress(msg.node_id, progress)

    # --- the workers

    def watch_own_clock(self) -> None:
        """Note each time this process did not run for ``PAUSE_NOTICE`` s or more (SIGSTOP, a paused VM)."""
        last = time.monotonic()
        while True:
            self.gevent.sleep(CLOCK_TICK)
            now = time.monotonic()
            if now - last >= PAUSE_NOTICE:
                self.pauses.append((now, now - last))
            last = now

    def say_alive(self) -> None:
        """Tell the CLI this process runs, every ``MASTER_HEARTBEAT`` s: it ends a master that falls silent."""
        while True:
            _say(MasterEvent(alive=True))
            self.gevent.sleep(MASTER_HEARTBEAT)

    def paused_since(self, since: float) -> float:
        """The longest this process did not run in a pause that ended after ``since`` (0 when none)."""
        return max((seconds for ended, seconds in self.pauses if ended >= since), default=0.0)

    def lost(self, workers: dict[str, WorkerSummary]) -> list[str]:
        """Those of ``workers`` that locust's heartbeat marked missing, or that quit."""
        from locust.runners import STATE_MISSING

        present = {c.id: c for c in self.runner.clients.all}
        return [w for w in workers if w not in present or present[w].state == STATE_MISSING]

    def wait_for_workers(self) -> Optional[str]:
        """Wait until every worker said hello; return why not, if they did not within the wait."""
        count, wait = self.spec.workers or 0, self.spec.worker_wait
        deadline = time.monotonic() + wait
        while len(self.pool.workers) < count and not self.interrupted:
            if self.mismatch:
                return self.mismatch
            if self.local_ended:  # it will never say hello: no need to wait out the rest
                ended = self.local_ended[0]
                return (f"a local worker (pid {ended.pid}) ended before it connected ({ended.how}); "
                        f"{len(self.pool.workers)} of {count} workers connected")
            if time.monotonic() > deadline:
                away = self.runner.denied
                strangers = (f"; {away} connection(s) to it were turned away without the run's key (another "
                             "program, or a worker given another secret)") if away else ""
                return (f"{len(self.pool.workers)} of {count} workers connected to {self.bind} within {wait:g} s"
                        + strangers)
            self.gevent.sleep(0.1)
        return None

    def run(self) -> RampResult:
        """Ramp the total over the workers with the one engine every ramp runs."""
        self.started = True
        return run_ramp(self.spec, holder=self.pool)

    def security_notes(self) -> list[Note]:
        """What the run's authentication turned away: peers without its key, messages without its proof."""
        notes = []
        if self.runner.denied:
            notes.append(Note("security", f"{self.runner.denied} connections to the master lacked the run's key "
                                          "(a worker given another secret, another program, or bytes that are not "
                                          "ZeroMQ): their handshakes failed and nothing they sent was read"))
        if self.channel.dropped:
            notes.append(Note("security", f"{self.channel.dropped} messages were dropped unread: "
                                          + "; ".join(self.channel.why_dropped[:3])))
        return notes

    def tell_workers_to_close(self) -> None:
        """Ask every worker to close its connections."""
        for worker in list(self.runner.clients):
            self.channel.send(Message.CLOSE, None, worker, to_worker=True)

    def close(self) -> None:
        """Tell the workers to close their connections, then stop locust's runner."""
        self.tell_workers_to_close()
        self.gevent.sleep(0.5)  # the workers close their connections
        self.runner.shutdown()


def _watch_parent(master: Master) -> None:
    """Read the CLI's lines to their end (the CLI gone), then interrupt the ramp.

    Each line is a ``LocalWorkerEnded``; anything else is not from netprobe's CLI and is skipped.
    """
    try:
        for line in sys.stdin:
            try:
                master.local_ended.append(LocalWorkerEnded.from_json(line, "the CLI's line"))
            except RecordError:
                continue
    except (OSError, ValueError):
        pass
    master.interrupted = True


def main() -> int:
    """Read the spec, wait for the workers, ramp, and print the result."""
    early: list[int] = []  # a signal before gevent's handlers are in: the run is interrupted from its start
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _: early.append(signum))
    given = MasterInput.from_json(sys.stdin.readline(), "the master's input")
    spec = given.spec
    # A peer costs the master an fd until its handshake fails: room for many keeps strangers from
    # running it out (at EMFILE, ZeroMQ's I/O thread spins on its listener).
    platform.raise_soft_fd_limit(MASTER_FDS)
    assert spec.master_address is not None
    import_locust()
    import zmq.error
    from locust.exception import RPCError

    where = format_address(spec.master_address)
    try:
        master = Master(spec, given.secret)
    except SystemExit:  # locust exits when the master port is busy
        _say(MasterEvent(error=f"cannot listen for workers on {where}: the port is busy", exit=ExitStatus.USAGE))
        return ExitStatus.USAGE
    except (RPCError, zmq.error.ZMQError) as exc:
        _say(MasterEvent(error=f"cannot listen for workers on {where}: {exc}", exit=ExitStatus.USAGE))
        return ExitStatus.USAGE

    def interrupt(*_: Any) -> None:
        master.interrupted = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        master.gevent.signal_handler(sig, interrupt)
    master.interrupted = master.interrupted or bool(early)
    master.gevent.spawn(master.watch_own_clock)
    master.gevent.spawn(master.say_alive)
    # The CLI keeps this process's stdin open for as long as it lives: its end (the CLI killed, even
    # with -9) ends the ramp too, so no master outlives it holding a server's connections.
    threading.Thread(target=_watch_parent, args=(master,), name="netprobe-parent", daemon=True).start()
    _say(MasterEvent(listening=master.bind))
    try:
        problem = master.wait_for_workers()
        if problem is not None:
            status = ExitStatus.USAGE if master.mismatch else ExitStatus.RUN_FAILED
            _say(MasterEvent(error=problem, exit=status))
            return status
        result = master.run()
    finally:
        master.close()
    _say(MasterEvent(result=result))
    if result.interrupted:
        return ExitStatus.INTERRUPTED
    return ExitStatus.SUCCESS if result.ok else ExitStatus.LIMIT_HIT


if __name__ == "__main__":
    from netprobe.children import run_child

    run_child(main)
