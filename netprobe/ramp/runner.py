"""Run a ramp: hold more connections step by step until the target or the first limit, then say why.

The plan (``RampPlan``) decides how many connections each step holds; this module opens
them with a client model against a server placement, samples both sides with psutil,
and turns the first failure into a classified stop with a remedy for this platform.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Optional

from netprobe import platform
from netprobe.clients.base import BatchOutcome
from netprobe.clients.registry import client_spec, make_client
from netprobe.errors import UsageError
from netprobe.hostinfo import platform_info
from netprobe.models import Note, Peak, Prediction, RampResult, RampStep, SelectorCap, StopInfo
from netprobe.prediction import MEMORY_PER_CONNECTION, Budget, CeilingInputs, predict, server_reserved_fds
from netprobe.ramp.config import RampConfig
from netprobe.ramp.placement import ChildServer, ExternalTarget, InProcessServer, RampServer, ServerGone
from netprobe.ramp.plan import RampPlan
from netprobe.selector_catalog import NO_CAP
from netprobe.servers.registry import backend_spec
from netprobe.servers.status import ServerStatus
from netprobe.signals import deferred, interrupt_once
from netprobe.stats import percentiles
from netprobe.vocabulary import Operation, Placement, Side, StopReason

PAYLOAD = b"netprobe ping\n"
# fds the client keeps free beyond its connections: the report, psutil, pipes to the server.
CLIENT_FD_RESERVE = 64
# A batch of connects larger than the accept queue makes the kernel drop SYNs and retry after ~1 s.
BATCH_MAX = 1024
# Guards for open-ended ramps: stop before the machine itself runs short.
SYSTEM_FD_MARGIN = 0.02
MEMORY_MARGIN = 0.05
MEMORY_FLOOR = 256 * 1024 * 1024
# |predicted - reached| within this many connections counts as "as predicted".
PREDICTION_SLACK = 8

ProgressCallback = Callable[[RampStep, int], None]


class _Sampler:
    """psutil samples of the client (this process) and of the server process, if there is one."""

    def __init__(self, server_pid: Optional[int]) -> None:
        import psutil

        self._psutil = psutil
        self.me = psutil.Process()
        self.server = psutil.Process(server_pid) if server_pid else None
        self._last: dict[str, float] = {}
        self._first: dict[str, float] = {}  # CPU seconds at start(), per side
        self._at = time.perf_counter()

    def _one(self, proc, key: str, wall: float) -> tuple[Optional[int], Optional[int], Optional[float]]:
        if proc is None:
            return None, None, None
        try:
            with proc.oneshot():
                fds = platform.process_fds(proc)
                rss = proc.memory_info().rss
                cpu_times = proc.cpu_times()
        except (self._psutil.NoSuchProcess, self._psutil.AccessDenied):
            return None, None, None
        except OSError:
            # EMFILE: at the fd limit psutil cannot open /proc/PID/fd either; the stop says why.
            return None, None, None
        cpu = cpu_times.user + cpu_times.system
        self._first.setdefault(key, cpu)
        before = self._last.get(key)
        self._last[key] = cpu
        # CPU share since the previous sample, over the wall time between the two samples.
        percent = None if before is None or wall <= 0 else round(100.0 * (cpu - before) / wall, 1)
        return fds, rss, percent

    def start(self) -> None:
        self._at = time.perf_counter()
        self._one(self.me, "client", 0)
        self._one(self.server, "server", 0)

    def cpu_seconds(self, side: str) -> Optional[float]:
        """CPU seconds ``side`` ("client" or "server") used between start() and the last sample."""
        if side not in self._first or side not in self._last:
            return None
        return round(self._last[side] - self._first[side], 4)

    def sample(self) -> dict[str, Any]:
        now = time.perf_counter()
        wall, self._at = now - self._at, now
        cfds, crss, ccpu = self._one(self.me, "client", wall)
        sfds, srss, scpu = self._one(self.server, "server", wall)
        return {"client_fds": cfds, "client_rss": crss, "client_cpu": ccpu,
                "server_fds": sfds, "server_rss": srss, "server_cpu": scpu}


def step_latency(latencies: Iterable[float]) -> tuple[Optional[float], Optional[float]]:
    """A step's p50 and p99 check latency, by the one percentile definition of every report."""
    p50, p99 = percentiles(latencies, (0.5, 0.99))
    return p50, p99


def _server_status(server: RampServer) -> tuple[Optional[ServerStatus], Optional[str]]:
    """Return (status, why-the-server-is-gone)."""
    try:
        return server.status(), None
    except ServerGone as exc:
        return None, str(exc)


def classify_stop(out: BatchOutcome, status: Optional[ServerStatus], gone: Optional[str],
              timeout: float) -> tuple[StopReason, Side, Optional[str], str]:
    """Name the stop: (reason, side, errno name, message). The server's own account comes first."""
    if gone is not None:
        # A child's error arrives as text only: classify the code in it ("[WinError 10055] ...").
        reason = platform.classify_message(gone, Operation.ACCEPT) or StopReason.SERVER_EXITED
        return reason, Side.SERVER, None, gone
    limit = status.limit if status is not None else None
    if limit is not None:
        message = limit.message
        if limit.at_fd is not None:
            message += f" (at fd {limit.at_fd})"
        return limit.reason, Side.SERVER, limit.errno, f"{message}; it held {limit.held:,}"
    f = out.failure
    if f is not None:
        if f.operation == Operation.THREAD:
            return StopReason.THREAD_LIMIT, Side.CLIENT, None, f"cannot start another thread: {f.message}"
        reason = platform.classify_errno(f.errno, f.operation) or StopReason.OTHER
        side = Side.SERVER if f.operation == Operation.VERIFY or reason == StopReason.REFUSED else Side.CLIENT
        return reason, side, platform.errno_name(f.errno), f"{f.operation}: {f.message}"
    if out.unconnected:
        return (StopReason.BACKLOG, Side.SERVER, None,
                f"{out.unconnected} handshakes did not complete within {timeout:g} s: the accept queue is full")
    if out.unanswered:
        return (StopReason.TIMEOUT, Side.SERVER, None,
                f"{out.unanswered} connections got no answer within {timeout:g} s")
    return StopReason.OTHER, Side.SERVER, None, f"{out.peer_closed} connections were closed by the peer"


def verdict(target: Optional[int], reached: int, stop: Optional[StopInfo], pred: Prediction,
             placement: str) -> str:
    predicted = "an unknown ceiling" if pred.max_connections is None else (
        f"{pred.max_connections:,} by {pred.binding_limit}")
    if stop is None:
        what = f"Reached {reached:,} connections" + ("" if target is None else f" (target {target:,})")
        return f"{what}; predicted ceiling {predicted}."
    head = f"Stopped at {reached:,} connections: {stop.reason} on the {stop.side} side"
    if stop.reason == StopReason.INTERRUPTED:
        return f"{head} (predicted ceiling {predicted})."
    if pred.max_connections is None:
        return f"{head}; no prediction to compare."
    gap = reached - pred.max_connections
    if stop.reason == pred.binding_limit and abs(gap) <= PREDICTION_SLACK:
        return f"{head}, as predicted ({predicted})."
    if stop.reason == pred.binding_limit:
        why = (" In one process, a batch's client sockets take fd numbers before the server accepts"
               " them, so the server meets the limit earlier than 2 fds per connection suggests."
               if placement == Placement.THREAD else " Other fds opened during the run moved the ceiling.")
        return f"{head}; predicted {predicted}, {abs(gap):,} {'fewer' if gap < 0 else 'more'}.{why}"
    return (f"{head}, before the predicted limit ({predicted}): something not in the prediction "
            "struck first; the remedy below applies to what did.")


def _guard(facts_reader: Callable[[], Any], new: int) -> Optional[tuple[StopReason, str]]:
    """Stop before the system file table or free memory run dangerously low."""
    import psutil

    facts = facts_reader()
    if facts.system_max is not None and facts.system_in_use is not None:
        free = facts.system_max - facts.system_in_use - 2 * new
        if free < facts.system_max * SYSTEM_FD_MARGIN:
            return StopReason.SYSTEM_FD_LIMIT, (f"guard: {new:,} more connections would leave under "
                                             f"{SYSTEM_FD_MARGIN:.0%} of the system file table free")
    vm = psutil.virtual_memory()
    if vm.available - new * MEMORY_PER_CONNECTION < max(MEMORY_FLOOR, vm.total * MEMORY_MARGIN):
        return StopReason.MEMORY, (f"guard: {new:,} more connections would leave under "
                                f"{MEMORY_MARGIN:.0%} of memory available")
    return None


class _Run:
    """One ramp's state, so cleanup can find whatever was started."""

    def __init__(self, cfg: RampConfig) -> None:
        self.cfg = cfg
        self.plan = RampPlan.build(cfg.to, cfg.step, cfg.max)
        self.notes: list[Note] = []
        self.steps: list[RampStep] = []
        self.server: Optional[RampServer] = None
        self.client = None
        self.restore_soft: Optional[int] = None
        self.soft, self.hard, _ = platform.fd_limits()
        self._cap: Optional[SelectorCap] = None

    # --- set-up

    def budget_client_fds(self) -> None:
        cfg = self.cfg
        if cfg.in_process and cfg.fd_limit is not None:
            platform.set_soft_fd_limit(cfg.fd_limit)
            self.restore_soft = self.soft
            self.notes.append(Note("client.fd_limit", f"soft fd limit of this process set to {cfg.fd_limit} "
                                                      f"(was {self.soft}); restored afterwards"))
            return
        if self.soft is None:
            return  # no RLIMIT_NOFILE here, or it is unlimited
        per_conn = 2 if cfg.in_process else 1
        need = self.plan.goal * per_conn + CLIENT_FD_RESERVE
        if self.soft >= need:
            platform.presize_fd_table(need)
            return
        new = platform.raise_soft_fd_limit(need)
        platform.presize_fd_table(need)
        if new is None or new > self.soft:
            self.restore_soft = self.soft
            self.notes.append(Note("client.fd_limit", f"raised the client's soft fd limit from {self.soft} "
                                                      f"to {new or 'unlimited'} for this run (restored afterwards)"))
        if new is not None and new < need:
            ceiling, binding = platform.fd_ceiling()
            self.notes.append(Note("client.fd_limit", f"the client's soft fd limit can rise to {ceiling}, bound by "
                                                      f"{binding}, below the {need} fds this ramp needs: the client "
                                                      "may meet its limit first"))

    def start_server(self) -> RampServer:
        cfg = self.cfg
        if cfg.target_address is not None:
            return ExternalTarget(cfg.target_address)
        if cfg.in_process:
            inline = client_spec(cfg.client).drives_inline_server
            return InProcessServer(cfg.backend, cfg.server_options, cfg.ports, inline)
        want = self.plan.goal + CLIENT_FD_RESERVE
        server = ChildServer(cfg.backend, cfg.server_options, ports=cfg.ports, fd_limit=cfg.fd_limit,
                             want_fds=want)
        if server.raised_from is not None:
            self.notes.append(Note("server.fd_limit", f"the server raised its soft fd limit from "
                                                      f"{server.raised_from} to {server.soft_limit}"))
        return server

    @property
    def select_cap(self) -> SelectorCap:
        """What caps the select() of netprobe's own server, if it waits with select()."""
        if self._cap is None:
            label = self.server.selector_label if self.server is not None else None
            self._cap = platform.probe_select_cap() if label == "SelectSelector" else NO_CAP
        return self._cap

    def keep_client_fds_out_of_select(self, client: Any) -> None:
        """In one process with a select() server, move the client's fds above select()'s fd-number cap.

        Otherwise the client's own sockets use up the fd numbers select() can watch, and the
        ramp measures the co-location rather than the server. The nonblocking client honours
        it; the soft fd limit still counts both ends of every connection.
        """
        cap = self.select_cap
        if not (self.cfg.in_process and cap.kind == "fd_number" and cap.limit is not None
                and client_spec(self.cfg.client).drives_inline_server):
            return
        client.fd_floor = cap.limit
        need = cap.limit + self.plan.goal + CLIENT_FD_RESERVE
        if self.soft is not None and self.soft < need:
            new = platform.raise_soft_fd_limit(need)
            if self.restore_soft is None and new != self.soft:
                self.restore_soft = self.soft
        self.notes.append(Note("client.fds", f"the client keeps its fds at {cap.limit} and above, out of the "
                                             "fd numbers the server's select() watches"))

    def predict(self, sampler: _Sampler, facts: platform.SystemFacts) -> Prediction:
        """Predict this set-up's ceiling from the same arithmetic ``limits`` uses, on fds measured now."""
        import psutil

        cfg = self.cfg
        server = self.server
        assert server is not None
        client_soft, _, _ = platform.fd_limits()
        client_fds = platform.process_fds(sampler.me) or 0
        budget = Budget.from_facts(client_soft, facts, psutil.virtual_memory().available)
        destinations = cfg.ports * cfg.source_ips
        if cfg.target_address is not None:
            return predict(CeilingInputs("target", "target", NO_CAP, budget, client_fds, destinations,
                                         listeners_in_range=0))
        label = server.selector_label or cfg.backend
        cap = self.select_cap
        threaded = backend_spec(cfg.backend).thread_per_connection
        if cfg.in_process:
            # Measured after the server started: its listeners and loop are among this process's fds.
            relocated = self.client is not None and self.client.fd_floor is not None
            return predict(CeilingInputs(label, Placement.THREAD, cap, budget, client_fds, destinations,
                                         cfg.ports, cfg.backend, client_fds_above_cap=relocated,
                                         thread_per_connection=threaded))
        server_fds = None
        if sampler.server is not None:
            try:
                server_fds = platform.process_fds(sampler.server)
            except psutil.Error:
                server_fds = None
        reserved = server_fds if server_fds is not None else server_reserved_fds(
            label, Placement.PROCESS, None, cfg.ports)
        pred = predict(CeilingInputs(label, Placement.PROCESS, cap, budget.with_soft(server.soft_limit), reserved,
                                     destinations, cfg.ports, cfg.backend, thread_per_connection=threaded))
        if client_soft is not None:
            client_max = client_soft - client_fds
            if pred.max_connections is None or client_max < pred.max_connections:
                pred = Prediction(label, Placement.PROCESS, client_max, StopReason.FD_LIMIT,
                                  f"client: soft RLIMIT_NOFILE {client_soft} less {client_fds} fds in use",
                                  cfg.backend)
        return pred

    # --- the ramp

    def run(self, progress: Optional[ProgressCallback]) -> RampResult:
        cfg = self.cfg
        started = time.monotonic()
        stop: Optional[StopInfo] = None
        prediction = Prediction(cfg.selector_class or "target", cfg.placement, None, None, "not reached",
                                cfg.backend)
        sampler: Optional[_Sampler] = None
        last_sample: dict[str, Any] = {}
        try:
            with interrupt_once():
                try:
                    self.budget_client_fds()
                    self.server = self.start_server()
                    sampler = _Sampler(self.server.pid)
                    source_ips = ([f"127.0.0.{i}" for i in range(1, cfg.source_ips + 1)]
                                  if cfg.source_ips > 1 else None)
                    facts = platform.read_system_facts()
                    self.client = client = make_client(cfg.client, self.server.addresses, source_ips, PAYLOAD,
                                                       cfg.verify, min(facts.somaxconn or 128, BATCH_MAX))
                    client.pump(self.server.step)
                    self.keep_client_fds_out_of_select(client)
                    prediction = self.predict(sampler, facts)
                    sampler.start()
                    stop, last_sample = self._steps(sampler, progress)
                except ServerGone as exc:  # it died before the first step
                    stop = self._stop(StopReason.SERVER_EXITED, Side.SERVER, None, str(exc), last_sample)
                except KeyboardInterrupt:
                    last_sample = sampler.sample() if sampler else {}
                    stop = self._stop(StopReason.INTERRUPTED, Side.CLIENT, None, "interrupted by a signal",
                                      last_sample)
            reached = self.client.held if self.client is not None else 0
            if stop is not None and stop.server_held is not None:
                # The server counts exactly what it held when the limit struck; connections it
                # answered at once and shed a moment later look verified to the client.
                reached = min(reached, stop.server_held)
        finally:
            with deferred():
                self.cleanup()
        if stop is not None:
            stop.at_connections = reached
        ok = (reached >= self.plan.goal) if cfg.to is not None else (
            stop is None or stop.reason != StopReason.INTERRUPTED)
        return RampResult(
            config=cfg.to_dict(),
            ok=ok and (stop is None or cfg.to is None),
            target=cfg.to,
            reached=reached,
            peak=self._peak(),
            stop=stop,
            predicted=prediction,
            verdict=verdict(cfg.to, reached, stop, prediction, cfg.placement),
            steps=self.steps,
            platform=platform_info(),
            notes=self.notes,
            seconds=round(time.monotonic() - started, 3),
            client_cpu_seconds=sampler.cpu_seconds("client") if sampler else None,
            server_cpu_seconds=sampler.cpu_seconds("server") if sampler else None,
        )

    def _steps(self, sampler: _Sampler, progress: Optional[ProgressCallback]):
        cfg = self.cfg
        client, server = self.client, self.server
        assert client is not None and server is not None
        last: dict[str, Any] = {}

        def server_gave_up() -> bool:
            status, gone = _server_status(server)
            return gone is not None or (status is not None and status.limit is not None)

        for goal in self.plan:
            new = goal - client.held
            guard = _guard(platform.read_system_facts, new)
            if guard is not None:
                return self._stop(guard[0], Side.SYSTEM, None, guard[1], last), last
            t0 = time.perf_counter()
            out = client.open(new, cfg.timeout, server_gave_up)
            latencies = list(out.latencies_ms)
            recheck = None
            if out.clean:
                older = client.sample(cfg.sample, exclude_newest=out.verified)
                if older:
                    recheck = client.reverify(older, cfg.timeout)
                    latencies += recheck.latencies_ms
            elapsed = time.perf_counter() - t0
            last = sampler.sample()
            # Ask the server after every step, not only after a failure: a connection it answered
            # at once and then had to shed (select's cap) looks verified from the client side.
            status, gone = _server_status(server)
            limit = status.limit if status is not None else None
            held = client.held if limit is None else min(client.held, limit.held)
            tcp_inuse, tcp_mem = platform.kernel_tcp_stats()
            p50, p99 = step_latency(latencies)
            step = RampStep(
                connections=held,
                p50_ms=p50,
                p99_ms=p99,
                seconds=round(elapsed, 4),
                rate=round(out.verified / elapsed, 1) if elapsed > 0 else 0.0,
                kernel_tcp_inuse=tcp_inuse,
                kernel_tcp_mem_pages=tcp_mem,
                **last,
            )
            self.steps.append(step)
            if progress is not None:
                progress(step, len(self.plan))
            failed = out if not out.clean else (recheck if recheck is not None and not recheck.clean else None)
            if failed is not None or gone is not None or limit is not None:
                reason, side, errno_name, message = classify_stop(failed or out, status, gone, cfg.timeout)
                stop = self._stop(reason, side, errno_name, message, last)
                if limit is not None:
                    stop.server_held = limit.held
                return stop, last
            if cfg.hold:
                time.sleep(cfg.hold)
        return None, last

    def _stop(self, reason: StopReason, side: Side, errno_name: Optional[str], message: str,
              sample: dict[str, Any]) -> StopInfo:
        return StopInfo(
            reason=reason, side=side, errno=errno_name, message=message,
            at_connections=self.client.held if self.client is not None else 0,
            client_fds=sample.get("client_fds"), server_fds=sample.get("server_fds"),
            remedy=platform.remedy(reason, side, self.hard),
        )

    def _peak(self) -> Peak:
        def top(name: str) -> Optional[int]:
            values = [getattr(s, name) for s in self.steps if getattr(s, name) is not None]
            return max(values) if values else None

        return Peak(top("client_fds"), top("server_fds"), top("client_rss"), top("server_rss"))

    def cleanup(self) -> None:
        """Close every socket, reap the server, restore the fd limit: whatever happened before."""
        try:
            if self.client is not None:
                self.client.close()
        finally:
            try:
                if self.server is not None:
                    self.server.close()
            finally:
                if self.restore_soft is not None:
                    platform.set_soft_fd_limit(self.restore_soft)


def run_ramp(cfg: RampConfig, progress: Optional[ProgressCallback] = None) -> RampResult:
    """Ramp connections as ``cfg`` says and return the result; never leaves sockets or children behind."""
    if cfg.target_address is None and cfg.target is not None:
        raise UsageError("the ramp configuration was not validated")
    if cfg.workers is not None:
        from netprobe.dist.controller import run_distributed

        return run_distributed(cfg)
    return _Run(cfg).run(progress)
