"""A ramp's own prediction: ``limits``'s arithmetic on the fds measured once its server has started."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from netprobe import platform
from netprobe.models import Prediction, SelectorCap
from netprobe.prediction import Budget, CeilingInputs, predict, server_reserved_fds
from netprobe.ramp_spec import RampSpec
from netprobe.selector_catalog import NO_CAP
from netprobe.stops import StopReason
from netprobe.vocabulary import Placement

if TYPE_CHECKING:
    import psutil


def forecast(spec: RampSpec, waits_with: Optional[str], cap: SelectorCap, server_soft: Optional[int],
             client_proc: psutil.Process, server_proc: Optional[psutil.Process], facts: platform.SystemFacts,
             client_fds_above_cap: bool, target_ceiling: Optional[tuple[int, str]] = None) -> Prediction:
    """Predict this set-up's ceiling and the limit that binds it."""
    import psutil

    client_soft, _, _ = platform.fd_limits()
    client_fds = platform.process_fds(client_proc) or 0
    budget = Budget.from_facts(client_soft, facts, psutil.virtual_memory().available)
    destinations = spec.ports * spec.source_ips
    if spec.target_address is not None:
        pred = predict(CeilingInputs("target", "target", NO_CAP, budget, client_fds, destinations,
                                     listeners_in_range=0))
        if target_ceiling is None or (pred.max_connections is not None and pred.max_connections <= target_ceiling[0]):
            return pred
        return Prediction(pred.selector, pred.placement, target_ceiling[0], StopReason.FD_LIMIT,
                          f"{target_ceiling[1]}: {target_ceiling[0]:,} at most", pred.backend)
    label = waits_with or spec.backend.name
    threaded = spec.backend.thread_per_connection
    if spec.in_process:
        # Measured after the server started: its listeners and loop are among this process's fds.
        return predict(CeilingInputs(label, Placement.THREAD, cap, budget, client_fds, destinations,
                                     spec.ports, spec.backend.name, client_fds_above_cap=client_fds_above_cap,
                                     thread_per_connection=threaded))
    server_fds = None
    if server_proc is not None:
        try:
            server_fds = platform.process_fds(server_proc)
        except psutil.Error:
            server_fds = None
    reserved = server_fds if server_fds is not None else server_reserved_fds(label, Placement.PROCESS, None,
                                                                              spec.ports)
    pred = predict(CeilingInputs(label, Placement.PROCESS, cap, budget.with_soft(server_soft), reserved,
                                 destinations, spec.ports, spec.backend.name, thread_per_connection=threaded))
    if spec.spread:
        one_client = client_soft - client_fds if client_soft is not None and spec.client_processes == 1 else None
        return _spread(spec, pred, facts, one_client)
    if client_soft is not None:
        client_max = client_soft - client_fds
        if pred.max_connections is None or client_max < pred.max_connections:
            pred = Prediction(label, Placement.PROCESS, client_max, StopReason.FD_LIMIT,
                              f"client: soft RLIMIT_NOFILE {client_soft} less {client_fds} fds in use",
                              spec.backend.name)
    return pred


def _spread(spec: RampSpec, one_server: Prediction, facts: platform.SystemFacts,
            one_client: Optional[int]) -> Prediction:
    """A ramp over several processes: the machine's ceiling, or what cannot spread where the OS does not let it.

    Processes are added as the target needs, so no one process's fd limit is the ceiling: the
    machine's is (its file table, its memory, its loopback ports; ``limits``'s machine section).
    Where the server or the client runs as one process (the kernel does not spread one port, or
    one client process holds the target), that process's own ceiling counts too.
    """
    import psutil

    from netprobe.hostinfo import platform_info
    from netprobe.machine import KernelMemory, cached_kernel_memory, loopback_sources, machine_limits

    _, hard, _ = platform.fd_limits()
    caps: list[tuple[int, StopReason, str]] = []
    if spec.server_processes == 1 and one_server.max_connections is not None and one_server.binding_limit:
        caps.append((one_server.max_connections, StopReason(one_server.binding_limit),
                     f"the one server process: {one_server.detail}"))
    if one_client is not None:
        caps.append((one_client, StopReason.FD_LIMIT, f"the one client process: {one_client:,} fds left"))
    kernel = cached_kernel_memory(platform_info().release) or KernelMemory(None, "not measured yet")
    machine = machine_limits(facts, hard, psutil.virtual_memory().available, kernel, loopback_sources())
    if machine.ceiling is not None and machine.binding is not None:
        caps.append((machine.ceiling, StopReason(machine.binding), f"the machine: {machine.detail}"))
    if not caps:
        return Prediction(one_server.selector, Placement.PROCESS, None, None, "no limit could be read",
                          spec.backend.name)
    count, reason, detail = min(caps)
    return Prediction(one_server.selector, Placement.PROCESS, count, reason, detail, spec.backend.name)

