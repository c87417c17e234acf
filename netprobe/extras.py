"""The optional extras (``plot``: matplotlib, ``dist``: locust): whether each is installed, without importing it."""

from __future__ import annotations

import importlib.util

from netprobe.errors import UnavailableError

# The name this project installs by ("netprobe" on the registry is another project); the package is netprobe.
DISTRIBUTION = "netprobe-sockets"

# Set before locust is imported: its package runs gevent's monkey.patch_all() otherwise,
# which would turn selectors.DefaultSelector into gevent's and hide epoll from `limits`.
LOCUST_ENV = {"LOCUST_SKIP_MONKEY_PATCH": "1"}


def require_locust(option: str) -> None:
    """Raise UnavailableError in one line, naming ``option``, where the dist extra is not installed."""
    if importlib.util.find_spec("locust") is None:
        raise UnavailableError(f"{option} needs locust: pip install '{DISTRIBUTION}[dist]' (Python 3.11 or newer)")


def require_matplotlib(option: str) -> None:
    """Raise UnavailableError in one line, naming ``option``, where the plot extra is not installed."""
    if importlib.util.find_spec("matplotlib") is None:
        raise UnavailableError(f"{option} needs matplotlib: pip install '{DISTRIBUTION}[plot]'")
