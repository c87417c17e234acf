"""The tutorial's select() server: input and output lists, a queue per connection, upper-cased replies.

One thread watches every socket; select() says which are ready, so nothing blocks. A client
in a second thread sends three messages on two sockets and prints what comes back.
"""

import queue
import select
import socket
import threading

server = socket.socket()
server.bind(("127.0.0.1", 0))  # port 0: the OS picks a free one
server.listen(5)
server.setblocking(False)
inputs, outputs, queues = [server], [], {}
stop = threading.Event()


def serve():
    while not stop.is_set():
        readable, writable, failed = select.select(inputs, outputs, inputs, 0.05)
        for s in readable:
            if s is server:
                conn, _ = s.accept()
                conn.setblocking(False)
                inputs.append(conn)
                queues[conn] = queue.Queue()
                continue
            data = s.recv(1024)
            if data:
                queues[s].put(data.upper())
                if s not in outputs:
                    outputs.append(s)
            else:  # the peer closed
                for group in (inputs, outputs):
                    if s in group:
                        group.remove(s)
                del queues[s]
                s.close()
        for s in writable:
            try:
                s.send(queues[s].get_nowait())
            except queue.Empty:
                outputs.remove(s)
        for s in failed:
            inputs.remove(s)
            s.close()


thread = threading.Thread(target=serve)
thread.start()
clients = [socket.create_connection(server.getsockname()) for _ in range(2)]
for message in (b"this is the message. ", b"it will be sent ", b"in parts."):
    for i, c in enumerate(clients):
        c.sendall(message)
        reply = b""
        while len(reply) < len(message):
            reply += c.recv(1024)
        print(f"client {i}: {reply.decode()!r}")
for c in clients:
    c.close()
stop.set()
thread.join()
for s in inputs:
    s.close()
