"""A target server on this machine, read like netprobe's own: its process, found from its listening socket.

For a loopback ``--target`` the kernel knows which processes hold the listening socket (every
nginx or haproxy worker too): their fds, memory and CPU become the server columns, and the
soft fd limit of the one that accepts goes into the prediction and names an fd wall it meets.
Another user's server, or an OS that will not say (macOS without root), is a note, once.
"""

from __future__ import annotations

import os
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

    def acceptors(self) -> list[psutil.Process]:
        """The processes that accept: those none of the others is the parent of (nginx's workers, not its master)."""
        import psutil

        pids = set(self.pids)
        parents: set[int] = set()
        for proc in self.procs:
            try:
                parent = proc.ppid()
            except psutil.Error:
                continue
            if parent in pids:
                parents.add(parent)
        return [proc for proc in self.procs if proc.pid not in parents] or self.procs

    def fd_ceiling(self) -> Optional[tuple[int, str]]:
        """How many more connections the accepting processes' fd limits leave room for, and how that was counted."""
        import psutil

        acceptors = self.acceptors()
        room, parts = 0, []
        for proc in acceptors:
            soft = _soft_fd_limit([proc])
            try:
                fds = platform.process_fds(proc)
            except (psutil.Error, OSError):
                return None
            if soft is None or fds is None:
                return None
            room += max(0, soft - fds)
            parts.append(f"soft RLIMIT_NOFILE {soft:,} less its {fds:,} fds in use")
        which = self.name if len(acceptors) == 1 else f"{len(acceptors)} {self.name} processes that accept"
        return room, f"{which}: " + "; ".join(parts[:3]) + ("; ..." if len(parts) > 3 else "")

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
                if proc.status() != psutil.STATUS_ZOMBIE:  # one read of /proc; NoSuchProcess once it is reaped
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
    # pid 0 is no program's (Wine's psutil names it for a socket it cannot place): unknown, as None is.
    pids = sorted({c.pid for c in listening if c.pid is not None and c.pid > 0 and c.pid != os.getpid()})
    if not pids:
        notes.append(Note("server", f"the process listening on {host}:{port} belongs to another user: its fds, "
                                    "memory and limits are not read (run as that user or root to see them)"))
        return None
    procs: list[psutil.Process] = []
    for pid in pids:
        try:
            procs += [p for p in _family(psutil.Process(pid), port) if p.pid not in {q.pid for q in procs}]
        except psutil.NoSuchProcess:
            continue
    if not procs:
        return None
    procs.sort(key=lambda p: p.pid)
    found = TargetProcesses(procs, None, _name(procs))
    found.soft_limit = _soft_fd_limit(found.acceptors())
    found.name = _name(found.acceptors())
    return found


def _family(proc: psutil.Process, port: int) -> list[psutil.Process]:
    """``proc`` with the processes of its program that hold the same listening socket: its master and its workers.

    The kernel names one holder of a shared socket (one nginx worker); the others are its parent
    if that listens on ``port`` too (the master), and that one's children that do (the workers).
    A parent that does not listen there (the shell or test that started the server) is not it.
    """
    import psutil

    root = proc
    try:
        while (parent := root.parent()) is not None and parent.pid != root.pid and _listens(parent, port):
            root = parent
        return [root, *(child for child in root.children(recursive=True) if _listens(child, port))]
    except psutil.Error:
        return [proc]


def _listens(proc: psutil.Process, port: int) -> bool:
    """Whether ``proc`` holds a socket listening on ``port``."""
    import psutil

    sockets = getattr(proc, "net_connections", None) or proc.connections  # psutil < 6 names it connections
    try:
        return any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port for c in sockets("tcp"))
    except (psutil.Error, OSError):
        return False


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
    """What the first of ``procs`` is called ("redis-server"), or its pid where it cannot be read."""
    import psutil

    try:
        return str(procs[0].name())
    except psutil.Error:
        return f"pid {procs[0].pid}"
