"""The one ramp engine: hold more connections step by step until the target or the first wall, and name it.

One step loop, one stop naming, one ``ok`` rule and one result, over any ``ConnectionHolder``: a
client model in this process, one spread over child processes (``shape``), or a distributed
ramp's workers (the master process passes its ``WorkerPool``). The plan (``RampPlan``) decides
each step's count; ``evidence``, ``sampler``, ``budget``, ``forecast``, ``classify`` and
``verdict`` do the rest.
"""
from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import Optional

from netprobe import platform
from netprobe.causes import cause_of
from netprobe.clients.holder import ConnectionHolder
from netprobe.clients.outcome import BatchOutcome
from netprobe.clients.traffic import Tally
from netprobe.errors import ChildStartError, ServerGone
from netprobe.hostinfo import platform_info
from netprobe.models import Prediction
from netprobe.models.ramp import ProcessShare, RampResult, RampStep, StopInfo
from netprobe.platform import TcpCounters
from netprobe.ramp.budget import FdBudget, guard
from netprobe.ramp.churn import ChurnCeiling, churn_ceiling, churn_prediction, refused_opens
from netprobe.ramp.evidence import (
    add_counts,
    counter_deltas,
    server_status,
    time_wait_overflows,
)
from netprobe.ramp.forecast import forecast
from netprobe.ramp.judge import StepJudge
from netprobe.ramp.knee import Demand, Sides, busy_percent, knee_of, stall_percent
from netprobe.ramp.plan import RampPlan
from netprobe.ramp.sampler import Sample, Sampler, peak_of
from netprobe.ramp.shape import process_shares, start_holder, start_server, watch_cap, what_cannot_be_told
from netprobe.ramp.verdict import churn_verdict, ramp_ok, reached_at_stop, slowdown, verdict
from netprobe.ramp_spec import RampSpec
from netprobe.servers.handle import ServerHandle
from netprobe.signals import deferred, interrupt_once, interrupted
from netprobe.sockets import is_loopback
from netprobe.stats import p50_p99
from netprobe.stops import StopReason
from netprobe.vocabulary import Side

# A batch of connects larger than the accept queue makes the kernel drop SYNs and retry after ~1 s.
BATCH_MAX = 1024
PAUSE_SLICE = 0.1  # a hold is waited in slices this long, so a stop asked meanwhile ends it at once

ProgressCallback = Callable[[RampStep, int], None]


class _Run(StepJudge):
    """One ramp's state, so cleanup can find whatever was started."""

    def __init__(self, spec: RampSpec, holder: Optional[ConnectionHolder] = None) -> None:
        self.spec = spec
        self.plan = RampPlan.build(spec.to, spec.step, spec.max)
        self.steps: list[RampStep] = []
        #: Of what the holder holds, what the server had not accepted at the last step (its kernel says).
        self.not_accepted = 0
        self.server: Optional[ServerHandle] = None
        self.given = holder  # a holder started elsewhere (a distributed ramp's workers)
        self.client: Optional[ConnectionHolder] = None
        self.budget = FdBudget()
        self.churn = spec.traffic is not None and spec.traffic.churn
        #: Under churn: the last rate of new connections a step sustained, and what the ports allow.
        self.sustained = 0
        self.churn_ceiling: Optional[ChurnCeiling] = None

    def start_holder(self, source_ips: Optional[list[str]], batch: int) -> ConnectionHolder:
        """The ramp's holder: the one given, the client model in this process, or spread over child processes."""
        assert self.server is not None
        if self.given is not None:
            return self.given
        return start_holder(self.spec, self.plan.goal, self.server.addresses, source_ips, batch, self.budget.notes)

    # --- the ramp

    def run(self, progress: Optional[ProgressCallback]) -> RampResult:
        """Set up, step, classify the stop, clean up: whatever happens, a result."""
        spec = self.spec
        started = time.monotonic()
        stop: Optional[StopInfo] = None
        prediction = Prediction(spec.selector_class or "target", spec.placement, None, None, "not reached",
                                spec.backend.name)
        sampler: Optional[Sampler] = None
        last = Sample()
        shares: Optional[list[ProcessShare]] = None
        try:
            with interrupt_once():
                try:
                    if spec.client_processes == 1 and self.given is None:
                        self.budget.prepare_client(spec, self.plan.goal)
                    self.server = start_server(spec, self.plan.goal, self.budget.notes)
                    source_ips = ([f"127.0.0.{i}" for i in range(1, spec.source_ips + 1)]
                                  if spec.source_ips > 1 else None)
                    facts = platform.read_system_facts()
                    self.client = client = self.start_holder(source_ips, min(facts.somaxconn or 128, BATCH_MAX))
                    sampler = Sampler(self.server.pids, client.pids)
                    self.budget.notes += what_cannot_be_told(spec)
                    client.pump(self.server.step)
                    cap = watch_cap(self.server)
                    if spec.in_process and spec.client.drives_inline_server:
                        client.fd_floor = self.budget.above_select_cap(cap, self.plan.goal)
                    prediction = client.prediction() or forecast(
                        spec, self.server.waits_with, cap, self.server.soft_limit, sampler.me, sampler.server, facts,
                        client.fd_floor is not None, self.server.fd_ceiling())
                    if self.churn:
                        self.churn_ceiling = (None if spec.distributed else
                                              churn_ceiling(facts, spec.source_ips, self.server.addresses))
                        prediction = churn_prediction(spec, self.churn_ceiling)
                    sampler.start()
                    stop, last = self._steps(sampler, progress)
                    shares = process_shares(self.server, self.client) if spec.spread else None
                except ServerGone as exc:  # it died before the first step
                    stop = self._stop(StopReason.SERVER_EXITED, Side.SERVER, None, str(exc), last)
                except ChildStartError as exc:  # the OS would not start a client process
                    stop = self._stop(StopReason.OTHER, Side.CLIENT, None, str(exc), last)
                except KeyboardInterrupt:
                    last = sampler.sample() if sampler else Sample()
                    stop = self._stop(StopReason.INTERRUPTED, Side.CLIENT, None, "interrupted by a signal", last)
            held = (self.client.held if self.client is not None else 0) - self.not_accepted
            reached = self.sustained if self.churn else reached_at_stop(held, stop)
        finally:
            with deferred():
                self.cleanup()
        if stop is not None and not self.churn:
            stop.at_connections = reached
        says = (churn_verdict(spec.to, reached, stop, prediction, self.steps) if self.churn else
                verdict(spec.to, reached, stop, prediction, spec.placement))
        return RampResult(
            config=spec, ok=ramp_ok(spec.to, self.plan.goal, reached, stop), to=spec.to, reached=reached,
            peak=peak_of(self.steps), stop=stop, predicted=prediction,
            verdict=" ".join(filter(None, [says, None if self.churn else slowdown(self.steps)])), steps=self.steps,
            platform=platform_info(), notes=[*self.budget.notes, *(self.given.notes() if self.given else [])],
            seconds=round(time.monotonic() - started, 3),
            client_cpu_seconds=sampler.cpu_seconds("client") if sampler and self.given is None else None,
            server_cpu_seconds=sampler.cpu_seconds("server") if sampler else None,
            workers=self.given.worker_summaries() if self.given else None, processes=shares,
        )

    def _steps(self, sampler: Sampler, progress: Optional[ProgressCallback]) -> tuple[Optional[StopInfo], Sample]:
        spec = self.spec
        client, server = self.client, self.server
        assert client is not None and server is not None
        last = Sample()
        counters_before = platform.tcp_counters()  # each step's reading is the next one's start

        def server_gave_up() -> bool:
            status, gone = server_status(server)
            return gone is not None or (status is not None and status.limit is not None)

        for goal in self.plan:
            self._stop_if_asked()
            new = (0 if self.churn else goal) - client.held  # churn holds none: its goal is a rate
            # The guards watch this machine: a distributed ramp's connections are held on the workers'.
            guarded = guard(platform.read_system_facts, new) if not spec.distributed else None
            if guarded is not None:
                return self._stop(guarded[0], Side.SYSTEM, None, guarded[1], last), last
            t0 = time.perf_counter()
            out = client.open(new, spec.timeout, server_gave_up)
            latencies = list(out.latencies_ms)
            recheck = None
            if out.clean:
                older = client.sample(spec.sample, exclude_newest=out.verified)
                if older:
                    recheck = client.reverify(older, spec.timeout)
                    latencies += recheck.latencies_ms
            # Held means accepted and not closed: drop what the server closed since its check, and
            # what the kernel completed but the server never accepted.
            settled = self._settle(out)
            elapsed = time.perf_counter() - t0
            last = self._sample(sampler)
            step, counters_before = self._record(out.verified, latencies, settled.held, elapsed, last, counters_before)
            self.steps.append(step)
            failed = out if not out.clean else (recheck if recheck is not None and not recheck.clean else None)
            knee: Optional[StopInfo] = None
            if failed is None and (spec.hold or spec.traffic) and not settled.broke:
                knee, counters_before = self._hold(sampler, counters_before, goal)
                # Checked again at the end of the hold: a server that was paused or slow answers now.
                settled = self._settle(out)
                self.steps[-1] = dataclasses.replace(self.steps[-1], connections=settled.held)
            if progress is not None:
                progress(self.steps[-1], len(self.plan))
            if failed is not None or settled.broke:
                stop = self._name_stop(failed or out, settled, last, step.listen_overflows)
                self._hold_at_stop(out)
                return stop, last
            if knee is not None:
                return knee, last
            self.sustained = goal
        return None, last

    def _hold(self, sampler: Sampler, counters: Optional[TcpCounters],
              goal: int) -> tuple[Optional[StopInfo], Optional[TcpCounters]]:
        """Hold the step: idle for --hold, or carrying --rate's traffic or --churn's; the knee or wall it found.

        Returns the knee and the kernel's counters at the end, from which the next step counts.
        """
        traffic = self.spec.traffic
        if traffic is None:
            self._pause(self.spec.hold)
            return None, counters
        assert self.client is not None and self.server is not None
        plan = traffic.for_step(goal, self.client.held)
        tally = Tally()
        sampler.sample()  # the traffic's CPU is measured from here
        demand_before, stalled_before, started = self._demand(), platform.cpu_stalled(), time.perf_counter()
        resent_before = None if plan.churn else self._toward(platform.retransmits_toward)
        self.client.traffic(plan, tally)
        resent_after = None if resent_before is None else self._toward(platform.retransmits_toward)
        during = self._sample(sampler)
        took = time.perf_counter() - started
        busy = busy_percent(demand_before, self._demand(), took)
        pressure = stall_percent(stalled_before, platform.cpu_stalled(), took)
        after = platform.tcp_counters()
        overflows, _, resent = counter_deltas(counters, after)
        step = self.steps[-1]
        client_cpu = during.client_cpu if during.client_cpu is not None else tally.cpu  # workers say their own
        stats = dataclasses.replace(tally.stats(plan, client_cpu, during.server_cpu, overflows, resent),
                                    client_busy=busy.client, server_busy=busy.server,
                                    server_busiest=busy.server_busiest, cpu_pressure=pressure,
                                    time_wait=self._toward(platform.time_wait_toward) if plan.churn else None,
                                    time_wait_overflows=(time_wait_overflows(counters, after)
                                                         if plan.churn and not self.spec.distributed else None),
                                    server_time_wait=self._at_server(platform.time_wait_at) if plan.churn else None,
                                    retransmits=(None if resent_before is None or resent_after is None
                                                 else max(0, resent_after - resent_before)))
        self.steps[-1] = dataclasses.replace(step, traffic=stats,
                                             listen_overflows=add_counts(step.listen_overflows, overflows),
                                             syn_retransmits=add_counts(step.syn_retransmits, resent))
        refused = refused_opens(stats, self.churn_ceiling) if plan.churn else None
        if refused is not None:
            stop = self._stop(refused.reason, refused.side, refused.errno, refused.message, during)
            stop.cause = refused.cause
            if refused.cause is not None:
                stop.remedy = cause_of(refused.cause).remedy
            return stop, after
        holders = len(self.client.worker_summaries() or self.client.pids) or 1  # processes holding connections
        knee = knee_of(self.steps, plan, Sides(max(1, len(self.server.pids)), holders, self.spec.in_process))
        if knee is None:
            return None, after
        stop = self._stop(StopReason.LATENCY_KNEE, knee.side, None, knee.message, during)
        stop.cause = knee.cause
        if knee.cause is not None:
            stop.remedy = cause_of(knee.cause).remedy
        return stop, after

    def _toward(self, count: Callable[[tuple[str, int]], Optional[int]]) -> Optional[int]:
        """``count`` of this machine's connections to each server address, summed; None where any is unknown.

        A distributed ramp's connections are on the workers' machines: unknown here.
        """
        assert self.server is not None
        if self.spec.distributed:
            return None
        counts = [count(address) for address in self.server.addresses]
        return None if None in counts else sum(c for c in counts if c is not None)

    def _at_server(self, count: Callable[[tuple[str, int]], Optional[int]]) -> Optional[int]:
        """``count`` of the server's own connections at each of its addresses, summed; None unless it is local.

        A server on another machine has its own kernel, which this one cannot read.
        """
        assert self.server is not None
        if not all(is_loopback(host) for host, _ in self.server.addresses):
            return None
        counts = [count(address) for address in self.server.addresses]
        return None if None in counts else sum(c for c in counts if c is not None)

    def _demand(self) -> Demand:
        """CPU seconds the client's processes and each server process ran or waited to run, where this OS says."""
        assert self.client is not None and self.server is not None
        client = None if self.spec.distributed else platform.cpu_demand([os.getpid(), *self.client.pids])
        return Demand(client, {pid: platform.cpu_demand([pid]) for pid in self.server.pids})

    def _record(self, verified: int, latencies: list[float], held: int, elapsed: float, last: Sample,
                counters_before: Optional[TcpCounters]) -> tuple[RampStep, Optional[TcpCounters]]:
        """One step's row, with the kernel's counters' rise since ``counters_before``; and the counters now."""
        tcp_inuse, tcp_mem = platform.kernel_tcp_stats()
        counters_after = platform.tcp_counters()
        overflows, drops, resent = counter_deltas(counters_before, counters_after)
        p50, p99 = p50_p99(latencies)
        step = RampStep(
            connections=held, client_fds=last.client_fds, server_fds=last.server_fds,
            client_rss=last.client_rss, server_rss=last.server_rss, client_cpu=last.client_cpu,
            server_cpu=last.server_cpu, p50_ms=p50, p99_ms=p99, seconds=round(elapsed, 4),
            rate=round(verified / elapsed, 1) if elapsed > 0 else 0.0,
            kernel_tcp_inuse=tcp_inuse, kernel_tcp_mem_pages=tcp_mem,
            listen_overflows=overflows, listen_drops=drops, syn_retransmits=resent,
        )
        return step, counters_after

    def _hold_at_stop(self, out: BatchOutcome) -> None:
        """With --hold, hold the failing step too, for a look; then count again what the server still holds."""
        if self.spec.hold:
            try:
                self._pause(self.spec.hold)
            except KeyboardInterrupt:
                return  # the stop is already named; the signal ends the hold, and the run ends as it would
            self._settle(out)

    def _pause(self, seconds: float) -> None:
        """Hold for ``seconds`` in slices, so that a stop asked of the holder ends the hold at once."""
        assert self.client is not None
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._stop_if_asked()
            self._wait(min(PAUSE_SLICE, left))

    def _stop_if_asked(self) -> None:
        """Raise KeyboardInterrupt where the holder was told to stop, or a signal came whose own one was lost."""
        assert self.client is not None
        if self.client.interrupted() or interrupted():
            raise KeyboardInterrupt

    def _sample(self, sampler: Sampler) -> Sample:
        """Both sides now; the client side as its holder says where its processes are not this machine's."""
        sample = sampler.sample()
        assert self.client is not None
        usage = self.client.usage()
        if usage is None:
            return sample
        return dataclasses.replace(sample, client_fds=usage[0], client_rss=usage[1], client_cpu=None)

    def cleanup(self) -> None:
        """Reap the server, close every socket, restore the fd limit: whatever happened before.

        The server goes first: closed after the client, it would wake for every connection's reset
        and handle each in Python, only to exit (4-7 µs of user time a connection at 200,000).
        """
        try:
            if self.server is not None:
                self.server.close()
        finally:
            try:
                if self.client is not None:
                    self.client.close()
            finally:
                self.budget.restore()


def run_ramp(spec: RampSpec, progress: Optional[ProgressCallback] = None,
             holder: Optional[ConnectionHolder] = None) -> RampResult:
    """Ramp connections as ``spec`` says, held by ``holder`` or by the one the spec chooses on this machine.

    Never leaves sockets or children behind. A distributed spec needs its workers' holder: the
    master process builds it (``netprobe.distributed.master``).
    """
    if spec.distributed and holder is None:
        raise ValueError("a distributed spec is run by netprobe.distributed.controller.run_distributed")
    return _Run(spec, holder).run(progress)
