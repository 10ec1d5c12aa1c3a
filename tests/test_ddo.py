"""DDO: the perturbation plan, the exact separable solver, fits of runs tables, ambiguity."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from autoscale_kit.fit.ddo import fit_ddo
from autoscale_kit.fit.plan import objective_values, perturbation_plan, plan_table, uniform_base
from autoscale_kit.fit.forms.separable import solve_separable
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.methods.oracle import random_oracle
from autoscale_kit.core.tables import read_runs_table

PAPER_RUNS = Path(__file__).resolve().parents[1] / "data" / "paper" / "gpt2_1.2B_runs.csv"
DOMAINS = ["common_crawl", "github", "books", "wikipedia", "c4", "stackexchange", "arxiv"]
PAPER_X = [1.6247535198, 0.2, 1.2741516635, 1.1797957338, 1.8518998046, 0.6371637645, 0.2322355137]


# --- the plan ------------------------------------------------------------------------------

def test_perturbation_plan_paper_and_bert_ratios():
    base = uniform_base(["a", "b", "c"], 3e8)
    plan = perturbation_plan(base)
    assert [p.name for p in plan] == ["base", "a_x0.2", "a_x3", "b_x0.2", "b_x3", "c_x0.2", "c_x3"]
    assert plan[0].mixture == base and plan[0].domain is None
    assert plan[3].mixture.tokens == {"a": 1e8, "b": 2e7, "c": 1e8}
    bert = perturbation_plan(base, (1 / 3, 2))
    assert bert[2].mixture["a"] == pytest.approx(2e8) and bert[1].ratio == pytest.approx(1 / 3)
    table = plan_table(perturbation_plan(base, (0.2, 0.5, 2, 3)))
    assert list(table.columns) == ["run", "tokens:a", "tokens:b", "tokens:c"] and len(table) == 13


@pytest.mark.parametrize("ratios, fragment", [
    ((1.0, 3.0), "ratio 1 repeats the base"), ((0.0, 3.0), "positive"), ((-0.5,), "positive"),
    ((float("nan"),), "positive"), ((2.0, 2.0), "given twice"), ((), "at least one"), (("x",), "not a number"),
])
def test_perturbation_plan_rejects_bad_ratios(ratios, fragment):
    with pytest.raises(UserError, match=fragment):
        perturbation_plan(uniform_base(["a", "b"], 10.0), ratios)


# --- the solver -------------------------------------------------------------------------------

def kkt_violation(k, a, b, x, lam, lo, hi, at_lower, at_upper):
    """Largest relative violation of the KKT conditions of min Σ k (x+a)^-b, Σx = T, lo ≤ x ≤ hi."""
    marginal = k * b * (x + a) ** (-b - 1)          # −∂F/∂x_i
    worst = 0.0
    for i in range(len(x)):
        if i in at_lower:
            worst = max(worst, abs(x[i] - lo[i]) / max(1, abs(lo[i])), (marginal[i] - lam) / lam)
        elif i in at_upper:
            worst = max(worst, abs(x[i] - hi[i]) / max(1, abs(hi[i])), (lam - marginal[i]) / lam)
        else:
            worst = max(worst, abs(marginal[i] - lam) / lam)
    return worst


problems = st.integers(1, 6).flatmap(lambda n: st.tuples(
    st.lists(st.floats(0.01, 10), min_size=n, max_size=n),          # k
    st.lists(st.floats(-0.5, 5), min_size=n, max_size=n),           # a (shifted so that lo + a > 0)
    st.lists(st.floats(0.05, 3), min_size=n, max_size=n),           # b
    st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n),          # lower
    st.lists(st.one_of(st.none(), st.floats(0.5, 5)), min_size=n, max_size=n),  # extra room above lower
    st.floats(0.0, 1.0),                                            # where the total sits in [Σlo, Σhi]
))


def _unpack(problem):
    k, a, b, lo, room, where = (np.array(v, dtype=float) if i < 4 else v for i, v in enumerate(problem))
    a = np.maximum(a, -lo + 0.05)
    hi = np.array([np.inf if r is None else l + r for l, r in zip(lo, room)])
    top = hi.sum() if np.isfinite(hi).all() else lo.sum() + 20.0
    total = lo.sum() + where * (top - lo.sum())
    return k, a, b, lo, hi, total


@settings(max_examples=150, deadline=None)
@given(problems)
def test_solve_separable_is_feasible_and_meets_kkt(problem):
    k, a, b, lo, hi, total = _unpack(problem)
    sol = solve_separable(k, a, b, total, lo, hi)
    assert abs(sol.x.sum() - total) <= 1e-9 * max(1.0, total)
    assert (sol.x >= lo - 1e-12).all() and (sol.x <= hi + 1e-12).all()
    assert set(sol.at_lower).isdisjoint(sol.at_upper)
    if len(sol.at_lower) + len(sol.at_upper) < len(k):   # a free domain pins down λ
        assert kkt_violation(k, a, b, sol.x, sol.multiplier, lo, hi, sol.at_lower, sol.at_upper) < 1e-7


@settings(max_examples=40, deadline=None)
@given(problems)
def test_solve_separable_agrees_with_slsqp(problem):
    k, a, b, lo, hi, total = _unpack(problem)
    sol = solve_separable(k, a, b, total, lo, hi)

    def f(x):
        return float(np.sum(k * (x + a) ** (-b)))
    ref = minimize(f, np.clip(np.full(len(k), total / len(k)), lo, np.minimum(hi, total)), method="SLSQP",
                   jac=lambda x: -k * b * (x + a) ** (-b - 1),
                   bounds=[(l, None if not np.isfinite(h) else h) for l, h in zip(lo, hi)],
                   constraints=[{"type": "eq", "fun": lambda x: x.sum() - total}],
                   options={"ftol": 1e-14, "maxiter": 500})
    if ref.success and abs(ref.x.sum() - total) < 1e-8 and (ref.x >= lo - 1e-9).all():
        assert sol.objective <= f(ref.x) + 1e-9 * max(1.0, abs(f(ref.x)))
        # SLSQP sometimes reports success far from the optimum (e.g. at its start on steep laws);
        # where it did reach our objective, the strictly convex problem has one minimiser.
        if f(ref.x) <= sol.objective + 1e-7 * max(1.0, abs(sol.objective)):
            assert np.max(np.abs(sol.x - ref.x)) < 1e-3 * max(1.0, total)


def test_solve_separable_paper_numbers():
    a = [2.6658731959247985, 6.616175591939301, 2.673602759483928, 2.4631072679557477, 2.518384099486731,
         2.889957893044303, 3.31917392337233]
    b = [1.2492023890295736, 1.4360012483967404, 1.5362602612056064, 1.8287307258995613, 1.1858721474138574,
         1.9536275987550742, 1.926671000555819]
    sol = solve_separable(np.ones(7), a, b, 7.0, 0.2)
    assert sol.x == pytest.approx(PAPER_X, abs=1e-8)
    assert sol.multiplier == pytest.approx(0.04720257, abs=1e-8)
    assert sol.at_lower == (1,) and sol.at_upper == ()


def test_solve_separable_errors():
    with pytest.raises(UserError, match="below the sum of the lower bounds"):
        solve_separable([1, 1], [1, 1], [1, 1], 1.0, 0.6)
    with pytest.raises(UserError, match="above the sum of the upper bounds"):
        solve_separable([1, 1], [1, 1], [1, 1], 5.0, 0.0, 2.0)
    with pytest.raises(UserError, match="undefined at the lower bound"):
        solve_separable([1, 1], [-0.5, 1], [1, 1], 2.0, 0.2)
    with pytest.raises(UserError, match="k > 0 and b > 0"):
        solve_separable([1, -1], [1, 1], [1, 1], 2.0)
    assert solve_separable([1, 1], [1, 1], [1, 1], 1.2, 0.6).x == pytest.approx([0.6, 0.6])


# --- fitting runs tables -------------------------------------------------------------------------

def test_paper_table_reproduces_the_notebook_optimum():
    result = fit_ddo(PAPER_RUNS, "mean-ppl", min_ratio=0.2)
    assert any("ambiguous fit" in w for w in result.warnings)
    assert [result.weights[d] for d in DOMAINS] == pytest.approx(np.array(PAPER_X) / 7, abs=1e-7)
    assert result.relative["github"] == pytest.approx(0.2, abs=1e-12)
    assert result.at_bound == {"github": "lower"}
    assert result.multiplier == pytest.approx(0.04720257, abs=1e-7)
    assert result.optimum.total == pytest.approx(7.0, rel=1e-12)
    assert result.base_objective == pytest.approx(28.11373645, abs=1e-7)
    assert result.predicted_objective - result.base_objective == pytest.approx(-1.6305, abs=1e-4)  # §2.6
    # the ambiguity diagnostic: the second exact branch moves the optimum by about 0.018 in weight
    assert result.ambiguity.ambiguous and 0.01 < result.ambiguity.max_spread < 0.05
    assert all(len(v) >= 1 for v in result.ambiguity.alternatives.values())


def test_paper_table_with_the_one_third_ratio():
    """paper.md §7.3: refitting with x_lo = 1/3 gives another optimum (a check of generality)."""
    frame = pd.read_csv(PAPER_RUNS).replace(0.2, 1 / 3)
    result = fit_ddo(frame, min_ratio=0.2, ambiguity=False)
    assert result.fits["common_crawl"].a == pytest.approx(2.1712104734, abs=1e-6)
    expected = [1.5009565497, 0.2, 1.2466679993, 1.1767601016, 1.6660243221, 0.7575258714, 0.4520651559]
    assert [result.relative[d] for d in DOMAINS] == pytest.approx(expected, abs=1e-6)


def test_units_of_the_table_do_not_matter():
    frame = pd.read_csv(PAPER_RUNS)
    scaled = frame.copy()
    for c in [c for c in frame.columns if c.startswith("tokens:")]:
        scaled[c] = frame[c] * 1.2e9 / 7
    r1, r2 = fit_ddo(frame, ambiguity=False), fit_ddo(scaled, ambiguity=False)
    assert list(r2.weights.values()) == pytest.approx(list(r1.weights.values()), abs=1e-9)
    assert r2.optimum.total == pytest.approx(1.2e9)
    assert r2.multiplier == pytest.approx(r1.multiplier * 7 / 1.2e9, rel=1e-6)


def test_objectives():
    table = read_runs_table(PAPER_RUNS)
    ppl = np.array([table.ppl[d] for d in DOMAINS])
    assert objective_values(table, "mean-ppl") == pytest.approx(ppl.mean(axis=0))
    assert objective_values(table, "mean-loss") == pytest.approx(np.log(ppl).mean(axis=0))
    assert objective_values(table, "loss:c4") == pytest.approx(np.log(table.ppl["c4"]))
    with pytest.raises(UserError, match="no validation column for domain 'wiki'"):
        objective_values(table, "loss:wiki")
    with pytest.raises(UserError, match="unknown objective 'median'"):
        objective_values(table, "median")
    assert fit_ddo(PAPER_RUNS, "mean-loss", ambiguity=False).weights != fit_ddo(PAPER_RUNS, ambiguity=False).weights


@pytest.mark.parametrize("n_domains, seed", [(2, 0), (3, 1), (5, 2), (5, 3), (8, 4)])
@pytest.mark.parametrize("total", [1e6, 3e8, 1e10])
def test_noise_free_oracles_in_the_family_are_recovered(n_domains, seed, total):
    oracle = random_oracle("separable", n_domains, seed)
    base = uniform_base(oracle.domains, total)
    runs = oracle.measure(perturbation_plan(base, (1 / 5, 1 / 2, 2, 3)))
    result = fit_ddo(runs, "mean-loss", min_ratio=0.2)
    truth = oracle.optimum(total, lower=base.scaled(0.2))
    assert max(abs(result.weights[d] - truth.weights[d]) for d in oracle.domains) < 1e-4
    assert all(f.amplitude_free and f.rmse < 1e-9 for f in result.fits.values())
    assert result.ambiguity is None  # nothing interpolates with 5 distinct points
    assert result.predicted_objective == pytest.approx(oracle.objective(result.optimum), rel=1e-7)


def test_non_uniform_base_and_upper_bounds():
    oracle = random_oracle("separable", 4, 11)
    base = Mixture(dict(zip(oracle.domains, [4e7, 1e7, 2.5e7, 2.5e7])))
    runs = oracle.measure(perturbation_plan(base, (0.2, 0.5, 2, 3)))
    result = fit_ddo(runs, "mean-loss", min_ratio=0.2)
    truth = oracle.optimum(base.total, lower=base.scaled(0.2))
    assert max(abs(result.weights[d] - truth.weights[d]) for d in oracle.domains) < 1e-4
    top = max(result.relative, key=result.relative.get)
    capped = fit_ddo(runs, "mean-loss", max_ratio={top: 1.0}, ambiguity=False)
    assert capped.relative[top] == pytest.approx(1.0) and capped.at_bound[top] == "upper"
    avail = fit_ddo(runs, "mean-loss", available={top: base[top] * 1.1}, ambiguity=False)
    assert avail.optimum[top] == pytest.approx(base[top] * 1.1)


def test_noisy_repeated_runs_are_least_squares():
    oracle = random_oracle("separable", 3, 5)
    base = uniform_base(oracle.domains, 1e9)
    plan = perturbation_plan(base, (0.2, 0.5, 2, 3))
    runs = pd.concat([oracle.measure(plan, noise=1e-4, seed=s) for s in range(3)], ignore_index=True)
    result = fit_ddo(runs, "mean-loss")
    assert all(f.n_distinct == 5 and len(f.x) == 15 and f.rmse > 0 for f in result.fits.values())
    truth = oracle.optimum(1e9, lower=base.scaled(0.2))
    assert max(abs(result.weights[d] - truth.weights[d]) for d in oracle.domains) < 0.05


def test_fit_ddo_errors():
    with pytest.raises(UserError, match="min-ratio 2 asks for"):
        fit_ddo(PAPER_RUNS, min_ratio=2)
    with pytest.raises(UserError, match="min_ratio must be a finite number >= 0"):
        fit_ddo(PAPER_RUNS, min_ratio=-0.1)
    with pytest.raises(UserError, match="max_ratio names unknown domain"):
        fit_ddo(PAPER_RUNS, max_ratio={"wiki": 2})
    with pytest.raises(UserError, match="upper bounds allow only"):
        fit_ddo(PAPER_RUNS, max_ratio=0.5)
    frame = pd.read_csv(PAPER_RUNS).drop(index=[3, 10])   # no run perturbs books any more
    with pytest.raises(UserError, match="no run changes only domain 'books'"):
        fit_ddo(frame)
    with pytest.raises(UserError, match="unknown objective"):
        fit_ddo(PAPER_RUNS, "mean")


def test_rising_measurements_warn():
    frame = pd.read_csv(PAPER_RUNS)
    frame.loc[9, [c for c in frame.columns if c.startswith("ppl:")]] *= 1.2   # github x3 made worse
    result = fit_ddo(frame, ambiguity=False)
    assert any("github: the objective rises" in w for w in result.warnings)
    assert any("rises with more data" in w for w in result.warnings)


def _table_from_laws(laws, ratios):
    """A runs table whose mean-loss objective follows y_d(x) = 1 + k((x + a)^-b − (1 + a)^-b) exactly."""
    domains = list(laws)
    rows = [{"run": "base", **{f"tokens:{d}": 1.0 for d in domains}, **{f"loss:{d}": 2.0 for d in domains}}]
    for d, (a, b, k) in laws.items():
        for x in ratios:
            y = 1 + k * ((x + a) ** -b - (1 + a) ** -b)
            loss = {e: 2.0 for e in domains}
            loss[d] = 2.0 * len(domains) * y - 2.0 * (len(domains) - 1)   # so that mean loss / 2 = y
            rows.append({"run": f"{d}_{x}", **{f"tokens:{e}": (x if e == d else 1.0) for e in domains},
                         **{f"loss:{e}": v for e, v in loss.items()}})
    return pd.DataFrame(rows)


def test_bounds_that_do_not_fit_the_laws_are_named():
    frame = pd.read_csv(PAPER_RUNS)
    with pytest.raises(UserError, match="domain github: the upper bound"):
        fit_ddo(frame, min_ratio=0.5, max_ratio={"github": 0.3}, ambiguity=False)
    runs = _table_from_laws({"p": (-0.3, 1.0, 0.1), "q": (0.5, 0.8, 0.2)}, (0.5, 0.8, 2.0, 3.0))
    result = fit_ddo(runs, "mean-loss", min_ratio=0.4)
    assert result.fits["p"].a == pytest.approx(-0.3, abs=1e-7) and result.fits["q"].k == pytest.approx(0.2)
    with pytest.raises(UserError, match="domain p: its fitted law .* a = -0.3 is undefined at the lower bound"):
        fit_ddo(runs, "mean-loss", min_ratio=0.0)
