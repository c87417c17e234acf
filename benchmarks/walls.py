"""The fault matrix as a report: every wall of tests/faults/cases.py injected, and what netprobe named.

Each case runs in a network namespace of its own (root, Linux); one markdown row per case: the
wall, what it implies (reason, side, count), what netprobe said, and whether it matched. The
denominator is the whole case list: a case this machine cannot inject is counted apart, with
why. Host-wide cases (their setting is the machine's, not a namespace's) run only with
``--host-wide``, alone. Run from the checkout:

    python benchmarks/walls.py [--host-wide] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.faults.cases import CASES  # noqa: E402 (the matrix's one list)
from tests.faults.harness import cannot_inject, run_case  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host-wide", action="store_true", help="also run the cases whose setting is host-wide")
    parser.add_argument("--only", nargs="*", default=None, help="run only these cases (by name)")
    args = parser.parse_args()
    chosen = [c for c in CASES if args.only is None or c.name in args.only]
    print("| case | wall | implies | netprobe said | reached | right |")
    print("|---|---|---|---|---|---|")
    named = skipped = 0
    wrong: list[str] = []
    for case in chosen:
        why_not = cannot_inject(dataclasses.replace(case, host_wide=False) if args.host_wide else case)
        implies = f"{case.reason} / {case.side} / {case.reached[0]}-{case.reached[1]}"
        if why_not is not None:
            skipped += 1
            print(f"| {case.name} | {case.wall} | {implies} | skipped: {why_not} | | |")
            continue
        started = time.monotonic()
        outcome = run_case(case)
        stop, mismatches = outcome.stop, outcome.mismatches(case)
        named += not mismatches
        if mismatches:
            wrong.append(f"{case.name}: {'; '.join(mismatches)}")
        print(f"| {case.name} | {case.wall} | {implies} | {stop.get('reason')} / {stop.get('side')} "
              f"({time.monotonic() - started:.1f} s) | {outcome.document.get('reached')} | "
              f"{'yes' if not mismatches else 'NO'} |")
    ran = len(chosen) - skipped
    print(f"\n{named} of {ran} injected walls named right ({100 * named / max(1, ran):.0f}%); "
          f"{skipped} of {len(chosen)} not injected here.")
    for line in wrong:
        print(f"- {line}")
    return 0 if not wrong else 1


if __name__ == "__main__":
    sys.exit(main())
