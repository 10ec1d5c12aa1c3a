"""The package's structure as ARCHITECTURE.md states it: seams in one order, imports only downwards,
no import cycle (imports inside functions included), no package-internal import inside a function."""

from __future__ import annotations

import re

from tests import import_graph
from tests.conftest import REPO


def stated_layers() -> list[str]:
    """The seams in the order ARCHITECTURE.md states, lowest first."""
    text = (REPO / "ARCHITECTURE.md").read_text()
    m = re.search(r"^Layers, lowest first: (.+)$", text, re.M)
    assert m, "ARCHITECTURE.md states no 'Layers, lowest first: a < b < …' line"
    return [s.strip(" `") for s in m.group(1).split("<")]


def test_every_module_lives_in_a_stated_seam():
    layers = stated_layers()
    for name in import_graph.modules():
        if name in ("__init__", "__main__"):
            continue
        assert name.split(".")[0] in layers, f"autoscale_kit.{name} is in no seam of ARCHITECTURE.md"


def test_no_import_cycle():
    cycles = import_graph.cycles(import_graph.imports())
    assert not cycles, f"import cycles: {cycles}"


def test_imports_run_down_the_stated_order():
    layers = stated_layers()
    rank = {s: i for i, s in enumerate(layers)}
    wrong = []
    for name, deps in import_graph.imports().items():
        if name.split(".")[0] not in rank:
            continue
        for dep, line in deps.items():
            seam = dep.split(".")[0]
            if seam in rank and rank[seam] > rank[name.split(".")[0]]:
                wrong.append(f"{name} imports {dep} (line {line})")
    assert not wrong, "imports against the order of ARCHITECTURE.md: " + "; ".join(wrong)


def test_no_package_import_inside_a_function():
    """Function-level imports hide the structure; the package imports its own modules at the top
    (heavy optional dependencies such as torch may still be imported where they are used)."""
    top = import_graph.imports(nested=False)
    nested = {m: sorted(set(d) - set(top[m])) for m, d in import_graph.imports().items()}
    assert not {m: d for m, d in nested.items() if d}


def test_the_checker_sees_a_cycle_and_a_wrong_way_import():
    """The checks above can fail: a made-up graph with a cycle and an upward import is caught."""
    graph = {"core.a": {"fit.b": 1}, "fit.b": {"core.a": 2}}
    assert import_graph.cycles(graph) == [["core.a", "fit.b"]]


def test_fitting_and_data_stand_on_core_alone():
    """`fit` fits any runs table without the corpus, torch or the run store; `data` reads text without models."""
    for name, deps in import_graph.imports().items():
        if name.split(".")[0] in ("fit", "data"):
            outside = {d for d in deps if d.split(".")[0] not in ("core", name.split(".")[0])}
            assert not outside, f"{name} imports {sorted(outside)}"

