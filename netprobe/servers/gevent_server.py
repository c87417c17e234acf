"""The gevent backend: a greenlet per connection on gevent's cooperative sockets.

The tutorial's gevent server monkey-patched its process; this one uses gevent's own socket
module and patches nothing. gevent is imported only when this backend is created, and its
hub lives in the thread that calls ``serve()``.
"""

from __future__ import annotations

import socket
from typing import Any, Optional

from netprobe.protocols import Protocol
from netprobe.servers.base import ServerBase, count_failure
from netprobe.servers.registry import ServerOptions
from netprobe.sockets import abort

TICK = 0.2


class GeventServer(ServerBase):
    """One greenlet per connection on gevent's sockets, on gevent's own hub: nothing is monkey-patched."""

    name = "gevent"

    def __init__(self, protocol: Optional[Protocol] = None, host: str = "127.0.0.1", port: int = 0,
                 ports: int = 1, backlog: int = socket.SOMAXCONN, *,
                 options: Optional[ServerOptions] = None) -> None:
        import gevent
        import gevent.pool
        import gevent.socket

        self._gevent = gevent
        self._gsocket = gevent.socket
        # libev on POSIX, libuv on Windows (gevent.config.loop): neither is capped like select().
        self.waits_with = f"gevent {gevent.config.loop.__module__.split('.')[1]}"
        super().__init__(protocol, host, port, ports, backlog, options=options)
        self._group = gevent.pool.Group()
        self._stop_watcher: Any = None  # a gevent async watcher, made by serve()

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
            self._group.kill(timeout=5)
            self._close_listeners()
            self._stop_watcher.stop()
            self._stop_watcher.close()
            hub.destroy(destroy_loop=True)  # its loop's fds, which the thread would keep otherwise

    def stop(self) -> None:
        """Ask the hub to stop serving; safe from another thread."""
        super().stop()
        if self._stop_watcher is not None:
            self._stop_watcher.send()

    def _accept_loop(self, lsock: Any) -> None:
        while self._running:
            try:
                sock, _ = lsock.accept()
            except OSError as exc:
                pause = self._accept_failed(exc)
                if pause is None:
                    self.errors += 1
                self._gevent.sleep(pause or TICK)  # out of fds: back off, keep serving the rest
                continue
            self._accepted()
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
            self.held -= 1
            if graceful:
                sock.close()  # FIN after what is still in the send buffer
            else:
                abort(sock)

    def close(self) -> None:
        self._running = False
        self._close_listeners()  # what serve() did not close because it never ran
