"""An import-linter contract: no two modules of the project import each other, even indirectly.

import-linter's own ``acyclic_siblings`` contract compares the children of a package, so a
sub-package counts as one node and a cycle that runs through one of its modules can hide behind
it. This contract looks at every module on its own, and counts every import grimp finds,
including those inside functions (an import moved into a function to dodge a cycle is still one).
``lint-imports`` (``make lint``) runs it; ``[tool.importlinter]`` in pyproject.toml names it.
"""

from typing import cast

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output


class NoModuleCycles(Contract):
    """No import cycle between any modules under ``packages``."""

    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        # The field holds the parsed option values once the contract is built.
        packages = cast(list[str], self.packages)
        modules = {
            module
            for module in graph.modules
            if any(module == package or module.startswith(package + ".") for package in packages)
        }
        edges = {
            module: sorted(graph.find_modules_directly_imported_by(module) & modules - {module})
            for module in modules
        }
        cycles = [sorted(component) for component in strongly_connected(edges) if len(component) > 1]
        return ContractCheck(kept=not cycles, metadata={"cycles": sorted(cycles), "edges": edges})

    def render_broken_contract(self, check: ContractCheck) -> None:
        edges = check.metadata["edges"]
        for cycle in check.metadata["cycles"]:
            output.print_error(f"These {len(cycle)} modules import each other in a circle:")
            for module in cycle:
                inside = [imported for imported in edges[module] if imported in cycle]
                output.print(f"  {module} -> {', '.join(inside)}")
            output.new_line()


def strongly_connected(edges: dict[str, list[str]]) -> list[set[str]]:
    """Return the strongly connected components of the graph ``edges`` (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(start: str) -> None:
        # Iterative, so a long import chain cannot hit Python's recursion limit.
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(edges[successor])))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    components.append(component)

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return components
