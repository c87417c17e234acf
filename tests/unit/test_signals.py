"""How netprobe tells a Ctrl-C from a bug, whatever Python did with it on the way."""

from __future__ import annotations

import pytest

from netprobe.signals import is_interrupt


class _StruckWhileNamed:
    """A descriptor whose ``__set_name__`` meets a Ctrl-C, as ``functools.cached_property``'s can mid-import."""

    def __set_name__(self, owner: type, name: str) -> None:
        raise KeyboardInterrupt


def _make_a_class_struck_by_ctrl_c() -> BaseException:
    try:
        type("IPv4Interface", (), {"hostmask": _StruckWhileNamed()})
    except BaseException as exc:  # what this Python turns it into: KeyboardInterrupt, or (3.11) RuntimeError
        return exc
    raise AssertionError("__set_name__ was not called")


def test_a_ctrl_c_while_a_class_is_made_is_an_interrupt_on_this_python():
    assert is_interrupt(_make_a_class_struck_by_ctrl_c())


def test_a_plain_ctrl_c_is_an_interrupt():
    assert is_interrupt(KeyboardInterrupt())


@pytest.mark.parametrize("exc", [RuntimeError("boom"), ValueError("boom"), SystemExit(1)])
def test_other_errors_are_not_interrupts(exc):
    assert not is_interrupt(exc)


def test_a_runtime_error_caused_by_something_else_is_not_an_interrupt():
    try:
        try:
            raise ValueError("inner")
        except ValueError as inner:
            raise RuntimeError("outer") from inner
    except RuntimeError as exc:
        assert not is_interrupt(exc)
