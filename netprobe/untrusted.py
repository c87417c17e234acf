"""Files netprobe did not just write (reports, refusal tables, secrets), read as untrusted input.

Only a regular file is read, and at most a bound's worth of it: a FIFO, a device or a directory
is refused before a byte is read (opened non-blocking, so a FIFO with no writer cannot hang the
run), and a file over its bound is refused rather than read whole.
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any, Union

from netprobe.errors import UsageError

# Where the OS has it, open without blocking: a FIFO must not hang the run before it is refused.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def read_regular_file(path: str, limit: int, what: str, private: bool = False) -> bytes:
    """The bytes of the regular file ``path`` of at most ``limit`` bytes; UsageError naming ``what`` otherwise.

    ``private``: the file grants trust (a secret), so it must also be this user's own and closed to
    others, judged on the file opened, not on a name that could be swapped in between.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise UsageError(f"{what} {path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{what} {path}: cannot read: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UsageError(f"{what} {path}: not a regular file (a device, FIFO or directory)")
        if private:
            from netprobe import platform

            why = platform.why_not_private(fd)
            if why is not None:
                raise UsageError(f"{what} {path} cannot hold a secret: {why}")
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise UsageError(f"{what} {path}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise UsageError(f"{what} {path}: larger than {_size(limit)}")
    return data


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit:,} bytes"


def parse_json(raw: Union[bytes, str]) -> Any:
    """JSON that came from outside (a file, a child's line): ValueError saying why it is not JSON netprobe reads.

    Not UTF-8, not JSON, an integer of more digits than Python converts, or nesting deeper than
    the interpreter's recursion limit: each is a ValueError, never another exception.
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text)
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at line {exc.lineno})") from None
    except ValueError as exc:
        raise ValueError(f"not JSON netprobe reads ({exc})") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
