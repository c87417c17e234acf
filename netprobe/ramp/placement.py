"""Where the ramp's server runs: a child process, a thread of this process, or an external target."""

from __future__ import annotations

import threading
from typing import Any, Optional

from netprobe.servers.process import ChildServer, ServerGone  # noqa: F401  (the "process" placement)


class Placement:
    """A server the ramp connects to; ``status()`` returns its counters or None if it has none."""

    name = "placement"
    pid: Optional[int] = None
    soft_limit: Optional[int] = None
    raised_from: Optional[int] = None
    addresses: list[tuple[str, int]]

    def status(self) -> Optional[dict[str, Any]]:
        return None

    def close(self) -> None:
        pass


class ThreadServer(Placement):
    """The selectors server in a thread of this process: every connection costs this process 2 fds."""

    name = "thread"

    def __init__(self, selector_class: str, ports: int) -> None:
        from netprobe.servers.selector_server import SelectorServer

        self.server = SelectorServer(selector_class, "127.0.0.1", ports)
        self.addresses = self.server.addresses
        self._thread = threading.Thread(target=self._serve, name="netprobe-server", daemon=True)
        self._crash: Optional[BaseException] = None
        self._thread.start()

    def _serve(self) -> None:
        try:
            self.server.serve()
        except BaseException as exc:  # reported through status(); the ramp names it server_exited
            self._crash = exc

    def status(self) -> dict[str, Any]:
        if self._crash is not None:
            raise ServerGone(f"the server thread died: {type(self._crash).__name__}: {self._crash}")
        return self.server.status()

    def close(self) -> None:
        self.server.stop()
        self._thread.join(timeout=10)
        self.server.close()


class ExternalTarget(Placement):
    """A server netprobe did not start: only the client side can be observed."""

    name = "target"

    def __init__(self, address: tuple[str, int]) -> None:
        self.addresses = [address]
