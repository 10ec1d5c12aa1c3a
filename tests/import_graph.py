"""The package's import graph, read from the source (imports inside functions included): what the
layering test and the memo's closure test check."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "autoscale_kit"


def modules() -> dict[str, Path]:
    """Dotted name inside the package (e.g. 'fit.ddo'; a package's face is its folder name) -> file."""
    out = {}
    for p in sorted(PACKAGE.rglob("*.py")):
        parts = p.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts) or "__init__"] = p
    return out


def _resolve(target: str, known) -> str | None:
    """'autoscale_kit.fit.ddo' -> 'fit.ddo' (None outside the package)."""
    if target != "autoscale_kit" and not target.startswith("autoscale_kit."):
        return None
    name = target[len("autoscale_kit."):] if "." in target else "__init__"
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or "__init__"


def imports(nested: bool = True) -> dict[str, dict[str, int]]:
    """module -> {imported module: line}; `nested=False` keeps module-level imports only."""
    known = modules()
    graph: dict[str, dict[str, int]] = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text(), str(path))
        nodes = ast.walk(tree) if nested else tree.body
        deps: dict[str, int] = {}
        for node in nodes:
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" for a in node.names]
            for t in targets:
                dep = _resolve(t, known)
                if dep is not None and dep != name:
                    deps.setdefault(dep, node.lineno)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out
