"""The per-domain law y = k (x + a)^(-b) + c: fits, amplitude policy, ambiguity, warnings."""

from pathlib import Path

import numpy as np
import pytest

from autoscale_kit.core.errors import UserError
from autoscale_kit.fit.laws import (fit_power_law, fit_power_law_best,
                                fit_power_law_starts)
from autoscale_kit.core.tables import read_runs_table

PAPER_RUNS = Path(__file__).resolve().parents[1] / "data" / "paper" / "gpt2_1.2B_runs.csv"
# paper.md §7.3, printed to 16 digits by the notebook
PAPER_ABC = {
    "common_crawl": (2.6658731959247985, 1.2492023890295736, 0.8026540600177617),
    "github": (6.616175591939301, 1.4360012483967404, 0.9458217913242287),
    "books": (2.673602759483928, 1.5362602612056064, 0.8645212064449814),
    "wikipedia": (2.4631072679557477, 1.8287307258995613, 0.8968517051583392),
    "c4": (2.518384099486731, 1.1858721474138574, 0.775039246658818),
    "stackexchange": (2.889957893044303, 1.9536275987550742, 0.9296170669705276),
    "arxiv": (3.31917392337233, 1.926671000555819, 0.9403250708425615),
}


def paper_points(domain):
    table = read_runs_table(PAPER_RUNS)
    avg = np.mean([table.ppl[d] for d in table.domains], axis=0)
    i = table.domains.index(domain)
    return np.array([0.2, 1.0, 3.0]), np.array([avg[1 + i], avg[0], avg[8 + i]]) / avg[0]


@pytest.mark.parametrize("domain", list(PAPER_ABC))
def test_paper_fits_reproduce_the_notebook(domain):
    x, y = paper_points(domain)
    fit = fit_power_law(x, y)
    assert (fit.a, fit.b, fit.c) == pytest.approx(PAPER_ABC[domain], abs=1e-6)
    assert fit.k == 1.0 and not fit.amplitude_free
    assert fit.interpolates and fit.converged and fit.rmse < 1e-12
    assert fit(1.0) == pytest.approx(1.0, abs=1e-12)


def random_law(rng):
    return dict(a=float(np.exp(rng.uniform(np.log(1e-3), np.log(50)))), b=float(rng.uniform(0.05, 2.5)),
                c=float(rng.uniform(0.3, 1.0)), k=float(np.exp(rng.uniform(np.log(0.01), np.log(2)))))


@pytest.mark.parametrize("seed", range(8))
def test_free_amplitude_recovers_noise_free_laws(seed):
    rng = np.random.default_rng(seed)
    law = random_law(rng)
    x = np.array([1.0, 0.2, 0.5, 2.0, 3.0])
    y = law["k"] * (x + law["a"]) ** (-law["b"]) + law["c"]
    fit = fit_power_law_best(x, y)
    assert fit.amplitude_free and not fit.interpolates
    assert fit.rmse < 1e-12
    grid = np.linspace(0.1, 4.0, 40)  # the curve, which is what the optimum depends on
    truth = law["k"] * (grid + law["a"]) ** (-law["b"]) + law["c"]
    assert np.max(np.abs(fit(grid) - truth)) < 1e-7
    if law["a"] < 5:  # offsets far beyond the data make (a, b, k) nearly interchangeable
        assert fit.b == pytest.approx(law["b"], rel=1e-5)


def test_amplitude_policy():
    x = np.array([0.2, 0.5, 1.0, 2.0])
    y = 0.3 * (x + 0.5) ** -0.7 + 0.8
    assert not fit_power_law(x, y).amplitude_free          # 4 distinct: k fixed, least squares
    assert fit_power_law(x, y, amplitude="free").interpolates
    x5, y5 = np.append(x, 3.0), np.append(y, 0.3 * 3.5 ** -0.7 + 0.8)
    assert fit_power_law(x5, y5).amplitude_free
    fixed = fit_power_law(x5, y5, amplitude="fixed")
    assert fixed.k == 1.0 and fixed.rmse > 1e-6            # the true amplitude is not 1
    with pytest.raises(UserError, match="unknown amplitude policy"):
        fit_power_law(x, y, amplitude="sometimes")


def test_repeated_points_are_least_squares():
    x = np.array([1.0, 1.0, 0.2, 0.2, 3.0, 3.0])
    y = (x + 1.5) ** -0.9 + 0.4 + np.array([1e-3, -1e-3, 2e-3, -2e-3, 1e-3, -1e-3])
    fit = fit_power_law(x, y)
    assert fit.n_distinct == 3 and fit.interpolates
    assert fit.rmse == pytest.approx(np.sqrt(np.mean([1e-6, 1e-6, 4e-6, 4e-6, 1e-6, 1e-6])), rel=1e-6)


def test_bounds_hold():
    x = np.array([0.2, 1.0, 3.0])
    y = np.array([1.0, 1.01, 1.02])  # rising: outside the law's shape
    fit = fit_power_law(x, y)
    assert fit.a > -0.2 and fit.b > 0 and fit.k > 0
    assert any("rises with more data" in w for w in fit.warnings)


def test_monotone_data_give_no_warning(recwarn):
    x, y = paper_points("c4")
    assert fit_power_law(x, y).warnings == ()
    assert not recwarn.list  # the one warning channel is the result's `warnings`, not Python's


def test_three_points_have_several_exact_fits():
    x, y = paper_points("common_crawl")
    fits = fit_power_law_starts(x, y)
    assert len(fits) >= 2
    assert (fits[0].a, fits[0].b, fits[0].c) == pytest.approx(PAPER_ABC["common_crawl"], abs=1e-6)
    for f in fits:
        assert f.rmse < 1e-12
    assert max(f.b for f in fits) - min(f.b for f in fits) > 0.5  # genuinely different laws


def test_bad_inputs():
    with pytest.raises(UserError, match="distinct quantities"):
        fit_power_law([1.0, 1.0, 3.0], [1.0, 1.0, 0.9])
    with pytest.raises(UserError, match="one y per x"):
        fit_power_law([1.0, 2.0, 3.0], [1.0, 0.9])
    with pytest.raises(UserError, match="must be > 0"):
        fit_power_law([0.0, 1.0, 3.0], [1.1, 1.0, 0.9])
    with pytest.raises(UserError, match="finite"):
        fit_power_law([0.2, 1.0, 3.0], [1.1, np.nan, 0.9])
