"""``ramp --workers N``, seen from netprobe's CLI process: start the master (and local workers), relay.

locust stays in the processes started here; this module imports neither it nor gevent. The
master reads the same ``RampSpec`` the CLI built; each local worker reads its ``WorkerSpec``.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import IO, Any, Optional

from netprobe.children import python_command, start_command
from netprobe.distributed.messages import MASTER_STALL, LocalWorkerEnded, MasterEvent, MasterInput, WorkerSpec
from netprobe.errors import ChildStartError, DistributedError, NetprobeError, UsageError
from netprobe.extras import LOCUST_ENV
from netprobe.models.ramp import RampResult
from netprobe.ramp.processes import local_sources
from netprobe.ramp_spec import RampSpec
from netprobe.signals import deferred, interrupted
from netprobe.sockets import parse_host_port

WORKER_EXIT_WAIT = 10.0
WORKER_POLL = 0.2  # seconds between looks at the local workers
LINE_POLL = 0.5  # seconds between looks for the master's next line (a Ctrl-C lands between)


def start_python(module: str, first_line: str, stdout: Any = None, stderr: Any = None) -> subprocess.Popen[str]:
    """Start ``python -m module`` with locust's environment, its one input line (a record's JSON) on stdin.

    A Ctrl-C or SIGTERM meanwhile is held, not raised (``interrupted()`` then says so): raised
    inside ``Popen`` it would leave a started child that no one holds, to end or to hear from.
    """
    env = {**os.environ, **LOCUST_ENV}
    with deferred():
        proc = start_command(python_command(module), f"netprobe's {module}", stdin=subprocess.PIPE, stdout=stdout,
                             stderr=stderr, env=env)
        assert proc.stdin is not None
        try:
            proc.stdin.write(first_line + "\n")
            proc.stdin.flush()
        except OSError:
            pass  # it died at once: its exit status and stderr say why
    return proc


def run_distributed(spec: RampSpec, secret: str) -> RampResult:
    """Run a distributed ramp with the run's ``secret``; never leaves the master or a local worker behind."""
    assert spec.workers is not None
    errors = tempfile.TemporaryFile(mode="w+")
    try:
        with deferred():  # held until the link below can pass it on to the master
            master = start_python("netprobe.distributed.master", MasterInput(spec, secret).to_json(),
                                  stdout=subprocess.PIPE, stderr=errors)
            link = _MasterLink(master)
    except ChildStartError:
        errors.close()
        raise
    workers: list[subprocess.Popen[str]] = []
    try:
        first = link.next_event()
        if first is None or first.listening is None:
            raise _failure(first, master, errors)
        bind = first.listening
        if spec.spawn_local:
            try:
                _spawn_workers(spec, secret, parse_host_port(bind, "the master's address"), workers, link)
            except KeyboardInterrupt:
                link.interrupt()
        else:
            sys.stderr.write(f"netprobe: waiting for {spec.workers} workers: netprobe worker --master {bind} "
                             "(with this run's secret: --secret-file, $NETPROBE_SECRET or ~/.netprobe/secret)\n")
        watching = threading.Event()
        watcher = threading.Thread(target=_tell_of_ended_workers, args=(master, workers, watching),
                                   name="netprobe-local-workers", daemon=True)
        watcher.start()
        try:
            done = link.next_event()
        finally:
            watching.set()
            watcher.join()
        if done is None or done.result is None:
            raise _failure(done, master, errors)
        return done.result
    finally:
        _reap(master, workers)
        errors.close()


def _spawn_workers(spec: RampSpec, secret: str, master: tuple[str, int], workers: list[subprocess.Popen[str]],
                   link: _MasterLink) -> None:
    """Start the run's local workers into ``workers``; none once the run is interrupted."""
    assert spec.target_address is not None and spec.workers is not None
    ipv6 = ":" in spec.target_address[0]
    for sources in local_sources(spec.to, spec.workers, spec.source_ips, ipv6):
        if link.noticed_interrupt():
            return
        worker = WorkerSpec(master=master, source_ips=sources, wait=spec.worker_wait, secret=secret)
        workers.append(start_python("netprobe.distributed.worker", worker.to_json(),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


def _tell_of_ended_workers(master: subprocess.Popen[str], workers: list[subprocess.Popen[str]],
                           done: threading.Event) -> None:
    """Tell the master of each local worker that ends, so it need not wait out ``--worker-wait`` for it."""
    told: set[int] = set()
    while not done.wait(WORKER_POLL):
        for worker in workers:
            code = worker.poll()
            if code is None or worker.pid in told:
                continue
            told.add(worker.pid)
            how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
            try:
                assert master.stdin is not None
                master.stdin.write(LocalWorkerEnded(worker.pid, how).to_json() + "\n")
                master.stdin.flush()
            except (OSError, ValueError):
                return  # the master is gone: its own end says more


class _MasterLink:
    """The master's lines, read in the CLI; a Ctrl-C or SIGTERM meanwhile is passed on to the master once.

    Before the master says where it listens its signal handlers may not be in place (it is still
    starting), so the interrupt waits for that line: the master then ends the run at once, with
    its (empty) report, rather than dying of the signal. A master silent for ``MASTER_STALL`` s
    (stopped, or starved of CPU: it beats every ``MASTER_HEARTBEAT`` s) is not waited for.
    """

    def __init__(self, master: subprocess.Popen[str]) -> None:
        self.master = master
        self.interrupted = False
        self.listening = False
        self.passed_on = False
        self._lines: queue.Queue[Optional[str]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name="netprobe-master-lines", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.master.stdout is not None
        try:
            for line in self.master.stdout:
                self._lines.put(line)
        except (OSError, ValueError):
            pass  # closed under it at the end
        self._lines.put(None)

    def next_event(self) -> Optional[MasterEvent]:
        """The master's next line but heartbeats (None at its end); an interrupt here is the master's to act on."""
        heard = time.monotonic()
        while True:
            self.noticed_interrupt()
            try:
                line = self._lines.get(timeout=LINE_POLL)
            except queue.Empty:
                if time.monotonic() - heard > MASTER_STALL:
                    raise DistributedError(f"the master has not run for {MASTER_STALL:g} s (stopped, or starved of "
                                           "CPU): it was ended, and its workers close their connections", 1) from None
                continue
            except KeyboardInterrupt:
                self.interrupt()
                continue
            heard = time.monotonic()
            if line is None:
                return None
            if not line.strip():
                continue
            event = MasterEvent.from_json(line, "the master's answer")
            if event.alive:
                continue
            self.listening = self.listening or event.listening is not None
            self._pass_on()
            return event

    def noticed_interrupt(self) -> bool:
        """Whether the run is interrupted, counting a signal held while a child started (then raised nowhere)."""
        if interrupted() and not self.interrupted:
            self.interrupt()
        return self.interrupted

    def interrupt(self) -> None:
        """A Ctrl-C or SIGTERM reached the CLI: the master ends the run, now or once it listens."""
        self.interrupted = True
        self._pass_on()

    def _pass_on(self) -> None:
        if self.interrupted and self.listening and not self.passed_on and self.master.poll() is None:
            self.passed_on = True
            self.master.send_signal(signal.SIGTERM)  # it tells the workers to close, then reports


def _failure(said: Optional[MasterEvent], master: subprocess.Popen[str], errors: IO[str]) -> NetprobeError:
    if said is not None and said.error is not None:
        status = said.exit if said.exit is not None else 1
        return UsageError(said.error) if status == 2 else DistributedError(said.error, status)
    master.wait(timeout=30)
    errors.seek(0)
    tail = (errors.read().strip().splitlines() or [f"exit status {master.returncode}"])[-1]
    return DistributedError(f"the master failed: {tail}", 1)


def _reap(master: subprocess.Popen[str], workers: list[subprocess.Popen[str]]) -> None:
    """Let the master and the local workers end within one shared wait, then end what is left: in parallel.

    A master that crashed never tells its workers to close; waiting for each in turn would take
    ten seconds per worker.
    """
    deadline = time.monotonic() + WORKER_EXIT_WAIT
    everyone = [master, *workers]
    for proc in everyone:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            break
    left = [proc for proc in everyone if proc.poll() is None]
    for proc in left:
        proc.terminate()
    for proc in left:
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for proc in everyone:
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
