"""Put the real output of every ``$ netprobe ...`` block in docs/ under its command, from a run here.

    python docs/regenerate.py [FILE.md ...]     # rewrite the blocks (all docs/*.md by default)
    python docs/regenerate.py --figures         # measure docs/figures.json again, then the blocks

A figure quoted in prose is written ``<!--fig:NAME-->VALUE<!--/fig-->``: its value lives once, in
docs/figures.json, with when and how it was measured, and every page quoting it is rewritten
from there (tests/docs/test_figures.py fails when a page disagrees). Figures this machine cannot
measure (the Windows lane's) keep their recorded value and date.

A block is a fenced block whose first line is ``$ netprobe ARGS``; everything after that line is
replaced by what ``netprobe ARGS`` prints now. ``serve`` blocks show a session with a client, and
runs against a ``--target`` need that server: both are left as recorded. tests/docs/test_outputs.py
checks that each block still has the shape the tool prints (title, sections, table headers and
row counts), so a docs page cannot go stale unseen.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
BLOCK = re.compile(r"```\n\$ netprobe (?P<args>[^\n]+)\n(?P<out>.*?)```", re.S)
LEFT_ALONE = ("serve",)  # interactive sessions, written by hand
FIGURES = DOCS / "figures.json"
FIGURE = re.compile(r"<!--fig:(?P<name>[a-z0-9_]+)-->(?P<value>.*?)<!--/fig-->")


def blocks(text: str) -> list[re.Match[str]]:
    """The ``$ netprobe`` blocks of a page that show a command's own output, runnable here as they are.

    Runs against a ``--target`` need that server (redis, haproxy ...) and stay as recorded.
    """
    return [m for m in BLOCK.finditer(text)
            if shlex.split(m["args"])[0] not in LEFT_ALONE and "--target" not in shlex.split(m["args"])]


def run(args: str) -> str:
    """What ``netprobe ARGS`` prints now (exit statuses 0 and 1 are both results)."""
    proc = subprocess.run([sys.executable, "-m", "netprobe", *shlex.split(args)], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "COLUMNS": "200"})
    if proc.returncode not in (0, 1):
        raise SystemExit(f"netprobe {args} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def regenerate(page: Path) -> int:
    """Rewrite the blocks of one page; return how many."""
    text = page.read_text()
    found = blocks(text)
    for match in reversed(found):
        fresh = f"```\n$ netprobe {match['args']}\n{run(match['args'])}```"
        text = text[:match.start()] + fresh + text[match.end():]
    page.write_text(text)
    return len(found)


def _json(args: str) -> dict:
    return json.loads(run(args + " --format json"))


def measure() -> dict[str, tuple[str, str]]:
    """The figures this machine measures: name -> (value as the docs print it, the command that gave it)."""
    machine = _json("limits")["machine"]
    select = _json("ramp --selector select --to 2000 --quiet")
    kib = machine["kernel_bytes_per_connection"] / 1024
    return {
        "kernel_memory_per_connection": (f"{kib:.1f} KiB", "netprobe limits"),
        # Rounded: the exact ceiling moves with the files other programs hold open at the moment.
        "machine_ceiling": (f"{machine['ceiling'] / 1e6:.2f} million", "netprobe limits"),
        "machine_processes_needed": (f"{machine['processes_needed']:,}", "netprobe limits"),
        "select_stop_linux": (f"{select['reached']:,}", "netprobe ramp --selector select --to 2000"),
    }


def write_figures() -> None:
    """Measure the figures this machine can, keep the recorded ones, and write docs/figures.json."""
    import datetime

    figures = json.loads(FIGURES.read_text("utf-8")) if FIGURES.exists() else {}
    today = datetime.date.today().isoformat()
    for name, (value, command) in measure().items():
        figures[name] = {"value": value, "measured": today, "how": f"`{command}` on the development machine"}
    FIGURES.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n", "utf-8")


def quote_figures(page: Path) -> int:
    """Rewrite every figure quoted on a page from docs/figures.json; return how many."""
    figures = json.loads(FIGURES.read_text("utf-8"))
    text = page.read_text("utf-8")
    count = len(FIGURE.findall(text))
    text = FIGURE.sub(lambda m: f"<!--fig:{m['name']}-->{figures[m['name']]['value']}<!--/fig-->", text)
    page.write_text(text, "utf-8")
    return count


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if "--figures" in arguments:
        arguments.remove("--figures")
        write_figures()
    pages = [Path(p) for p in arguments] or sorted(DOCS.glob("*.md"))
    for page in pages:
        print(f"{page.name}: {regenerate(page)} blocks, {quote_figures(page)} figures")
