"""Length-prefixed frames: a 4-byte big-endian length, then that many bytes.

The tutorial sent a file size with no framing and read line by line, so a size and the
first bytes of data could arrive glued together. A length prefix says where every message
ends, whatever way TCP splits the stream.
"""

from __future__ import annotations

import struct

from netprobe.errors import FrameError

HEADER = struct.Struct("!I")
# The largest frame body accepted: a data chunk plus its type byte, with room to spare.
MAX_FRAME = 64 * 1024 + 64


def encode(body: bytes) -> bytes:
    """One frame: the 4-byte length, then ``body``."""
    if not 0 < len(body) <= MAX_FRAME:
        raise FrameError(f"frame body of {len(body)} bytes is outside 1-{MAX_FRAME}")
    return HEADER.pack(len(body)) + body


class FrameDecoder:
    """Cut a byte stream into frame bodies; never holds more than one frame's bytes."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as frames."""
        return len(self._buffer)

    @property
    def has_frame(self) -> bool:
        """Whether a complete frame, or a length prefix pop() will refuse, is waiting."""
        if len(self._buffer) < HEADER.size:
            return False
        (length,) = HEADER.unpack_from(self._buffer)
        return not 0 < length <= self.max_frame or len(self._buffer) >= HEADER.size + length

    def push(self, data: bytes) -> None:
        """Take bytes as they arrive, whatever way TCP split them."""
        self._buffer += data

    def pop(self) -> bytes | None:
        """The next complete frame body, or None until more bytes arrive.

        Raises FrameError as soon as a length prefix is zero or above ``max_frame``, before
        waiting for what it announces.
        """
        if len(self._buffer) < HEADER.size:
            return None
        (length,) = HEADER.unpack_from(self._buffer)
        if not 0 < length <= self.max_frame:
            raise FrameError(f"frame length {length} is outside 1-{self.max_frame}")
        end = HEADER.size + length
        if len(self._buffer) < end:
            return None
        body = bytes(self._buffer[HEADER.size:end])
        del self._buffer[:end]
        return body

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return every frame body now complete, in order."""
        self.push(data)
        frames = []
        while (body := self.pop()) is not None:
            frames.append(body)
        return frames
