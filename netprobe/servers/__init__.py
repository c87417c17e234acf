"""Servers netprobe runs: the selectors echo server shared by ``ramp`` and ``serve``."""
