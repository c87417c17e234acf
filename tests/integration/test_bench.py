"""bench selectors and bench models on this machine: shapes, not speeds."""

from __future__ import annotations

import json
import struct
import sys

import pytest

from netprobe import platform
from netprobe.bench.models_bench import run_bench_models
from netprobe.bench.selectors_bench import parse_fds, resolve_selectors, run_bench_selectors
from netprobe.cli import run
from netprobe.errors import UsageError
from tests.conftest import run_netprobe

fd_number_select = pytest.mark.skipif(platform.probe_select_cap().kind != "fd_number",
                                      reason="select() caps fd numbers on POSIX only")


@fd_number_select
def test_epoll_is_flat_select_grows_and_stops_at_its_cap():
    names = [n for n in resolve_selectors(None) if n in ("EpollSelector", "KqueueSelector", "SelectSelector")]
    result = run_bench_selectors([10, 100, 800, 2000], names, calls=100)
    by = {(t.selector, t.fds): t for t in result.timings}
    scalable = next(n for n in names if n != "SelectSelector")
    assert by[(scalable, 2000)].call_us_median < 3 * by[(scalable, 10)].call_us_median
    assert by[("SelectSelector", 800)].call_us_median > 3 * by[("SelectSelector", 10)].call_us_median
    capped = by[("SelectSelector", 2000)]
    assert capped.error == "select_limit at fd 1024" and capped.call_us_median is None
    slopes = {s.selector: s.us_per_1000_fds for s in result.slopes}
    assert slopes["SelectSelector"] > 10 * max(abs(slopes[scalable]), 1.0)


@pytest.mark.parametrize("text, message", [
    ("", "comma-separated"), ("10,,20", "comma-separated"), ("10,abc", "'abc' is not a count"),
    ("0,10", "greater than 0"), ("-5", "'-5' is not a count"), ("9" * 5000, "more sockets than a benchmark needs"),
])
def test_bad_fds(text, message):
    with pytest.raises(UsageError, match=message):
        parse_fds(text)


@pytest.mark.skipif(not platform.HAS_RLIMIT, reason="RLIMIT_NOFILE")
def test_fds_above_the_hard_limit_name_the_limit():
    _, hard, _ = platform.fd_limits()
    if hard is None:
        pytest.skip("unlimited hard limit")
    result = run_netprobe("bench", "selectors", "--fds", str(hard + 10), timeout=60)
    assert result.returncode == 2
    assert f"hard {hard}" in result.stderr and result.stderr.count("\n") == 1


def test_models_reproduce_the_tutorial_finding():
    result = run_bench_models(3, 0.3, ["sequential", "threads", "gevent", "asyncio"])
    runs = {r.model: r for r in result.runs}
    assert all(r.error is None and r.fetched == 3 for r in result.runs), result.runs
    assert runs["sequential"].seconds >= 0.85
    for model in ("threads", "gevent", "asyncio"):
        assert runs[model].seconds <= 0.6
        assert runs[model].speedup == round(runs["sequential"].seconds / runs[model].seconds, 2)
    assert runs["threads"].threads >= 4  # main plus one per task
    assert runs["asyncio"].threads == 1


@pytest.mark.parametrize("argv, message", [
    (["bench", "models", "--tasks", "0"], "--tasks must be 1-"),
    (["bench", "models", "--delay", "-1"], "--delay must be 0-"),
    (["bench", "models", "--delay", "inf"], "--delay must be 0-"),
    (["bench", "models", "--delay", "nan"], "--delay must be 0-"),
    (["bench", "models", "--tasks", "1000000000000"], "--tasks must be 1-"),
    (["bench", "models", "--models", "sequential,fibers"], "choose from"),
    (["bench", "selectors", "--selector", "nosuch"], "'nosuch' is not available here"),
    (["bench", "selectors", "--fds", "10", "--plot", "/nonexistent/dir/x.png"], "does not exist"),
    (["bench", "selectors", "--fds", "10", "--plot", "x.svg"], ".png"),
])
def test_bench_bad_input(capsys, argv, message):
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.slow
def test_plots_are_pngs_of_the_promised_size(tmp_path):
    pytest.importorskip("matplotlib")
    sel, ramp = tmp_path / "sel.png", tmp_path / "ramp.png"
    # In child processes: matplotlib keeps font files open for the life of a process.
    done = run_netprobe("bench", "selectors", "--fds", "10,100", "--calls", "20", "--plot", str(sel),
                        "--format", "json", "--output", str(tmp_path / "sel.json"))
    assert done.returncode == 0, done.stderr
    done = run_netprobe("ramp", "--to", "100", "--quiet", "--plot", str(ramp), "--output", str(tmp_path / "r.txt"))
    assert done.returncode == 0, done.stderr
    echo = tmp_path / "echo.png"
    done = run_netprobe("bench", "echo", "--backend", "selectors,threads", "--clients", "10", "--duration", "0.3",
                        "--plot", str(echo), "--output", str(tmp_path / "e.txt"))
    assert done.returncode == 0, done.stderr
    assert _png_size(sel) == _png_size(echo) == (1000, 600)
    assert _png_size(ramp) == (1000, 800)  # a ramp's four panels: fds, RSS, latency, step time
    assert json.loads((tmp_path / "sel.json").read_text("utf-8"))["schema"] == "netprobe.bench.selectors/1"


def test_a_slow_step_is_one_over_twice_the_median_step():
    from netprobe.plots import slow_steps

    assert slow_steps([0.02, 0.03, 0.02, 0.025, 1.15]) == [4]
    assert slow_steps([0.02, 0.03, 0.02]) == [] and slow_steps([1.0, 9.0]) == []  # too few steps to tell


def test_plot_without_matplotlib_says_how_to_install(tmp_path):
    # A child in which importing matplotlib fails, as it does where the extra is not installed.
    code = ("import sys; sys.modules['matplotlib'] = None; from netprobe.cli import run; "
            f"sys.exit(run(['bench', 'selectors', '--fds', '10', '--plot', {str(tmp_path / 'x.png')!r}]))")
    import subprocess

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "pip install 'netprobe-sockets[plot]'" in result.stderr
    assert not (tmp_path / "x.png").exists()


def test_bench_echo_measures_an_echo_server_of_the_users_own(child_server, capsys):
    host, port = child_server().addresses[0]
    assert run(["bench", "echo", "--target", f"{host}:{port}", "--clients", "10", "--duration", "0.3",
                "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (row,) = data["runs"]
    assert row["backend"] == f"{host}:{port}" and row["round_trips_per_s"] > 0 and row["error"] is None
    assert row["server_cpu"] is None and row["server_rss"] is None  # not netprobe's to measure


def test_bench_echo_target_refuses_what_shapes_netprobes_own_server(capsys):
    assert run(["bench", "echo", "--target", "127.0.0.1:9", "--backend", "threads"]) == 2
    assert "cannot apply to --target" in capsys.readouterr().err
