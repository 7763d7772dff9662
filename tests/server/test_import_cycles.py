"""No two modules of ``server`` import each other, directly or round a loop, counting the imports written inside
functions (import-linter's contracts see those too, but no contract can say "no cycles" for every pair of features).
A cycle hidden in a function is still a cycle: it is how one feature's internals leaked into another's before."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _modules(package: str = "server") -> dict[str, Path]:
    found = {}
    for path in (ROOT / package).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def import_graph(package: str = "server") -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports anywhere in its text (``from pkg import module`` counts the
    module)."""
    modules = _modules(package)
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                           for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_the_cycle_finder_finds_a_loop_through_three_modules() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_server_module_imports_round_a_cycle() -> None:
    assert cycles(import_graph()) == []


def test_no_module_of_the_other_packages_imports_round_a_cycle() -> None:
    assert cycles(import_graph("routing")) == [] and cycles(import_graph("mobile_app")) == []
    # geodata: StreetNetwork's service methods (snap, travel_time_matrix, route_geojson) are the package's public
    # face over the modules that do the work and read the network's arrays; that one group is by design (the
    # imports are inside the methods). Any other loop, like the gazetteer's old one with address_text, fails.
    assert cycles(import_graph("geodata")) == [["geodata.matrix", "geodata.network", "geodata.routes",
                                                "geodata.snapping"]]
