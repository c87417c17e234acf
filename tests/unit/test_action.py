"""The GitHub Action (action.yml), run here as a runner runs it: its steps' commands, its inputs and environment.

The runner's part is played by this test: it substitutes ``${{ inputs.* }}`` and
``${{ github.action_path }}``, sets GITHUB_STEP_SUMMARY, GITHUB_OUTPUT, RUNNER_OS and
RUNNER_TEMP, and runs each step with the shell it names. ``python`` is a fresh virtual
environment that sees this one's packages, so the install step installs into it, not here.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

yaml = pytest.importorskip("yaml", reason="pyyaml reads action.yml (the test extra brings it)")
sys.path.insert(0, str(ROOT / "ci"))
try:
    import action
    from action import Expectation
finally:
    sys.path.pop(0)

ACTION = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))
RUNNER_OS = {"linux": "Linux", "darwin": "macOS", "win32": "Windows"}.get(sys.platform, "Linux")


@pytest.fixture(scope="module")
def runner_python(tmp_path_factory) -> Path:
    """A venv whose ``python`` sees this interpreter's packages, so a pip install lands there only."""
    # The embeddable Windows Python of the Wine lane has no venv module, and Wine no bash.
    venv = pytest.importorskip("venv", reason="this Python has no venv module (the embeddable Windows package)")
    if shutil.which("bash") is None:
        pytest.skip("no bash here: the action's steps are bash, as on every GitHub runner")
    home = tmp_path_factory.mktemp("runner-venv")
    venv.EnvBuilder(with_pip=False).create(home)
    site = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    bindir = home / ("Scripts" if sys.platform == "win32" else "bin")
    python = bindir / ("python.exe" if sys.platform == "win32" else "python")
    target = subprocess.run([str(python), "-c", "import site; print(site.getsitepackages()[0])"],
                            capture_output=True, text=True, check=True).stdout.strip()
    Path(target, "outer.pth").write_text(site + "\n")
    return bindir


def _run_action(bindir: Path, tmp_path: Path, **overrides: str) -> tuple[list[subprocess.CompletedProcess], Path]:
    inputs = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    inputs.update(overrides)

    def substitute(text: str) -> str:
        text = re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: inputs[m.group(1)], text)
        return re.sub(r"\$\{\{\s*github\.action_path\s*\}\}", str(ROOT), text)

    summary = tmp_path / "summary.md"
    summary.touch()
    env = {**os.environ, "PATH": str(bindir) + os.pathsep + os.environ["PATH"], "GITHUB_STEP_SUMMARY": str(summary),
           "GITHUB_OUTPUT": str(tmp_path / "output"), "RUNNER_OS": RUNNER_OS, "RUNNER_TEMP": str(tmp_path),
           "GITHUB_ACTION_PATH": str(ROOT), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = []
    for step in ACTION["runs"]["steps"]:
        assert step["shell"] == "bash", "every step names bash, the shell every runner has"
        step_env = {**env, **{k: substitute(str(v)) for k, v in (step.get("env") or {}).items()}}
        proc = subprocess.run([shutil.which("bash") or "bash", "-e", "-c", substitute(step["run"])], cwd=tmp_path,
                              env=step_env, capture_output=True, text=True, timeout=600)
        done.append(proc)
        if proc.returncode != 0:
            break
    return done, summary


def test_the_action_is_a_composite_action_of_bash_steps_with_inputs():
    assert ACTION["runs"]["using"] == "composite"
    assert {"to", "backend", "target", "fd-limit", "expect"} <= set(ACTION["inputs"])
    assert {"files", "ramp-json", "limits-json"} <= set(ACTION["outputs"])


@pytest.mark.slow
def test_the_action_runs_here_and_fails_in_one_line_on_an_unmet_expectation(runner_python, tmp_path):
    if shutil.which("bash") is None:  # asked here, not at import: the simulated Windows shape collects this file
        pytest.skip("runs the action's bash steps")
    (tmp_path / "met").mkdir()
    steps, summary = _run_action(runner_python, tmp_path / "met", to="300")
    assert [p.returncode for p in steps] == [0, 0], steps[-1].stdout[-2000:] + steps[-1].stderr[-2000:]
    text = summary.read_text("utf-8")
    assert "|" in text and "---" in text and "Reached 300" in text
    assert text.splitlines()[0] == f"## netprobe on {RUNNER_OS}, Python {platform.python_version()}: expectation met"
    assert text.count("\n## ") == 0 and text.splitlines()[2] == "**Expectation met: the target reached.**"
    outputs = dict(line.split("=", 1) for line in (tmp_path / "met" / "output").read_text("utf-8").splitlines())
    assert outputs["reached"] == "300" and outputs["stop-reason"] == ""
    for path in outputs["files"].split():
        assert Path(tmp_path / "met", path).is_file()

    (tmp_path / "unmet").mkdir()
    steps, summary = _run_action(runner_python, tmp_path / "unmet", to="300", limits="false",
                                 expect="select_limit@server:1000-1023")
    assert steps[-1].returncode == 1
    unmet = summary.read_text("utf-8").splitlines()
    assert unmet[0].endswith(": expectation not met") and unmet[2].startswith("**Expectation not met: expected a")
    errors = [line for line in steps[-1].stdout.splitlines() if line.startswith("::error::")]
    assert errors == ["::error::netprobe: expected a select_limit stop on the server side holding 1000-1023; "
                      "reached 300"]


@pytest.mark.parametrize("text, problem", [
    ("nonsense!", "is not 'reached'"),
    ("no_such_reason", "is not a stop reason"),
    ("fd_limit@nowhere", "side 'nowhere'"),
    ("fd_limit:9-1", "is empty"),
])
def test_a_bad_expectation_is_named(text, problem):
    from netprobe.errors import UsageError

    with pytest.raises(UsageError, match=problem):
        Expectation.parse(text)


def test_every_job_checks_the_select_headline_of_its_os():
    """The workflow's headline per OS fails a job whose select() does not stop where netprobe says."""
    text = (ROOT / ".github" / "workflows" / "ci.yml").read_text("utf-8")
    headlines = dict(re.findall(r"- os: (\S+)\n(?:\s+\w+: .*\n)*?\s+headline: (\S+)", text))
    windows, linux = Expectation.parse(headlines["windows-latest"]), Expectation.parse(headlines["ubuntu-latest"])
    assert headlines["macos-latest"] == headlines["ubuntu-latest"]
    assert windows.check(False, 511, "select_limit", "server") is None
    assert windows.check(False, 1020, "select_limit", "server") is not None  # Windows is capped by count
    assert linux.check(False, 1020, "select_limit", "server") is None
    assert linux.check(False, 2000, "fd_limit", "server") is not None
    assert Expectation.parse("reached").check(True, 1000, None, None) is None


def _github_outputs(text: str) -> dict[str, str]:
    """$GITHUB_OUTPUT as the runner reads it: key=value lines, and key<<DELIMITER blocks."""
    outputs, lines = {}, iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            body = []
            for inner in lines:
                if inner == delimiter:
                    break
                body.append(inner)
            outputs[key] = "\n".join(body)
        else:
            key, value = line.split("=", 1)
            outputs[key] = value
    return outputs


def test_an_output_value_with_line_breaks_cannot_add_or_change_a_key():
    forged = "x\nreached=1000000\nstop-reason=select_limit\nzzz<<stop-reason=\nq"
    outputs = _github_outputs(action._outputs({"dir": forged, "reached": "200", "stop-reason": ""}))
    assert outputs == {"dir": forged, "reached": "200", "stop-reason": ""}


def _run_main(monkeypatch, tmp_path, **inputs) -> tuple[int, Path]:
    monkeypatch.chdir(tmp_path)
    output = tmp_path / "github-output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("NETPROBE_LIMITS", "false")
    for key, value in inputs.items():
        monkeypatch.setenv(f"NETPROBE_{key.upper()}", value)
    return action.main(), output


@pytest.mark.parametrize("inputs, problem", [
    ({"name": "x\nreached=1000000"}, "name"),
    ({"name": "## heading"}, "name"),
    ({"output_dir": "out\nreached=1"}, "output-dir"),
    ({"ramp_args": "--client 'gevent"}, "ramp-args"),
    ({"ramp_args": "--format markdown"}, "the action's own"),
    ({"ramp_args": "-o x.json"}, "the action's own"),
])
def test_inputs_that_could_forge_or_misread_the_result_are_refused_in_one_line(monkeypatch, tmp_path, capsys,
                                                                               inputs, problem):
    status, output = _run_main(monkeypatch, tmp_path, **inputs)
    said = capsys.readouterr().out
    assert status == 2 and not output.exists()
    errors = [line for line in said.splitlines() if line.startswith("::error::")]
    assert len(errors) == 1 and problem in errors[0], said


def test_a_result_left_by_an_earlier_run_is_never_read_as_this_ones(monkeypatch, tmp_path, capsys):
    ran = []

    def ramp_that_writes_nothing(*args: str) -> int:
        ran.append(args)
        return 1  # as a distributed ramp that fails before its first step and writes no file

    monkeypatch.setattr(action, "_netprobe", ramp_that_writes_nothing)
    monkeypatch.setattr(action.platform, "python_version", lambda: "3.12.0")
    monkeypatch.setenv("RUNNER_OS", "Linux")
    stale = tmp_path / "netprobe-results" / "ramp-linux-py3.12.0.json"
    stale.parent.mkdir()
    stale.write_text('{"reached": 59}', "utf-8")
    status, output = _run_main(monkeypatch, tmp_path)
    assert ran and status == 2 and not stale.exists() and not output.exists()
    assert "ramp failed" in capsys.readouterr().out


def test_the_action_pins_every_dependency_it_installs_within_what_pyproject_allows():
    from importlib.metadata import PackageNotFoundError, requires, version

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (ROOT / "ci" / "constraints.txt").read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, pinned = line.partition("==")
            pins[canonicalize_name(name)] = pinned.strip()
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    for text in project["dependencies"]:
        wanted = Requirement(text)
        name = canonicalize_name(wanted.name)
        assert name in pins, f"the action does not pin {wanted.name}"
        assert wanted.specifier.contains(pins[name]), f"{wanted.name}=={pins[name]} is outside {wanted.specifier}"
        try:  # their own dependencies are pinned too, where this machine has them installed
            for sub in requires(wanted.name) or []:
                need = Requirement(sub)
                if need.marker is None or need.marker.evaluate({"extra": ""}):
                    version(need.name)
                    assert canonicalize_name(need.name) in pins, f"{wanted.name} needs {need.name}, not pinned"
        except PackageNotFoundError:
            continue


def test_every_install_hint_names_this_distribution_not_the_registrys_other_netprobe():
    """The registry's `netprobe` is an unrelated project: code, docs, workflows and the action send users here."""
    hint = re.compile(r"pip install[^\n`&;|]*?(?<![\w./-])['\"]?netprobe(?![\w-])")
    places = [ROOT / "README.md", ROOT / "action.yml", *(ROOT / "docs").glob("*.md"),
              *(ROOT / "netprobe").rglob("*.py"), *(ROOT / ".github" / "workflows").glob("*.yml"),
              *(ROOT / "ci").glob("*.py")]
    wrong = [f"{path.relative_to(ROOT)}: {m.group(0)}" for path in places
             for m in hint.finditer(path.read_text("utf-8"))]
    assert not wrong, wrong
    assert "netprobe-sockets" in (ROOT / "README.md").read_text("utf-8")
