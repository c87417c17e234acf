"""Every speed goal in one command: each benchmark interleaved with its anchors, one table of ratios.

A round measures, in this order: `netprobe limits` against `python -c pass`; the selectors echo
backend against a bare selectors loop and stock asyncio's Protocol (same load client), with the
fairness check beside it (a normal client's worst wait next to 8 hostile ones); the ramp's opening
rate to 9,000 with the echo check against a bare Python connect/accept loop and the C anchor
(`connect_accept.c`), and with thread placement; and a million connections against the C anchor
(`million.c`). ``--runs`` rounds run one after another, so a noisy minute touches every figure
alike; the table shows each figure's median, its range, the goal and whether the median meets it.

    python benchmarks/all.py [--runs 5] [--skip million] [--anchors DIR] [--docs]

The C anchors are built with the system's C compiler from ``--anchors`` (the workplace's
``../shared/anchors`` by default); where there is no compiler or no source, their ratios are
unknown, never 0. ``--docs`` writes the table, with the machine and the commit, into
docs/performance.md. Run it on a quiet machine: the figures are ratios, but a busy neighbour
slows the Python side and the C side unequally.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as stdlib_platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import echo_vs_baselines
import hostile_fairness
import limits_speed
import ramp_vs_bare
from anchors import DEFAULT_SOURCE, MillionRun, build_anchors, children_cpu, run_million

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- benchmarks/all.py: begin -->", "<!-- benchmarks/all.py: end -->"

Figures = dict[str, Optional[float]]


@dataclass(frozen=True)
class Goal:
    """One goal of the speed issue: which figure, which way it must lie, and the bound."""

    label: str
    figure: str
    at_least: bool
    bound: Optional[float]  # None: a figure shown beside the goals, with none of its own

    def met(self, value: Optional[float]) -> Optional[bool]:
        """Whether ``value`` meets the goal; None when it is unknown or there is no goal."""
        if value is None or self.bound is None:
            return None
        return value >= self.bound if self.at_least else value <= self.bound


GOALS = [
    Goal("`limits` median wall, ms", "limits_ms", False, 100),
    Goal("echo: selectors backend / bare selectors loop", "echo_vs_bare", True, 1.2),
    Goal("echo: selectors backend / asyncio Protocol", "echo_vs_asyncio", True, 4.0),
    Goal("echo: normal client's worst wait next to 8 hostile, ms", "fairness_worst_ms", False, 500),
    Goal("ramp: conn/s / bare Python loop", "ramp_vs_bare", True, 0.9),
    Goal("ramp: conn/s / C loop", "ramp_vs_c", True, 0.7),
    Goal("ramp --placement thread / bare Python loop", "thread_vs_bare", True, 0.6),
    Goal("million, handshake check as C's: time to open / C's", "million_time_vs_c", False, 1.5),
    Goal("million, handshake check as C's: CPU per connection / C's", "million_cpu_vs_c", False, 2.0),
    Goal("million, echo check (the default): time to open / C's", "million_echo_time_vs_c", False, None),
    Goal("million, echo check (the default): CPU per connection / C's", "million_echo_cpu_vs_c", False, None),
]


def limits_round() -> Figures:
    """`netprobe limits` median wall (ms), beside `python -c pass`, both on a warm bytecode cache."""
    py = sys.executable
    with limits_speed.warm_cache() as env:
        return {"limits_ms": 1000 * limits_speed.median_wall([py, "-m", "netprobe", "limits"], env),
                "python_ms": 1000 * limits_speed.median_wall([py, "-c", "pass"], env)}


def echo_round(duration: float) -> Figures:
    """The selectors backend's round trips against the bare loop and asyncio, and the fairness check."""
    rows = echo_vs_baselines.measure(100, 1024, duration, ("bare selectors loop", "stock asyncio Protocol",
                                                            "netprobe selectors backend"))
    rate = {name: r.round_trips_per_s for name, r in rows.items()}
    ours = rate["netprobe selectors backend"]
    with tempfile.TemporaryDirectory() as root:
        (Path(root) / "hello.txt").write_bytes(b"hello from the root\n" * 1000)
        worst = max(hostile_fairness.waits("selectors", None, root, 8, 2.0))
    return {"echo_vs_bare": _ratio(ours, rate["bare selectors loop"]),
            "echo_vs_asyncio": _ratio(ours, rate["stock asyncio Protocol"]),
            "fairness_worst_ms": 1000 * worst}


def ramp_round(n: int, connect_accept: Optional[Path]) -> Figures:
    """Connections a second of the ramp (default and thread placement), the bare loop and the C loop."""
    bare = ramp_vs_bare._measure("bare", n)[0]
    ramp = ramp_vs_bare._measure("nonblocking", n)[0]
    thread = ramp_vs_bare._measure("thread", n)[0]
    c_rate = None
    if connect_accept is not None:
        out = subprocess.run([str(connect_accept), str(n)], capture_output=True, text=True, check=True).stdout
        c_rate = n / float(out.strip())
    return {"ramp_vs_bare": ramp / bare, "ramp_vs_c": _ratio(ramp, c_rate), "thread_vs_bare": thread / bare}


def _million_ramp(n: int, extra: list[str]) -> Optional[MillionRun]:
    """netprobe's time to open ``n`` connections (its steps' seconds) and CPU seconds per connection."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "ramp.json"
        cpu = children_cpu()
        proc = subprocess.run([sys.executable, "-m", "netprobe", "ramp", "--to", str(n), "--max", str(2 * n),
                               "--hold", "0", "--quiet", "--format", "json", "--output", str(report), *extra],
                              capture_output=True, text=True)
        used = (children_cpu() - cpu) / n
        data = json.loads(report.read_text()) if report.is_file() else None
    if data is None or data["reached"] != n:
        print(f"  the million ramp {' '.join(extra)} stopped short (exit {proc.returncode}): "
              f"{proc.stderr.strip()[-200:]}")
        return None
    return MillionRun(sum(step["seconds"] for step in data["steps"]), used, " ".join(["netprobe", *extra]))


def million_round(n: int, million: Optional[Path]) -> Figures:
    """Time to open ``n`` connections and CPU per connection, netprobe's over C's.

    The goal compares the same work: ``million.c`` checks each connection by its handshake and
    notices a dropped one, which is ``--verify connect``. The default ramp also sends and checks
    an echo on every connection, four more packets each; its ratios are shown beside, without a goal.
    """
    same = _million_ramp(n, ["--verify", "connect"])
    theirs = run_million(million, n) if million is not None else None
    echo = _million_ramp(n, [])
    for name, run in (("netprobe --verify connect", same), ("C", theirs), ("netprobe (echo)", echo)):
        if run is not None:
            print(f"  million: {name} {run.seconds:.1f} s, {run.cpu_per_connection * 1e6:.0f} us CPU/conn")
    unknown = (None, None)
    time_same, cpu_same = same.against(theirs) if same and theirs else unknown
    time_echo, cpu_echo = echo.against(theirs) if echo and theirs else unknown
    return {"million_time_vs_c": time_same, "million_cpu_vs_c": cpu_same,
            "million_echo_time_vs_c": time_echo, "million_echo_cpu_vs_c": cpu_echo}


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or not b else a / b


def _known(rounds: list[Figures], figure: str) -> list[float]:
    """The rounds' values of ``figure``, leaving out those that were unknown or not measured."""
    return [v for r in rounds if (v := r.get(figure)) is not None]


def _median(rounds: list[Figures], figure: str) -> Optional[float]:
    """The median of ``figure`` over the rounds that measured it; None when none did."""
    known = _known(rounds, figure)
    return statistics.median(known) if known else None


def table(rounds: list[Figures]) -> str:
    """The markdown table: each goal's median over the rounds, its range, the bound and the verdict."""
    lines = ["| goal | median | range | bound | met |", "|---|---|---|---|---|"]
    for goal in GOALS:
        known = _known(rounds, goal.figure)
        median = _median(rounds, goal.figure)
        shown = "unknown" if median is None else f"{median:.2f}"
        spread = f"{min(known):.2f}-{max(known):.2f}" if known else "-"
        if goal.bound is None:
            bound, verdict = "no goal", "-"
        else:
            bound = f"{'>=' if goal.at_least else '<='} {goal.bound:g}"
            verdict = {None: "unknown", True: "yes", False: "no"}[goal.met(median)]
        lines.append(f"| {goal.label} | {shown} | {spread} ({len(known)} runs) | {bound} | {verdict} |")
    return "\n".join(lines)


def write_docs(text: str) -> None:
    """Put ``text`` between the markers of docs/performance.md."""
    page = DOC.read_text("utf-8")
    head, rest = page.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", "utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip", action="append", default=[], choices=["limits", "echo", "ramp", "million"])
    parser.add_argument("--anchors", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--connections", type=int, default=9000, help="the ramp's target")
    parser.add_argument("--million", type=int, default=1_000_000, help="the million's target")
    parser.add_argument("--echo-seconds", type=float, default=3.0)
    parser.add_argument("--docs", action="store_true", help="write the table into docs/performance.md")
    args = parser.parse_args()
    if args.runs < 1 or args.connections < 10 or args.million < 10:
        parser.error("--runs must be at least 1, --connections and --million at least 10")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the anchors inherit it; netprobe raises its own
    # `python -m netprobe` puts the working directory first on sys.path: from a checkout's root it would
    # run the source tree (compiled afresh where .pyc files are not written), not the installed package.
    os.chdir(tempfile.gettempdir())
    with tempfile.TemporaryDirectory() as tmp:
        anchors = build_anchors(args.anchors, Path(tmp))
        missing = [name for name, path in anchors.items() if path is None]
        if missing:
            print(f"C anchors not built ({', '.join(missing)}): their ratios are unknown")
        benches: list[tuple[str, Callable[[], Figures]]] = [
            ("limits", limits_round),
            ("echo", lambda: echo_round(args.echo_seconds)),
            ("ramp", lambda: ramp_round(args.connections, anchors["connect_accept"])),
            ("million", lambda: million_round(args.million, anchors["million"])),
        ]
        rounds: list[Figures] = []
        for run in range(args.runs):
            figures: Figures = {}
            for name, bench in benches:
                if name in args.skip:
                    continue
                started = time.monotonic()
                these = bench()
                figures.update(these)
                print(f"run {run + 1}/{args.runs} {name}: {time.monotonic() - started:.0f} s: " + ", ".join(
                    f"{k} {'unknown' if v is None else f'{v:.2f}'}" for k, v in these.items()), flush=True)
            rounds.append(figures)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    text = table(rounds)
    print(text)
    if args.docs:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip() or "?"
        where = (f"Measured {time.strftime('%Y-%m-%d')} at commit {commit} on {os.cpu_count()} cores, "
                 f"{stdlib_platform.system()} {stdlib_platform.release()}, Python {stdlib_platform.python_version()}: "
                 f"`python benchmarks/all.py --runs {args.runs}"
                 + "".join(f" --skip {s}" for s in args.skip) + "` (the ramp to "
                 f"{args.connections:,}, the million to {args.million:,}).")
        baseline = _median(rounds, "python_ms")
        if baseline is not None:
            where += f" `python -c pass` took {baseline:.1f} ms (median) in the same run."
        write_docs(f"{where}\n\n{text}")
    return 1 if any(goal.met(_median(rounds, goal.figure)) is False for goal in GOALS) else 0


if __name__ == "__main__":
    raise SystemExit(main())
