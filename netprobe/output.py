"""Write what a command produced: to stdout, or to the file the user named, checked before the work.

A regular file (or a new name) is written whole or not at all: a temporary file beside it,
renamed over it at the end, with the permissions the umask gives. Anything else the name
points at (a device such as /dev/null or /dev/stdout, a FIFO, a symbolic link) is written
through, never replaced: netprobe must not swap a device node or a link for a file, even as
root. If writing fails after the work is done, the result is kept in a file of the temporary
directory and the error says where.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional, Union

from netprobe.errors import OutputError, UsageError

# Refuse names longer than this where the filesystem does not say (POSIX NAME_MAX is 255).
DEFAULT_NAME_MAX = 255


def _name_max(directory: str) -> int:
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (AttributeError, ValueError, OSError):  # no pathconf (Windows), or the fs does not say
        return DEFAULT_NAME_MAX


def check_writable(path: Optional[str], option: str = "--output") -> None:
    """Fail before any work is done if ``path`` cannot be written; say which option and why."""
    if path is None:
        return
    if path == "":
        raise UsageError(f"{option} is empty: name a file")
    if path.endswith(("/", os.sep)) or os.path.basename(path) in ("", ".", ".."):
        raise UsageError(f"{option} {path!r} names a directory, not a file")
    if os.path.isdir(path):
        raise UsageError(f"{option} {path!r} is a directory")
    if os.path.lexists(path) and not _is_regular_file(path):
        # A device, FIFO or link: written through, so it must be writable as it is.
        if not os.path.exists(path):
            raise UsageError(f"{option} {path!r} is a link to nothing")
        if not os.access(path, os.W_OK):
            raise UsageError(f"{option} {path!r} is not writable")
        return
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"{option} {path!r}: directory {directory!r} does not exist")
    if len(os.path.basename(path).encode()) > _name_max(directory):
        raise UsageError(f"{option} {path!r}: the file name is longer than this filesystem allows")
    _probe_directory(directory, option, path)


def _probe_directory(directory: str, option: str, path: str) -> None:
    """Create and remove a file there: the only test /proc, read-only mounts and ACLs all answer truly."""
    import tempfile

    try:
        fd, probe = tempfile.mkstemp(prefix=".netprobe-probe-", dir=directory)
    except OSError as exc:
        raise UsageError(f"{option} {path!r}: cannot create files in {directory!r} "
                         f"({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)


def _is_regular_file(path: str) -> bool:
    """A real file, not a link to one: only those are replaced by rename."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while a temporary file exists, so none is left behind."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no signal mask to set
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def write_file(path: str, content: Union[str, bytes], option: str = "--output") -> None:
    """Write ``content`` to ``path`` (whole or not at all for a regular file; through anything else)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        if os.path.lexists(path) and not _is_regular_file(path):
            with open(path, "wb") as f:  # follows the link, or writes to the device or FIFO
                f.write(data)
            return
        _replace(path, data)
    except OSError as exc:
        kept = _keep(data, path)
        raise OutputError(f"cannot write {option} {path!r} ({exc.strerror or exc}); "
                          f"the result is kept in {kept}") from None


def _replace(path: str, data: bytes) -> None:
    import tempfile

    directory = os.path.dirname(os.path.abspath(path))
    umask = os.umask(0)
    os.umask(umask)
    with _signals_held():
        fd, tmp = tempfile.mkstemp(prefix=".netprobe-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                if hasattr(os, "fchmod"):
                    os.fchmod(f.fileno(), 0o666 & ~umask)  # as open() would have made it
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise


def _keep(data: bytes, wanted: str) -> str:
    """Save a result that could not go where asked; return where it went."""
    import tempfile

    suffix = os.path.splitext(wanted)[1] or ".txt"
    fd, kept = tempfile.mkstemp(prefix="netprobe-result-", suffix=suffix)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return kept


def utf8_stdio() -> None:
    """Make stdout and stderr say the same characters everywhere: UTF-8 where they are not a terminal.

    Piped or redirected, Python writes in the locale's encoding: on Windows the ANSI code page
    (cp1252: netprobe's "—" became byte 0x97, garbage in a UTF-8 CI log) and, for a character
    outside it, ``UnicodeEncodeError``. A pipe, a file and a CI log get UTF-8. A terminal keeps
    its own encoding (Windows' console takes any character through its UTF-16 API), with "?"
    for what a legacy one cannot show, never an error.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:
            continue  # not a text stream of the io module (replaced by a host program)
        try:
            if stream.isatty():
                reconfigure(errors="replace")
            else:
                reconfigure(encoding="utf-8", errors="backslashreplace")
        except (OSError, ValueError):
            continue  # closed, or already written to in a way that cannot change now


def emit(text: str, path: Optional[str]) -> None:
    """Print ``text``, or write it to ``path`` (see ``write_file``)."""
    if path is not None:
        write_file(path, text)
        return
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()  # the reader left (`| head`): nothing more to say to it
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            _quiet_stdout()
            return
        _quiet_stdout()
        raise OutputError(f"cannot write to standard output ({exc.strerror or exc})") from None


def _quiet_stdout() -> None:
    """Point stdout at devnull, so the interpreter's final flush does not fail on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
