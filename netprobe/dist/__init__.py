"""Ramps from many client machines, on locust's master/worker engine (the ``dist`` extra).

locust runs only in the master and worker processes (``netprobe.dist.master``,
``netprobe.dist.worker``), imported with ``LOCUST_SKIP_MONKEY_PATCH=1``: netprobe's own CLI
process never imports it, so ``--help``, ``limits`` and single-machine ramps are unchanged by
the extra being installed. Nothing here imports locust.
"""

from __future__ import annotations

import importlib.util
import os

from netprobe.errors import UnavailableError

# Set before locust is imported: its package runs gevent's monkey.patch_all() otherwise,
# which would turn selectors.DefaultSelector into gevent's and hide epoll from `limits`.
LOCUST_ENV = {"LOCUST_SKIP_MONKEY_PATCH": "1"}


def check_available() -> None:
    """Raise UnavailableError in one line where the dist extra cannot run."""
    if importlib.util.find_spec("locust") is None:
        raise UnavailableError("--workers needs locust: pip install 'netprobe[dist]' (Python 3.11 or newer)")


def import_locust():
    """Import locust without its monkey-patching; for the master and worker processes only."""
    os.environ.update(LOCUST_ENV)
    import locust.env
    import locust.runners

    return locust
