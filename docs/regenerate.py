"""Put the real output of every ``$ netprobe ...`` block in docs/ under its command, from a run here.

    python docs/regenerate.py [FILE.md ...]     # rewrite the blocks (all docs/*.md by default)

A block is a fenced block whose first line is ``$ netprobe ARGS``; everything after that line is
replaced by what ``netprobe ARGS`` prints now. ``serve`` blocks show a session with a client, and
runs against a ``--target`` need that server: both are left as recorded. tests/docs/test_outputs.py
checks that each block still has the shape the tool prints (title, sections, table headers and
row counts), so a docs page cannot go stale unseen.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
BLOCK = re.compile(r"```\n\$ netprobe (?P<args>[^\n]+)\n(?P<out>.*?)```", re.S)
LEFT_ALONE = ("serve",)  # interactive sessions, written by hand


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


if __name__ == "__main__":
    pages = [Path(p) for p in sys.argv[1:]] or sorted(DOCS.glob("*.md"))
    for page in pages:
        print(f"{page.name}: {regenerate(page)} blocks")
