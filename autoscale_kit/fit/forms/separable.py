"""The paper's separable DDO surrogate: Σ_i y_i(x_i), one power law per training domain fitted on the
runs that change that domain alone, minimised exactly.

Design choices:
- The surrogate is minimised in absolute quantities under Σ_i N_i = base total and per-domain
  bounds (min_ratio × base, optional max_ratio × base and available data), exactly, by
  `solve_separable`: the KKT conditions reduce to one monotone equation in the multiplier λ,
  solved by Brent's method on log λ. Internally quantities are in units of the mean base
  quantity, so λ and k·B^b stay of order one whatever the table's unit.
- Predicted objective = base objective × (1 + Σ_i (y_i(x_i) − y_i(1))), in the objective's unit.
- 3 points per domain interpolate a 3-parameter law exactly and do not identify it. The ambiguity
  diagnostic refits such domains from many starts, re-solves with the alternative exact fits
  (each alone and a few random combinations) and reports the spread of the optimal weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.optimize import brentq

from autoscale_kit.core.errors import UserError
from autoscale_kit.fit.forms.base import DDOProblem, FormSolution
from autoscale_kit.fit.laws import PowerLawFit, fit_power_law_starts, same_fit


@dataclass(frozen=True)
class SeparableSolution:
    """argmin Σ_i k_i (x_i + a_i)^(-b_i) s.t. Σ x_i = total, lower ≤ x ≤ upper."""

    x: np.ndarray
    multiplier: float              # λ = −∂F/∂x_i for every free domain
    at_lower: tuple[int, ...]
    at_upper: tuple[int, ...]
    objective: float


def _as_vector(v, n: int, name: str, default: float) -> np.ndarray:
    if v is None:
        return np.full(n, default)
    arr = np.asarray(v, dtype=float)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise UserError(f"{name} has {arr.size} values for {n} domains; give one per domain")
    return arr.astype(float)


def solve_separable(k, a, b, total: float, lower=0.0, upper=None) -> SeparableSolution:
    """The exact minimum of Σ_i k_i (x_i + a_i)^(-b_i) subject to Σ x_i = total and bounds.

    KKT: x_i(λ) = clip((k_i b_i / λ)^(1/(b_i+1)) − a_i, lower_i, upper_i), non-increasing in λ;
    Σ_i x_i(λ) = total is solved by Brent's method on log λ, with a bracket computed from the
    values of λ at which each domain reaches its bounds. Convex objective, convex set: global.
    """
    k = np.atleast_1d(np.asarray(k, dtype=float))
    n = k.size
    a, b = _as_vector(a, n, "a", 0.0), _as_vector(b, n, "b", 1.0)
    lo, hi = _as_vector(lower, n, "lower", 0.0), _as_vector(upper, n, "upper", np.inf)
    total = float(total)
    if not (np.isfinite(k).all() and np.isfinite(a).all() and np.isfinite(b).all()):
        raise UserError("the law parameters k, a, b must be finite")
    if (k <= 0).any() or (b <= 0).any():
        raise UserError(f"the law needs k > 0 and b > 0 (got min k = {k.min():g}, min b = {b.min():g})")
    if not math.isfinite(total) or not np.isfinite(lo).all() or np.isnan(hi).any():
        raise UserError("the total and the lower bounds must be finite numbers")
    if (hi < lo).any():
        i = int(np.argmax(hi < lo))
        raise UserError(f"domain {i}: upper bound {hi[i]:g} is below its lower bound {lo[i]:g}")
    slack = 1e-12 * max(1.0, abs(total))
    if total < lo.sum() - slack:
        raise UserError(f"infeasible: the total {total:.6g} is below the sum of the lower bounds {lo.sum():.6g}; "
                        f"lower the bounds or raise the total")
    if total > hi.sum() + slack:
        raise UserError(f"infeasible: the total {total:.6g} is above the sum of the upper bounds {hi.sum():.6g}; "
                        f"raise the upper bounds (more available data) or lower the total")
    if (lo + a <= 0).any():
        i = int(np.argmax(lo + a <= 0))
        raise UserError(f"domain {i}: the law (x + a)^(-b) with a = {a[i]:g} is undefined at the lower bound "
                        f"{lo[i]:g}; raise the lower bound above {-a[i]:g}")
    cap = np.minimum(hi, np.maximum(lo, total - (lo.sum() - lo)))   # no x_i can exceed this
    log_kb = np.log(k) + np.log(b)

    def x_of(s: float) -> np.ndarray:
        with np.errstate(over="ignore"):
            return np.clip(np.exp((log_kb - s) / (b + 1)) - a, lo, cap)

    def excess(s: float) -> float:
        return float(x_of(s).sum() - total)

    s_lower = float(np.max(log_kb - (b + 1) * np.log(lo + a)))   # λ above: everyone at the lower bound
    s_cap = float(np.min(log_kb - (b + 1) * np.log(cap + a)))    # λ below: everyone at the cap
    if excess(s_lower) >= 0:
        s, x = s_lower, lo.copy()
    elif excess(s_cap) <= 0:
        s, x = s_cap, cap.copy()
    else:
        s = brentq(excess, s_cap, s_lower, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=1000)
        x = x_of(s)
    with np.errstate(over="ignore"):
        unclipped = np.exp((log_kb - s) / (b + 1)) - a
    tol = 1e-12 * max(1.0, abs(total))
    at_lower = unclipped <= lo + tol
    at_upper = (unclipped >= hi - tol) & (hi <= cap) & ~at_lower
    free = ~(at_lower | at_upper)
    x[at_lower], x[at_upper] = lo[at_lower], hi[at_upper]
    multiplier = float(np.exp(s))
    if free.any():
        x[free] += (total - x.sum()) / free.sum()   # the last rounding error, spread over the free domains
        # λ from the free domains' marginals: equal to exp(s) to rounding, and also right when the root
        # is a flat interval (one free domain holding all that the others' lower bounds leave)
        multiplier = float(np.mean(k[free] * b[free] * (x[free] + a[free]) ** (-b[free] - 1)))
    objective = float(np.sum(k * (x + a) ** (-b)))
    return SeparableSolution(x, multiplier, tuple(np.flatnonzero(at_lower).tolist()),
                             tuple(np.flatnonzero(at_upper).tolist()), objective)


@dataclass(frozen=True)
class Ambiguity:
    """How much the optimum moves between equally exact fits of under-determined domains."""

    domains: tuple[str, ...]                     # domains whose fits interpolate (were checked)
    alternatives: dict[str, tuple[dict, ...]]    # other exact fits' parameters, per domain
    n_solutions: int                             # optima compared (the main one included)
    weight_spread: dict[str, float]              # max − min optimal weight over those optima
    max_spread: float
    threshold: float

    @property
    def ambiguous(self) -> bool:
        return self.max_spread > self.threshold

    def to_dict(self) -> dict:
        return {"domains": list(self.domains), "ambiguous": self.ambiguous, "max_spread": self.max_spread,
                "threshold": self.threshold, "n_solutions": self.n_solutions,
                "weight_spread": dict(self.weight_spread),
                "alternatives": {d: list(v) for d, v in self.alternatives.items()}}


def solve_fits(fits: Sequence[PowerLawFit], base: np.ndarray, lo_x: np.ndarray, hi_x: np.ndarray
                ) -> SeparableSolution:
    """Solve the surrogate in units of the mean base quantity; returns x relative to the base."""
    unit = base.mean()
    B = base / unit
    k = np.array([f.k for f in fits]) * B ** np.array([f.b for f in fits])
    a = np.array([f.a for f in fits]) * B
    b = np.array([f.b for f in fits])
    sol = solve_separable(k, a, b, B.sum(), lo_x * B, hi_x * B)
    return SeparableSolution(sol.x / B, sol.multiplier / unit, sol.at_lower, sol.at_upper, sol.objective)


def ambiguity_check(fits, points, base_q, lo_x, hi_x, x_main, amplitude, threshold, n_comb, seed) -> Ambiguity | None:
    """Spread of the optimal weights over alternative exact fits of interpolating domains."""
    domains = list(fits)
    checked = [d for d in domains if fits[d].interpolates]
    if not checked:
        return None
    options: dict[str, list[PowerLawFit]] = {}
    for d in domains:
        options[d] = [fits[d]]
        if d in checked:
            alts = fit_power_law_starts(*points[d], amplitude=amplitude, name=f"domain {d}")
            options[d] += [f for f in alts if not same_fit(f, fits[d])]
    combos: list[dict[str, int]] = [{d: i} for d in checked for i in range(1, len(options[d]))]
    rng = np.random.default_rng(seed)
    if any(len(options[d]) > 1 for d in checked):
        combos += [{d: int(rng.integers(len(options[d]))) for d in checked} for _ in range(n_comb)]
    weights = [x_main * base_q / (x_main * base_q).sum()]
    for combo in combos:
        chosen = [options[d][combo.get(d, 0)] for d in domains]
        try:
            sol = solve_fits(chosen, base_q, lo_x, hi_x)
        except UserError:  # an alternative undefined on the feasible box: not a competitor
            continue
        q = sol.x * base_q
        weights.append(q / q.sum())
    w = np.array(weights)
    spread = w.max(axis=0) - w.min(axis=0)
    return Ambiguity(domains=tuple(checked),
                     alternatives={d: tuple(f.params() for f in options[d][1:]) for d in checked},
                     n_solutions=len(weights), weight_spread=dict(zip(domains, spread.tolist())),
                     max_spread=float(spread.max()), threshold=threshold)


class SeparableForm:
    """The paper's form; every other form falls back to it when the runs do not identify that one."""

    name = "separable"
    uses_extra_runs = False      # fitted on the one-at-a-time runs only
    checks_ambiguity = True
    draw_divisor = 1             # a refit is a few law fits: the full bootstrap

    def fit(self, problem: DDOProblem) -> dict:
        return problem.fits

    def identified(self, state) -> str | None:
        return None

    def solve(self, state, problem: DDOProblem, lower_x, upper_x, options: dict) -> FormSolution:
        fits, domains = state, problem.table.domains
        sol = solve_fits([fits[d] for d in domains], problem.base_q, lower_x, upper_x)
        x = sol.x
        predicted = float(problem.base_objective * (1.0 + sum(fits[d](x[j]) - fits[d](1.0)
                                                              for j, d in enumerate(domains))))
        amb = None
        if options.get("ambiguity"):
            amb = ambiguity_check(fits, problem.points, problem.base_q, lower_x, upper_x, x, options["amplitude"],
                                  options["ambiguity_threshold"], options["ambiguity_combinations"], options["seed"])
        return FormSolution(x, sol.at_lower, sol.at_upper, sol.multiplier, predicted, upper_x, (), amb)

    def objective_at(self, result, base_q: np.ndarray, quantities: np.ndarray) -> float:
        x = quantities / base_q
        return float(result.base_objective * (1 + sum(f(x[j]) - f(1.0) for j, f in enumerate(result.fits.values()))))

    def parameters(self, result) -> dict:
        return {d: f.to_dict() for d, f in result.fits.items()}
