"""The tutorial's get/put file protocol, done properly.

Every message is a frame (see framing.py) whose first byte is its type:

==========  ==========================================  =================================
type        body after the type byte                    meaning
==========  ==========================================  =================================
``G``       path (UTF-8)                                client: send me this file
``P``       size (8 bytes) sha256 (32 bytes) path        client: here comes this file
``D``       bytes                                       file data, either direction
``O``       size (8 bytes) sha256 (32 bytes)            server: file follows (get) / stored (put)
``X``       message (UTF-8)                             server: refused; the request is over
==========  ==========================================  =================================

Paths are confined to the server's root: absolute paths, ``..``, NUL bytes, over-long names
and symlinks leading out are refused. An upload is written to a temporary file beside its
target and renamed only once its sha256 matches, so no partial or corrupt file ever stands
at the final name.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
from typing import Any, BinaryIO, Optional

from netprobe.errors import FrameError, ProtocolError, Refused
from netprobe.protocols import framing
from netprobe.protocols.paths import confine

CHUNK = 64 * 1024
SIZE_AND_SHA = struct.Struct("!Q32s")
DEFAULT_MAX_FILE_SIZE = 64 * 1024 * 1024
# Replies a session queues before it stops taking requests (and its server stops reading).
MAX_QUEUED_OUTPUT = 64 * 1024
# Bytes of a file hashed per pull() before a get: small enough not to stall an event loop.
HASH_SLICE = 1024 * 1024
# Requests handled per received() or pull(): a client that pipelines requests answered at once
# (refusals need no file) gets this many per turn of its server's loop, and the others theirs.
REQUESTS_PER_TURN = 16


def error_frame(message: str) -> bytes:
    """The ``X`` frame that refuses a request, with its message."""
    return framing.encode(b"X" + message.encode("utf-8", "replace")[: framing.MAX_FRAME - 1])


class FileSession:
    """Server side of one connection: feed it received bytes, pull bytes to send.

    What one connection can pin is bounded whatever it sends: at most two frames of unread
    requests, ``MAX_QUEUED_OUTPUT`` of replies not yet pulled, and one file open. What one call
    does is bounded too: ``REQUESTS_PER_TURN`` requests, one slice of a file to hash. A filesystem
    error (a directory at the name, a full disk, a file that cannot be opened) is that
    client's error: an ``X`` frame, counted in ``errors``, and the connection goes on.
    """

    def __init__(self, root: str, max_file_size: int = DEFAULT_MAX_FILE_SIZE) -> None:
        self.root = root
        self.max_file_size = max_file_size
        self.decoder = framing.FrameDecoder()
        self._out = bytearray()
        self._sending: Optional[BinaryIO] = None  # a file being streamed to the client
        self._hashing: Optional[tuple[BinaryIO, Any, int]] = None  # (file, sha256 so far, size) before a get
        self._upload: Optional[tuple[int, str, bytes, str]] = None  # (fd, temp path, sha, final path)
        self._received = 0
        self._expected = 0
        self._discard = 0  # bytes of a refused upload still to swallow
        self._digest: Any = None  # hashlib.sha256() of the upload in progress
        self.closing = False  # True once an error was queued: close after sending it
        self.errors = 0  # filesystem errors answered with an X frame

    # --- input

    def received(self, data: bytes) -> None:
        """Take bytes from the client; raise ProtocolError when they break the protocol."""
        self.decoder.push(data)
        self._process()

    @property
    def _busy(self) -> bool:
        """A get in progress, or enough replies waiting: later requests wait in the decoder."""
        return (self._sending is not None or self._hashing is not None or self.closing
                or len(self._out) >= MAX_QUEUED_OUTPUT)

    def _process(self) -> None:
        """Handle buffered requests in order, while there is room for their replies, a turn's worth at most."""
        for _ in range(REQUESTS_PER_TURN):
            if self._busy:
                return
            try:
                body = self.decoder.pop()
            except FrameError as exc:
                raise ProtocolError(str(exc)) from None
            if body is None:
                return
            self._frame(body)

    @property
    def wants_input(self) -> bool:
        """False while enough unprocessed input or output waits: the server should stop reading."""
        return (not self.closing and self.decoder.buffered < 2 * framing.MAX_FRAME
                and len(self._out) < MAX_QUEUED_OUTPUT)

    def _frame(self, body: bytes) -> None:
        kind, rest = body[:1], body[1:]
        if self._discard:
            # The data of an upload that was refused: swallow it.
            if kind != b"D" or len(rest) > self._discard:
                raise ProtocolError("expected the refused upload's data")
            self._discard -= len(rest)
            return
        try:
            if self._upload is not None:
                if kind != b"D":
                    raise ProtocolError("expected file data")
                self._data(rest)
            elif kind == b"G":
                self._get(rest)
            elif kind == b"P":
                self._put(rest)
            else:
                raise ProtocolError(f"unknown request type {kind!r}")
        except Refused as exc:
            self._out += error_frame(str(exc))
        except OSError as exc:
            # The filesystem refused: this client's request fails, the server and the connection go on.
            self.errors += 1
            if self._upload is not None:
                self._discard = self._expected - self._received - (len(rest) if kind == b"D" else 0)
                self._drop_upload()
            self._out += error_frame(f"server filesystem error: {exc.strerror or exc}")

    def _decode_path(self, raw: bytes) -> str:
        try:
            return confine(self.root, raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise Refused("path is not UTF-8") from None

    def _get(self, raw: bytes) -> None:
        path = self._decode_path(raw)
        if not os.path.isfile(path):
            raise Refused("no such file")
        f = open(path, "rb")
        self._hashing = (f, hashlib.sha256(), os.fstat(f.fileno()).st_size)

    def _hash_some(self) -> None:
        """Hash the next slice of the file a get asked for; once done, queue its header and send it.

        A slice at a time, so a large file does not stall an event loop's other clients.
        """
        assert self._hashing is not None
        f, digest, size = self._hashing
        try:
            block = f.read(HASH_SLICE)
        except OSError:
            f.close()
            self._hashing = None
            raise
        if block:
            digest.update(block)
            return
        self._hashing = None
        f.seek(0)
        self._out += framing.encode(b"O" + SIZE_AND_SHA.pack(size, digest.digest()))
        self._sending = f

    def _put(self, rest: bytes) -> None:
        if len(rest) < SIZE_AND_SHA.size:
            raise ProtocolError("short put header")
        size, sha = SIZE_AND_SHA.unpack_from(rest)
        self._discard = size  # until the header is accepted, its data is to be swallowed
        path = self._decode_path(rest[SIZE_AND_SHA.size:])
        if size > self.max_file_size:
            raise Refused(f"file of {size} bytes is above the limit of {self.max_file_size}")
        if os.path.isdir(path):
            raise Refused("a directory stands at that name")
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            raise Refused("no such directory")
        fd, temp = tempfile.mkstemp(prefix=".netprobe-upload-", dir=parent)
        self._discard = 0
        self._upload = (fd, temp, sha, path)
        self._received, self._expected, self._digest = 0, size, hashlib.sha256()
        if size == 0:
            self._finish_upload()

    def _data(self, chunk: bytes) -> None:
        assert self._upload is not None
        fd = self._upload[0]
        if self._received + len(chunk) > self._expected:
            raise ProtocolError("more data than the announced size")
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]
        self._digest.update(chunk)
        self._received += len(chunk)
        if self._received == self._expected:
            self._finish_upload()

    def _finish_upload(self) -> None:
        assert self._upload is not None
        fd, temp, sha, path = self._upload
        if self._digest.digest() != sha:
            self._drop_upload()
            raise Refused("sha256 does not match: upload discarded")
        os.fsync(fd)
        os.close(fd)
        self._upload = (-1, temp, sha, path)  # closed; still to be moved, or removed on failure
        os.replace(temp, path)  # atomic: the final name only ever holds a verified file
        self._upload = None
        self._out += framing.encode(b"O" + SIZE_AND_SHA.pack(self._expected, sha))

    # --- output

    def pull(self, limit: int) -> bytes:
        """Up to ``limit`` bytes to send next; hashes or reads more of a file as room allows.

        May return nothing while a file is being hashed (``has_output`` stays True): the
        caller comes back, and an event loop serves its other clients in between.
        A malformed request waiting behind the finished file queues an error and closes.
        """
        try:
            if self._hashing is not None and len(self._out) < limit:
                self._hash_some()
            while len(self._out) < limit and self._sending is not None:
                block = self._sending.read(min(CHUNK, framing.MAX_FRAME - 1))
                if not block:
                    self._sending.close()
                    self._sending = None
                    break
                self._out += framing.encode(b"D" + block)
            if not self._busy:
                self._process()  # requests that waited for the file or for room
        except ProtocolError as exc:
            self.fail(str(exc))
        except OSError as exc:
            self.errors += 1
            self.fail(f"server filesystem error: {exc.strerror or exc}")
        out = bytes(self._out[:limit])
        del self._out[:limit]
        return out

    @property
    def has_output(self) -> bool:
        """Whether the session has bytes for the client."""
        return (bool(self._out) or self._sending is not None or self._hashing is not None
                or (not self._busy and self.decoder.has_frame))

    def fail(self, message: str) -> None:
        """Queue an error frame and stop reading: the connection closes once it is sent."""
        self.abort_transfers()
        self._out += error_frame(message)
        self.closing = True

    def _drop_upload(self) -> None:
        if self._upload is None:
            return
        fd, temp, _, _ = self._upload
        self._upload = None
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass

    def abort_transfers(self) -> None:
        """Drop a half-sent file and a half-received upload (its temporary file is removed)."""
        for f in (self._sending, self._hashing[0] if self._hashing else None):
            if f is not None:
                f.close()
        self._sending = self._hashing = None
        self._drop_upload()

    def close(self) -> None:
        """Drop any half-written upload and close the file being sent."""
        self.abort_transfers()
