"""A server backend running in a child process, driven over its stdio pipes.

Used by ``ramp`` (its default placement), ``bench echo``, ``bench transfer`` and the
backend contract tests; the child side is ``netprobe.servers.child``.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from typing import Any, Optional

from netprobe.errors import UsageError
from netprobe.servers.registry import ServerOptions
from netprobe.servers.status import ServerStatus

STATUS_TIMEOUT = 5.0
READY_TIMEOUT = 30.0


class ServerGone(Exception):
    """The server process exited or stopped answering."""


class ChildServer:
    """Any server backend in its own process: its own fd budget, status over its stdio pipes."""

    name = "process"
    soft_limit: Optional[int] = None
    raised_from: Optional[int] = None
    selector_label: Optional[str] = None
    step: Optional[Callable[[float], bool]] = None  # never driven inline: it has a process of its own
    pid: Optional[int] = None

    def __init__(self, backend: str = "selectors", options: Optional[ServerOptions] = None, *,
                 protocol: str = "echo", root: Optional[str] = None, max_file_size: Optional[int] = None,
                 ports: int = 1, fd_limit: Optional[int] = None, want_fds: Optional[int] = None,
                 command: Optional[list[str]] = None) -> None:
        # ``command`` replaces netprobe's own child (benchmarks run baseline servers that speak
        # the same stdio protocol).
        cmd = (command or [sys.executable, "-m", "netprobe.servers.child"]) + [
            "--backend", backend, "--protocol", protocol, "--ports", str(ports),
            *(options or ServerOptions()).to_args()]
        if root is not None:
            cmd += ["--root", root]
        if max_file_size is not None:
            cmd += ["--max-file-size", str(max_file_size)]
        if fd_limit is not None:
            cmd += ["--fd-limit", str(fd_limit)]
        if want_fds is not None:
            cmd += ["--want-fds", str(want_fds)]
        self._stderr = tempfile.TemporaryFile()
        self._lines: queue.Queue[Optional[str]] = queue.Queue()
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True, bufsize=1,
        )
        self.pid = self.proc.pid
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            ready = self._next_line(READY_TIMEOUT)
        except BaseException:
            self.close()
            raise
        if "error" in ready:
            self.close()
            raise UsageError(f"the server could not start: {ready['error']}")
        self.addresses = [tuple(a) for a in ready["addresses"]]
        self.started = ready
        self.soft_limit = ready.get("soft")
        self.raised_from = ready.get("raised_from")
        self.selector_label = ready.get("selector")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _next_line(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise ServerGone(f"the server did not answer within {timeout:.0f} s") from None
        if line is None:
            raise ServerGone(self.exit_description())
        return json.loads(line)

    def exit_description(self) -> str:
        code = self.proc.poll()
        self._stderr.seek(0)
        tail = self._stderr.read().decode(errors="replace").strip().splitlines()[-1:]
        detail = f": {tail[0]}" if tail else ""
        return f"the server process exited with status {code}{detail}"

    def status(self) -> ServerStatus:
        with self._lock:
            if self.proc.poll() is not None:
                raise ServerGone(self.exit_description())
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write("status\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                raise ServerGone(self.exit_description()) from None
            return ServerStatus.from_dict(self._next_line(STATUS_TIMEOUT))

    def close(self) -> None:
        """Ask the child to quit, then make sure it is gone and reaped."""
        try:
            if self.proc.poll() is None and self.proc.stdin is not None:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        self._reader.join(timeout=5)
        self._stderr.close()
