"""A person at a terminal sees every long command move; a pipe or a file gets none of it."""

from __future__ import annotations

import io

import pytest

from netprobe.cli import run
from netprobe.cli.common import Terminal, use_terminal


class _Screen(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def screen():
    out, err = io.StringIO(), _Screen()
    use_terminal(Terminal(out, err))
    yield err
    use_terminal(None)


@pytest.mark.parametrize("argv, said", [
    (["bench", "models", "--tasks", "1", "--delay", "0.05", "--models", "sequential,threads"],
     ["netprobe bench models: 1 slow fetches, sequential", "netprobe bench models: 1 slow fetches, threads"]),
    (["bench", "selectors", "--fds", "10,20", "--calls", "3", "--selector", "select"],
     ["netprobe bench selectors: SelectSelector over 10 sockets",
      "netprobe bench selectors: SelectSelector over 20 sockets"]),
    (["bench", "echo", "--backend", "selectors,select", "--duration", "0.2", "--clients", "2"],
     ["netprobe bench echo: echo load on the selectors backend (1 of 2, 0.2 s)",
      "netprobe bench echo: echo load on the select backend (2 of 2, 0.2 s)"]),
    (["bench", "transfer", "--clients", "2", "--file-size", "1024"],
     ["netprobe bench transfer: 2 clients get and put 1,024 bytes on the selectors backend"]),
])
def test_every_bench_command_says_what_starts_next_on_a_terminal(screen, argv, said):
    assert run(argv) in (0, 1)
    assert [line for line in screen.getvalue().splitlines() if line.startswith("netprobe bench")] == said


def test_nothing_is_said_to_a_pipe():
    err = io.StringIO()
    use_terminal(Terminal(io.StringIO(), err))
    try:
        assert run(["bench", "models", "--tasks", "1", "--delay", "0.05", "--models", "sequential"]) == 0
    finally:
        use_terminal(None)
    assert err.getvalue() == ""
