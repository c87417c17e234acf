"""The GitHub Action's one step (action.yml): `netprobe limits`, one ramp, the expectation checked.

Inputs arrive as NETPROBE_* environment variables (never spliced into a shell line); the JSON
files go to the output directory, named after the OS and Python so `netprobe report` can put jobs
side by side; the markdown report goes to $GITHUB_STEP_SUMMARY and the file paths to
$GITHUB_OUTPUT. Exits 1 with one `::error::` line when the ramp did not meet the expectation,
2 when an input is not one netprobe can use. Python, so it runs the same on every runner.

An expectation is `ramp --expect`'s (netprobe/expect.py): `reached`, or `REASON[@SIDE][:LOW-HIGH]`
(`select_limit@server:500-511`).
"""

from __future__ import annotations

import os
import platform
import re
import shlex
import subprocess
import sys
import uuid
from typing import Optional

from netprobe.errors import UsageError
from netprobe.expect import Expectation


def _netprobe(*args: str) -> int:
    print("+ netprobe " + " ".join(args), flush=True)
    return subprocess.run([sys.executable, "-m", "netprobe", *args]).returncode


def _append(path: Optional[str], text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)


def _outputs(values: dict[str, str]) -> str:
    """``values`` as $GITHUB_OUTPUT lines that no value can forge: one with a line break gets a delimiter of its own."""
    lines = []
    for key, value in values.items():
        if "\n" in value or "\r" in value:
            delimiter = f"netprobe_{uuid.uuid4().hex}"
            lines.append(f"{key}<<{delimiter}\n{value}\n{delimiter}")
        else:
            lines.append(f"{key}={value}")
    return "\n".join(lines) + "\n"


# A run's name becomes part of file names, a summary heading and an output: letters, digits and ._- only.
NAME = re.compile(r"[A-Za-z0-9._-]{0,64}")
# Options the action sets itself: given in ramp-args they would change where and how it reads the result.
OWN_OPTIONS = ("--format", "-f", "--output", "-o", "--quiet", "-q")


def _inputs_problem(name: str, out: str, ramp_args: list[str]) -> Optional[str]:
    """Why the action's inputs cannot be used as they are, or None."""
    if not NAME.fullmatch(name):
        return f"name {name!r}: use letters, digits, '.', '_' and '-' only (at most 64)"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in out):
        return f"output-dir {out!r}: control characters (a line break) cannot be in a directory name here"
    own = [a for a in ramp_args if a.split("=", 1)[0] in OWN_OPTIONS]
    if own:
        return f"ramp-args: {', '.join(own)} is the action's own (it writes JSON to output-dir and reads it back)"
    return None


def _remove(path: str) -> None:
    """Remove ``path`` if it exists (an earlier run's file)."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def main() -> int:
    """Run limits and the ramp the inputs describe, publish the files, and check the expectation."""
    env = os.environ
    try:
        expectation = Expectation.parse(env.get("NETPROBE_EXPECT", "reached"), "expect")
    except UsageError as exc:
        print(f"::error::netprobe action: {exc}", flush=True)
        return 2
    out = env.get("NETPROBE_OUTPUT_DIR") or "netprobe-results"
    os_label = env.get("RUNNER_OS") or platform.system()  # as GitHub names it: Linux, macOS, Windows
    os_name = os_label.lower()
    name = env.get("NETPROBE_NAME", "").strip()
    try:
        ramp_args = shlex.split(env.get("NETPROBE_RAMP_ARGS", ""))
    except ValueError as exc:
        print(f"::error::netprobe action: ramp-args: {exc}", flush=True)
        return 2
    problem = _inputs_problem(name, out, ramp_args)
    if problem is not None:
        print(f"::error::netprobe action: {problem}", flush=True)
        return 2
    os.makedirs(out, exist_ok=True)
    tag = f"{os_name}-py{platform.python_version()}" + (f"-{name}" if name else "")

    files = []
    if env.get("NETPROBE_LIMITS", "true").strip().lower() != "false":
        limits = os.path.join(out, f"limits-{tag}.json")
        _remove(limits)
        if _netprobe("limits", "--format", "json", "--output", limits) != 0:
            print("::error::netprobe limits failed", flush=True)
            return 2
        files.append(limits)

    ramp = os.path.join(out, f"ramp-{tag}.json")
    argv = ["ramp", "--quiet", "--format", "json", "--output", ramp]
    for option, variable in (("--to", "NETPROBE_TO"), ("--backend", "NETPROBE_BACKEND"),
                             ("--selector", "NETPROBE_SELECTOR"), ("--target", "NETPROBE_TARGET"),
                             ("--fd-limit", "NETPROBE_FD_LIMIT")):
        value = env.get(variable, "").strip()
        if value:
            argv += [option, value]
    argv += ramp_args
    _remove(ramp)  # a file of an earlier run in this directory must never pass for this one's
    status = _netprobe(*argv)
    if status not in (0, 1) or not os.path.exists(ramp):
        print(f"::error::netprobe ramp failed with exit status {status} (see the lines above)", flush=True)
        return 2
    files.append(ramp)

    from netprobe.models.ramp import RampResult

    with open(ramp, encoding="utf-8") as f:
        result = RampResult.from_json(f.read(), ramp)
    reason = str(result.stop.reason) if result.stop else None
    side = str(result.stop.side) if result.stop else None

    _netprobe("report", *files)  # the table, for the job log
    problem = expectation.check(status == 0, result.reached, reason, side)
    runner = f"{os_label}, Python {platform.python_version()}" + (f" ({name})" if name else "")
    _append(env.get("GITHUB_STEP_SUMMARY"), summary(runner, expectation, problem, result.verdict, files))
    _append(env.get("GITHUB_OUTPUT"), _outputs({
        "files": " ".join(files), "dir": out, "ramp-json": ramp, "limits-json": files[0] if len(files) > 1 else "",
        "reached": str(result.reached), "stop-reason": reason or ""}))
    if problem is not None:
        print(f"::error::netprobe: {problem}", flush=True)
        return 1
    print(f"netprobe: {expectation}, as expected: {result.verdict}", flush=True)
    return 0


def summary(runner: str, expectation: Expectation, problem: Optional[str], verdict: str, files: list[str]) -> str:
    """One run's markdown for $GITHUB_STEP_SUMMARY: one heading, whether the expectation held first, then the files.

    The report's own title and its "short of its target" line are left out: whether falling short
    was wrong is the expectation's to say, and it says so first.
    """
    from netprobe.render.markdown import render_document
    from netprobe.render.sections import Document, report_document
    from netprobe.report import build_report

    held = f"Expectation met: {expectation}." if problem is None else f"Expectation not met: {problem}."
    sections = report_document(build_report(files)).sections
    title = f"netprobe on {runner}: expectation {'met' if problem is None else 'not met'}"
    return render_document(Document(title, [held, verdict], sections)) + "\n"


if __name__ == "__main__":
    sys.exit(main())
