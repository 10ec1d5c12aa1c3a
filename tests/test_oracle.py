"""Synthetic oracles: losses, measurements and exactly known optima."""

import numpy as np
import pytest
from scipy.optimize import minimize

from autoscale_kit.fit.plan import perturbation_plan, uniform_base
from autoscale_kit.fit.forms.separable import solve_separable
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.methods.oracle import (TOKEN_UNIT, PowerLawOracle, SeparableOracle, TransferOracle,
                                  random_oracle)

KINDS = ["separable", "power", "transfer"]


def gradient(oracle, mixture, h=1e-6):
    """Numerical ∂objective/∂N_i (central differences, relative step)."""
    out = []
    for d in oracle.domains:
        step = h * mixture[d]
        up, down = mixture.with_tokens(d, mixture[d] + step), mixture.with_tokens(d, mixture[d] - step)
        out.append((oracle.objective(up) - oracle.objective(down)) / (2 * step))
    return np.array(out)


@pytest.mark.parametrize("kind", KINDS)
def test_random_oracles_have_realistic_magnitudes(kind):
    oracle = random_oracle(kind, 6, seed=3)
    assert type(oracle).__name__ == {"separable": "SeparableOracle", "power": "PowerLawOracle",
                                     "transfer": "TransferOracle"}[kind]
    previous = None
    for total in (1e5, 1e7, 1e9, 1e10):
        losses = oracle.losses(uniform_base(oracle.domains, total))
        assert all(0.8 < v < 6.0 for v in losses.values())
        objective = oracle.objective(uniform_base(oracle.domains, total))
        assert objective == pytest.approx(np.mean(list(losses.values())))
        if previous is not None:
            assert objective < previous          # more data, lower loss
        previous = objective
    assert random_oracle(kind, 6, seed=3) == oracle and random_oracle(kind, 6, seed=4) != oracle


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("total", [1e6, 1e9])
def test_optima_meet_the_kkt_conditions(kind, total):
    oracle = random_oracle(kind, 5, seed=1)
    opt = oracle.optimum(total)
    assert opt.total == pytest.approx(total, rel=1e-12)
    g = gradient(oracle, opt)
    free = np.array([opt[d] > 1e-9 * total for d in oracle.domains])
    assert np.ptp(g[free]) <= 1e-5 * np.max(np.abs(g))            # free domains share the multiplier
    assert (g[~free] >= g[free].max() - 1e-5 * np.max(np.abs(g))).all()


@pytest.mark.parametrize("kind", KINDS)
def test_optima_beat_a_general_solver_and_respect_lower_bounds(kind):
    oracle = random_oracle(kind, 4, seed=2)
    total = 2e8
    lower = uniform_base(oracle.domains, total).scaled(0.2)
    opt = oracle.optimum(total, lower=lower)
    assert all(opt[d] >= lower[d] * (1 - 1e-12) for d in oracle.domains)
    n = len(oracle.domains)

    def f(w):
        return oracle.objective(Mixture(zip(oracle.domains, np.maximum(w, 1e-12) * total)))
    ref = minimize(f, np.full(n, 1 / n), method="SLSQP", bounds=[(0.2 / n, 1)] * n,
                   constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}], options={"ftol": 1e-15})
    assert oracle.objective(opt) <= f(ref.x) + 1e-12
    rng = np.random.default_rng(0)
    for _ in range(20):  # and any random feasible mixture
        w = 0.2 / n + rng.dirichlet(np.ones(n)) * 0.8
        assert oracle.objective(opt) <= f(w) + 1e-12


def test_power_oracle_closed_form_agrees_with_the_kkt_solver():
    oracle = random_oracle("power", 6, seed=9)
    for total in (1e5, 1e8, 1e10):
        closed = oracle.optimum(total)
        m = len(oracle.domains)
        sol = solve_separable(np.array(oracle.scale) / m, 0.0, oracle.exponent, total / TOKEN_UNIT,
                              lower=1e-300)
        assert [closed[d] for d in oracle.domains] == pytest.approx(sol.x * TOKEN_UNIT, rel=1e-10)


def test_separable_with_zero_offset_is_the_power_oracle():
    p = PowerLawOracle(("a", "b"), (1.0, 1.5), (0.5, 0.7), (0.2, 0.4))
    s = SeparableOracle(("a", "b"), (1.0, 1.5), (0.5, 0.7), (0.2, 0.4), (1e-300, 1e-300))
    mix = Mixture({"a": 3e6, "b": 1e6})
    assert p.losses(mix) == pytest.approx(s.losses(mix))
    assert p.optimum(1e8).tokens == pytest.approx(s.optimum(1e8, lower=1e-9).tokens, rel=1e-9)


def test_transfer_oracle_with_no_transfer_is_separable():
    t = TransferOracle(("a", "b", "c"), (1.0, 1.2, 0.9), (0.5, 0.6, 0.4), (0.2, 0.4, 0.3),
                       ((1, 0, 0), (0, 1, 0), (0, 0, 1)))
    p = PowerLawOracle(("a", "b", "c"), (1.0, 1.2, 0.9), (0.5, 0.6, 0.4), (0.2, 0.4, 0.3))
    assert t.optimum(1e9).tokens == pytest.approx(p.optimum(1e9).tokens, rel=1e-8)


def test_measure_builds_a_runs_table_with_seeded_noise():
    oracle = random_oracle("separable", 3, seed=0)
    plan = perturbation_plan(uniform_base(oracle.domains, 1e8))
    clean = oracle.measure(plan)
    assert list(clean.columns) == (["run"] + [f"tokens:{d}" for d in oracle.domains]
                                   + [f"loss:{d}" for d in oracle.domains])
    assert list(clean["run"]) == [p.name for p in plan]
    assert clean.loc[0, "loss:d0"] == pytest.approx(oracle.losses(plan[0].mixture)["d0"])
    noisy = oracle.measure(plan, noise=0.01, seed=1)
    assert not np.allclose(noisy["loss:d0"], clean["loss:d0"])
    assert noisy.equals(oracle.measure(plan, noise=0.01, seed=1))
    pairs = oracle.measure([("x", plan[0].mixture), plan[1].mixture])
    assert list(pairs["run"]) == ["x", "run1"]


def test_oracle_errors():
    oracle = random_oracle("transfer", 3, seed=0)
    with pytest.raises(UserError, match="unknown oracle kind"):
        random_oracle("cubic", 3)
    with pytest.raises(UserError, match="not the oracle's"):
        oracle.losses(Mixture({"x": 1.0}))
    with pytest.raises(UserError, match="infeasible"):
        oracle.optimum(1e6, lower=1e6)
    with pytest.raises(UserError, match="positive number"):
        oracle.optimum(-1.0)
