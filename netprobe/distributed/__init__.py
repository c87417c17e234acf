"""Ramps from many client machines, on locust's master/worker engine (the ``dist`` extra).

locust runs only in the master and worker processes (``netprobe.distributed.master``,
``netprobe.distributed.worker``), imported with ``LOCUST_SKIP_MONKEY_PATCH=1``: netprobe's own
CLI process never imports it, so ``--help``, ``limits`` and single-machine ramps are unchanged by
the extra being installed. This package depends on ``netprobe.ramp``, never the reverse.
"""

from __future__ import annotations

import os
from types import ModuleType

from netprobe.extras import LOCUST_ENV


def import_locust() -> ModuleType:
    """Import locust without its monkey-patching; for the master and worker processes only."""
    os.environ.update(LOCUST_ENV)
    import locust.env
    import locust.runners

    module: ModuleType = locust  # typed here whether or not locust is installed where mypy runs
    return module
