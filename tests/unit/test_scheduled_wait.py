"""A schedule's wait wakes on time: never a millisecond rounded up by epoll, always at once for a reply."""

from __future__ import annotations

import selectors
import socket

import pytest

from netprobe.clients.scheduled import wait_until_due

WHOLE_MS = [getattr(selectors, name) for name in ("EpollSelector", "DevpollSelector") if hasattr(selectors, name)]


class Recorder:
    """A Wait that records the timeouts it is asked for."""

    def __init__(self) -> None:
        self.timeouts: list[float] = []

    def __call__(self, sel: selectors.BaseSelector, timeout: float) -> list[tuple[selectors.SelectorKey, int]]:
        self.timeouts.append(timeout)
        return sel.select(timeout)


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


@pytest.mark.parametrize("kind", WHOLE_MS, ids=lambda k: k.__name__)
def test_a_wait_under_a_millisecond_never_hands_a_whole_millisecond_selector_a_timeout(kind, pair):
    wait = Recorder()
    with kind() as sel:
        sel.register(pair[0], selectors.EVENT_READ)
        assert wait_until_due(sel, wait, 0.0004) == []
    assert wait.timeouts and all(t == 0 for t in wait.timeouts)


@pytest.mark.parametrize("kind", WHOLE_MS, ids=lambda k: k.__name__)
def test_a_longer_wait_asks_for_the_whole_milliseconds_and_leaves_the_rest_to_the_next_turn(kind, pair):
    wait = Recorder()
    with kind() as sel:
        sel.register(pair[0], selectors.EVENT_READ)
        wait_until_due(sel, wait, 0.0025)
    assert wait.timeouts == [0.002]


@pytest.mark.parametrize("kind", WHOLE_MS, ids=lambda k: k.__name__)
def test_a_reply_already_waiting_is_returned_without_a_wait(kind, pair):
    wait = Recorder()
    pair[1].send(b"+PONG\r\n")
    with kind() as sel:
        sel.register(pair[0], selectors.EVENT_READ, "conn")
        events = wait_until_due(sel, wait, 0.0004)
    assert [key.data for key, _ in events] == ["conn"] and wait.timeouts == [0]


def test_a_selector_that_waits_to_the_microsecond_is_handed_the_timeout_as_it_is(pair):
    wait = Recorder()
    with selectors.SelectSelector() as sel:
        sel.register(pair[0], selectors.EVENT_READ)
        wait_until_due(sel, wait, 0.0004)
    assert wait.timeouts == [0.0004]
