"""Turn result records into titled sections of rows; the table and markdown renderers print them.

The benchmarks' layouts are in ``bench_sections``.

Only selection and formatting happen here: every number comes from the record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from netprobe.render import units
from netprobe.sockets import format_address

if TYPE_CHECKING:  # annotations only: importing every record would slow `netprobe limits`
    from netprobe.clients.traffic import TrafficStats
    from netprobe.models import CeilingsResult, LimitsReport, MachineLimits, PlatformInfo, RampResult, ReportResult

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
class Series:
    """One line of a figure: its name and its points, x ascending."""

    name: str
    points: list[tuple[float, float]]


@dataclass
class Figure:
    """A chart of a document, drawn by the renderers that can (HTML); text renderers leave it out."""

    title: str
    x_label: str
    y_label: str
    series: list[Series]


@dataclass
class Document:
    """A result laid out for people: a title, lines of text, sections, and figures."""

    title: str
    lead: list[str]
    sections: list[Section]
    figures: list[Figure] = field(default_factory=list)


def _elapsed(step_seconds: list[float]) -> list[float]:
    """When each step ended, from the ramp's start."""
    out, total = [], 0.0
    for seconds in step_seconds:
        total += seconds
        out.append(round(total, 3))
    return out


def ramp_figures(traces: list[tuple[str, list[int], list[float]]]) -> list[Figure]:
    """Connections held over time, and each step's time against the connections it reached, per ramp."""
    return [
        Figure("Connections held", "seconds from the start", "connections",
               [Series(name, list(zip(_elapsed(seconds), map(float, held)))) for name, held, seconds in traces]),
        Figure("Step time: a slow step is where a wall comes near", "connections", "seconds per step",
               [Series(name, list(zip(map(float, held), seconds))) for name, held, seconds in traces]),
    ]


def platform_line(p: PlatformInfo) -> str:
    """The OS, machine and Python of a result, in one line for titles."""
    layer = f" under {p.compatibility_layer}" if p.compatibility_layer else ""
    return f"{p.system} {p.release} {p.machine}{layer}, {p.implementation} {p.python}"


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
            ["tcp_max_tw_buckets", units.count(r.network.tcp_max_tw_buckets)],
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
    if r.machine is not None:
        sections.insert(2, _machine_section(r.machine))
    if r.notes:
        sections.append(Section("Notes", ["field", "why it is missing"], [[n.field, n.reason] for n in r.notes]))
    return Document(f"netprobe limits: {platform_line(r.platform)}", [r.summary], sections)


def _machine_section(m: MachineLimits) -> Section:
    """The whole machine: the limits its processes share, and its ceiling beside one process's."""
    in_use = f" ({units.count(m.files_in_use)} in use)" if m.files_in_use is not None else ""
    return Section("The whole machine (every process, loopback connections with both ends here)", ["fact", "value"], [
        ["predicted max", units.count(m.ceiling)],
        ["binding limit", units.text(m.binding)],
        ["why", m.detail],
        ["processes it takes (at the hard fd limit each)", units.count(m.processes_needed)],
        ["hard fd limit per process", units.count(m.hard_fds_per_process)],
        ["fs.nr_open (most a process can be raised to)", units.count(m.nr_open)],
        ["system file table", units.count(m.file_max) + in_use],
        ["kernel memory per connection", units.size(m.kernel_bytes_per_connection)],
        ["  how", m.kernel_bytes_how],
        ["memory available", units.size(m.memory_available)],
        ["ephemeral ports per source address", units.count(m.ports_per_source)],
        ["loopback source addresses", units.count(m.loopback_sources)],
    ])


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


def _traffic_section(r: RampResult) -> Optional[Section]:
    """Each step's traffic (``ramp --rate``): asked and answered, latency from when each request was due, CPU."""
    rows = [[units.count(s.connections), f"{t.asked_rate:,.0f}", f"{t.achieved_rate:,.0f}", units.ms(t.p50_ms),
             units.ms(t.p99_ms), units.ms(t.p999_ms), units.ms(t.max_ms), units.count(t.errors),
             units.count(t.timeouts), units.count(t.retransmits), units.percent(t.client_cpu),
             units.percent(t.server_cpu)]
            for s in r.steps if (t := s.traffic) is not None]
    if not rows:
        return None
    return Section("Traffic", ["connections", "asked/s", "answered/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms",
                               "errors", "timeouts", "resent", "client CPU", "server CPU"], rows,
                   lead=["latency counts from when each request was due (no coordinated omission); resent: "
                         "segments the run's connections sent again; CPU is percent of one core over the "
                         "traffic"])


def _churn_section(r: RampResult) -> Optional[Section]:
    """Each step's churn (``ramp --churn``): new connections asked and answered, opens refused, TIME_WAIT, CPU."""
    rows = [[f"{t.asked_rate:,.0f}", f"{t.achieved_rate:,.0f}", units.ms(t.p50_ms), units.ms(t.p99_ms),
             units.ms(t.max_ms), _refusals(t), units.count(t.errors - sum(t.connect_errors.values())),
             units.count(t.timeouts), _time_wait(t), units.percent(t.client_cpu),
             units.percent(t.server_cpu)]
            for s in r.steps if (t := s.traffic) is not None]
    if not rows:
        return None
    columns = ["new/s asked", "answered/s", "p50 ms", "p99 ms", "max ms", "opens refused", "errors", "timeouts",
               "TIME_WAIT", "client CPU", "server CPU"]
    lead = ("each new connection carries one exchange and is closed by the client first; latency counts from when "
            "it was due to open until its reply; TIME_WAIT counts this side's connections to the target after the "
            "step, and those that skipped it because the kernel's table was full (tcp_max_tw_buckets)")
    churned = [t for s in r.steps if (t := s.traffic) is not None]
    if any(t.server_closed_first for t in churned):
        columns += ["server closed first", "server TIME_WAIT"]
        for row, t in zip(rows, churned):
            row += [units.count(t.server_closed_first), units.count(t.server_time_wait)]
        lead = lead.replace("is closed by the client first", "is closed by the client, unless the server closed "
                            "it first (counted: its TIME_WAIT is then on the server's side)")
    return Section("Churn", columns, rows, lead=[lead])


def _time_wait(t: TrafficStats) -> str:
    """This side's connections in TIME_WAIT after a churn step, and those that skipped it: "40, 260 skipped"."""
    held = units.count(t.time_wait)
    return f"{held}, {t.time_wait_overflows:,} skipped" if t.time_wait_overflows else held


def _refusals(t: TrafficStats) -> str:
    """Opens the OS refused, with the errno seen most: "1,204 EADDRNOTAVAIL"."""
    if t.most_refused is None:
        return "0"
    return f"{sum(t.connect_errors.values()):,} {t.most_refused[0]}"


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
    churn = r.config.traffic is not None and r.config.traffic.churn
    traffic = _churn_section(r) if churn else _traffic_section(r)
    if traffic is not None:
        sections.append(traffic)
    if r.stop is not None:
        s = r.stop
        sections.append(Section("Why it stopped", ["", ""], [
            ["reason", s.reason if s.cause is None else f"{s.reason} ({s.cause})"],
            ["side", s.side],
            ["error", f"{units.text(s.errno)}: {s.message}" if s.errno else s.message],
            ["at connections", units.count(s.at_connections)],
            ["fds at failure", f"client {units.count(s.client_fds)}, server {units.count(s.server_fds)}"],
            ["remedy", s.remedy],
        ]))
    p = r.predicted
    sections.append(Section("Prediction vs measurement", ["", ""], [
        ["predicted", (f"{units.count(p.max_connections)} ({units.text(p.binding_limit)}: {p.detail})"
                       if p.binding_limit is not None else f"{units.count(p.max_connections)} ({p.detail})")],
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
                 f"master on {platform_line(r.platform)}")
    elif address:
        title = f"netprobe ramp: {address}, {cfg.client.name} client, {target}: {platform_line(r.platform)}"
    else:
        title = (f"netprobe ramp: {cfg.backend.name} server ({waits}, {cfg.placement}), "
                 f"{cfg.client.name} client, {target}: {platform_line(r.platform)}")
    figures = ramp_figures([("this ramp", [s.connections for s in r.steps], [s.seconds for s in r.steps])])
    return Document(title, lead, sections, figures if r.steps else [])


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
    return Document(f"netprobe ramp --backend all: {platform_line(r.platform)}", lead, sections)


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
    traces = [(t.label, t.connections, t.step_seconds) for c in r.columns for t in c.ramps if t.connections]
    return Document("netprobe report", lead, sections, ramp_figures(traces) if traces else [])
