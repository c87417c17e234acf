"""Run one ramp from its RampSpec (one JSON line on stdin); print its JSON result (``ramp --backend all``)."""

from __future__ import annotations

import sys

from netprobe.errors import ExitStatus
from netprobe.ramp.runner import run_ramp
from netprobe.ramp_spec import RampSpec


def main() -> int:
    """Read the spec, ramp, write the result; the exit status says how it went."""
    result = run_ramp(RampSpec.from_json(sys.stdin.readline(), "the ramp spec"))
    sys.stdout.write(result.to_json())
    if result.interrupted:
        return ExitStatus.INTERRUPTED
    return ExitStatus.SUCCESS if result.ok else ExitStatus.LIMIT_HIT


if __name__ == "__main__":
    from netprobe.children import run_child

    run_child(main)
