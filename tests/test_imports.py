"""No import cycles in calcformula and its language server, counting every import.

The graph is read from the source with `ast`, so it holds what Python might import at any
time: module-level imports, imports under `if TYPE_CHECKING:` (a cycle for the type checker is
still a tangle for a reader) and imports inside functions (deferred, but still a dependency).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).parent.parent
PACKAGES = (ROOT / "calcformula", ROOT / "lsp" / "calcformula_lsp")


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} (line {self.line})"


def _modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted(package.rglob("*.py")):
            parts = list(path.relative_to(package.parent).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _targets(module: str, path: Path, node: ast.stmt, modules: dict[str, Path]) -> list[str]:
    """Our modules an import statement loads (the module itself, not its parent packages)."""
    found: list[str] = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            name = alias.name
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found.append(name)
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            package = module if path.name == "__init__.py" else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{node.module}" if node.module else package
        else:
            base = node.module or ""
        for alias in node.names:
            if f"{base}.{alias.name}" in modules:
                found.append(f"{base}.{alias.name}")  # `from package import submodule`
            elif base in modules:
                found.append(base)
    return found


def import_graph() -> dict[str, list[Edge]]:
    modules = _modules()
    graph: dict[str, list[Edge]] = {name: [] for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _targets(name, path, node, modules):
                    if target != name:
                        graph[name].append(Edge(name, target, node.lineno))
    return graph


def cycles(graph: dict[str, list[Edge]]) -> list[list[Edge]]:
    """One cycle through each strongly connected component that has one (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for edge in graph[node]:
            if edge.target not in index:
                visit(edge.target)
                low[node] = min(low[node], low[edge.target])
            elif edge.target in on_stack:
                low[node] = min(low[node], index[edge.target])
        if low[node] == index[node]:
            component: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    found: list[list[Edge]] = []
    for component in components:
        if len(component) > 1:
            found.append(_cycle_in(graph, component))
    return found


def _cycle_in(graph: dict[str, list[Edge]], component: set[str]) -> list[Edge]:
    """A shortest cycle through the component's first module (breadth-first), for the message."""
    start = min(component)
    paths: dict[str, list[Edge]] = {start: []}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for edge in graph[node]:
            if edge.target == start:
                return [*paths[node], edge]
            if edge.target in component and edge.target not in paths:
                paths[edge.target] = [*paths[node], edge]
                queue.append(edge.target)
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    message = "\n".join(" ; ".join(str(edge) for edge in cycle) for cycle in found)
    assert not found, f"import cycles:\n{message}"


def test_the_graph_sees_every_kind_of_import() -> None:
    graph = import_graph()

    def targets(module: str) -> set[str]:
        return {edge.target for edge in graph[module]}

    # Under `if TYPE_CHECKING:`, inside a function, relative, and `from package import module`.
    assert "calcformula.evaluator.context" in targets("calcformula.functions.registry")
    assert "calcformula.builder" in targets("calcformula.grammar")
    assert "calcformula.hubspot.commands" in targets("calcformula.cli")
    assert "calcformula.codes" in targets("calcformula.lexer")
    assert any(name.startswith("calcformula_lsp.") for name in graph)
    assert "calcformula.hubspot.client" in graph


def test_the_registry_does_not_import_the_sql_compiler() -> None:
    graph = import_graph()
    for module in graph:
        if module.startswith("calcformula.functions"):
            assert "calcformula.sql" not in {edge.target for edge in graph[module]}, module


def test_lexer_grammar_builder_import_one_way() -> None:
    graph = import_graph()
    order = ["calcformula.lexer", "calcformula.grammar", "calcformula.builder"]
    for position, module in enumerate(order):
        later = {edge.target for edge in graph[module]} & set(order[:position])
        assert not later, f"{module} imports {later}: the order is lexer -> grammar -> builder"


def test_cycle_finder_reports_a_cycle() -> None:
    graph = {
        "a": [Edge("a", "b", 1)],
        "b": [Edge("b", "c", 2)],
        "c": [Edge("c", "a", 3), Edge("c", "d", 4)],
        "d": [],
    }
    [cycle] = cycles(graph)
    assert [edge.source for edge in cycle] == ["a", "b", "c"]
    assert cycles({"a": [Edge("a", "b", 1)], "b": []}) == []
