"""``netprobe limits``: read what this machine and process can hold, and predict the ceilings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from netprobe import platform
from netprobe.cpu import cpu_seconds
from netprobe.hostinfo import platform_info
from netprobe.models import (
    FdLimits,
    LimitsReport,
    MachineLimits,
    MemoryStats,
    NetworkLimits,
    Note,
    PlatformInfo,
    PortRange,
    Prediction,
    ProcessStats,
    SelectorCap,
    SelectorsInfo,
)
from netprobe.platform import SystemFacts
from netprobe.prediction import Budget, CeilingInputs, predict, server_reserved_fds
from netprobe.selector_catalog import SELECTOR_ORDER, available_selectors, default_selector, selector_caps
from netprobe.vocabulary import Placement

if TYPE_CHECKING:
    import psutil

# SystemFacts attribute -> where the fact sits in the limits JSON.
_FACT_PATHS = {
    "system_max": "fds.system_max",
    "system_in_use": "fds.system_in_use",
    "per_process_max": "fds.per_process_max",
    "somaxconn": "network.somaxconn",
    "port_low": "network.ephemeral_ports",
    "port_high": "network.ephemeral_ports",
    "tcp_tw_reuse": "network.tcp_tw_reuse",
    "tcp_fin_timeout": "network.tcp_fin_timeout",
    "tcp_max_syn_backlog": "network.tcp_max_syn_backlog",
    "tcp_max_tw_buckets": "network.tcp_max_tw_buckets",
    "nf_conntrack_max": "network.nf_conntrack_max",
    "excluded_ports": "network.ephemeral_ports.excluded",
    "launchd_maxfiles": "fds.launchd_soft",
}


def process_stats(proc: Optional[psutil.Process] = None) -> tuple[ProcessStats, list[Note]]:
    """Sample a psutil.Process (this one by default): fds or handles, RSS, threads, CPU."""
    import psutil

    proc = proc or psutil.Process()
    notes = []
    with proc.oneshot():
        try:
            fds = platform.process_fds(proc)
        except psutil.AccessDenied:
            fds = None
            notes.append(Note("process.fds", "access denied"))
        mem = proc.memory_info()
        return ProcessStats(proc.pid, fds, mem.rss, proc.num_threads(), round(cpu_seconds(proc), 3)), notes


def collect_limits() -> LimitsReport:
    """Read every limit and fact of this machine and process, then predict the ceilings."""
    import psutil

    soft, hard, missing = platform.fd_limits()
    from netprobe.machine import kernel_memory, loopback_sources, machine_limits

    proc, proc_notes = process_stats()
    vm = psutil.virtual_memory()
    info = platform_info()
    facts = platform.read_system_facts()
    kernel = kernel_memory(info.release, soft, proc.fds)
    return build_limits_report(
        info=info,
        soft=soft,
        hard=hard,
        rlimit_missing=missing,
        facts=facts,
        select_cap=platform.probe_select_cap(),
        available=available_selectors(),
        default=default_selector(),
        process=proc,
        memory=MemoryStats(vm.total, vm.available),
        extra_notes=proc_notes,
        machine=machine_limits(facts, hard, vm.available, kernel, loopback_sources()),
    )


def _summary(default: str, predicted: list[Prediction]) -> str:
    """The report's first line: what the default selector's server in its own process can hold, and why."""
    headline = next(p for p in predicted if p.selector == default and p.placement == Placement.PROCESS)
    if headline.max_connections is None:
        return f"selectors.DefaultSelector is {default}; no limit could be read to predict a ceiling"
    return (f"selectors.DefaultSelector is {default}; a server in its own process can hold about "
            f"{headline.max_connections:,} connections here, bound by {headline.binding_limit} "
            f"({headline.detail})")


def build_limits_report(
    info: PlatformInfo,
    soft: Optional[int],
    hard: Optional[int],
    rlimit_missing: Optional[str],
    facts: SystemFacts,
    select_cap: SelectorCap,
    available: list[str],
    default: str,
    process: ProcessStats,
    memory: MemoryStats,
    extra_notes: Optional[list[Note]] = None,
    machine: Optional[MachineLimits] = None,
) -> LimitsReport:
    """Assemble the report from facts already read: pure, so any platform's facts can be fed in."""
    notes: list[Note] = []
    if rlimit_missing:
        notes += [Note("fds.soft", rlimit_missing), Note("fds.hard", rlimit_missing)]
    notes += [Note(_FACT_PATHS.get(n.field, n.field), n.reason) for n in facts.notes]
    notes += extra_notes or []
    caps = selector_caps(available, select_cap)
    budget = Budget.from_facts(soft, facts, memory.available)
    predicted = [
        predict(CeilingInputs(name, placement, caps[name], budget,
                              server_reserved_fds(name, placement, process.fds)))
        for name in available
        for placement in Placement.values()
    ]
    return LimitsReport(
        summary=_summary(default, predicted),
        platform=info,
        selectors=SelectorsInfo(
            default=default,
            available=available,
            caps=caps,
            why_default=f"{default} is the first of {' > '.join(SELECTOR_ORDER)} this Python can create",
        ),
        fds=FdLimits(soft, hard, facts.system_max, facts.system_in_use, facts.per_process_max,
                     *facts.launchd_maxfiles),
        network=NetworkLimits(
            somaxconn=facts.somaxconn,
            ephemeral_ports=PortRange(facts.port_low, facts.port_high, facts.port_count, facts.excluded_ports,
                                      facts.excluded_in_range),
            tcp_tw_reuse=facts.tcp_tw_reuse,
            tcp_fin_timeout=facts.tcp_fin_timeout,
            tcp_max_syn_backlog=facts.tcp_max_syn_backlog,
            nf_conntrack_max=facts.nf_conntrack_max,
            tcp_max_tw_buckets=facts.tcp_max_tw_buckets,
        ),
        process=process,
        memory=memory,
        predicted=predicted,
        notes=notes,
        machine=machine,
    )
