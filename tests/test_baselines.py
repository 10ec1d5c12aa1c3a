"""Peer methods on small problems whose answer is known: presets, RegMix, Data Mixing Laws, surrogates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.stats import spearmanr

from autoscale_kit.methods.baselines import (BUNDLED_ANALOGUES, MIXTURE_PRESETS, RegMixConfig, mixing_law_optimum, natural_weights,
                                     preset_weights, regmix_optimum, regmix_sample, uniform_weights)
from autoscale_kit.core.errors import UserError
from autoscale_kit.fit.surrogates import SURROGATES, make_surrogate
from autoscale_kit.core.tables import loss_column, read_mixture_losses

BUNDLED = ("arxiv", "books", "code", "docs", "qa", "speeches", "wikipedia")


# --- fixed mixtures ---------------------------------------------------------------------------

def test_uniform_and_natural():
    assert uniform_weights(["a", "b", "c", "d"]) == {d: 0.25 for d in "abcd"}
    assert natural_weights({"a": 300, "b": 100}) == {"a": 0.75, "b": 0.25}
    with pytest.raises(UserError, match="non-negative"):
        natural_weights({"a": -1, "b": 2})
    with pytest.raises(UserError, match="no domains"):
        uniform_weights([])


def test_presets_rename_onto_the_bundled_corpus():
    w = preset_weights("llama", BUNDLED)
    assert set(w) == set(BUNDLED) and sum(w.values()) == pytest.approx(1.0)
    assert w["speeches"] == pytest.approx(0.67) and w["docs"] == pytest.approx(0.15) and w["qa"] == pytest.approx(0.02)
    rp = preset_weights("redpajama-tokens")
    assert rp["common_crawl"] == pytest.approx(MIXTURE_PRESETS["redpajama-tokens"]["common_crawl"] / sum(MIXTURE_PRESETS["redpajama-tokens"].values()))
    merged = preset_weights("llama", ["web", "rest"], mapping={k: ("web" if k in ("common_crawl", "c4") else "rest")
                                                              for k in BUNDLED_ANALOGUES})
    assert merged == pytest.approx({"web": 0.82, "rest": 0.18})
    sub = preset_weights("llama", ["code", "books", "wikipedia"])  # a study on part of the corpus
    assert sub == pytest.approx({"code": 1 / 3, "books": 1 / 3, "wikipedia": 1 / 3})
    with pytest.raises(UserError, match="pass mapping"):
        preset_weights("llama", ["x", "y"])
    with pytest.raises(UserError, match="unknown preset"):
        preset_weights("nope")
    with pytest.raises(UserError, match="does not say where"):
        preset_weights("llama", mapping={"c4": "web"})


# --- RegMix -----------------------------------------------------------------------------------

PRIOR = {"big": 0.6, "mid": 0.3, "small": 0.09, "tiny": 0.01}


def test_regmix_sampling_follows_the_published_recipe():
    cfg = RegMixConfig(runs=200, seed=3)
    mixes = regmix_sample(PRIOR, cfg)
    W = np.array([[m[d] for d in PRIOR] for m in mixes])
    assert len(mixes) == 200 and len(np.unique(W.round(10), axis=0)) == 200
    assert np.allclose(W.sum(axis=1), 1.0)
    assert (W[:, 3] <= 15 * 0.01 + 1e-9).all()  # the usage cap: min(15 × prior, 1)
    nonzero = W[W > 0]
    assert (nonzero >= cfg.minimum * (1 - 1e-9)).all()
    assert np.allclose(W / cfg.minimum, np.round(W / cfg.minimum), atol=1e-3)  # multiples of the minimum
    # tempered prior: the mean weight of the largest domain sits below its prior share, the smallest above
    mean = W.mean(axis=0)
    assert mean[0] < 0.6 and mean[3] > 0.0 and (W == 0).any()  # strength 0.1 draws are sparse
    assert regmix_sample(PRIOR, cfg) == mixes  # seeded
    assert regmix_sample(PRIOR, RegMixConfig(runs=200, seed=4)) != mixes


def test_regmix_finds_a_known_interior_optimum():
    best = np.array([0.5, 0.3, 0.2])
    prior = {"a": 1.0, "b": 1.0, "c": 1.0}
    mixes = regmix_sample(prior, RegMixConfig(runs=400, seed=0))
    W = np.array([[m[d] for d in prior] for m in mixes])
    loss = 2.0 + ((W - best) ** 2).sum(axis=1)
    res = regmix_optimum(mixes, loss, prior, RegMixConfig(search_samples=20_000, top_k=64))
    got = np.array([res.weights[d] for d in prior])
    assert np.abs(got - best).max() < 0.06
    assert res.top_predicted[0] <= res.top_predicted[1]
    lin = regmix_optimum(mixes, loss, prior, RegMixConfig(regressor="linear", search_samples=20_000, top_k=64))
    assert np.abs(np.array([lin.weights[d] for d in prior]) - best).max() > 0.1  # a plane has no interior minimum


def test_regmix_bad_input():
    with pytest.raises(UserError, match="not in the prior"):
        regmix_optimum([{"zz": 1.0}], [1.0], {"a": 1.0})
    with pytest.raises(UserError, match="finite"):
        regmix_optimum([{"a": 1.0, "b": 0.0}, {"a": 0.0, "b": 1.0}], [1.0, float("nan")], {"a": 1, "b": 1},
                       RegMixConfig(regressor="linear"))
    with pytest.raises(UserError, match="at least one"):
        regmix_sample({"a": 1.0}, RegMixConfig(runs=0))
    with pytest.raises(UserError, match="unknown surrogate"):
        regmix_optimum([{"a": 1.0}], [1.0], {"a": 1.0}, RegMixConfig(regressor="forest"))


# --- Data Mixing Laws -------------------------------------------------------------------------

def _true_law_problem(seed=0, n=40):
    rng = np.random.default_rng(seed)
    names = ["a", "b", "c"]
    X = rng.dirichlet(np.ones(3), size=n)
    laws = {v: (rng.uniform(1, 2), rng.uniform(0.5, 1.5), rng.uniform(-3, 1, 3)) for v in names}
    losses = {v: c + k * np.exp(X @ t) for v, (c, k, t) in laws.items()}
    return names, X, laws, losses


def test_mixing_law_recovers_its_own_laws_and_their_optimum():
    names, X, laws, losses = _true_law_problem()
    mixes = [dict(zip(names, row)) for row in X]
    res = mixing_law_optimum(mixes, losses, names)

    def truth(r):
        return np.mean([c + k * np.exp(r @ t) for c, k, t in laws.values()])

    ref = minimize(truth, np.full(3, 1 / 3), method="SLSQP", bounds=[(0, 1)] * 3,
                   constraints=[{"type": "eq", "fun": lambda r: r.sum() - 1}], options={"ftol": 1e-14})
    got = np.array([res.weights[d] for d in names])
    assert np.abs(got - ref.x).max() < 1e-3
    assert res.predicted == pytest.approx(truth(ref.x), abs=1e-6)
    for v, (c, k, t) in laws.items():
        # t is defined up to a constant on the simplex (Σ r = 1); log k + t_j is not
        fit = res.laws[v]
        assert fit["c"] == pytest.approx(c, rel=1e-4)
        assert np.allclose(np.log(fit["k"]) + np.array(fit["t"]), np.log(k) + t, atol=1e-4)
    capped = mixing_law_optimum(mixes, losses, names, caps={names[int(np.argmax(ref.x))]: 0.1})
    assert max(capped.weights.values()) <= 1 - 0.1 + 1e-9 and capped.weights[names[int(np.argmax(ref.x))]] <= 0.1 + 1e-9
    with pytest.raises(UserError, match="leave no mixture"):
        mixing_law_optimum(mixes, losses, names, caps={d: 0.2 for d in names})
    with pytest.raises(UserError, match="validation weights"):
        mixing_law_optimum(mixes, losses, names, valid_weights={"a": 1.0})


# --- surrogates -------------------------------------------------------------------------------

def test_each_surrogate_fits_its_own_family():
    rng = np.random.default_rng(1)
    X = rng.dirichlet(np.ones(4), size=300)
    Xt = rng.dirichlet(np.ones(4), size=100)
    linear = lambda Z: 3.0 + Z @ np.array([0.5, -0.2, 0.1, 0.3])  # noqa: E731
    beta, a, b = np.array([0.3, 0.2, 0.5, 0.1]), np.array([0.05, 0.2, 0.02, 0.1]), np.array([0.4, 0.8, 0.3, 1.2])
    ddo = lambda Z: 1.5 + ((Z + a) ** (-b)) @ beta  # noqa: E731
    mixing = lambda Z: 2.0 + 0.7 * np.exp(Z @ np.array([-1.0, 0.5, -2.0, 0.3]))  # noqa: E731
    assert np.allclose(make_surrogate("linear").fit(X, linear(X)).predict(Xt), linear(Xt))
    assert np.allclose(make_surrogate("ddo-law").fit(X, ddo(X)).predict(Xt), ddo(Xt), atol=1e-4)
    assert np.allclose(make_surrogate("mixing-law").fit(X, mixing(X)).predict(Xt), mixing(Xt), atol=1e-6)
    gbm = make_surrogate("regmix-lightgbm").fit(X, ddo(X))
    assert spearmanr(gbm.predict(Xt), ddo(Xt)).statistic > 0.9


@pytest.mark.parametrize("name", SURROGATES)
def test_surrogate_errors(name):
    s = make_surrogate(name)
    with pytest.raises(UserError, match="not fitted"):
        s.predict(np.ones((2, 2)) / 2)
    with pytest.raises(UserError, match="2 losses"):
        s.fit(np.ones((3, 2)) / 2, [1.0, 2.0])
    with pytest.raises(UserError, match="finite"):
        s.fit(np.ones((3, 2)) / 2, [1.0, np.inf, 2.0])
    X = np.random.default_rng(0).dirichlet(np.ones(2), size=30)
    s.fit(X, 1 + X[:, 0])
    with pytest.raises(UserError, match="fitted on 2 domains"):
        s.predict(np.ones((1, 3)) / 3)


# --- RegMix's file format ---------------------------------------------------------------------

def test_mixture_loss_files_match_by_id(tmp_path):
    mix = pd.DataFrame({"index": [1, 2, 3], "train_a": [0.5, 0.2, 0.0], "train_b": [0.5, 0.6, 1.0]})
    loss = pd.DataFrame({"index": [3, 1, 2], "metric/a_val_loss": [3.0, 1.0, 2.0], "metric/b_val_loss": [6, 4, 5]})
    mix.to_csv(tmp_path / "m.csv", index=False)
    loss.to_csv(tmp_path / "l.csv", index=False)
    t = read_mixture_losses(tmp_path / "m.csv", tmp_path / "l.csv")
    assert t.domains == ("train_a", "train_b") and t.runs == ("1", "2", "3")
    assert np.allclose(t.weights[1], [0.25, 0.75])  # renormalised
    assert list(loss_column(t, "a_val")) == [1.0, 2.0, 3.0]  # reordered by id
    with pytest.raises(UserError, match="not found"):
        loss_column(t, "pile_cc")
    with pytest.raises(UserError, match="ambiguous"):
        loss_column(t, "val_loss")
    loss.iloc[:2].to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(UserError, match="no losses for run"):
        read_mixture_losses(tmp_path / "m.csv", tmp_path / "short.csv")
    bad = mix.astype(object)
    bad.loc[1, "train_a"] = "x"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(UserError, match="'train_a', row 2"):
        read_mixture_losses(tmp_path / "bad.csv", tmp_path / "l.csv")
    # no id column: rows by position
    t2 = read_mixture_losses(mix.drop(columns="index"), loss.drop(columns="index"))
    assert list(loss_column(t2, "metric/a_val_loss")) == [3.0, 1.0, 2.0]
