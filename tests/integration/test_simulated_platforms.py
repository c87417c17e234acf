"""The simulated-platform lane: netprobe's Windows and macOS code run here, under their shape.

Each run is a subprocess of tests/simulated/shim.py (see its docstring and docs/platforms.md):
it proves that every module imports, the whole suite collects, and ``limits`` runs end to end
with the recorded output of that OS's commands. It cannot prove Winsock's behaviour, the real
512-socket cap of Windows select(), kqueue, or launchd.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import DATA, ROOT

SHIM = ROOT / "tests" / "simulated" / "shim.py"
# Recorded real output the fake commands print (sources in tests/data/README.md).
COMMANDS = {
    "netsh": {"dynamicport": "windows_netsh_dynamicport_tcp.txt",
              "excludedportrange": "windows_netsh_excludedportrange_en_2026.txt"},
    "sysctl": {"": "darwin_sysctl_mojave.txt"},
    "launchctl": {"": "darwin_launchctl_maxfiles_15.txt"},
}

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the lane simulates other OSes on Linux")


@pytest.fixture(scope="module")
def bindir(tmp_path_factory):
    """netsh, sysctl and launchctl that print recorded output, chosen by their arguments."""
    folder = tmp_path_factory.mktemp("bin")
    for command, outputs in COMMANDS.items():
        table = {word: str(DATA / name) for word, name in outputs.items()}
        script = folder / command
        script.write_text(
            f"#!{sys.executable}\n"
            "import sys\n"
            f"table = {table!r}\n"
            "args = ' '.join(sys.argv[1:])\n"
            "path = next((p for word, p in table.items() if word and word in args), table.get(''))\n"
            "if path is None:\n"
            "    sys.exit(1)\n"
            "sys.stdout.write(open(path, encoding='utf-8').read())\n")
        script.chmod(0o755)
    return str(folder)


def _shim(shape: str, bindir: str, action: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SHIM), shape, bindir, action], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


@pytest.mark.parametrize("shape", ["windows", "darwin"])
def test_every_module_imports(shape, bindir):
    done = _shim(shape, bindir, "import")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "netprobe modules as" in done.stdout


@pytest.mark.parametrize("shape", ["windows", "darwin"])
def test_the_whole_suite_collects(shape, bindir):
    done = _shim(shape, bindir, "collect")
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "error" not in done.stdout.lower().splitlines()[-1], done.stdout[-1000:]


def test_limits_end_to_end_as_windows(bindir):
    done = _shim("windows", bindir, "limits")
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(done.stdout)
    ports = data["network"]["ephemeral_ports"]
    # netsh's dynamic range (49152 + 16384) less the 860 ports Hyper-V reserved inside it.
    assert (ports["low"], ports["high"], ports["count"], ports["excluded_in_range"]) == (49152, 65535, 15524, 860)
    assert data["fds"]["soft"] is None and data["fds"]["hard"] is None  # no RLIMIT_NOFILE on Windows
    assert data["selectors"]["available"] == ["SelectSelector"] and data["selectors"]["default"] == "SelectSelector"
    assert any(n["field"] == "fds.soft" for n in data["notes"])
    assert all(p["binding_limit"] != "fd_limit" for p in data["predicted"])


def test_limits_end_to_end_as_macos(bindir):
    done = _shim("darwin", bindir, "limits")
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(done.stdout)
    assert (data["fds"]["system_max"], data["fds"]["per_process_max"]) == (12288, 10240)  # recorded sysctl
    assert (data["fds"]["launchd_soft"], data["fds"]["launchd_hard"]) == (256, None)  # recorded launchctl
    assert "EpollSelector" not in data["selectors"]["available"]
