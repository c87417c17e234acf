"""netprobe's packages form layers: no import circle among them, so no layer reaches back up.

Each subpackage or top-level module is one node (a circle through a package's lazy ``__getattr__``
counts too, since its module-level imports are its submodules'); only module-level imports
outside ``if TYPE_CHECKING:`` are edges, as those are the ones that run when a module loads.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "netprobe"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _node(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _loaded_at_import(tree: ast.Module) -> list[ast.stmt]:
    """The statements that run when the module loads, with TYPE_CHECKING blocks left out."""
    found: list[ast.stmt] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
            found += stmt.orelse
        elif isinstance(stmt, ast.Try):
            found += stmt.body + [s for handler in stmt.handlers for s in handler.body]
        else:
            found.append(stmt)
    return found


def _imported(module: str, is_package: bool, stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, ast.Import):
        return [alias.name for alias in stmt.names]
    if not isinstance(stmt, ast.ImportFrom):
        return []
    base = stmt.module or ""
    if stmt.level:
        parts = module.split(".") if is_package else module.split(".")[:-1]
        parts = parts[: len(parts) - (stmt.level - 1)]
        base = ".".join(parts + ([stmt.module] if stmt.module else []))
    return [base] + [f"{base}.{alias.name}" for alias in stmt.names]


def package_edges() -> dict[str, set[str]]:
    """Which of netprobe's nodes each node imports when it loads."""
    edges: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        module = _module_name(path)
        edges.setdefault(_node(module), set())
        for stmt in _loaded_at_import(ast.parse(path.read_text(encoding="utf-8"))):
            for name in _imported(module, path.name == "__init__.py", stmt):
                if name.split(".")[0] == "netprobe" and _node(name) not in ("netprobe", _node(module)):
                    edges[_node(module)].add(_node(name))
    return edges


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next((c for c in children if c in edges), None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_circles_are_found_where_they_exist():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_package_of_netprobe_imports_one_that_imports_it_back():
    edges = package_edges()
    assert "netprobe.ramp" in edges and "netprobe.platform" in edges  # the walk found the packages
    assert circles(edges) == []


def test_the_platform_layer_imports_no_result_records_or_ramp():
    edges = package_edges()
    assert not edges["netprobe.platform"] & {"netprobe.models", "netprobe.ramp", "netprobe.servers",
                                               "netprobe.clients", "netprobe.distributed", "netprobe.cli"}
