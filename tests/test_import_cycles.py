"""No two medreview modules import each other, directly or round a longer circle.

A circle makes the import order matter (a half-initialised module on first use), hides which
module owns a rule, and stops either side being tested alone. Every import counts: top level,
inside functions and under ``TYPE_CHECKING`` (grimp sees them all), so a circle cannot be
hidden by moving its import into a function.
"""

from __future__ import annotations

from collections.abc import Mapping, Set

import grimp
import pytest

# Circles being removed right now, each as the set of its modules and who removes it, e.g.
# ``frozenset({"medreview.qt.main_window", "medreview.qt.new_project_dialog"}),  # R13qt``.
# Delete an entry when its circle is gone (``test_allowed_circles_still_exist`` says so);
# never add one for new code. Empty: issue 13 broke the last ones.
ALLOWED: tuple[frozenset[str], ...] = ()


def _graph() -> Mapping[str, Set[str]]:
    g = grimp.build_graph("medreview", include_external_packages=False, cache_dir=None)
    return {m: g.find_modules_directly_imported_by(m) for m in g.modules}


def strongly_connected(graph: Mapping[str, Set[str]]) -> list[frozenset[str]]:
    """Tarjan's components of more than one module (iterative: no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(sorted(graph.get(root, ()))))]
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
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                members = set()
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    members.add(m)
                    if m == node:
                        break
                if len(members) > 1:
                    found.append(frozenset(members))
    return found


def _describe(circle: frozenset[str], graph: Mapping[str, Set[str]]) -> str:
    edges = sorted(f"{a} -> {b}" for a in circle for b in graph[a] if b in circle)
    return "; ".join(edges)


def test_finder_sees_direct_and_long_circles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"e"}, "e": {"d", "f"}, "f": set(),
             "g": {"g2"}, "g2": set()}
    assert sorted(map(sorted, strongly_connected(graph))) == [["a", "b", "c"], ["d", "e"]]


@pytest.fixture(scope="module")
def graph() -> Mapping[str, Set[str]]:
    return _graph()


def test_no_import_circles(graph: Mapping[str, Set[str]]) -> None:
    assert "medreview.storage.project" in graph  # the whole package was read
    circles = [c for c in strongly_connected(graph) if c not in ALLOWED]
    assert not circles, "import circles: " + " | ".join(_describe(c, graph) for c in circles)


def test_allowed_circles_still_exist(graph: Mapping[str, Set[str]]) -> None:
    gone = [sorted(c) for c in ALLOWED if c not in strongly_connected(graph)]
    assert not gone, f"these circles are gone: delete them from ALLOWED: {gone}"
