"""Every command's table fits the terminal's width ($COLUMNS): prose and long cells wrap, numbers stay whole.

Each command runs as a real process with its stdout a pipe, as in CI: $COLUMNS alone sets the width
there, and without it (or with ``--wide`` or ``--output``) every line stays whole.
"""

from __future__ import annotations

import io
import os

import pytest

from netprobe.models import RampStep
from netprobe.render.fit import fit_table, fit_text
from netprobe.report import distinct_tails
from tests.conftest import run_netprobe

# Small runs of every command with a table: the same layouts as the long ones.
COMMANDS = [
    ["limits"],
    ["ramp", "--to", "300", "--step", "100"],
    ["bench", "echo", "--duration", "0.3", "--clients", "5"],
    ["bench", "selectors", "--fds", "10,100", "--calls", "5"],
    ["bench", "models", "--tasks", "2", "--delay", "0.1"],
    ["bench", "transfer", "--clients", "4", "--file-size", "4096"],
]


def _widest(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def _at(columns: int, *argv: str) -> str:
    proc = run_netprobe(*argv, timeout=120, env={**os.environ, "COLUMNS": str(columns)})
    assert proc.returncode in (0, 1), proc.stderr
    return proc.stdout


# Every command at 60 columns, the narrowest promised; the ones a CI log shows most at 80 as well.
FITS = [(argv, 60) for argv in COMMANDS] + [(argv, 80) for argv in COMMANDS[:2]]


@pytest.mark.parametrize("argv, columns", FITS, ids=[f"{' '.join(a[:2])} at {c}" for a, c in FITS])
def test_every_command_fits_the_terminal(argv, columns):
    out = _at(columns, *argv)
    assert out.strip() and _widest(out) <= columns, out


def test_ramp_of_every_backend_fits_60_columns():
    out = _at(60, "ramp", "--backend", "all", "--to", "200", "--step", "100")
    assert _widest(out) <= 60, out
    assert "Ceilings" in out and "gevent" in out and "select" in out


def test_a_report_of_four_files_fits_and_names_each_column_by_its_file(tmp_path):
    files = []
    for i in range(4):
        files.append(str(tmp_path / f"run{i}" / "ramp.json"))
        os.mkdir(tmp_path / f"run{i}")
        assert run_netprobe("ramp", "--to", "50", "--quiet", "--format", "json", "-o", files[-1]).returncode == 0
    out = _at(80, "report", *files)
    assert _widest(out) <= 80, out
    assert "(run3/ramp.json)" in out and str(tmp_path) not in out.split("Files")[0]  # short names for columns
    assert str(tmp_path) in _at(80, "report", "--wide", *files)  # the Files section names each whole


def test_wide_and_a_pipe_without_columns_keep_every_line_whole():
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    piped = run_netprobe("limits", env=env).stdout
    wide = run_netprobe("limits", "--wide", env={**os.environ, "COLUMNS": "60"}).stdout
    assert _widest(piped) > 80 and _widest(wide) > 80
    assert [line.split()[0] for line in piped.splitlines() if line.strip()][:5] == \
        [line.split()[0] for line in wide.splitlines() if line.strip()][:5]


def test_at_200_columns_nothing_wraps_that_fits():
    out = _at(200, "ramp", "--to", "200", "--step", "100")
    rows = [line for line in out.splitlines() if line[:1].isdigit()]
    assert len(rows) == 2, out  # one line per step: the step table fits whole


def test_numbers_are_never_cut_and_long_words_are():
    rows = [["EpollSelector", "19,995", "soft RLIMIT_NOFILE 20000 less 5 fds in use at start, 1 fd(s) per connection"],
            ["x", "1,232,966,123", "/very/long/path/" + "a" * 60]]
    lines = fit_table(["selector", "max", "why"], rows, 40)
    assert all(len(line) <= 40 for line in lines), lines
    assert any("1,232,966,123" in line for line in lines) and any("19,995" in line for line in lines)
    assert fit_text("word " * 30, None) == ["word " * 30]


def test_a_table_too_wide_to_wrap_goes_on_below_with_its_first_column():
    headers = ["connections", *(f"column {i}" for i in range(12))]
    lines = fit_table(headers, [["1,000", *(f"{i * 1000:,}" for i in range(12))]], 60)
    assert all(len(line) <= 60 for line in lines)
    assert sum(1 for line in lines if line.startswith("connections")) >= 2
    assert sum(1 for line in lines if line.startswith("1,000")) >= 2


def test_columns_are_named_by_as_much_of_their_path_as_tells_them_apart():
    tails = distinct_tails(["/ci/linux/ramp.json", "/ci/macos/ramp.json", "/ci/limits.json"])
    assert tails == {"/ci/linux/ramp.json": "linux/ramp.json", "/ci/macos/ramp.json": "macos/ramp.json",
                     "/ci/limits.json": "limits.json"}


@pytest.mark.parametrize("columns", [60, 80, 200])
def test_the_progress_line_keeps_its_bar_step_and_count(columns):
    from rich.console import Console

    from netprobe.progress import RampProgress

    fields = {name: None for name in RampStep.__dataclass_fields__}
    step = RampStep(**{**fields, "connections": 3000, "client_fds": 3010, "server_fds": 3005, "p99_ms": 1.5})
    screen = io.StringIO()
    console = Console(width=columns, file=screen, force_terminal=True, color_system=None)
    with RampProgress(console) as bar:
        bar.update(step, 10)
        bar.refresh()
    last = screen.getvalue().split("\r\x1b[2K")[-2]
    bar = last.split("ramp", 1)[1].split("1/10", 1)[0].strip()
    assert bar and set(bar) <= {"━", "╸", "-"}, last  # rich draws it in ASCII where the stream is no UTF-8
    assert "3,000 conns" in last, last
    assert len(last.rstrip("\n")) <= columns
