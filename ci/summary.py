"""The CI summary job: `netprobe report` over every artifact, as markdown into $GITHUB_STEP_SUMMARY.

Two tables: the target ramps and limits of every job (the gate: exits with the report's status,
so the run fails where any ramp fell short of its target), and the select() headline of every
OS side by side (shown, not gated here: each matrix job already checked its own stop).
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile


def report(files: list[str], title: str) -> int:
    netprobe = [sys.executable, "-m", "netprobe", "report", *files]
    subprocess.run(netprobe)  # the table, for the log
    with tempfile.TemporaryDirectory() as tmp:
        markdown = os.path.join(tmp, "summary.md")
        status = subprocess.run([*netprobe, "--format", "markdown", "--output", markdown]).returncode
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary and os.path.exists(markdown):
            with open(markdown, encoding="utf-8") as src, open(summary, "a", encoding="utf-8") as dst:
                dst.write(f"# {title}\n\n" + src.read() + "\n")
    return status


def main() -> int:
    folder = sys.argv[1] if len(sys.argv) > 1 else "artifacts"
    files = sorted(glob.glob(os.path.join(folder, "*.json")))
    headlines = sorted(glob.glob(os.path.join(folder, "headline", "*.json")))
    if not files:
        print(f"no netprobe JSON files under {folder}", file=sys.stderr)
        return 2
    status = report(files, "Limits and target ramps, every OS and Python")
    if headlines:
        report(headlines, "select() headline: where `ramp --selector select --to 2000` stopped (select_limit)")
    return status


if __name__ == "__main__":
    sys.exit(main())
