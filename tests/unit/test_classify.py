"""Error classification and remedies per platform, run on Linux from each platform's own codes."""

import errno

import pytest

from netprobe import platform, stops
from netprobe.platform import _darwin, _linux, _windows
from netprobe.stops import StopReason


@pytest.mark.parametrize("code, operation, reason", [
    (10024, "socket", "fd_limit"),           # WSAEMFILE
    (10055, "connect", "port_exhaustion"),   # WSAENOBUFS at connect: no ephemeral port left
    (10055, "accept", "memory"),             # WSAENOBUFS elsewhere: buffer space
    (10048, "connect", "port_exhaustion"),   # WSAEADDRINUSE at connect
    (10049, "connect", "port_exhaustion"),   # WSAEADDRNOTAVAIL
    (10061, "connect", "refused"),           # WSAECONNREFUSED
    (10060, "connect", "timeout"),           # WSAETIMEDOUT
    (24, "accept", "fd_limit"),              # the C runtime's EMFILE
])
def test_windows_codes_classify_like_their_posix_twins(code, operation, reason):
    assert _windows.classify_errno(code, operation) == reason


@pytest.mark.parametrize("code, reason", [
    (24, "fd_limit"), (23, "system_fd_limit"), (49, "port_exhaustion"), (61, "refused"),
    (60, "timeout"), (55, "memory"),
])
def test_darwin_codes_from_xnu_errno_h(code, reason):
    assert _darwin.classify_errno(code, "connect") == reason


@pytest.mark.parametrize("code, reason", [
    (24, "fd_limit"), (23, "system_fd_limit"), (99, "port_exhaustion"), (111, "refused"), (105, "memory"),
])
def test_linux_codes_from_its_errno_h_on_any_os(code, reason):
    assert _linux.classify_errno(code, "connect") == reason


def test_unknown_code_is_unclassified():
    assert _linux.classify_errno(errno.EDOM, "connect") is None
    assert _linux.classify_errno(errno.EPERM, "accept") is None  # only a connect can be forbidden by a firewall


def test_a_forbidden_connect_is_access_denied_on_every_os():
    assert _linux.classify_errno(errno.EPERM, "connect") == "access_denied"  # a netfilter rule on output
    assert _windows.classify_errno(10013, "connect") == "access_denied"  # WSAEACCES


@pytest.mark.parametrize("os_name", ["linux", "darwin", "windows", "posix"])
def test_every_reason_has_a_remedy_on_every_platform(os_name):
    for reason in StopReason:
        text = stops.remedy(reason, os_name, "server", 4096)
        assert text and len(text) > 20


def test_remedies_fit_their_platform():
    assert "launchctl limit maxfiles" in stops.remedy(StopReason.FD_LIMIT, "darwin", "server", None)
    assert "ProactorEventLoop" in stops.remedy(StopReason.SELECT_LIMIT, "windows", "server", None)
    assert "netsh" in stops.remedy(StopReason.PORT_EXHAUSTION, "windows", "client", None)
    assert "ip_local_port_range" in stops.remedy(StopReason.PORT_EXHAUSTION, "linux", "client", 20000)
    assert "ulimit -n 20000" in stops.remedy(StopReason.FD_LIMIT, "linux", "server", 20000)
    assert platform.remedy(StopReason.FD_LIMIT, "server", 20000) == stops.remedy(
        StopReason.FD_LIMIT, platform.NAME, "server", 20000)


def test_linger_struct_fits_each_platform():
    # Winsock's struct linger is two u_shorts; POSIX's two ints.
    assert _windows.linger_zero() == b"\x01\x00\x00\x00"
    assert len(_linux.linger_zero()) == 8 and _linux.linger_zero() == _darwin.linger_zero()


def test_only_linux_routes_all_of_127_8_without_aliases():
    assert _linux.can_bind_loopback_aliases()
    assert not _darwin.can_bind_loopback_aliases()
    assert not _windows.can_bind_loopback_aliases()


def test_a_reset_is_the_server_closing_an_accepted_connection_whenever_it_arrives():
    """Even before connect() returns (a race on loopback): nothing accepted is refused, not reset."""
    assert _linux.classify_errno(104, "connect") == StopReason.CLOSED_BY_SERVER  # ECONNRESET on Linux
    assert _linux.classify_errno(104, "verify") == StopReason.CLOSED_BY_SERVER
    assert _windows.classify_errno(10054, "connect") == StopReason.CLOSED_BY_SERVER  # WSAECONNRESET


def _as_windows_raises(code: int, message: str, winerror: int) -> OSError:
    """An OSError as Windows' CPython builds it: a Win32 error's errno is EINVAL, its code in ``winerror``."""
    exc = OSError(code, message, None, winerror)
    if getattr(exc, "winerror", None) is None:
        setattr(exc, "winerror", winerror)  # noqa: B010  (CPython sets it on Windows only)
    return exc


@pytest.mark.parametrize("exc", [
    # Recorded in this project's Wine lane (Wine 8.0, CPython 3.13.2): the proactor's AcceptEx
    # and getpeername(), and accept(), each for a client that reset before it was accepted.
    _as_windows_raises(22, "Unexpected network error", 59),
    _as_windows_raises(10057, "Windows Error 0x2749", 10057),
    # On Windows itself (CPython gh-93821, a user's log): AcceptEx's ERROR_NETNAME_DELETED.
    _as_windows_raises(22, "The specified network name is no longer available", 64),
    # accept()'s documented code for a connection reset before it was accepted (Winsock's accept).
    _as_windows_raises(10054, "An existing connection was forcibly closed by the remote host", 10054),
])
def test_windows_accept_errors_of_a_peer_that_left_are_the_peers(exc):
    assert _windows.peer_left_before_accept(exc)


def test_accept_errors_of_the_listener_are_not_the_peers():
    assert not _windows.peer_left_before_accept(_as_windows_raises(10024, "Too many open files", 10024))
    assert not _windows.peer_left_before_accept(OSError(24, "Too many open files"))
    assert not _linux.peer_left_before_accept(OSError(24, "Too many open files"))  # EMFILE
    assert not _linux.peer_left_before_accept(OSError(105, "No buffer space available"))  # ENOBUFS
    assert not _darwin.peer_left_before_accept(OSError(errno.EMFILE, "Too many open files"))


def test_posix_accept_errors_of_a_peer_that_left_are_the_peers():
    # Linux's own numbers, on any OS: ECONNABORTED, and what accept(2) hands up to be retried.
    assert _linux.peer_left_before_accept(OSError(103, "Software caused connection abort"))
    assert _linux.peer_left_before_accept(OSError(71, "Protocol error"))  # EPROTO
    assert _linux.peer_left_before_accept(OSError(101, "Network is unreachable"))  # ENETUNREACH
    assert _darwin.peer_left_before_accept(OSError(errno.ECONNABORTED, "Software caused connection abort"))
