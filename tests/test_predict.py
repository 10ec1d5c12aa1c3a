"""The AutoScale predictor: step rule, continuous form, least squares over scales, pinning."""

from pathlib import Path

import numpy as np
import pytest

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.methods.oracle import random_oracle
from autoscale_kit.fit.predict import fit_path, pinned_domains, predict_optimum, step_rule
from autoscale_kit.core.tables import read_optima_table

PAPER_OPTIMA = Path(__file__).resolve().parents[1] / "data" / "paper" / "gpt2_optima.csv"
DOMAINS = ["common_crawl", "github", "books", "wikipedia", "c4", "stackexchange", "arxiv"]


@pytest.fixture(scope="module")
def paper():
    optima, _ = read_optima_table(PAPER_OPTIMA)
    return optima  # n03, n06, n12 in tokens


def weights(m):
    return np.array([m.weights[d] for d in DOMAINS])


def test_step_rule_reproduces_the_released_5B_vector(paper):
    n03, _, n12 = paper
    n5 = step_rule(n03, n12)
    assert n5.total / 1e9 == pytest.approx(5.000487243200733, rel=1e-14)
    released = [1.17096789, 0.13714286, 0.99783655, 0.71032654, 1.53999724, 0.38665696, 0.0575592]
    assert [n5[d] / 1e9 for d in DOMAINS] == pytest.approx(released, abs=6e-9)
    assert weights(n5) == pytest.approx([0.2341707579, 0.0274258988, 0.1995478653, 0.1420514660,
                                         0.3079694376, 0.0773238560, 0.0115107185], abs=1e-9)
    a, b = n12, n5                       # four steps: 412.44002730550164 B (paper.md §7.6)
    for _ in range(3):
        a, b = b, step_rule(a, b)
    assert b.total / 1e9 == pytest.approx(412.44002730550164, rel=1e-12)
    via_api = predict_optimum([n12, n03], method="step")   # order of the inputs does not matter
    assert via_api.optimum.tokens == pytest.approx(n5.tokens, rel=1e-15) and via_api.path_parameter == 2.0


def test_continuous_form_paper_numbers(paper):
    n03, n06, n12 = paper
    geo = predict_optimum([n03, n12], 0.5961154447891214e9)
    assert geo.path_parameter == pytest.approx(0.5, abs=1e-8) and geo.method == "continuous"
    expected_geo = [0.13665292, 0.01714286, 0.10553923, 0.11268386, 0.14190195, 0.05573326, 0.02646138]
    assert [geo.optimum[d] / 1e9 for d in DOMAINS] == pytest.approx(expected_geo, abs=2e-8)
    assert predict_optimum([n03, n12], 3e9).path_parameter == pytest.approx(1.6444983, abs=1e-7)
    assert predict_optimum([n03, n12], 10e9).path_parameter == pytest.approx(2.4787162, abs=1e-7)
    w10 = weights(predict_optimum([n03, n12], 10e9).optimum)
    assert w10 == pytest.approx([0.2324, 0.0266, 0.2044, 0.1278, 0.3296, 0.0717, 0.0074], abs=1e-4)
    # the held-out check: 0.3B and 1.2B predict the released 0.6B optimum
    at06 = predict_optimum([n03, n12], n06.total)
    assert np.max(np.abs(weights(at06.optimum) - weights(n06))) < 0.02
    # step rule = the continuous form at t = 2
    n5 = step_rule(n03, n12)
    assert predict_optimum([n03, n12], n5.total).path_parameter == pytest.approx(2.0, abs=1e-9)


def test_least_squares_over_three_scales(paper):
    n03, n06, n12 = paper
    pred = predict_optimum([n12, n03, n06], 3e9)
    assert pred.method == "least-squares"
    path = pred.path
    assert path.scale_parameters[0] == 0 and path.scale_parameters[-1] == 1
    assert path.scale_parameters[1] == pytest.approx(0.5085, abs=1e-4)            # paper.md §3.4 form B
    assert max(path.max_abs_residual.values()) == pytest.approx(0.125, abs=1e-3)
    assert path.r_squared["arxiv"] < 0.9 < path.r_squared["common_crawl"]
    assert weights(pred.optimum) == pytest.approx([0.2370, 0.0279, 0.1930, 0.1513, 0.2889, 0.0870, 0.0150],
                                                 abs=1e-4)
    assert any("arxiv" in w for w in pred.warnings)
    # with two scales the least-squares form is the continuous form
    two = predict_optimum([n03, n12], 3e9, method="least-squares")
    one = predict_optimum([n03, n12], 3e9, method="continuous")
    assert two.optimum.tokens == one.optimum.tokens and two.path_parameter == one.path_parameter
    assert all(r == 0 for r in fit_path([n03, n12]).max_abs_residual.values())


def test_points_on_an_exact_path_are_fitted_exactly():
    u, v = np.array([1.0, 2.0, 0.5]), np.array([1.5, 0.4, 2.2])
    optima = [Mixture(dict(zip("abc", np.exp(u + v * t)))) for t in (0.0, 0.3, 0.55, 1.0)]
    path = fit_path(optima)
    assert path.scale_parameters == pytest.approx([0, 0.3, 0.55, 1], abs=1e-9)
    assert max(path.max_abs_residual.values()) < 1e-9


@pytest.mark.parametrize("seed, n_domains", [(0, 3), (1, 5), (2, 7), (3, 4)])
def test_pure_power_law_oracles_are_predicted_exactly(seed, n_domains):
    oracle = random_oracle("power", n_domains, seed)
    small, large = 1e8, 4e8
    target = 16 * large
    truth = oracle.optimum(target)
    pred = predict_optimum([oracle.optimum(small), oracle.optimum(large)], target)
    assert np.max(np.abs(np.array(list(pred.weights.values())) - np.array(list(truth.weights.values())))) < 1e-3
    assert pred.optimum.total == pytest.approx(target, rel=1e-12)
    three = predict_optimum([oracle.optimum(s) for s in (1e8, 2e8, 4e8)], target)
    assert np.max(np.abs(np.array(list(three.weights.values())) - np.array(list(truth.weights.values())))) < 1e-3
    assert max(three.path.max_abs_residual.values()) < 1e-6
    assert any("extrapolating" in w for w in pred.warnings)


def test_pinned_domains():
    # "a" held at weight 0.05 at both scales, as DDO does for a domain at its lower bound
    optima = [Mixture({"a": 5.0, "b": 50.0, "c": 45.0}), Mixture({"a": 20.0, "b": 150.0, "c": 230.0})]
    assert pinned_domains(optima) == ["a"]
    pred = predict_optimum(optima, 2000.0)
    assert pred.pinned == pytest.approx({"a": 0.05}) and pred.weights["a"] == pytest.approx(0.05, rel=1e-12)
    assert pred.optimum.total == pytest.approx(2000.0)
    # the free domains follow their own path over the remaining 95%
    t = pred.path_parameter
    assert pred.optimum["b"] == pytest.approx(50.0 * 3.0 ** t, rel=1e-9)
    assert pred.optimum["c"] == pytest.approx(45.0 * (230 / 45) ** t, rel=1e-9)
    unpinned = predict_optimum(optima, 2000.0, pinned=None)
    assert unpinned.pinned == {} and unpinned.weights["a"] != pytest.approx(0.05, rel=1e-3)
    explicit = predict_optimum(optima, 2000.0, pinned=["b"])
    assert explicit.weights["b"] == pytest.approx(150.0 / 400.0)


@pytest.mark.parametrize("optima, total, kwargs, fragment", [
    ([Mixture({"a": 1.0, "b": 2.0})], 10.0, {}, "2 or more scales"),
    ([Mixture({"a": 1.0, "b": 2.0}), Mixture({"a": 2.0, "c": 4.0})], 10.0, {}, "different domains"),
    ([Mixture({"a": 1.0, "b": 2.0}), Mixture({"a": 2.0, "b": 0.0})], 10.0, {}, "positive quantities"),
    ([Mixture({"a": 1.0, "b": 2.0}), Mixture({"a": 2.0, "b": 1.0})], 10.0, {}, "same total"),
    ([Mixture({"a": 1.0, "b": 2.0}), Mixture({"a": 2.0, "b": 4.0})], 0.0, {}, "positive number"),
    ([Mixture({"a": 1.0, "b": 2.0}), Mixture({"a": 2.0, "b": 4.0})], -5.0, {}, "positive number"),
    ([Mixture({"a": 1.0, "b": 2.0}), Mixture({"a": 2.0, "b": 4.0})], float("nan"), {}, "positive number"),
    ([Mixture({"a": 1.0, "b": 2.0}), Mixture({"a": 2.0, "b": 4.0})], 10.0, {"method": "step"}, "own total"),
    ([Mixture({"a": 1.0, "b": 2.0}), Mixture({"a": 2.0, "b": 4.0})], 10.0, {"method": "magic"}, "unknown method"),
    ([Mixture({"a": 1.0, "b": 2.0}), Mixture({"a": 2.0, "b": 4.0})], 10.0, {"pinned": ["z"]}, "not in the optima"),
    ([Mixture({"a": 4.0, "b": 1.0}), Mixture({"a": 1.0, "b": 8.0})], 1.0, {}, "below the smallest total"),
])
def test_bad_inputs(optima, total, kwargs, fragment):
    with pytest.raises(UserError, match=fragment):
        predict_optimum(optima, total, **kwargs)


def test_shrinking_domain_and_reachable_targets():
    # "a" shrinks while "b" grows: the sum is convex in t with a minimum; targets above it work
    optima = [Mixture({"a": 4.0, "b": 1.0}), Mixture({"a": 1.0, "b": 8.0})]
    pred = predict_optimum(optima, 100.0)
    assert pred.optimum.total == pytest.approx(100.0) and pred.path_parameter > 1
    assert pred.optimum["a"] == pytest.approx(4.0 * 0.25 ** pred.path_parameter, rel=1e-9)


def test_predict_reads_one_ddo_fit_per_budget(tmp_path, run_cli):
    """`predict ddo-a.json ddo-b.json`: the DDO fits of each budget are the optima table, the same
    answer as the table written by hand."""
    import json

    import pandas as pd

    fits = []
    for total, tokens in ((1e6, {"a": 5e5, "b": 3e5, "c": 2e5}), (4e6, {"a": 1.6e6, "b": 1.6e6, "c": 8e5})):
        path = tmp_path / f"ddo-{total:g}.json"
        path.write_text(json.dumps({"total": total, "tokens": tokens, "weights": {}}))
        fits.append(path)
    by_fits = run_cli("predict", *fits, "--total", "16M", "--json")
    table = tmp_path / "optima.csv"
    pd.DataFrame([{"scale": "1M", "tokens:a": 5e5, "tokens:b": 3e5, "tokens:c": 2e5},
                  {"scale": "4M", "tokens:a": 1.6e6, "tokens:b": 1.6e6, "tokens:c": 8e5}]).to_csv(table, index=False)
    by_table = run_cli("predict", table, "--total", "16M", "--json")
    assert by_fits.code == by_table.code == 0, by_fits.err
    assert json.loads(by_fits.out)["weights"] == pytest.approx(json.loads(by_table.out)["weights"])
    (tmp_path / "bad.json").write_text("{}")
    r = run_cli("predict", fits[0], tmp_path / "bad.json", "--total", "16M")
    assert r.code == 2 and "not the JSON of `autoscale-kit ddo --json`" in r.err
    r = run_cli("predict", fits[0], fits[0], "--total", "16M")
    assert r.code == 2 and "same budget" in r.err
    assert run_cli("predict", table, fits[0], "--total", "16M").code == 2
