"""A target server on this machine, read like netprobe's own: its process, found from its listening socket.

For a loopback ``--target`` the kernel knows which processes hold the listening socket (every
nginx or haproxy worker too): their fds, memory and CPU become the server columns, and the
soft fd limit of the one that accepts goes into the prediction and names an fd wall it meets.
Another user's server, or an OS that will not say (macOS without root), is a note, once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from netprobe import platform
from netprobe.common_records import Note
from netprobe.sockets import is_loopback

if TYPE_CHECKING:
    import psutil

WILDCARDS = ("0.0.0.0", "::")


class TargetProcesses:
    """The processes that listen at a local target's address, where they can be read."""

    def __init__(self, procs: list[psutil.Process], soft_limit: Optional[int], name: str) -> None:
        self.procs, self.soft_limit, self.name = procs, soft_limit, name

    @property
    def pids(self) -> list[int]:
        """Their process ids, lowest first (a master before its workers)."""
        return [proc.pid for proc in self.procs]

    def gone(self) -> Optional[str]:
        """Why the server is gone, once none of its processes runs (the OOM killer's line where the kernel logged
        it); None while one runs."""
        if self._alive():
            return None
        pid = self.procs[0].pid
        for proc in self.procs:
            killed = platform.oom_kill_message(proc.pid)
            if killed is not None:
                return f"{self.name} (pid {pid}) was killed for memory: {killed}"
        return f"{self.name} (pid {pid}) exited"

    def _alive(self) -> list[psutil.Process]:
        import psutil

        alive = []
        for proc in self.procs:
            try:
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(proc)
            except psutil.NoSuchProcess:
                continue
            except (psutil.Error, OSError):
                alive.append(proc)  # cannot tell (this process at its own fd limit): not gone on no evidence
        return alive


def find_target_processes(address: tuple[str, int], notes: list[Note]) -> Optional[TargetProcesses]:
    """The processes listening at ``address`` on this machine; None (and a note saying why) where unknown."""
    host, port = address
    if not is_loopback(host):
        return None
    import psutil

    try:
        listening = [c for c in psutil.net_connections(kind="tcp")
                     if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
                     and c.laddr.ip in (host, *WILDCARDS)]
    except psutil.AccessDenied:
        notes.append(Note("server", "this OS lets only an administrator see which process listens on a port: "
                                    "the target server's fds and memory are not read"))
        return None
    if not listening:
        return None  # nothing listens: the ramp says so
    pids = sorted({c.pid for c in listening if c.pid is not None})
    if not pids:
        notes.append(Note("server", f"the process listening on {host}:{port} belongs to another user: its fds, "
                                    "memory and limits are not read (run as that user or root to see them)"))
        return None
    procs: list[psutil.Process] = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    if not procs:
        return None
    return TargetProcesses(procs, _soft_fd_limit(procs), _name(procs))


def _soft_fd_limit(procs: list[psutil.Process]) -> Optional[int]:
    """The lowest soft fd limit among ``procs`` (the process that accepts is bound by its own); None if unknown."""
    import psutil

    which = getattr(psutil, "RLIMIT_NOFILE", None)
    limits: list[int] = []
    for proc in procs:
        if which is None or not hasattr(proc, "rlimit"):
            return None
        try:
            soft, _ = proc.rlimit(which)
        except (psutil.Error, OSError):
            return None
        if soft != psutil.RLIM_INFINITY:
            limits.append(soft)
    return min(limits) if limits else None


def _name(procs: list[psutil.Process]) -> str:
    import psutil

    try:
        return str(procs[0].name())
    except psutil.Error:
        return f"pid {procs[0].pid}"
