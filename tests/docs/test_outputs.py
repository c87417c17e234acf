"""Every ``$ netprobe ...`` output shown in docs/ has the shape the tool prints today (docs/regenerate.py).

Numbers differ between runs and machines; the shape does not: the title (less its platform), the
section titles, every table's header and how many rows it has. A change of the tool's output
fails here until ``python docs/regenerate.py`` puts a real run into the docs.
"""

from __future__ import annotations

import importlib.util
import re
import shlex

import pytest

from netprobe import platform
from tests.conftest import LATE_MS, ROOT, run_netprobe

spec = importlib.util.spec_from_file_location("regenerate", ROOT / "docs" / "regenerate.py")
assert spec is not None and spec.loader is not None
regenerate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(regenerate)

# Shorter or lighter runs with the same shape, where the documented one takes long or loads the machine.
FASTER = {"--duration": "0.3", "--delay": "0.2", "--rate": "1"}
SHOWN = [(page.name, m["args"], m["out"]) for page in sorted((ROOT / "docs").glob("*.md"))
         for m in regenerate.blocks(page.read_text("utf-8"))]


def shape(text: str) -> list[str]:
    """The title less its platform, then each section's title, table header and number of rows."""
    lines = text.splitlines()
    digits = re.compile(r"\d[\d,.]*")
    out = [digits.sub("#", lines[0].rsplit(": ", 1)[0])] if lines else []
    for i in range(1, len(lines) - 1):
        if set(lines[i + 1].strip()) == {"-"} and lines[i].strip() and "  " not in lines[i].strip():
            out.append(f"section {lines[i].strip()}")
        if re.fullmatch(r"-+(\s+-+)+", lines[i + 1].strip()):
            header = re.sub(r"\s+", " ", lines[i].strip())
            rows = 0
            for row in lines[i + 2:]:
                if not row.strip():
                    break
                rows += 1
            out.append(f"table {header} ({rows} rows)")
    return out


def _faster(args: str, shown: str) -> list[str]:
    """The documented command, shorter where it can be; under traffic that the docs show reaching its
    target, late replies allowed, since a loaded machine's knee is not a change of the tool's output."""
    words = shlex.split(args)
    words = [FASTER.get(words[i - 1], w) if i else w for i, w in enumerate(words)]
    traffic = {"--rate", "--total-rate", "--churn"} & set(words)
    if traffic and "--max-latency" not in words and "Why it stopped" not in shown:
        words += ["--max-latency", str(LATE_MS)]
    return words


def test_the_docs_show_outputs():
    assert len(SHOWN) >= 6, SHOWN


@pytest.mark.skipif(platform.NAME != "linux", reason="the docs show runs on Linux")
@pytest.mark.parametrize("page, args, shown", SHOWN, ids=[f"{p}: {a}" for p, a, _ in SHOWN])
@pytest.mark.slow
def test_a_shown_output_has_the_shape_the_tool_prints(page, args, shown):
    proc = run_netprobe(*_faster(args, shown), timeout=300, env={"COLUMNS": "200", **__import__("os").environ})
    assert proc.returncode in (0, 1), proc.stderr
    why = proc.stdout.partition("Why it stopped")[2][:600]
    assert shape(shown) == shape(proc.stdout), (f"{page} is stale for `netprobe {args}`: python docs/regenerate.py"
                                                + (f"; this run stopped: {why}" if why else ""))
