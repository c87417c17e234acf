"""netprobe's processes are listed in one place, and each one is an entry point that says how it ended."""

from __future__ import annotations

import ast
import importlib
import subprocess
from pathlib import Path

import pytest

from netprobe.children import CHILD_ENTRY_POINTS, ChildOrder, python_command
from netprobe.errors import RecordError
from netprobe.vocabulary import ChildOp

PACKAGE = Path(__file__).resolve().parents[2] / "netprobe"


@pytest.mark.parametrize("module", sorted(CHILD_ENTRY_POINTS))
def test_every_child_entry_point_has_a_main_and_runs_it_as_a_script(module):
    source = (PACKAGE.parent / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8")
    assert "run_child(main)" in source, f"{module} does not run main() through run_child when started with -m"
    # Importing it must not start anything: the main guard keeps the work for the child.
    assert callable(importlib.import_module(module).main)


def test_a_process_is_started_only_from_the_list():
    with pytest.raises(ValueError, match="not one of netprobe's child entry points"):
        python_command("netprobe.cli")
    starts_a_module = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value == "-m":
                starts_a_module.append(path.name)
    assert starts_a_module == ["children.py"]


def test_an_order_is_a_typed_record_and_a_garbled_one_is_refused():
    order = ChildOrder(ChildOp.STATUS, count=5, timeout=1.5)
    assert ChildOrder.from_json(order.to_json()) == order
    with pytest.raises(RecordError, match="op"):
        ChildOrder.from_json('{"op": "explode"}')


@pytest.mark.parametrize("module", sorted(CHILD_ENTRY_POINTS))
def test_a_child_given_a_garbled_spec_ends_in_one_line_not_a_traceback(module):
    done = subprocess.run(python_command(module), input="not a record\n", capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    said = (done.stderr.strip() or done.stdout.strip()).splitlines()
    assert len(said) == 1 and "not JSON" in said[0], said
