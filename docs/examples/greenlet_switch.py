"""Explicit switching between two greenlets: each switch() jumps into the other function."""

from greenlet import greenlet


def first():
    print(12)
    second_greenlet.switch()  # run second() until it switches back
    print(34)
    second_greenlet.switch()


def second():
    print(56)
    first_greenlet.switch()
    print(78)


first_greenlet = greenlet(first)
second_greenlet = greenlet(second)
first_greenlet.switch()
