"""Each wall of the fault matrix, injected for real, is named with its reason, side, count and remedy."""

from __future__ import annotations

import pytest

from tests.faults.cases import CASE_NAMES, CASES
from tests.faults.harness import cannot_inject, judged_case


@pytest.mark.parametrize("case", CASES, ids=CASE_NAMES)
def test_the_wall_is_named_for_what_was_injected(case):
    why_not = cannot_inject(case)
    if why_not is not None:
        pytest.skip(why_not)
    outcome = judged_case(case)
    assert not outcome.mismatches(case), (case.wall, outcome.mismatches(case),
                                          outcome.document.get("verdict"), outcome.stop.get("message"))
    if case.cgroup is not None and case.cgroup[0] == "memory":
        assert "Killed process" in outcome.stop["message"]  # the kernel's own word, read from its log


def test_the_walls_page_lists_every_case_as_the_case_list_says():
    from pathlib import Path

    from tests.faults.cases import docs_table

    page = (Path(__file__).resolve().parents[2] / "docs" / "walls.md").read_text(encoding="utf-8")
    assert docs_table() in page, "docs/walls.md's matrix is stale: run python -m tests.faults.cases"
