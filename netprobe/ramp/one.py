"""Run one ramp from a JSON RampConfig on stdin; print its JSON result (``ramp --backend all`` uses it)."""

from __future__ import annotations

import json
import sys

from netprobe.ramp.config import RampConfig
from netprobe.ramp.runner import run_ramp
from netprobe.vocabulary import StopReason


def main() -> int:
    fields = json.loads(sys.stdin.read())
    if fields.get("target_address") is not None:
        fields["target_address"] = tuple(fields["target_address"])
    result = run_ramp(RampConfig(**fields))  # validated by the parent
    sys.stdout.write(json.dumps(result.to_dict()))
    if result.stop is not None and result.stop.reason == StopReason.INTERRUPTED:
        return 130
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
