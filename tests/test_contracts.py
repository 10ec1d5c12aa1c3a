"""One contract per seam, checked over every entry of its registry (as scikit-learn's estimator checks
run over every estimator): a new method, model family, surrogate form or export format is checked
here without a test of its own."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.fit.ddo import fit_ddo
from autoscale_kit.fit.forms import SURROGATE_FORMS, get_form
from autoscale_kit.fit.plan import check_ratios, perturbation_plan, plan_table, uniform_base
from autoscale_kit.fit.surrogates import SURFACE_FORMS, SURROGATES, make_surrogate
from autoscale_kit.methods.arena import SyntheticLab
from autoscale_kit.methods.base import Choice, Cost
from autoscale_kit.methods.baselines import RegMixConfig
from autoscale_kit.methods.oracle import random_oracle
from autoscale_kit.methods.registry import METHODS, CompareConfig, choose_all
from autoscale_kit.present import export as ex
from autoscale_kit.proxy.config import for_family, preset
from autoscale_kit.proxy.families import FAMILIES, family_class, get_family, loss_unit
from autoscale_kit.proxy.train import train_proxy
from autoscale_kit.runs.store import RunStore
from autoscale_kit.study.config import study_config
from autoscale_kit.study.lab import CorpusLab

ORACLE_METHODS = sorted(n for n, m in METHODS.items() if "oracle" in m.labs)
CORPUS_ONLY = sorted(n for n, m in METHODS.items() if "oracle" not in m.labs)
FAST_REGMIX = RegMixConfig(runs=8, search_samples=2_000, top_k=8)


def check_choice(choice: Choice, domains) -> None:
    """A method's answer: weights on the lab's domains, finite, non-negative, not all zero; a cost that adds up."""
    assert isinstance(choice, Choice)
    assert set(choice.weights) <= set(domains) and choice.weights
    w = np.array(list(choice.weights.values()), dtype=float)
    assert np.isfinite(w).all() and (w >= 0).all() and w.sum() > 0
    cost = choice.spent
    assert isinstance(cost, Cost)
    assert cost.proxy_runs >= 0 and cost.proxy_tokens >= 0 and cost.proxy_flops >= 0
    if choice.cost is None:                       # its cost is the runs it used
        assert cost.proxy_runs == len(choice.runs)


@pytest.mark.parametrize("name", ORACLE_METHODS)
def test_every_method_runs_on_a_synthetic_lab(name):
    oracle = random_oracle("separable", 3, seed=5)
    lab = SyntheticLab(oracle, (3e8, 1.2e9), 1.92e10, options=CompareConfig(methods=(), regmix=FAST_REGMIX,
                                                                            verify_runs=2))
    choice = choose_all(lab, [name])[name]
    check_choice(choice, lab.domains)
    if METHODS[name].probes(lab):                 # a method that asks for runs is charged for them
        assert choice.spent.proxy_runs > 0


@pytest.fixture(scope="module")
def smoke_lab(tmp_path_factory):
    config = study_config("smoke", budgets=(20_000, 40_000), target=60_000, seeds=(0,), ddo_seeds=(0,))
    options = CompareConfig(methods=(), landscape_step=0.5, landscape_bootstrap=4, doremi_total=20_000)
    return CorpusLab(config, RunStore(tmp_path_factory.mktemp("contract_runs")), options, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", CORPUS_ONLY)
def test_every_corpus_only_method_runs_on_a_corpus_lab(name, smoke_lab):
    choice = choose_all(smoke_lab, [name])[name]
    check_choice(choice, smoke_lab.domains)


def test_every_method_is_checked_somewhere():
    assert set(ORACLE_METHODS) | set(CORPUS_ONLY) == set(METHODS)


# --- model families ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_trains_evaluates_and_counts_tokens_exactly(name, known_corpus):
    cls = family_class(name)
    assert isinstance(cls.display, str) and cls.display
    assert cls.lr_factor > 0
    assert check_ratios(cls.ddo_ratios)
    assert loss_unit("bytes", name).startswith("nats/") and loss_unit("gpt2", name).endswith("token")
    config = for_family(preset("tiny", n_layer=1, n_embd=32, n_head=2, seq_len=64, batch_size=4, eval_points=0,
                               val_tokens=1024), name)
    assert config.family == name
    mixture = Mixture({"pattern": 300, "noise": 200})
    result = train_proxy(known_corpus, mixture, config, progress=False)
    assert result.tokens == {"pattern": 300, "noise": 200}          # exactly the tokens asked for
    assert set(result.val_loss) == {"pattern", "noise"}
    assert all(math.isfinite(v) and v > 0 for v in result.val_loss.values())
    assert get_family(name, 256, 255).name == name


# --- surrogate forms -----------------------------------------------------------------------------

def _synthetic_table(kind: str, ratios=(0.2, 0.5, 2.0, 3.0)):
    oracle = random_oracle(kind, 4, seed=2)
    plan = perturbation_plan(uniform_base(oracle.domains, 4e8), ratios)
    frame = plan_table(plan)
    for v in oracle.domains:
        frame[f"loss:{v}"] = [oracle.losses(p.mixture)[v] for p in plan]
    return frame


@pytest.mark.parametrize("name", sorted(SURROGATE_FORMS))
def test_every_surrogate_form_fits_and_solves_a_synthetic_table(name):
    form = get_form(name)
    assert form.draw_divisor >= 1 and isinstance(form.uses_extra_runs, bool)
    result = fit_ddo(_synthetic_table("transfer"), "mean-loss", surrogate=name, min_ratio=0.2)
    assert result.surrogate == name                  # identified on a table this rich: no fall-back
    assert result.optimum.total == pytest.approx(result.base_tokens.total)
    assert sum(result.weights.values()) == pytest.approx(1.0)
    at_opt, at_base = result.objective_at(result.optimum), result.objective_at(result.base_tokens)
    assert at_base == pytest.approx(result.base_objective)           # anchored at the measured base
    assert at_opt <= at_base + 1e-9                                  # the base is feasible: the optimum is no worse
    assert at_opt == pytest.approx(result.predicted_objective, rel=1e-6)
    assert isinstance(form.parameters(result), dict)
    assert result.to_dict()["surrogate"] == name


# --- export formats ------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt_name", ex.FORMATS)
def test_every_export_format_writes_every_domain(fmt_name):
    weights = {"code": 0.25, "books": 0.75}
    text = ex.write(ex.Export(weights, "a test", 1_000_000, {}, {"code": 100.0, "books": 400.0}, None), fmt_name)
    assert text.strip()
    for d in weights:
        assert d in text


# --- wrong types at the public entry points ------------------------------------------------------

def _entry_points():
    from autoscale_kit.core.tables import read_optima_table, read_runs_table
    from autoscale_kit.data import corpus
    from autoscale_kit.fit.predict import predict_optimum
    from autoscale_kit.runs.store import RunSpec, run_many

    return {
        "fit_ddo": lambda bad: fit_ddo(bad),
        "fit_ddo objective": lambda bad: fit_ddo(_synthetic_table("separable", (0.2, 3.0)), objective=bad),
        "fit_ddo surrogate": lambda bad: fit_ddo(_synthetic_table("separable", (0.2, 3.0)), surrogate=bad),
        "predict_optimum": lambda bad: predict_optimum(bad, 1e9),
        "train_proxy corpus": lambda bad: train_proxy(bad, Mixture({"a": 10})),
        "corpus.load": lambda bad: corpus.load(bad),
        "read_runs_table": lambda bad: read_runs_table(bad),
        "read_optima_table": lambda bad: read_optima_table(bad),
        "RunStore": lambda bad: RunStore(bad),
        "RunSpec": lambda bad: RunSpec(bad),
        "run_many": lambda bad: run_many([bad]),
        "study_config": lambda bad: study_config(bad),
        "study_config family": lambda bad: study_config("smoke", family=bad),
        "Mixture": lambda bad: Mixture(bad),
        "get_family": lambda bad: get_family(bad),
        "get_form": lambda bad: get_form(bad),
    }


NONE_MEANS_DEFAULT = {"corpus.load"}      # None: the bundled corpus


@pytest.mark.parametrize("bad", [None, 3, object()], ids=["None", "int", "object"])
@pytest.mark.parametrize("entry", sorted(_entry_points()))
def test_public_entry_points_refuse_wrong_types_with_a_user_error(entry, bad):
    if bad is None and entry in NONE_MEANS_DEFAULT:
        pytest.skip(f"None is {entry}'s documented default")
    with pytest.raises(UserError):
        _entry_points()[entry](bad)


# --- regressors and landscape surfaces -----------------------------------------------------------

def _mixtures_and_losses(n: int, seed: int):
    """Random mixtures of 3 domains (Dirichlet) and a smooth loss of them (a separable oracle)."""
    oracle = random_oracle("separable", 3, seed=4)
    W = np.random.default_rng(seed).dirichlet(np.ones(3), size=n)
    y = np.array([oracle.objective(Mixture.from_weights(dict(zip(oracle.domains, w + 1e-3)), 1e9)) for w in W])
    return W, y


@pytest.mark.parametrize("name", sorted(set(SURROGATES) | set(SURFACE_FORMS)))
def test_every_regressor_fits_predicts_and_ranks_held_out_mixtures(name):
    W, y = _mixtures_and_losses(60, seed=0)
    Wt, yt = _mixtures_and_losses(30, seed=1)
    model = make_surrogate(name).fit(W, y)
    pred = np.asarray(model.predict(Wt), dtype=float)
    assert pred.shape == (30,) and np.isfinite(pred).all()
    assert spearmanr(pred, yt).statistic > 0.5          # a smooth loss of 3 domains is ranked, not guessed
