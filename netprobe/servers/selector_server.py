"""The selectors backend: a non-blocking server on one selector that reports the limit it met.

The tutorial's ``SelectorsServer`` generalised: the selector is chosen by class name, each
readiness on a listener accepts until the queue is empty, and instead of dying on a limit
the server records it (select()'s ValueError, EMFILE on accept) with the exact number of
connections it held. ``ramp`` runs it; ``serve`` and ``bench`` run it as ``--backend selectors``.
"""

from __future__ import annotations

import _socket
import selectors
import socket
from typing import Optional, cast

from netprobe.errors import ProtocolError
from netprobe.protocols import Protocol
from netprobe.protocols.files import FileSession
from netprobe.servers.base import MAX_PENDING, RECV_SIZE, ServerBase, count_failure
from netprobe.servers.registry import ServerOptions
from netprobe.sockets import abort, accept_fast

# Selector data of a listening socket; a connection's is None, so it costs no object of its own.
_LISTENER = "listener"
# A client that sends at once (the ramp's echo check) is answered as it is accepted, which saves
# it a turn of the selector. A client that stays silent (a handshake-only ramp) would pay a failed
# read per connection for that: after this many silent ones in a row, only every this-many-th new
# connection is read at once, until one has something to answer.
QUIET_ACCEPTS = 32


class SelectorServer(ServerBase):
    """Serves ``protocol`` with a ``selector_class`` selector (default: this platform's best)."""

    name = "selectors"
    steppable = True

    def __init__(self, protocol: Optional[Protocol] = None, host: str = "127.0.0.1", port: int = 0,
                 ports: int = 1, backlog: int = socket.SOMAXCONN, *,
                 options: Optional[ServerOptions] = None) -> None:
        selector_class = options.selector_class if options else None
        self.sel: selectors.BaseSelector = (getattr(selectors, selector_class) if selector_class
                                            else selectors.DefaultSelector)()
        self.selector_class = self.waits_with = type(self.sel).__name__
        # Output not yet sent, only for connections that have some: most never do.
        self.pending: dict[int, bytes] = {}
        self.sessions: dict[int, FileSession] = {}  # file protocol only
        self._eof: set[int] = set()  # connections whose client is done sending: answer, then close
        self._accepting = True  # listeners are registered below, once the base class has made them
        self._quiet_accepts = 0  # connections in a row that had nothing to read when accepted
        try:
            super().__init__(protocol, host, port, ports, backlog, options=options)
        except BaseException:
            self.sel.close()
            raise
        self.transform = self.protocol.transform
        for lsock in self.listeners:
            lsock.setblocking(False)
            self.sel.register(lsock, selectors.EVENT_READ, _LISTENER)

    def connections(self) -> list[_socket.socket]:
        """The connected sockets this server holds."""
        return [cast(_socket.socket, key.fileobj) for key in list(self.sel.get_map().values()) if key.data is None]

    # --- event loop

    def serve(self, poll_interval: float = 0.05) -> None:
        """Run until ``stop()``; limits are recorded, never raised."""
        while self._running:
            self.step(poll_interval)

    def step(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for events and handle them; return whether there were any."""
        self._resume_accepting_if_due()
        try:
            events = self.sel.select(timeout)
        except ValueError as exc:
            # select() refused the set: fd number >= FD_SETSIZE on POSIX, too many sockets on Windows.
            self._shed_newest(exc)
            return True
        stateless = self.transform is not None
        pending = self.pending
        for key, mask in events:
            sock = cast(_socket.socket, key.fileobj)
            if key.data is not None:
                self._accept(cast(socket.socket, sock))  # only a listener carries data
            elif stateless and mask == selectors.EVENT_READ and key.fd not in pending:
                # The usual turn of echo and upper: one request, one reply, nothing queued before it.
                self._answer_at_once(sock, key.fd)
            else:
                self._service(sock, key.fd, mask)
        return bool(events)

    def _set_accepting(self, on: bool) -> None:
        """Register the listeners with the selector, or take them off it."""
        if on == self._accepting:
            return
        for lsock in self.listeners:
            if on:
                self.sel.register(lsock, selectors.EVENT_READ, _LISTENER)
            else:
                self.sel.unregister(lsock)
        self._accepting = on

    def _shed_newest(self, exc: ValueError) -> None:
        """select() refused the set: shed the newest until it takes it again (``ServerBase``)."""
        self._shed_newest_at_select_cap(list(self.connections()), lambda sock: self._drop(sock, sock.fileno()),
                                        lambda: self.sel.select(0), exc)

    def _accept(self, lsock: socket.socket) -> None:
        family = int(lsock.family)
        while True:
            try:
                sock, _ = accept_fast(lsock, family)
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            except OSError as exc:
                pause = self._accept_failed(exc)
                if pause is None:
                    raise
                if pause:
                    # The listener stays readable while the queue is full: pause it or the loop spins.
                    self._pause_accepting(pause)
                    return
                continue  # the peer gave up before we accepted: take the next
            self._accepted()
            sock.setblocking(False)
            fd = sock.fileno()
            self.sel.register(sock, selectors.EVENT_READ, None)
            if self.transform is None:
                self.sessions[fd] = self.protocol.session()
                self._service(sock, fd, selectors.EVENT_READ)
                continue
            quiet = self._quiet_accepts
            if quiet < QUIET_ACCEPTS or self.accepted % QUIET_ACCEPTS == 0:
                self._quiet_accepts = 0 if self._answer_at_once(sock, fd) else quiet + 1

    def _answer_at_once(self, sock: _socket.socket, fd: int) -> bool:
        """Answer a stateless request: a new connection's first (clients send at once) or one with nothing queued.

        Returns False when there was nothing to read yet, True when the connection was answered or let go.
        """
        transform = self.transform
        assert transform is not None, "only a stateless protocol answers at once"
        try:
            data = sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return False  # nothing yet: select() will say when
        except OSError as exc:
            count_failure(self, exc)
            self._drop(sock, fd)
            return True
        if not data:
            self._drop(sock, fd, graceful=True)
            return True
        self.bytes_in += len(data)
        reply = transform(data)
        try:
            sent = sock.send(reply)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            count_failure(self, exc)
            self._drop(sock, fd)
            return True
        self.bytes_out += sent
        if sent < len(reply):
            self.pending[fd] = reply[sent:]
            self.sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, None)
        return True

    def _service(self, sock: _socket.socket, fd: int, mask: int) -> None:
        pending = self.pending.pop(fd, b"")
        had_pending = bool(pending)
        session = self.sessions.get(fd)
        eof = fd in self._eof
        if mask & selectors.EVENT_READ and not eof and (session is None or session.wants_input):
            try:
                data = sock.recv(RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError as exc:
                count_failure(self, exc)
                self._drop(sock, fd)
                return
            if data == b"":
                # The client is done sending (or half-closed): finish what it asked for, then close.
                if not pending and not (session is not None and session.has_output):
                    self._drop(sock, fd, graceful=True)
                    return
                self._eof.add(fd)
                eof = True
            if data:
                self.bytes_in += len(data)
                if session is None:
                    pending += self.protocol.reply(data)
                else:
                    try:
                        session.received(data)
                    except ProtocolError as exc:
                        self.errors += 1
                        session.fail(str(exc))
        if session is not None and len(pending) < MAX_PENDING:
            pending += session.pull(MAX_PENDING - len(pending))
        if pending:
            try:
                sent = sock.send(pending)
                self.bytes_out += sent
                pending = pending[sent:]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as exc:
                count_failure(self, exc)
                self._drop(sock, fd)
                return
        more = session is not None and session.has_output
        if not pending and not more and (eof or (session is not None and session.closing)):
            self._drop(sock, fd, graceful=True)  # all is sent (an error frame, or the last answer): close
            return
        if session is None and not (pending or had_pending or mask & selectors.EVENT_WRITE):
            return  # the usual case: nothing waits, and the socket stays registered for reading
        if pending:
            self.pending[fd] = pending
        # Back-pressure: a peer that does not read stops being read once MAX_PENDING waits for it.
        reading = not eof and len(pending) < MAX_PENDING and (session is None or session.wants_input)
        wanted = (selectors.EVENT_WRITE if pending or more else 0) | (selectors.EVENT_READ if reading else 0)
        if wanted and self.sel.get_key(sock).events != wanted:
            self.sel.modify(sock, wanted, None)

    def _drop(self, sock: _socket.socket, fd: int, graceful: bool = False) -> None:
        """Forget a connection; ``graceful`` closes with FIN after what is sent, else with RST.

        It stops counting as held once its socket and its session's files are closed: the
        control thread may report ``held`` at any moment.
        """
        self._forget(fd)
        try:
            self.sel.unregister(sock)
        except (KeyError, ValueError):
            pass
        if graceful:
            sock.close()
        else:
            abort(sock)
        self.held -= 1
        self._connection_gone()

    def close(self) -> None:
        """Close every connection (abortively), the listeners and the selector.

        The selector goes first: the kernel forgets a socket's registration as the socket closes,
        so a server that held a million connections does not unregister each before closing it.
        """
        self._capped = False
        conns = self.connections()
        self.sel.close()
        for sock in conns:
            self._forget(sock.fileno())
            abort(sock)
            self.held -= 1
        self._close_listeners()

    def _forget(self, fd: int) -> None:
        """Let go of what the server kept for a connection: its unsent output, its end of input, its session."""
        self.pending.pop(fd, None)
        self._eof.discard(fd)
        session = self.sessions.pop(fd, None)
        if session is not None:
            self.errors += session.errors
            session.close()
