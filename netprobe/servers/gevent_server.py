"""The gevent backend: a greenlet per connection on gevent's cooperative sockets.

The tutorial's gevent server monkey-patched its process; this one uses gevent's own socket
module and patches nothing. gevent is imported only when this backend is created, and its
hub lives in the thread that calls ``serve()``.
"""

from __future__ import annotations

import re
import socket
from typing import Any, Optional

from netprobe.protocols import Protocol
from netprobe.servers.base import ServerBase, count_failure
from netprobe.servers.gevent_loops import gevent_loop_name, libev_watch_cap
from netprobe.servers.registry import ServerOptions
from netprobe.sockets import abort
from netprobe.stops import StopReason

TICK = 0.2
# Seconds serve()'s end waits for the connections' greenlets to end once killed. Any still running
# then (a machine too busy to run them all) have their sockets closed for them: the hub is destroyed
# next, and a greenlet of a destroyed hub never runs again, so its socket would stay open.
KILL_WAIT = 5.0
# What gevent's Windows libev raises when a socket would take its 1025th slot (libev_vfd.h).
_WATCH_CAP_MESSAGE = re.compile(r"cannot watch more than \d+ sockets")


class GeventServer(ServerBase):
    """One greenlet per connection on gevent's sockets, on gevent's own hub: nothing is monkey-patched."""

    name = "gevent"

    def __init__(self, protocol: Optional[Protocol] = None, host: str = "127.0.0.1", port: int = 0,
                 ports: int = 1, backlog: int = socket.SOMAXCONN, *,
                 options: Optional[ServerOptions] = None) -> None:
        import gevent
        import gevent.event
        import gevent.pool
        import gevent.socket

        self._gevent = gevent
        self._gsocket = gevent.socket
        chosen = (options or ServerOptions()).loop
        if chosen is not None:
            # gevent's configuration, read when a thread's hub is made: serve() makes this one.
            gevent.config.loop = gevent_loop_name(chosen) or chosen
        loop_class = gevent.config.loop
        kind = loop_class.__module__.split(".")[1]  # libev or libuv
        self.waits_with = f"gevent {kind}"
        if kind == "libev":
            probe = loop_class(default=False)  # which of libev's backends it picks here, and its cap
            try:
                self.waits_with += f" ({probe.backend})"
                self.watch_cap = libev_watch_cap(probe.backend)
            finally:
                probe.destroy()
        super().__init__(protocol, host, port, ports, backlog, options=options)
        self._group = gevent.pool.Group()
        self._open: set[Any] = set()  # each connection's socket until its greenlet closes it
        self._stop_watcher: Any = None  # a gevent async watcher, made by serve()
        self._room = gevent.event.Event()  # set while the loop can watch another socket
        self._room.set()

    def serve(self) -> None:
        hub = self._gevent.get_hub()
        # stop() may come from another OS thread (the child's control loop): wake the hub safely.
        self._stop_watcher = hub.loop.async_()
        self._stop_watcher.start(lambda: None)
        # gevent sockets belong to the hub of the thread that made them: make them here.
        self.listeners = [self._gsocket.socket(lsock.family, lsock.type, lsock.proto, fileno=lsock.detach())
                          for lsock in self.listeners]
        acceptors = [self._gevent.spawn(self._accept_loop, lsock) for lsock in self.listeners]
        try:
            while self._running:
                self._gevent.sleep(TICK)
        finally:
            self._gevent.killall(acceptors)
            self._group.kill(timeout=KILL_WAIT)
            for sock in list(self._open):  # greenlets the kill did not end in time
                # gevent defers closing a socket a greenlet waits on to a later turn of the loop,
                # which a destroyed hub never takes: detached from the loop, it closes now.
                self._open.discard(sock)
                abort(socket.socket(fileno=sock.detach()))
                self.held -= 1
            self._close_listeners()
            self._stop_watcher.stop()
            self._stop_watcher.close()
            hub.destroy(destroy_loop=True)  # its loop's fds, which the thread would keep otherwise

    def stop(self) -> None:
        """Ask the hub to stop serving; safe from another thread."""
        super().stop()
        if self._stop_watcher is not None:
            self._stop_watcher.send()

    def _set_accepting(self, on: bool) -> None:
        super()._set_accepting(on)
        if on:
            self._room.set()
        else:
            self._room.clear()

    def _accept_loop(self, lsock: Any) -> None:
        while self._running:
            if not self._room.wait(TICK):
                continue
            try:
                sock, _ = lsock.accept()
            except OSError as exc:
                if _WATCH_CAP_MESSAGE.search(str(exc)):
                    # gevent made the socket, then could not watch it: it is closed, not held.
                    self._record_limit(StopReason.LOOP_LIMIT, None, str(exc))
                    self._stop_accepting_at_cap()
                    continue
                pause = self._wait_after_accept_error(exc)
                if pause:
                    self._gevent.sleep(pause)  # out of fds: back off, keep serving the rest
                continue
            self._accepted()
            self._open.add(sock)
            self._group.spawn(self._handle, sock)

    def _handle(self, sock: Any) -> None:
        graceful = False
        try:
            graceful = self._serve_blocking(sock, self, lambda: self._gevent.sleep(0))
        except OSError as exc:
            count_failure(self, exc)
        except self._gevent.GreenletExit:
            pass
        finally:
            self._closed(sock, graceful)

    def _closed(self, sock: Any, graceful: bool) -> None:
        """Close one connection (with FIN after what is still in the send buffer when ``graceful``, else RST)."""
        if sock not in self._open:
            return  # serve()'s end closed it for a greenlet that had no time to
        self._open.discard(sock)
        if graceful:
            sock.close()
        else:
            abort(sock)
        self.held -= 1  # once closed: the control thread may report held at any moment
        self._connection_gone()

    def close(self) -> None:
        self._running = False
        self._close_listeners()  # what serve() did not close because it never ran
