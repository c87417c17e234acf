"""The asyncio backend: an ``asyncio.Protocol`` per connection on an event loop of one's choice.

Written as an asyncio user who must survive limits would write it. Protocols, not streams:
a stream server costs a StreamReader, a StreamWriter and a task per connection, a Protocol
only its callbacks, and ``pause_writing``/``resume_writing`` give back-pressure directly.
Connections are accepted by an accept task per listener with ``loop.sock_accept`` (which
every loop offers, the proactor included) and handed to ``loop.connect_accepted_socket``,
so an accept error reaches this code and is recorded, instead of being logged by the loop
(or, on the proactor, ending the listener: CPython gh-93821). A connection reset before it was
accepted is its peer's affair: accepting goes on at once.

Limits met inside the loop: ``loop.create_server`` logs EMFILE on accept through the
exception handler and retries after a second (CPython's selector_events); here accept errors
are caught where they happen. A ``SelectorEventLoop`` on select() raises select()'s
ValueError out of ``run_until_complete`` once an fd passes FD_SETSIZE (or, on Windows, 512
sockets are registered): the loop survives it, so this server sheds its newest connections
until select() accepts the set again, records ``select_limit`` and pauses accepting until a
connection closes.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, Optional

from netprobe.errors import ProtocolError
from netprobe.protocols import Protocol
from netprobe.protocols.files import FileSession
from netprobe.servers.base import MAX_PENDING, ServerBase, count_failure
from netprobe.servers.registry import ServerOptions
from netprobe.sockets import abort
from netprobe.stops import StopReason

# The proactor runs each AcceptEx in a task that only closes its socket when cancelled; the
# accept's error also reaches sock_accept's caller, but the task's copy, never awaited, is logged
# as "Task exception was never retrieved" (CPython gh-93821), once per client reset before accept.
_PROACTOR_ACCEPT_TASK = "IocpProactor.accept.<locals>.accept_coro"


def _exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Pass the loop's reports on, but for the proactor's accept task: its error is the accept loop's."""
    future = context.get("future")
    coro = future.get_coro() if isinstance(future, asyncio.Task) else None
    if getattr(coro, "__qualname__", None) != _PROACTOR_ACCEPT_TASK:
        loop.default_exception_handler(context)


class _Connection(asyncio.Protocol):
    """One client: answers as its protocol says, stops reading while its replies do not drain."""

    def __init__(self, server: AsyncioServer) -> None:
        self.server = server
        self.transport: Any = None
        self.session: Optional[FileSession] = None if server.protocol.stateless else server.protocol.session()
        self.paused = False
        self.eof = False
        self.flush_due = False  # a flush is scheduled on the loop: this connection's next turn

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.set_write_buffer_limits(high=MAX_PENDING)
        self.server.transports[id(self)] = self

    def data_received(self, data: bytes) -> None:
        server = self.server
        server.bytes_in += len(data)
        if self.session is None:
            reply = server.protocol.reply(data)
            server.bytes_out += len(reply)
            self.transport.write(reply)
            return
        try:
            self.session.received(data)
        except ProtocolError as exc:
            server.errors += 1
            self.session.fail(str(exc))
        self.flush_soon()
        if not self.session.wants_input and not self.paused:
            self.transport.pause_reading()  # enough unprocessed requests: let them drain first

    def flush(self) -> None:
        """Move one turn's worth of a session's output into the transport; close once an error is out.

        One pull per turn, as the selectors backend does per event: the rest comes on a later
        turn of the loop, after every other connection's callbacks, so a client that pipelines
        requests cannot hold the loop (issue 20 #8).
        """
        self.flush_due = False
        session = self.session
        if session is None or self.transport.is_closing():
            return
        if session.has_output and not self.paused:
            chunk = session.pull(MAX_PENDING)
            if chunk:
                self.server.bytes_out += len(chunk)
                self.transport.write(chunk)
            if session.has_output and not self.paused:
                self.flush_due = True
                asyncio.get_running_loop().call_soon(self._next_turn)
                return
        if session.closing or (self.eof and not session.has_output):
            self.transport.close()  # sends what is buffered, then closes
        elif not self.paused and session.wants_input:
            self.transport.resume_reading()

    def _next_turn(self) -> None:
        if self.flush_due:
            self.flush()

    def flush_soon(self) -> None:
        """Flush now, unless a turn is already scheduled: then that turn does it."""
        if not self.flush_due:
            self.flush()

    def pause_writing(self) -> None:
        self.paused = True
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.paused = False
        if self.session is None:
            self.transport.resume_reading()
        else:
            self.flush_soon()

    def eof_received(self) -> bool:
        """The client sent all it will: finish answering it, then close (keep the transport open)."""
        self.eof = True
        if self.session is None:
            self.transport.close()  # replies already written are sent before the close
        else:
            self.flush_soon()
        return True

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.flush_due = False
        server = self.server
        held = server.transports.pop(id(self), None) is not None
        if isinstance(exc, OSError):
            count_failure(server, exc)
        elif exc is not None:
            server.errors += 1
        if self.session is not None:
            server.errors += self.session.errors
            self.session.close()
        if held:
            server.held -= 1  # after its files are closed: the control thread may report held at any moment
        server.connection_closed()


class AsyncioServer(ServerBase):
    """Serves ``protocol`` on a new event loop of the kind ``options.loop`` names, in the thread of ``serve()``."""

    name = "asyncio"

    def __init__(self, protocol: Optional[Protocol] = None, host: str = "127.0.0.1", port: int = 0,
                 ports: int = 1, backlog: int = socket.SOMAXCONN, *,
                 options: Optional[ServerOptions] = None) -> None:
        from netprobe.servers.loops import make_loop

        options = options or ServerOptions()
        self.loop, self.waits_with = make_loop(options.loop or "default", options.selector_class)
        try:
            super().__init__(protocol, host, port, ports, backlog, options=options)
        except BaseException:
            self.loop.close()
            raise
        for lsock in self.listeners:
            lsock.setblocking(False)
        self.transports: dict[int, _Connection] = {}
        self._stopped: Optional[asyncio.Event] = None
        self._may_accept: Optional[asyncio.Event] = None
        self._capped = False
        self.loop.set_exception_handler(_exception_handler)

    @property
    def accepting(self) -> bool:
        return self._may_accept is None or self._may_accept.is_set()

    # --- run

    def serve(self) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)
        main = loop.create_task(self._main())
        try:
            while not main.done():
                try:
                    loop.run_until_complete(main)
                except ValueError as exc:
                    # select() refused the set; the loop itself is intact and runs on.
                    self._shed_newest(exc)
        finally:
            asyncio.set_event_loop(None)

    async def _main(self) -> None:
        self._stopped = asyncio.Event()
        self._may_accept = asyncio.Event()
        self._may_accept.set()
        if not self._running:
            return
        acceptors = [asyncio.ensure_future(self._accept_loop(lsock)) for lsock in self.listeners]
        await self._stopped.wait()
        for task in acceptors:
            task.cancel()
        await asyncio.gather(*acceptors, return_exceptions=True)

    def stop(self) -> None:
        """Ask the loop to stop; safe from another thread."""
        super().stop()
        stopped = self._stopped
        if stopped is not None and not self.loop.is_closed():
            try:
                self.loop.call_soon_threadsafe(stopped.set)
            except RuntimeError:
                pass  # the loop closed in between: nothing left to stop

    async def _accept_loop(self, lsock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        assert self._may_accept is not None
        while self._running:
            await self._may_accept.wait()
            try:
                sock, _ = await loop.sock_accept(lsock)
            except OSError as exc:
                pause = self._wait_after_accept_error(exc)
                if pause:
                    await asyncio.sleep(pause)  # out of fds: back off, keep serving the rest
                continue
            self._accepted()
            try:
                await loop.connect_accepted_socket(lambda: _Connection(self), sock)
            except OSError:
                self.held -= 1
                self.errors += 1
                abort(sock)

    # --- limits

    def _shed_newest(self, exc: ValueError) -> None:
        """Abort the newest connections until select() takes the set again, then stop accepting."""
        selector = self.loop._selector  # type: ignore[attr-defined]  # the loop's own, as the loop sees it
        shed_fd = None
        for conn in sorted(self.transports.values(), key=lambda c: -c.transport.get_extra_info("socket").fileno()):
            shed_fd = conn.transport.get_extra_info("socket").fileno()
            conn.transport.abort()  # unregisters at once; connection_lost follows on the loop
            try:
                selector.select(0)
                break
            except ValueError:
                continue
        self._capped = True
        if self._may_accept is not None:
            self._may_accept.clear()
        self._record_limit(StopReason.SELECT_LIMIT, None, str(exc), at_fd=shed_fd)

    def connection_closed(self) -> None:
        """A connection went away: where select()'s cap paused accepting, there is room again."""
        if self._capped and self._may_accept is not None:
            self._capped = False
            self._may_accept.set()

    # --- teardown

    def close(self) -> None:
        """Abort every connection, close the listeners and the loop."""
        loop = self.loop
        if not loop.is_closed():
            for conn in list(self.transports.values()):
                conn.transport.abort()
            if not loop.is_running():
                loop.run_until_complete(asyncio.sleep(0))  # let connection_lost callbacks run
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()
        self._close_listeners()
