"""A server backend running in a child process, driven over its stdio pipes.

Used by ``ramp`` (its default placement), ``bench echo``, ``bench transfer`` and the
backend contract tests; the child side is ``netprobe.servers.child``.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import tempfile
import threading
from typing import Any, Optional

from netprobe.children import ChildOrder, python_command, start_command
from netprobe.errors import ChildStartError, RecordError, ServerGone, UsageError
from netprobe.servers.handle import ServerHandle
from netprobe.servers.spec import ServerSpec
from netprobe.servers.status import ServerReady, ServerStatus
from netprobe.signals import deferred, interrupted
from netprobe.untrusted import parse_json
from netprobe.vocabulary import ChildOp, ServerKind

STATUS_TIMEOUT = 5.0
READY_TIMEOUT = 30.0


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class ChildServer(ServerHandle):
    """Any server backend in its own process: its own fd budget, status over its stdio pipes."""

    kind = ServerKind.CHILD

    def __init__(self, spec: ServerSpec, command: Optional[list[str]] = None) -> None:
        # ``command`` replaces netprobe's own child (benchmarks run baseline servers that speak
        # the same stdio protocol); the spec is its first line of input either way.
        cmd = command or python_command("netprobe.servers.child")
        self._stderr = tempfile.TemporaryFile()
        self._lines: queue.Queue[Optional[str]] = queue.Queue()
        self._lock = threading.Lock()
        already = interrupted()
        # Raised inside Popen or the reader's start, a Ctrl-C would leave a started child that nothing ends
        with deferred():
            try:
                self.proc = start_command(cmd, "the server process", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=self._stderr, bufsize=1)
            except ChildStartError as exc:
                self._stderr.close()
                raise ServerGone(str(exc)) from None
            self.pid = self.proc.pid
            self._reader = threading.Thread(target=self._read, daemon=True)
            self._reader.start()
        try:
            if interrupted() and not already:  # held while it started: end it, as the signal asked
                self.proc.kill()  # before its spec, it holds nothing to close (and would read an order as one)
                raise KeyboardInterrupt
            self._send(spec.to_json())
            ready = ServerReady.from_dict(self._next_line(READY_TIMEOUT), "the server's first line")
        except BaseException:
            self.close()
            raise
        if ready.error is not None:
            self.close()
            raise UsageError(f"the server could not start: {ready.error}")
        self.addresses = [tuple(a) for a in ready.addresses]  # type: ignore[misc]
        self.soft_limit = ready.soft
        self.raised_from = ready.raised_from
        self.waits_with = ready.waits_with
        self.watch_cap = ready.watch_cap

    def _send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _next_line(self, timeout: float) -> Any:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise ServerGone(f"the server did not answer within {timeout:.0f} s") from None
        if line is None:
            raise ServerGone(self.exit_description())
        try:
            data: Any = parse_json(line)
        except ValueError:
            raise RecordError(f"the server process's line is not JSON: {line[:80]!r}") from None
        return data  # its record's from_dict checks it field by field

    def stderr_text(self) -> str:
        """What the child wrote on its stderr so far (a server that works says nothing there)."""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def how_it_ended(self) -> str:
        """How the child ended, as a verb phrase: its exit status or signal, and the last line of its stderr."""
        code = self.proc.poll()
        tail = self.stderr_text().strip().splitlines()[-1:]
        detail = f": {tail[0]}" if tail else ""
        if code is not None and code < 0:
            return f"was killed by {_signal_name(-code)}{detail}"
        return f"exited with status {code}{detail}"

    def exit_description(self) -> str:
        """How the child ended, as a sentence about the server process."""
        return f"the server process {self.how_it_ended()}"

    def status(self) -> ServerStatus:
        with self._lock:
            if self.proc.poll() is not None:
                raise ServerGone(self.exit_description())
            try:
                self._send(ChildOrder(ChildOp.STATUS).to_json())
            except (BrokenPipeError, OSError):
                raise ServerGone(self.exit_description()) from None
            return ServerStatus.from_dict(self._next_line(STATUS_TIMEOUT))

    def ask_to_quit(self) -> None:
        """Tell the child to quit, without waiting for it: a group asks every member before reaping any."""
        try:
            if self.proc.poll() is None and self.proc.stdin is not None and not self.proc.stdin.closed:
                self.proc.stdin.write(ChildOrder(ChildOp.QUIT).to_json() + "\n")
                self.proc.stdin.flush()
        except OSError:
            pass

    def close(self) -> None:
        """Ask the child to quit, then make sure it is gone and reaped."""
        self.ask_to_quit()
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
