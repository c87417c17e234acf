"""Every public definition of netprobe starts with a one-sentence docstring (an override may inherit its base's)."""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "netprobe"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _first_sentence_problem(doc: str) -> str | None:
    summary = doc.strip().split("\n\n")[0].strip()
    if not summary:
        return "is empty"
    if not summary.endswith((".", ":", "?")) and not summary.endswith(".)"):
        return f"does not start with a sentence: {summary[:60]!r}"
    return None


def _definitions(node: ast.AST, owner: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], ast.AST]]:
    """Every public function, method and class below ``node``, with the classes it is in."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not child.name.startswith("_"):
            yield owner, child
            if isinstance(child, ast.ClassDef):
                yield from _definitions(child, (*owner, child.name))


def _inherited_doc(path: Path, owner: tuple[str, ...], name: str) -> str | None:
    """The docstring a method inherits from what it overrides."""
    obj: object = importlib.import_module(_module_name(path))
    for part in owner:
        obj = getattr(obj, part)
    return inspect.getdoc(getattr(obj, name, None))


def _undocumented() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        where = str(path.relative_to(PACKAGE.parent))
        if not ast.get_docstring(tree):
            problems.append(f"{where}: no module docstring")
        for owner, node in _definitions(tree):
            assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            doc = ast.get_docstring(node)
            if doc is None and owner:
                doc = _inherited_doc(path, owner, node.name)
            name = ".".join([*owner, node.name])
            if not doc:
                problems.append(f"{where}:{node.lineno}: {name} has no docstring")
            elif (problem := _first_sentence_problem(doc)) is not None:
                problems.append(f"{where}:{node.lineno}: {name}'s docstring {problem}")
    return problems


def test_every_public_definition_has_a_docstring_that_starts_with_a_sentence():
    problems = _undocumented()
    assert not problems, f"{len(problems)} public definitions:\n" + "\n".join(problems)
