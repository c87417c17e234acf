"""Pictures of ramps and benchmarks, readable on their own; matplotlib is imported only here.

matplotlib is an optional extra (``pip install 'netprobe-sockets[plot]'``): ``check_plot`` says how to
get it before any work is done, and nothing else in netprobe imports it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Optional

from netprobe.errors import UsageError
from netprobe.extras import require_matplotlib
from netprobe.output import check_writable, write_file

if TYPE_CHECKING:
    from netprobe.models import BenchEchoResult, BenchSelectorsResult, PlatformInfo
    from netprobe.models.ramp import CeilingsResult, RampResult

WIDTH_IN, HEIGHT_IN, DPI = 10, 6, 100  # 1000 x 600 pixels
RAMP_HEIGHT_IN = 8  # a ramp's four panels: 1000 x 800 pixels
SLOW_STEP = 2.0


def check_plot(path: Optional[str], output: Optional[str] = None) -> None:
    """Fail before any work if ``--plot`` cannot be honoured: its name first, then matplotlib."""
    if path is None:
        return
    if not path.lower().endswith(".png") or os.path.basename(path).lower() == ".png":
        raise UsageError(f"--plot {path!r}: give a .png file name")
    if output is not None and os.path.abspath(output) == os.path.abspath(path):
        raise UsageError(f"--plot {path!r} is also --output: the picture would replace the report")
    require_matplotlib("--plot")
    check_writable(path, "--plot")


def _save(plt: Any, fig: Any, path: str) -> None:
    """Render the PNG in memory, then write it as every output is written (through links and devices)."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    write_file(path, buffer.getvalue(), "--plot")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    return plt


def _title(what: str, platform: PlatformInfo) -> str:
    return (f"{what}\n{platform.system} {platform.release} {platform.machine}, "
            f"{platform.implementation} {platform.python}")


def _legend_below(ax: Any) -> None:
    """The legend under the panel, clear of the data."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=8, frameon=False)


def plot_ramp(result: RampResult, path: str) -> None:
    """Connections against fds, RSS, latency and step time, with the stop and the slow steps marked."""
    plt = _pyplot()
    fig, panels = plt.subplots(2, 2, figsize=(WIDTH_IN, RAMP_HEIGHT_IN), dpi=DPI)
    (ax_fds, ax_rss), (ax_lat, ax_step) = panels
    conns, xlabel = _x_axis(result)
    for ax, fields, ylabel, scale in (
        (ax_fds, ("client_fds", "server_fds"), "open fds", 1),
        (ax_rss, ("client_rss", "server_rss"), "RSS (MiB)", 1 / (1024 * 1024)),
    ):
        for name in fields:
            values = [getattr(s, name) for s in result.steps]
            if any(v is not None for v in values):
                ax.plot(conns, [None if v is None else v * scale for v in values], marker="o",
                        label=name.split("_")[0])
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)  # from zero: a fraction of a MiB of growth must not look steep
    _latency_panel(ax_lat, result)
    _step_panel(ax_step, result)
    for ax in (ax_fds, ax_rss, ax_lat, ax_step):
        if result.stop is not None:
            ax.axvline(result.reached, color="red", linestyle="--", label=f"stop: {result.stop.reason}")
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        _legend_below(ax)
    spec = result.config
    waits = spec.selector_class or spec.loop or "target"
    server = (f"{spec.target_address[0]}:{spec.target_address[1]}" if spec.target_address is not None
              else f"{spec.backend.name} ({waits}, {spec.placement})")
    reached = (f"sustained {result.reached:,} new connections a second" if xlabel != "connections held"
               else f"reached {result.reached:,}")
    fig.suptitle(_title(f"netprobe ramp: {server}, client {spec.client.name}; {reached}", result.platform))
    fig.tight_layout()
    _save(plt, fig, path)


def _x_axis(result: RampResult) -> tuple[list[float], str]:
    """What each step stood at: the connections it held, or under --churn the new connections a second it asked."""
    if result.config.traffic is not None and result.config.traffic.churn:
        return [s.traffic.asked_rate if s.traffic else 0.0 for s in result.steps], "new connections a second"
    return [float(s.connections) for s in result.steps], "connections held"


def slow_steps(seconds: list[float]) -> list[int]:
    """The steps that took over ``SLOW_STEP`` times the median step: where a wall came near."""
    if len(seconds) < 3:
        return []
    ordered = sorted(seconds)
    median = ordered[len(ordered) // 2]
    return [i for i, value in enumerate(seconds) if median > 0 and value > SLOW_STEP * median]


def _step_panel(ax: Any, result: RampResult) -> None:
    """Each step's time against the connections it reached, the slow ones marked."""
    conns, _ = _x_axis(result)
    seconds = [s.seconds for s in result.steps]
    ax.plot(conns, seconds, marker="o", color="tab:purple", label="step time")
    slow = slow_steps(seconds)
    if slow:
        ax.scatter([conns[i] for i in slow], [seconds[i] for i in slow], s=80, facecolors="none",
                   edgecolors="red", zorder=3, label=f"over {SLOW_STEP:g}x the median step")
    ax.set_ylabel("seconds per step")
    ax.set_ylim(bottom=0)


def _latency_panel(ax: Any, result: RampResult) -> None:
    """Latency against connections held: under traffic where the ramp carried it (with --max-latency), else checks."""
    under = [s for s in result.steps if s.traffic is not None]
    xs, xlabel = _x_axis(result)
    if under and result.config.traffic is not None:
        held = [x for x, s in zip(xs, result.steps) if s.traffic is not None]
        ax.plot(held, [s.traffic.p50_ms if s.traffic else None for s in under], marker="o", label="p50")
        ax.plot(held, [s.traffic.p99_ms if s.traffic else None for s in under], marker="o", label="p99")
        ax.axhline(result.config.traffic.max_latency_ms, color="grey", linestyle=":", label="--max-latency")
        ax.set_ylabel("latency under traffic (ms, from when due)")
    else:
        ax.plot(xs, [s.p50_ms for s in result.steps], marker="o", label="p50")
        ax.plot(xs, [s.p99_ms for s in result.steps], marker="o", label="p99")
        ax.set_ylabel("check latency (ms)")
    ax.set_xlabel(xlabel)


def plot_bench_selectors(result: BenchSelectorsResult, path: str) -> None:
    """Per-call µs against registered fds, one line per selector, log scales."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, name in enumerate(dict.fromkeys(t.selector for t in result.timings)):
        color = colors[i % len(colors)]
        points = [(t.fds, t.call_us_median) for t in result.timings if t.selector == name and t.call_us_median]
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="o", color=color, label=f"{name}, timeout 0")
        waits = [(t.fds, t.wait_us_median) for t in result.timings if t.selector == name and t.wait_us_median]
        if waits:
            xs, ys = zip(*waits)
            ax.plot(xs, ys, marker="x", linestyle=":", color=color, label=f"{name}, timeout 1 s")
        capped = [t for t in result.timings if t.selector == name and t.error]
        if capped:
            ax.axvline(capped[0].fds, color=color, linestyle="--", alpha=0.6,
                       label=f"{name} cannot go to {capped[0].fds:,}: {capped[0].error}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("registered sockets (one ready)")
    ax.set_ylabel("one select() call (µs, median)")
    ax.grid(alpha=0.3, which="both")
    _legend_below(ax)
    ax.set_title(_title("netprobe bench selectors", result.platform))
    fig.tight_layout()
    _save(plt, fig, path)


def plot_ceilings(result: CeilingsResult, path: str) -> None:
    """Connections each backend held, its prediction beside it, and what each connection cost."""
    plt = _pyplot()
    rows = result.rows
    names = [r.backend for r in rows]
    fig, (ax_held, ax_cost) = plt.subplots(1, 2, figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    xs = range(len(rows))
    # A log scale, each bar labelled with its count: 20,000 predicted must not flatten 5,000 reached.
    ax_held.bar([x - 0.2 for x in xs], [max(r.reached, 1) for r in rows], width=0.4, color="tab:blue",
                label="reached")
    ax_held.bar([x + 0.2 for x in xs], [max(r.predicted or 0, 1) for r in rows], width=0.4, color="tab:gray",
                label="predicted")
    ax_held.set_yscale("log")
    ax_held.set_ylim(bottom=1)  # every bar from one connection, none from where the scale happened to start
    for x, r in zip(xs, rows):
        ax_held.annotate(f"{r.reached:,}", (x - 0.2, max(r.reached, 1)), ha="center", va="bottom", fontsize=7)
        if r.predicted:
            ax_held.annotate(f"{r.predicted:,}", (x + 0.2, r.predicted), ha="center", va="bottom", fontsize=7)
    ax_held.set_xticks(list(xs), [f"{r.backend}\n{r.stop_reason or 'reached'}" for r in rows], fontsize=8)
    ax_held.set_ylabel("concurrent connections (log scale)")
    _legend_below(ax_held)
    ax_cost.bar(names, [(r.server_rss_per_connection or 0) / 1024 for r in rows], color="tab:orange")
    ax_cost.set_ylabel("server RSS per connection (KiB)")
    fig.suptitle(_title("netprobe ramp --backend all", result.platform))
    fig.tight_layout()
    _save(plt, fig, path)


def plot_bench_echo(result: BenchEchoResult, path: str) -> None:
    """Round trips per second per backend, with p99 latency beside it."""
    plt = _pyplot()
    runs = [r for r in result.runs if r.error is None]
    fig, (ax_rate, ax_lat) = plt.subplots(1, 2, figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    names = [r.backend + (" *" if r.client_bound else "") for r in runs]
    ax_rate.bar(names, [r.round_trips_per_s for r in runs], color="tab:blue", label="round trips/s")
    ax_rate.set_ylabel("round trips per second")
    ax_rate.set_xlabel("backend (* client-bound: the server may do more)")
    _legend_below(ax_rate)
    ax_lat.bar(names, [r.p99_ms for r in runs], color="tab:orange", label="p99")
    ax_lat.bar(names, [r.p50_ms for r in runs], color="tab:green", label="p50")
    ax_lat.set_ylabel("round-trip latency (ms)")
    ax_lat.set_xlabel("backend")
    _legend_below(ax_lat)
    fig.suptitle(_title(f"netprobe bench echo: {result.clients} connections x {result.size:,} bytes, "
                        f"{result.client} client", result.platform))
    fig.tight_layout()
    _save(plt, fig, path)
