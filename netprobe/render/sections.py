"""Turn result records into titled sections of rows; the table and markdown renderers print them.

Only selection and formatting happen here: every number comes from the record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from netprobe.render import units
from netprobe.sockets import format_address

if TYPE_CHECKING:  # annotations only: importing every record would slow `netprobe limits`
    from netprobe.models import (
        BenchEchoResult,
        BenchModelsResult,
        BenchSelectorsResult,
        BenchTransferResult,
        CeilingsResult,
        LimitsReport,
        PlatformInfo,
        RampResult,
        ReportResult,
        SelectorTiming,
    )

# Tables longer than this show the first and last steps; JSON keeps every step.
MAX_STEP_ROWS = 25


@dataclass
class Section:
    """A titled table of a document, with lines of text before it."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    lead: list[str] = field(default_factory=list)  # sentences printed before the rows


@dataclass
class Document:
    """A result laid out for people: a title, lines of text, and sections."""

    title: str
    lead: list[str]
    sections: list[Section]


def _platform_line(p: PlatformInfo) -> str:
    return f"{p.system} {p.release} {p.machine}, {p.implementation} {p.python}"


def limits_document(r: LimitsReport) -> Document:
    """Lay out ``netprobe limits``."""
    cap_rows = []
    for name in r.selectors.available:
        cap = r.selectors.caps[name]
        cap_rows.append([name, "yes" if name == r.selectors.default else "", cap.kind,
                         units.count(cap.limit), cap.detail])
    pred_rows = [[p.selector, p.placement, units.count(p.max_connections), units.text(p.binding_limit), p.detail]
                 for p in r.predicted]
    ports = r.network.ephemeral_ports
    port_text = (f"{ports.low}-{ports.high} ({ports.count:,} usable)" if ports.count is not None else units.MISSING)
    if ports.excluded_in_range:
        port_text += f"; {ports.excluded_in_range:,} of the range reserved (netsh excludedportrange)"
    fd_rows = [
        ["soft RLIMIT_NOFILE", units.count(r.fds.soft)],
        ["hard RLIMIT_NOFILE", units.count(r.fds.hard)],
        ["system max", units.count(r.fds.system_max)],
        ["system in use", units.count(r.fds.system_in_use)],
        ["per-process max", units.count(r.fds.per_process_max)],
    ]
    if r.fds.launchd_soft is not None or r.fds.launchd_hard is not None:
        fd_rows.append(["launchd maxfiles (soft / hard)",
                        f"{units.count(r.fds.launchd_soft)} / {units.text(r.fds.launchd_hard or 'unlimited')}"])
    sections = [
        Section("Selectors", ["class", "default", "cap kind", "cap", "what bounds it"], cap_rows,
                lead=[r.selectors.why_default]),
        Section("Predicted ceiling (concurrent loopback connections)",
                ["selector", "placement", "max", "binding limit", "why"], pred_rows,
                lead=["process: server alone in its process (1 fd per connection); "
                      "thread: server and clients in one process (2 fds per connection)"]),
        Section("File descriptors", ["limit", "value"], fd_rows),
        Section("Network", ["setting", "value"], [
            ["somaxconn (listen backlog cap)", units.count(r.network.somaxconn)],
            ["ephemeral ports", port_text],
            ["tcp_tw_reuse", units.text(r.network.tcp_tw_reuse)],
            ["tcp_fin_timeout", units.text(r.network.tcp_fin_timeout)],
            ["tcp_max_syn_backlog", units.count(r.network.tcp_max_syn_backlog)],
            ["nf_conntrack_max", units.count(r.network.nf_conntrack_max)],
        ]),
        Section("This process and memory", ["fact", "value"], [
            ["pid", str(r.process.pid)],
            ["fds/handles open", units.count(r.process.fds)],
            ["RSS", units.size(r.process.rss)],
            ["threads", units.count(r.process.threads)],
            ["CPU time", units.seconds(r.process.cpu_seconds)],
            ["memory total", units.size(r.memory.total)],
            ["memory available", units.size(r.memory.available)],
        ]),
    ]
    if r.notes:
        sections.append(Section("Notes", ["field", "why it is missing"], [[n.field, n.reason] for n in r.notes]))
    return Document(f"netprobe limits: {_platform_line(r.platform)}", [r.summary], sections)


def _step_rows(r: RampResult) -> tuple[list[list[str]], list[str]]:
    steps = r.steps
    lead = []
    if len(steps) > MAX_STEP_ROWS:
        head, tail = MAX_STEP_ROWS // 2, MAX_STEP_ROWS - MAX_STEP_ROWS // 2
        lead.append(f"{len(steps)} steps; showing the first {head} and last {tail} (all are in --format json)")
        steps = steps[:head] + steps[-tail:]
    rows = [[units.count(s.connections), units.count(s.client_fds), units.count(s.server_fds),
             units.size(s.client_rss), units.size(s.server_rss), units.ms(s.p50_ms), units.ms(s.p99_ms),
             f"{s.seconds:.2f}", f"{s.rate:,.0f}"] for s in steps]
    return rows, lead


def ramp_document(r: RampResult) -> Document:
    """Lay out one ramp: its steps, why it stopped, and the prediction against the measurement."""
    cfg = r.config
    target = "no target (until the first limit)" if r.to is None else f"target {r.to:,}"
    lead = [r.verdict]
    rows, step_lead = _step_rows(r)
    sections = [
        Section("Steps", ["connections", "client fds", "server fds", "client RSS", "server RSS",
                          "p50 ms", "p99 ms", "step s", "conn/s"], rows, lead=step_lead),
    ]
    if r.stop is not None:
        s = r.stop
        sections.append(Section("Why it stopped", ["", ""], [
            ["reason", s.reason],
            ["side", s.side],
            ["error", f"{units.text(s.errno)}: {s.message}" if s.errno else s.message],
            ["at connections", units.count(s.at_connections)],
            ["fds at failure", f"client {units.count(s.client_fds)}, server {units.count(s.server_fds)}"],
            ["remedy", s.remedy],
        ]))
    p = r.predicted
    sections.append(Section("Prediction vs measurement", ["", ""], [
        ["predicted", f"{units.count(p.max_connections)} ({units.text(p.binding_limit)}: {p.detail})"],
        ["reached", units.count(r.reached)],
        ["peak fds", f"client {units.count(r.peak.client_fds)}, server {units.count(r.peak.server_fds)}"],
        ["peak RSS", f"client {units.size(r.peak.client_rss)}, server {units.size(r.peak.server_rss)}"],
        ["duration", units.seconds(r.seconds)],
    ]))
    if r.workers:
        sections.append(Section("Workers", ["worker", "host", "pid", "held", "soft fds", "ephemeral ports",
                                            "source", "first failure"], [
            [w.id[-12:], units.text(w.host), units.text(w.pid), units.count(w.held), units.count(w.soft_fds),
             units.count(w.ports), ", ".join(w.source_ips) or "any",
             units.MISSING if w.failure is None else f"{w.failure.reason}: {w.failure.message}"]
            for w in r.workers]))
    if r.notes:
        sections.append(Section("Notes", ["field", "note"], [[n.field, n.reason] for n in r.notes]))
    waits = r.predicted.selector
    address = format_address(cfg.target_address) if cfg.target_address else None
    if r.workers:
        title = (f"netprobe ramp: {address} from {len(r.workers)} workers, {target}: "
                 f"master on {_platform_line(r.platform)}")
    elif address:
        title = f"netprobe ramp: {address}, {cfg.client.name} client, {target}: {_platform_line(r.platform)}"
    else:
        title = (f"netprobe ramp: {cfg.backend.name} server ({waits}, {cfg.placement}), "
                 f"{cfg.client.name} client, {target}: {_platform_line(r.platform)}")
    return Document(title, lead, sections)


def _per_conn_bytes(value: Optional[float]) -> str:
    return units.MISSING if value is None else f"{value:,.0f} B"


def ceilings_document(r: CeilingsResult) -> Document:
    """Lay out ``ramp --backend all``: one row per backend."""
    target = "until the first limit" if r.to is None else f"to {r.to:,}"
    rows = []
    for c in r.rows:
        stop = units.MISSING if c.stop_reason is None else f"{c.stop_reason} ({c.stop_side})"
        predicted = units.MISSING if c.predicted is None else f"{c.predicted:,} ({c.binding_limit})"
        rows.append([c.backend, units.text(c.waits_with), units.count(c.reached), stop, predicted,
                     units.count(None if c.connect_rate is None else round(c.connect_rate)),
                     _per_conn_bytes(c.client_rss_per_connection), _per_conn_bytes(c.server_rss_per_connection),
                     units.text(c.server_cpu_us_per_connection), units.ms(c.p99_ms)])
    lead = [f"Every backend available here, ramped {target} in turn, each with a server process of its own"
            f" ({units.seconds(r.seconds)} in all)."]
    if r.interrupted:
        lead.append("Interrupted: the backends after the last row were not ramped.")
    sections = [Section("Ceilings", ["backend", "waits with", "reached", "stopped by", "predicted",
                                     "conn/s", "client RSS/conn", "server RSS/conn", "server CPU us/conn",
                                     "p99 ms"], rows)]
    remedies = [[ramp.config.backend.name, ramp.stop.remedy] for ramp in r.ramps if ramp.stop is not None]
    if remedies:
        sections.append(Section("How to get past each stop", ["backend", "remedy"], remedies))
    return Document(f"netprobe ramp --backend all: {_platform_line(r.platform)}", lead, sections)


def _cell(value: Optional[float]) -> str:
    if value is None:
        return units.MISSING
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, int):
        return units.count(value)
    return str(value)


def report_document(r: ReportResult) -> Document:
    """Lay out ``netprobe report``: one column per platform and Python."""
    rows = [[row.name] + [_cell(v) for v in row.values] for row in r.rows]
    lead = (["Every ramp reached its target."] if r.ok else
            [f"Ramp short of its target on: {', '.join(r.ramps_short)}."])
    sections = [Section("Side by side", ["", *[c.label for c in r.columns]], rows)]
    sections.append(Section("Files", ["column", "files"], [[c.label, ", ".join(c.files)] for c in r.columns]))
    return Document("netprobe report", lead, sections)


def _us(value: Optional[float]) -> str:
    return units.MISSING if value is None else (f"{value:,.1f}" if value < 100 else f"{value:,.0f}")


def bench_selectors_document(r: BenchSelectorsResult) -> Document:
    """Lay out ``bench selectors``: call cost per selector and socket count."""
    names = list(dict.fromkeys(t.selector for t in r.timings))
    by = {(t.selector, t.fds): t for t in r.timings}
    slopes = {s.selector: s.us_per_1000_fds for s in r.slopes}

    def grid(cell: Callable[[SelectorTiming], str]) -> list[list[str]]:
        return [[name] + [cell(by[(name, n)]) for n in r.fds] for name in names]

    def call(t: SelectorTiming) -> str:
        return t.error or f"{_us(t.call_us_median)} ({_us(t.call_us_p90)})"

    call_rows = [row + [_us(slopes[row[0]])] for row in grid(call)]
    lead = [f"One select() call with N registered sockets, one of them ready; {r.calls} calls each. "
            "select and poll pass the whole set to the kernel on every call, so their cost grows with N; "
            "epoll and kqueue keep the set in the kernel and report only what is ready."]
    lead += [f"{name}: {'+' if (slopes[name] or 0) >= 0 else ''}{_us(slopes[name])} µs per 1000 fds"
             for name in names if slopes[name] is not None]
    sections = [
        Section("select(timeout=0): median µs (p90)", ["selector", *map(units.count, r.fds), "µs / 1000 fds"],
                call_rows),
        Section("select(timeout=1 s), returning for the ready socket: median µs (p90)",
                ["selector", *map(units.count, r.fds)],
                grid(lambda t: t.error or f"{_us(t.wait_us_median)} ({_us(t.wait_us_p90)})")),
        Section("register / unregister, µs per fd", ["selector", *map(units.count, r.fds)],
                grid(lambda t: f"{_us(t.register_us)} / {_us(t.unregister_us)}")),
    ]
    if r.notes:
        sections.append(Section("Notes", ["field", "note"], [[n.field, n.reason] for n in r.notes]))
    return Document(f"netprobe bench selectors: {_platform_line(r.platform)}", lead, sections)


def bench_models_document(r: BenchModelsResult) -> Document:
    """Lay out ``bench models``."""
    rows = [[m.model, units.seconds(m.seconds), units.MISSING if m.speedup is None else f"{m.speedup:.2f}x",
             units.size(m.peak_rss), units.count(m.threads), f"{m.fetched}/{r.tasks}", m.error or ""]
            for m in r.runs]
    lead = [f"{r.tasks} fetches from a loopback server that answers after {r.delay:g} s: sequential needs "
            f"{r.tasks} x {r.delay:g} s; a model that waits for all at once needs {r.ideal_seconds:g} s (ideal)."]
    return Document(f"netprobe bench models: {_platform_line(r.platform)}", lead, [
        Section("Models", ["model", "wall", "speedup", "peak RSS", "threads", "fetched", "error"], rows),
    ])


def bench_echo_document(r: BenchEchoResult) -> Document:
    """Lay out ``bench echo``: one row per backend."""
    rows = []
    for e in r.runs:
        if e.error:
            rows.append([e.backend, "FAILED", "", "", "", "", "", "", "", "", e.error])
            continue
        rows.append([e.backend, f"{e.round_trips_per_s:,.0f}", f"{e.mib_per_s:,.1f}",
                     f"{units.ms(e.p50_ms)} / {units.ms(e.p90_ms)} / {units.ms(e.p99_ms)} / {units.ms(e.p999_ms)}",
                     units.ms(e.max_ms), f"{e.server_cpu:.0f}%", units.size(e.server_rss),
                     units.size(int(e.rss_per_connection)) if e.rss_per_connection is not None else units.MISSING,
                     units.count(e.errors), f"{e.client_cpu:.0f}%" + (" (client-bound)" if e.client_bound else ""),
                     ""])
    lead = [f"{r.clients} connections, each sending {r.size:,} bytes and waiting for them back, for "
            f"{r.duration:g} s; {r.client} load client in its own process, each server in its own."]
    if any(e.client_bound for e in r.runs):
        lead.append("client-bound: the load client used a whole core, so that server may serve more "
                    "than shown; compare the others' server CPU.")
    return Document(f"netprobe bench echo: {_platform_line(r.platform)}", lead, [
        Section("Backends", ["backend", "round trips/s", "MiB/s", "p50 / p90 / p99 / p99.9 ms", "max ms",
                             "server CPU", "server RSS", "RSS/conn", "errors", "client CPU", "error"], rows),
    ])


def bench_transfer_document(r: BenchTransferResult) -> Document:
    """Lay out ``bench transfer``."""
    lead = [f"{r.clients} clients at once, each getting a {units.size(r.file_size)} file and putting it back "
            f"(sha256 checked both ways) against the {r.backend} backend."]
    rows = [
        ["completed", units.count(r.completed)],
        ["failed", units.count(r.failed)],
        ["corrupt", units.count(r.corrupt)],
        ["wall", units.seconds(r.seconds)],
        ["throughput", units.MISSING if r.mib_per_s is None else f"{r.mib_per_s:,.1f} MiB/s"],
        ["per transfer p50 / p90 / p99 / max", f"{units.ms(r.p50_ms)} / {units.ms(r.p90_ms)} / "
                                              f"{units.ms(r.p99_ms)} / {units.ms(r.max_ms)} ms"],
    ]
    sections = [Section("Transfers", ["", ""], rows)]
    if r.errors:
        sections.append(Section("Errors", ["error"], [[e] for e in r.errors]))
    return Document(f"netprobe bench transfer: {_platform_line(r.platform)}", lead, sections)
