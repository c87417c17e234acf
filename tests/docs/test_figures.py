"""A figure quoted in the docs' prose has one value, in docs/figures.json, with when and how it was measured.

A page quotes it as ``<!--fig:NAME-->VALUE<!--/fig-->`` (the comments do not show on GitHub);
``python docs/regenerate.py --figures`` measures the figures again and rewrites every quote. Two
pages that disagree on a figure, or a quote of a figure nobody measured, fail here.
"""

from __future__ import annotations

import datetime
import json
import re

import pytest

from tests.conftest import ROOT

FIGURE = re.compile(r"<!--fig:(?P<name>[a-z0-9_]+)-->(?P<value>.*?)<!--/fig-->")
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FIGURES = json.loads((ROOT / "docs" / "figures.json").read_text("utf-8"))
QUOTES = [(page.name, m["name"], m["value"]) for page in PAGES for m in FIGURE.finditer(page.read_text("utf-8"))]


def test_every_figure_says_when_and_how_it_was_measured_and_is_quoted():
    quoted = {name for _, name, _ in QUOTES}
    for name, figure in FIGURES.items():
        assert set(figure) == {"value", "measured", "how"}, name
        assert datetime.date.fromisoformat(figure["measured"]) <= datetime.date.today(), name
        assert figure["how"].strip() and figure["value"].strip(), name
        assert name in quoted, f"{name} is measured but no page quotes it"


@pytest.mark.parametrize("page, name, value", QUOTES, ids=[f"{p}: {n}" for p, n, _ in QUOTES])
def test_a_quoted_figure_is_the_measured_one(page, name, value):
    assert name in FIGURES, f"{page} quotes {name}, which docs/figures.json does not hold"
    assert value == FIGURES[name]["value"], (f"{page} says {name} is {value!r}, docs/figures.json "
                                             f"{FIGURES[name]['value']!r}: python docs/regenerate.py")
