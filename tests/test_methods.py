"""The method registry: one entry per way to pick a mixture, the same entry on a corpus and an oracle."""

from __future__ import annotations

import pytest

from autoscale_kit.methods import registry as methods_mod
from autoscale_kit.methods.arena import oracle_arena
from autoscale_kit.core.errors import UserError
from autoscale_kit.methods.registry import Choice, CompareConfig, Method, Probe, get_method, peer_methods, register
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.methods.oracle import random_oracle


def _toy_probes(lab):
    """One proxy run per domain: most of the budget on it, the rest spread evenly."""
    total = lab.budgets[0]
    out = []
    for d in lab.domains:
        w = {e: (0.6 if e == d else 0.4 / (len(lab.domains) - 1)) for e in lab.domains}
        out.append(Probe(lab.exact(Mixture.from_weights(w, total)), lab.ddo_seeds[0], f"toy/{d}"))
    return out


def _toy_choose(lab):
    """Weight each domain by how low the mean loss was when it dominated the mixture."""
    runs = lab.measure(_toy_probes(lab))
    losses = {d: r.mean_val_loss for d, r in zip(lab.domains, runs)}
    worst = max(losses.values())
    return Choice({d: worst - v + 1e-3 for d, v in losses.items()}, tuple(runs))


TOY = Method("toy", "a toy method: the domain that helps most alone gets the most weight", _toy_choose, _toy_probes)


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(methods_mod.METHODS, "toy", TOY)
    return TOY


def test_a_registered_toy_method_runs_in_the_oracle_arena(toy):
    arena = oracle_arena(random_oracle("separable", 4, seed=3), (3e8, 1.2e9), 1.92e10, ("toy", "uniform"))
    toy_entry = arena.entries["toy"]
    assert sum(toy_entry.weights.values()) == pytest.approx(1.0) and toy_entry.excess >= -1e-12
    assert toy_entry.proxy_tokens == pytest.approx(4 * 3e8)           # its cost: the four runs it asked for
    assert arena.entries["uniform"].proxy_tokens == 0
    assert "toy" in peer_methods("oracle") and "toy" in peer_methods("corpus")


def test_a_registered_toy_method_is_validated_by_the_study(toy, tmp_path):
    from autoscale_kit.study.compare import compare_methods
    from autoscale_kit.study.pipeline import study_config

    config = study_config("smoke", budgets=(20_000, 40_000), target=60_000, seeds=(0,))
    result = compare_methods(config, tmp_path / "runs", CompareConfig(methods=("toy",)), progress=False)
    table = result.table.set_index("method")
    assert list(table.index) == ["autoscale", "uniform", "ddo-reused", "toy"]
    assert table.loc["toy", "proxy_runs"] == len(config.domains)
    assert table.loc["toy", "proxy_tokens"] == len(config.domains) * 20_000
    assert len(result.study.validation["toy"]) == 1
    assert result.study.mixtures["toy"].total == config.target


def test_registry_errors():
    with pytest.raises(UserError, match="registered already"):
        register(Method("uniform", "again", lambda lab: Choice({})))
    with pytest.raises(UserError, match="unknown method 'nope'"):
        get_method("nope")
    with pytest.raises(UserError, match="cannot run in the oracle lab"):
        get_method("doremi", "oracle")
    with pytest.raises(UserError, match="unknown method"):
        CompareConfig(methods=("nope",))
    with pytest.raises(UserError, match="methods.Method"):
        register("toy")


def test_the_readme_example_method_runs(monkeypatch):
    """The documented "a mixing method" snippet, executed as written, on an oracle."""
    import re

    from tests.conftest import REPO

    code = re.search(r"```python\n(from autoscale_kit.methods.registry import.*?)```", (REPO / "docs" / "extending.md").read_text(), re.S)
    try:
        exec(code.group(1), {})
        arena = oracle_arena(random_oracle("separable", 4, seed=1), (3e8, 1.2e9), 1.9e10, ("mine", "uniform"))
    finally:
        methods_mod.METHODS.pop("mine", None)     # the registry as it was
    assert arena.entries["mine"].excess >= 0 and arena.entries["mine"].proxy_tokens == pytest.approx(4 * 3e8)
