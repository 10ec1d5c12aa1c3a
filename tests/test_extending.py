"""A seam is one place: a model family and a DDO surrogate form, each defined inside this file, run
through a whole study at smoke scale without anything outside this file naming them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from autoscale_kit.fit.forms import SURROGATE_FORMS, register_form
from autoscale_kit.fit.forms.base import FormSolution
from autoscale_kit.present.report import write_report
from autoscale_kit.proxy.families import FAMILIES, register_family
from autoscale_kit.proxy.families.gpt2 import GPT2Family
from autoscale_kit.runs.store import RunStore
from autoscale_kit.study.config import SCALES, study_config
from autoscale_kit.study.pipeline import run_study


class ToyFamily(GPT2Family):
    """GPT-2 under another name, with traits of its own."""

    name = "toy"
    display = "Toy causal LM (a test's family)"
    lr_factor = 0.5
    ddo_ratios = (0.25, 2.5)
    loss_targets = ""


class LogLinearForm:
    """A toy surrogate: the objective moves by Σ_i s_i log x_i, s_i fitted per domain by least squares on
    the one-at-a-time runs, minimised under DDO's bounds by SLSQP."""

    name = "log-linear"
    uses_extra_runs = False
    checks_ambiguity = False
    draw_divisor = 4

    def fit(self, problem):
        table, layout = problem.table, problem.layout
        slopes = []
        for j, d in enumerate(table.domains):
            rows = list(layout.replicates) + list(layout.perturbed[d])
            x = np.log(table.tokens[rows, j] / problem.base_q[j])
            y = problem.values[rows] / problem.base_objective - 1
            slopes.append(float(x @ y / (x @ x)))
        return np.array(slopes)

    def identified(self, state):
        return None if np.isfinite(state).all() else "a slope is not finite"

    def solve(self, state, problem, lower_x, upper_x, options):
        B = problem.base_q
        hi = np.minimum(upper_x, B.sum() / B)
        res = minimize(lambda x: float(state @ np.log(x)), np.ones(len(B)), method="SLSQP",
                       bounds=list(zip(np.maximum(lower_x, 1e-3), hi)),
                       constraints=[{"type": "eq", "fun": lambda x: float(x @ B / B.sum() - 1)}])
        x = res.x * B.sum() / (res.x @ B)
        return FormSolution(x, (), (), 0.0, problem.base_objective * (1 + float(state @ np.log(x))), upper_x)

    def objective_at(self, result, base_q, quantities):
        return float(result.base_objective * (1 + result.state @ np.log(quantities / base_q)))

    def parameters(self, result):
        return {d: float(s) for d, s in zip(result.base_tokens.domains, result.state)}


@pytest.fixture
def toy_family():
    register_family(ToyFamily)
    yield ToyFamily
    FAMILIES.pop(ToyFamily.name)


@pytest.fixture
def toy_form():
    form = register_form(LogLinearForm())
    yield form
    SURROGATE_FORMS.pop(form.name)


@pytest.mark.slow
def test_a_family_and_a_form_defined_here_run_a_whole_study(toy_family, toy_form, tmp_path):
    config = study_config("smoke", family="toy", surrogate="log-linear", budgets=(20_000, 40_000), target=60_000,
                          seeds=(0,), ddo_seeds=(0, 1), interval_draws=8)
    # the family's traits reached the study: its learning rate and its DDO ratios
    assert config.proxy.family == "toy" and config.ratios == (0.25, 2.5)
    assert config.proxy.lr == pytest.approx(SCALES["smoke"].proxy.lr * 0.5, rel=1e-2)
    result = run_study(config, RunStore(tmp_path / "runs"), progress=False)
    for sc in result.rounds:
        assert sc.ddo.surrogate == "log-linear"                   # the form was used, not the fall-back
        assert set(sc.ddo.to_dict()["fits"]) == set(config.domains)
        assert sum(sc.ddo.weights.values()) == pytest.approx(1.0)
        assert sc.uncertainty is not None and sc.uncertainty.weights is not None
        assert 0 < len(sc.uncertainty.weights.samples) <= 8 // LogLinearForm.draw_divisor   # the form's share
    assert result.mixtures["autoscale"].total == config.target
    page = write_report(result, tmp_path / "report")
    assert "Toy causal LM (a test's family)" in page.read_text()
