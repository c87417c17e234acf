"""Issue 18 #4 and #5: output that reads the same in a console, a pipe, a file and a CI log; unknown is not 0.

Each command runs as a real process whose stdout and stderr are pipes in a legacy code page
(``PYTHONIOENCODING``, as Windows gives a piped Python its ANSI code page): cp1252, where
netprobe's "—" was byte 0x97, and cp437, where it raised ``UnicodeEncodeError``. Both streams
must decode as UTF-8 and carry no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import typer

from netprobe import platform
from netprobe.cli import app
from tests.conftest import ROOT, wine_differs

CODE_PAGES = ["cp1252", "cp437"]


def _run(code_page: str, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONIOENCODING": code_page}
    return subprocess.run([sys.executable, "-m", "netprobe", *argv], capture_output=True, timeout=120, cwd=ROOT,
                          env=env)


def _readable(done: subprocess.CompletedProcess) -> str:
    out, err = done.stdout.decode("utf-8"), done.stderr.decode("utf-8")  # raises where it is not UTF-8
    assert "Traceback" not in err and "UnicodeEncodeError" not in err, err[-2000:]
    return out + err


def _commands() -> list[list[str]]:
    """Every command and command group's help, from the app itself: a new command is covered by registering it."""
    click_app = typer.main.get_command(app)
    argvs = [["--help"]]
    for name, command in click_app.commands.items():  # type: ignore[attr-defined]
        argvs.append([name, "--help"])
        for sub in getattr(command, "commands", {}):
            argvs.append([name, sub, "--help"])
    return argvs


# One process prints every help text as ``python -m netprobe`` would (its streams set up by main's
# utf8_stdio, then run() for each), each after a marker line: a Windows Python per command took a
# minute of the Windows lane. The marker and the exit status are ASCII, readable in any code page.
_EVERY_HELP = """
import json, sys
from netprobe.cli import run
from netprobe.output import utf8_stdio
utf8_stdio()
for argv in json.loads(sys.argv[1]):
    print("@@ " + json.dumps(argv), flush=True)
    status = run(argv)
    sys.stdout.flush()
    print("@@ exit", status, flush=True)
"""


@pytest.mark.parametrize("code_page", CODE_PAGES)
def test_every_help_text_is_utf8_in_a_legacy_code_page(code_page):
    argvs = _commands()
    done = subprocess.run([sys.executable, "-c", _EVERY_HELP, json.dumps(argvs)], capture_output=True, timeout=300,
                          cwd=ROOT, env={**os.environ, "PYTHONIOENCODING": code_page})
    assert done.returncode == 0, done.stderr[-2000:]
    shown = _readable(done).split("@@ ")[1:]
    assert len(shown) == 2 * len(argvs), shown[-2:]
    for argv, (head, tail) in zip(argvs, zip(shown[::2], shown[1::2])):
        said, _, text = head.partition("\n")
        assert json.loads(said) == argv and text.strip(), (argv, head[:200])
        assert tail.strip() == "exit 0", (argv, tail)


@pytest.mark.parametrize("code_page", CODE_PAGES)
def test_limits_ramp_and_report_are_utf8_in_a_legacy_code_page(code_page, tmp_path):
    limits = _run(code_page, "limits")
    assert limits.returncode == 0 and _readable(limits)
    ramp = tmp_path / "ramp.json"
    done = _run(code_page, "ramp", "--to", "50", "--quiet")
    assert done.returncode == 0 and "Reached" in _readable(done)
    assert _run(code_page, "ramp", "--to", "50", "--quiet", "--format", "json", "-o", str(ramp)).returncode == 0
    report = _run(code_page, "report", str(ramp))
    assert report.returncode == 0 and _readable(report)
    bad = _run(code_page, "ramp", "--to", "-5")
    assert bad.returncode == 2 and _readable(bad).count("\n") == 1


def test_json_files_are_utf8_whatever_the_locale(tmp_path):
    out = tmp_path / "limits.json"
    done = subprocess.run([sys.executable, "-m", "netprobe", "limits", "--format", "json", "-o", str(out)],
                          capture_output=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONIOENCODING": "cp437", "PYTHONUTF8": "0", "LC_ALL": "C"})
    assert done.returncode == 0, done.stderr
    out.read_bytes().decode("utf-8")


def test_a_handle_count_the_os_did_not_give_is_unknown_not_zero():
    """Wine's psutil reads 0 handles for every process (issue 18); a live process never has 0."""

    from netprobe.platform import _windows

    class WineProcess:  # what psutil.Process.num_handles() returned under Wine 8, for every process
        def num_handles(self) -> int:
            return 0

    assert _windows.process_fds(WineProcess()) is None  # type: ignore[arg-type]


@wine_differs("psutil reads 0 handles for every process")
def test_this_os_counts_this_process_s_fds_or_handles():
    import psutil

    assert (platform.process_fds(psutil.Process()) or 0) > 0
