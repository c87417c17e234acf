"""Baseline echo servers for benchmarks/echo_vs_baselines.py, speaking netprobe's child stdio protocol.

``bare``: the smallest selectors echo loop there is, no bookkeeping at all.
``asyncio``: a stock asyncio Protocol echo server on the default event loop.
``streams``: a stock asyncio streams echo server, written the obvious way (start_server, read, write, drain).
Prints {"ready": ..., "addresses": [...]} and quits on a quit order or the end of stdin.
"""

from __future__ import annotations

import json
import sys
import threading

from netprobe.children import ChildOrder
from netprobe.servers.status import ServerStatus
from netprobe.vocabulary import ChildOp

# Baselines keep no counters: they answer status with zeros, in the contract's shape.
STATUS = ServerStatus(held=0, accepted=0, bytes_in=0, bytes_out=0, errors=0, accept_errors=0).to_dict()


def control(stop) -> None:
    sys.stdin.readline()  # the server's spec: a baseline takes none of it
    for line in sys.stdin:
        order = ChildOrder.from_json(line, "an order")
        if order.op == ChildOp.STATUS:
            print(json.dumps(STATUS), flush=True)
        elif order.op == ChildOp.QUIT:
            break
    stop()


def bare() -> None:
    import selectors
    import socket

    sel = selectors.DefaultSelector()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(socket.SOMAXCONN)
    listener.setblocking(False)
    sel.register(listener, selectors.EVENT_READ)
    running = [True]
    print(json.dumps({"ready": True, "addresses": [listener.getsockname()]}), flush=True)
    threading.Thread(target=control, args=(lambda: running.__setitem__(0, False),), daemon=True).start()
    while running[0]:
        for key, _ in sel.select(0.05):
            sock = key.fileobj
            if sock is listener:
                conn, _ = listener.accept()
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ)
                continue
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if data:
                sock.send(data)
            else:
                sel.unregister(sock)
                sock.close()


def _run_asyncio(start) -> None:
    """Start a server with ``start()`` (a coroutine giving an asyncio.Server), announce it, serve until quit."""
    import asyncio

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        server = await start()
        print(json.dumps({"ready": True, "addresses": [server.sockets[0].getsockname()]}), flush=True)
        threading.Thread(target=control, args=(lambda: loop.call_soon_threadsafe(done.set_result, None),),
                         daemon=True).start()
        await done
        server.close()

    asyncio.run(main())


def asyncio_server() -> None:
    import asyncio

    class Echo(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            self.transport.write(data)

    _run_asyncio(lambda: asyncio.get_running_loop().create_server(Echo, "127.0.0.1", 0))


def streams_server() -> None:
    import asyncio

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    _run_asyncio(lambda: asyncio.start_server(echo, "127.0.0.1", 0))


if __name__ == "__main__":
    {"bare": bare, "asyncio": asyncio_server, "streams": streams_server}[sys.argv[1]]()
