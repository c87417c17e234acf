"""The benchmarks' results as titled sections of rows: ``bench selectors``, ``models``, ``echo``, ``transfer``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Optional

from netprobe.render import units
from netprobe.render.sections import Document, Section, platform_line

if TYPE_CHECKING:  # annotations only: importing every record would slow `netprobe limits`
    from netprobe.models import (
        BenchEchoResult,
        BenchModelsResult,
        BenchSelectorsResult,
        BenchTransferResult,
        SelectorTiming,
    )


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
    return Document(f"netprobe bench selectors: {platform_line(r.platform)}", lead, sections)


def bench_models_document(r: BenchModelsResult) -> Document:
    """Lay out ``bench models``."""
    rows = [[m.model, units.seconds(m.seconds), units.MISSING if m.speedup is None else f"{m.speedup:.2f}x",
             units.size(m.peak_rss), units.count(m.threads), f"{m.fetched}/{r.tasks}", m.error or ""]
            for m in r.runs]
    lead = [f"{r.tasks} fetches from a loopback server that answers after {r.delay:g} s: sequential needs "
            f"{r.tasks} x {r.delay:g} s; a model that waits for all at once needs {r.ideal_seconds:g} s (ideal)."]
    return Document(f"netprobe bench models: {platform_line(r.platform)}", lead, [
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
                     units.ms(e.max_ms), units.MISSING if e.server_cpu is None else f"{e.server_cpu:.0f}%",
                     units.size(e.server_rss),
                     units.size(int(e.rss_per_connection)) if e.rss_per_connection is not None else units.MISSING,
                     units.count(e.errors), f"{e.client_cpu:.0f}%" + (" (client-bound)" if e.client_bound else ""),
                     ""])
    lead = [f"{r.clients} connections, each sending {r.size:,} bytes and waiting for them back, for "
            f"{r.duration:g} s; {r.client} load client in its own process, each server in its own."]
    if any(e.client_bound for e in r.runs):
        lead.append("client-bound: the load client used a whole core, so that server may serve more "
                    "than shown; compare the others' server CPU.")
    return Document(f"netprobe bench echo: {platform_line(r.platform)}", lead, [
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
    return Document(f"netprobe bench transfer: {platform_line(r.platform)}", lead, sections)
