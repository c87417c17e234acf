"""A helper process the OS will not start is a typed error naming it, and leaves no fd behind."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import needs_rlimit

# Runs in its own interpreter: imports first, then its soft fd limit drops to two above what it
# holds, so the server child's pipes cannot be made (EMFILE from Popen, as the OS says it).
SCRIPT = r"""
import os, resource
from netprobe.errors import ServerGone
from netprobe.servers.process import ChildServer
from netprobe.servers.registry import BACKENDS
from netprobe.servers.spec import ServerSpec
from netprobe.vocabulary import ProtocolName

spec = ServerSpec(backend=BACKENDS.get("selectors"), protocol=ProtocolName("echo"))
held = sorted(int(fd) for fd in os.listdir("/dev/fd"))
resource.setrlimit(resource.RLIMIT_NOFILE, (held[-1] + 3, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
before = len(os.listdir("/dev/fd"))
try:
    ChildServer(spec)
except ServerGone as exc:
    print(f"{type(exc).__name__}: {exc}")
print("fds left", len(os.listdir("/dev/fd")) - before)
"""


@needs_rlimit
def test_a_server_process_the_os_will_not_start_is_server_gone_naming_why():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "ServerGone: the server process could not be started: Too many open files", done.stdout
    assert lines[1] == "fds left 0"
