"""The CLI: rendering, exit statuses, one-line errors, and the installed console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from netprobe import __version__, platform
from netprobe.cli import app, run
from tests.conftest import run_netprobe

runner = CliRunner()


def test_limits_json_has_the_contract_keys():
    result = runner.invoke(app, ["limits", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["schema"] == "netprobe.limits/1"
    for key in ("platform", "selectors", "fds", "network", "process", "memory", "predicted", "notes"):
        assert key in data
    assert set(data["platform"]) >= {"system", "release", "machine", "python", "implementation"}
    assert set(data["fds"]) == {"soft", "hard", "system_max", "system_in_use", "per_process_max",
                                "launchd_soft", "launchd_hard"}
    assert set(data["network"]["ephemeral_ports"]) == {"low", "high", "count", "excluded", "excluded_in_range"}
    assert set(data["process"]) >= {"pid", "fds", "rss", "threads"}
    assert set(data["memory"]) == {"total", "available"}
    for p in data["predicted"]:
        assert set(p) == {"selector", "placement", "max_connections", "binding_limit", "detail", "backend"}
    assert data["selectors"]["default"] in data["selectors"]["available"]


def test_limits_table_names_the_binding_limit_first():
    result = runner.invoke(app, ["limits"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("netprobe limits:")
    assert "DefaultSelector is" in lines[2] and "bound by" in lines[2]
    assert "Predicted ceiling" in result.stdout


def test_limits_markdown_is_github_tables():
    result = runner.invoke(app, ["limits", "--format", "markdown"])
    assert result.exit_code == 0
    assert result.stdout.startswith("## netprobe limits")
    assert any(line.startswith("|---") or line.startswith("|--") for line in result.stdout.splitlines())


def test_limits_output_file(tmp_path):
    target = tmp_path / "limits.json"
    assert run(["limits", "--format", "json", "--output", str(target)]) == 0
    assert json.loads(target.read_text("utf-8"))["schema"] == "netprobe.limits/1"
    assert [p.name for p in tmp_path.iterdir()] == ["limits.json"]  # no temporary left behind


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.stdout


@pytest.mark.parametrize("argv, message", [
    (["limits", "--format", "nope"], "'nope' is not one of"),
    (["limits", "--output", "/nonexistent/dir/x.json"], "does not exist"),
    (["nosuchcommand"], "No such command"),
    (["ramp", "--to", "0"], "--to must be greater than 0"),
    (["ramp", "--to", "-5"], "--to must be greater than 0"),
    (["ramp", "--to", "abc"], "'abc' is not a valid"),
    (["ramp", "--to", "10", "--step", "0"], "--step"),
    (["ramp", "--to", "10", "--timeout", "0"], "--timeout"),
    (["ramp", "--to", "10", "--selector", "nosuch"], "'nosuch' is not one of"),
    pytest.param(["ramp", "--to", "10", "--fd-limit", "99999999"], "hard limit",
                 marks=pytest.mark.skipif(not platform.HAS_RLIMIT, reason="POSIX message")),
    (["ramp", "--to", "10", "--target", "127.0.0.1"], "HOST:PORT"),
    (["ramp", "--to", "10", "--target", "127.0.0.1:99999"], "outside 1-65535"),
    (["ramp", "--to", "10", "--target", "198.51.100.7:80"], "--allow-remote"),
    (["ramp", "--to", "10", "--format", "yaml"], "'yaml' is not one of"),
    (["ramp", "--to", "10", "--output", "/nonexistent/dir/x.json"], "does not exist"),
    (["ramp", "--churn", "0"], "--churn must be greater than 0"),
    (["ramp", "--churn", "100", "--to", "10"], "cannot go with --to"),
    (["ramp", "--churn", "100", "--rate", "1"], "cannot go with --rate"),
    (["ramp", "--churn", "2000000"], "above 1,000,000"),
    (["ramp", "--churn", "100", "--request", "nothex"], "--request"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("netprobe: error: ")
    assert message in err


def test_unavailable_selector_lists_the_available_ones(capsys):
    from netprobe.selector_catalog import available_selectors

    missing = [n for n, c in (("kqueue", "KqueueSelector"), ("epoll", "EpollSelector"), ("devpoll", "DevpollSelector"))
               if c not in available_selectors()]
    assert run(["ramp", "--to", "10", "--selector", missing[0]]) == 2
    err = capsys.readouterr().err
    assert "not available here" in err and "select" in err  # select() is on every OS


def test_debug_shows_the_traceback():
    from netprobe.errors import UsageError

    with pytest.raises(UsageError):
        run(["--debug", "ramp", "--to", "0"])


def test_help_mentions_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("limits", "ramp"):
        assert command in result.stdout


def test_installed_console_script_runs():
    script = shutil.which("netprobe", path=os.path.dirname(sys.executable))
    if script is None:
        pytest.skip("netprobe is not installed as a console script next to this Python")
    result = subprocess.run([script, "limits", "--format", "json"], capture_output=True, encoding="utf-8", timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["schema"] == "netprobe.limits/1"


@pytest.mark.parametrize("argv", [["limits"], ["--help"], ["ramp", "--help"], ["bench", "--help"]])
def test_neither_gevent_nor_matplotlib_is_imported(argv):
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "netprobe", *argv],
                            capture_output=True, encoding="utf-8", timeout=60)
    assert result.returncode == 0
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "netprobe.cli" in imported
    assert not {m for m in imported if m.split(".")[0] in ("gevent", "matplotlib")}


def test_bad_input_through_the_real_process_has_no_traceback():
    result = run_netprobe("ramp", "--to", "-5", timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize("command, words", [
    (["ramp"], ["netprobe-sockets[plot]", "netprobe-sockets[dist]"]),
    (["bench", "echo"], ["netprobe-sockets[plot]"]),
    (["bench", "selectors"], ["netprobe-sockets[plot]"]),
])
def test_help_keeps_bracketed_words_that_rich_would_read_as_markup(command, words):
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    for word in words:
        assert word in result.output, f"{' '.join(command)} --help lost {word!r}"


def test_no_help_string_has_an_unescaped_bracket():
    """rich swallows [word] as markup: every bracket in a help string must be escaped."""
    import re

    import typer

    def commands(group):
        for cmd in group.commands.values():
            yield cmd
            if hasattr(cmd, "commands"):
                yield from commands(cmd)

    for cmd in commands(typer.main.get_command(app)):
        for text in [cmd.help or ""] + [p.help or "" for p in cmd.params if hasattr(p, "help")]:
            assert not re.search(r"(?<!\\)\[[a-z]+\]", text), f"{cmd.name}: {text!r}"
