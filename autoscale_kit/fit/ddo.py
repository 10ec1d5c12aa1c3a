"""Direct Data Optimization: perturbation plan, per-domain fits, exact constrained optimum.

Design choices:
- Plan: a base Mixture plus one run per (domain, ratio), each changing only that domain's tokens;
  the other domains keep their base quantities (the paper's design), so the totals differ.
- Objective of a run: "mean-ppl" (the paper's: arithmetic mean of per-domain perplexities, exp of
  the loss where only losses are given), "mean-loss" (mean of losses in nats, log of ppl where only
  perplexities are given), or "loss:<domain>" / "ppl:<domain>". The default is "mean-ppl" so that
  the paper's table reproduces the paper out of the box.
- Per domain, the points are the base run(s) (x = 1) and every run that changes only that domain;
  y is the run's objective divided by the base run's. Fits: `laws.fit_power_law_best` (the
  default start first, which is the paper's branch; a global search when that is not exact).
- The surrogate Σ_i y_i(x_i) is minimised in absolute quantities under Σ_i N_i = base total and
  per-domain bounds (min_ratio × base, optional max_ratio × base and available data), exactly, by
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
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.objective import objective_from
from autoscale_kit.fit.laws import PowerLawFit, fit_power_law_best, fit_power_law_starts, same_fit
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.core.tables import BaseRun, RunsTable, find_base_run, read_runs_table



# --- the perturbation plan ---------------------------------------------------------------------

EXTRA = "*"        # PlannedRun.domain of a run outside the one-at-a-time plan (a verification run)
SURROGATE_FORMS = ("separable", "transfer")


@dataclass(frozen=True)
class PlannedRun:
    """One run of a DDO plan: its name, its Mixture, and which domain/ratio it perturbs."""

    name: str
    mixture: Mixture
    domain: str | None = None      # None for the base run, EXTRA for a run that changes several domains
    ratio: float = 1.0


def uniform_base(domains: Sequence[str], total: float) -> Mixture:
    """The paper's base run: the same quantity of every domain, `total` in all."""
    domains = list(domains)
    if not domains:
        raise UserError("a base run needs at least one domain")
    return Mixture.uniform(domains, total)


def check_ratios(ratios) -> list[float]:
    """Perturbation ratios as floats: positive, finite, not 1, each once."""
    if isinstance(ratios, (str, bytes)) or not hasattr(ratios, "__iter__"):
        raise UserError(f"perturbation ratios must be a list of numbers (e.g. 0.2, 3), got {ratios!r}")
    clean: list[float] = []
    for r in ratios:
        try:
            v = float(r)
        except (TypeError, ValueError):
            raise UserError(f"perturbation ratio {r!r} is not a number") from None
        if not math.isfinite(v) or v <= 0:
            raise UserError(f"perturbation ratio {r!r} must be a positive finite number (e.g. 0.2 or 3)")
        if abs(v - 1.0) <= 1e-12:
            raise UserError("perturbation ratio 1 repeats the base run; use ratios below and above 1")
        if any(abs(v - c) <= 1e-12 * max(v, c) for c in clean):
            raise UserError(f"perturbation ratio {v:g} is given twice")
        clean.append(v)
    if not clean:
        raise UserError("give at least one perturbation ratio (the paper uses 1/5 and 3)")
    return clean


def perturbation_plan(base: Mixture, ratios: Sequence[float] = (1 / 5, 3)) -> list[PlannedRun]:
    """The base run, then for each domain and ratio a run with only that domain scaled by the ratio.

    The paper's GPT-2 plan uses ratios 1/5 and 3, its BERT plan 1/3 and 2; any list works, and
    more ratios per domain (e.g. 1/5, 1/2, 2, 3) make the per-domain laws identifiable.
    """
    if not isinstance(base, Mixture):
        raise UserError(f"the base run must be a Mixture, got {type(base).__name__}")
    clean = check_ratios(ratios)
    plan = [PlannedRun("base", base)]
    for d in base.domains:
        if base[d] <= 0:
            raise UserError(f"domain {d!r} has 0 tokens in the base run; every domain needs a positive base quantity")
        for v in clean:
            plan.append(PlannedRun(f"{d}_x{v:g}", base.with_tokens(d, base[d] * v), d, v))
    return plan


def plan_table(plan: Sequence[PlannedRun]) -> pd.DataFrame:
    """The plan as the first columns of a runs table (run, tokens:<domain>), losses to be added."""
    domains = plan[0].mixture.domains
    return pd.DataFrame({"run": [p.name for p in plan],
                         **{f"tokens:{d}": [p.mixture[d] for p in plan] for d in domains}})


@dataclass(frozen=True)
class MeasuredPlan:
    """DDO's input when the plan is known: the measured runs as a table, and which row is the base
    and which domain every other row perturbs — taken from the plan, not re-derived from float
    token vectors (that, `tables.find_base_run`, is only for hand-typed tables)."""

    table: RunsTable
    layout: BaseRun

    @classmethod
    def from_runs(cls, plan: Sequence[PlannedRun], records) -> "MeasuredPlan":
        """`records[i]` measured `plan[i]` (a plan repeated per seed is fine: equal planned runs are
        replicates). Records: anything `RunsTable.from_records` takes."""
        plan, records = list(plan), list(records)
        if len(plan) != len(records):
            raise UserError(f"{len(plan)} planned runs but {len(records)} measured ones; give one record per run")
        table = RunsTable.from_records(records, source="the DDO runs")
        if table.domains != plan[0].mixture.domains:
            raise UserError(f"the runs train on {', '.join(table.domains)} but the plan on "
                            f"{', '.join(plan[0].mixture.domains)}")
        base = [i for i, p in enumerate(plan) if p.domain is None]
        if not base:
            raise UserError("the plan has no base run")
        perturbed = {d: tuple(i for i, p in enumerate(plan) if p.domain == d) for d in table.domains}
        extra = tuple(i for i, p in enumerate(plan) if p.domain == EXTRA)
        return cls(table, BaseRun(base[0], tuple(base), perturbed, table.tokens[base[0]].copy(), extra))


def _table_and_layout(runs, base=None, extra: bool = False) -> tuple[RunsTable, BaseRun]:
    if isinstance(runs, MeasuredPlan):
        if base is not None:
            raise UserError("the base run of a measured plan is known; do not pass `base`")
        return runs.table, runs.layout
    table = runs if isinstance(runs, RunsTable) else read_runs_table(runs)
    return table, find_base_run(table, base=base, extra=extra)


def perturbation_effects(runs, metric: str = "loss", ratio: str = "up") -> pd.DataFrame:
    """The paper's heat-map table: rows = perturbed training domain, columns = validation domains
    and their mean; value = metric(perturbed run) − metric(base run).

    metric: "loss" or "ppl"; ratio: "up" (the largest quantity run per domain, e.g. ×3) or "down"
    (the smallest, e.g. ×1/5). With several base replicates their mean is the reference.
    """
    if metric not in ("loss", "ppl"):
        raise UserError(f"metric must be 'loss' or 'ppl', got {metric!r}")
    if ratio not in ("up", "down"):
        raise UserError(f"ratio must be 'up' or 'down', got {ratio!r}")
    table, found = _table_and_layout(runs)
    get = table.domain_loss if metric == "loss" else table.domain_ppl
    evals = table.eval_domains
    values = np.array([get(d) for d in evals]).T                        # (runs, eval domains)
    values = np.column_stack([values, values.mean(axis=1)])
    base = values[list(found.replicates)].mean(axis=0)
    rows = {}
    for j, d in enumerate(table.domains):
        cand = list(found.perturbed[d])
        if not cand:
            continue
        q = table.tokens[cand, j]
        pick = q.max() if ratio == "up" else q.min()
        if (ratio == "up" and pick <= found.tokens[j]) or (ratio == "down" and pick >= found.tokens[j]):
            continue
        chosen = [r for r, v in zip(cand, q) if v == pick]
        rows[d] = values[chosen].mean(axis=0) - base
    return pd.DataFrame.from_dict(rows, orient="index", columns=[*evals, "mean"])


# --- the exact separable solver ----------------------------------------------------------------

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


# --- fitting a runs table ----------------------------------------------------------------------

def validation_domains(table: RunsTable, validation: Sequence[str] | None = None) -> tuple[str, ...]:
    """The validation domains an objective averages: those named (checked), else all of the table's."""
    if validation is None:
        return table.eval_domains
    names = tuple(validation)
    if not names:
        raise UserError("give at least one validation domain (or None for all)")
    unknown = [d for d in names if d not in table.eval_domains]
    if unknown:
        raise UserError(f"validation domain {unknown[0]!r} has no loss or ppl column; the table validates on "
                        f"{', '.join(table.eval_domains)}")
    if len(set(names)) != len(names):
        raise UserError(f"a validation domain is named twice in {', '.join(names)}")
    return names


def objective_values(table: RunsTable, objective: str, validation: Sequence[str] | None = None) -> np.ndarray:
    """The scalar objective of every run (lower is better), in the objective's own unit, over the
    named validation domains (default: all)."""
    return objective_from(validation_domains(table, validation), table.domain_loss, table.domain_ppl, objective)


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


@dataclass(frozen=True)
class DDOResult:
    """The optimum of the fitted surrogate at the base run's total."""

    objective: str
    validation: tuple[str, ...]      # the validation domains the objective averages
    base_run: str
    base_objective: float
    base_tokens: Mixture
    optimum: Mixture                 # optimal quantities, in the table's unit, base total
    weights: dict[str, float]
    relative: dict[str, float]       # x_i = optimal / base quantity
    predicted_objective: float       # the surrogate's objective at the optimum, objective's unit
    fits: dict[str, PowerLawFit]
    multiplier: float                # λ = −∂(Σ y_i)/∂N_i of free domains, per table unit of tokens
    at_bound: dict[str, str]         # domain -> "lower" | "upper"
    lower: dict[str, float]          # bounds used, in the table's unit
    upper: dict[str, float]
    ambiguity: Ambiguity | None
    warnings: tuple[str, ...] = field(default=())
    surrogate: str = "separable"     # the form whose optimum this is (transfer falls back to separable)
    transfer: object = None          # the transfer.TransferFit, when the transfer form was fitted
    n_runs: int = 0                  # runs the fit used (the transfer form uses every run of the table)

    def objective_at(self, mixture: Mixture) -> float:
        """The surrogate's objective at any mixture (in the objective's unit), anchored at the measured
        base: what DDO promises that mixture would score."""
        base_q = np.array([self.base_tokens[d] for d in self.base_tokens.domains])
        q = np.array([mixture[d] for d in self.base_tokens.domains], dtype=float)
        if self.surrogate == "transfer":
            f0, f1 = self.transfer.objective(np.vstack([base_q, q]), self.objective)
            return float(self.base_objective + f1 - f0)
        x = q / base_q
        return float(self.base_objective * (1 + sum(f(x[j]) - f(1.0) for j, f in enumerate(self.fits.values()))))

    def to_dict(self) -> dict:
        def finite(v):
            return v if math.isfinite(v) else None
        fits = self.transfer.to_dict()["laws"] if self.surrogate == "transfer" else \
            {d: f.to_dict() for d, f in self.fits.items()}
        return {"objective": self.objective, "validation": list(self.validation), "base_run": self.base_run, "base_objective": self.base_objective,
                "surrogate": self.surrogate, "n_runs": self.n_runs,
                "total": self.optimum.total, "weights": self.weights, "tokens": self.optimum.tokens,
                "relative": self.relative, "predicted_objective": self.predicted_objective,
                "fits": fits, "multiplier": self.multiplier,
                "transfer_matrix": None if self.transfer is None else
                {v: law["transfer"] for v, law in self.transfer.to_dict()["laws"].items()},
                "at_bound": self.at_bound, "lower": self.lower,
                "upper": {d: finite(v) for d, v in self.upper.items()},
                "ambiguity": self.ambiguity.to_dict() if self.ambiguity else None,
                "warnings": list(self.warnings)}


def _per_domain(value, domains: Sequence[str], name: str, default: float) -> np.ndarray:
    """A scalar or {domain: value} option as one float per domain (`default` where not given)."""
    try:
        if isinstance(value, Mapping):
            unknown = [d for d in value if d not in domains]
            if unknown:
                raise UserError(f"{name} names unknown domain {unknown[0]!r}; domains are {', '.join(domains)}")
            out = np.array([float(value.get(d, default)) for d in domains])
        else:
            out = np.full(len(domains), float(value))
    except (TypeError, ValueError) as exc:
        if isinstance(exc, UserError):
            raise
        raise UserError(f"{name} must be a number, got {value!r}") from None
    if np.isnan(out).any():
        raise UserError(f"{name} must be a number, got {value!r}")
    return out


def _solve_fits(fits: Sequence[PowerLawFit], base: np.ndarray, lo_x: np.ndarray, hi_x: np.ndarray
                ) -> SeparableSolution:
    """Solve the surrogate in units of the mean base quantity; returns x relative to the base."""
    unit = base.mean()
    B = base / unit
    k = np.array([f.k for f in fits]) * B ** np.array([f.b for f in fits])
    a = np.array([f.a for f in fits]) * B
    b = np.array([f.b for f in fits])
    sol = solve_separable(k, a, b, B.sum(), lo_x * B, hi_x * B)
    return SeparableSolution(sol.x / B, sol.multiplier / unit, sol.at_lower, sol.at_upper, sol.objective)


def fit_ddo(runs, objective: str = "mean-ppl", *, validation: Sequence[str] | None = None,
            min_ratio: float | Mapping[str, float] = 0.2,
            max_ratio: float | Mapping[str, float] | None = None, available: Mapping[str, float] | None = None,
            amplitude: str = "auto", base: int | str | None = None, ambiguity: bool = True,
            ambiguity_threshold: float = 0.01, ambiguity_combinations: int = 8, seed: int = 0,
            surrogate: str = "separable") -> DDOResult:
    """Fit the per-domain laws and return the surrogate's exact optimum.

    surrogate: "separable" (the paper's Σ_i y_i(x_i), one law per training domain, fitted on the
    one-at-a-time runs) or "transfer" (one law per validation domain in the effective data it
    sees, `autoscale_kit.fit.transfer`, fitted on every run of the table — runs that change several
    domains included — and minimised globally); when the runs cannot identify the transfer form,
    the separable one is used and a warning says so.

    runs: a `MeasuredPlan` (the plan and its measured runs: the layout is known), or a runs table
    (path, DataFrame or RunsTable: the base run is found from the quantities). validation: the
    validation domains the objective averages (default: every one in the table, evaluation-only
    domains included). min_ratio / max_ratio: bounds per domain as multiples of its base quantity
    (a number or {domain: value}); available: {domain: tokens} of data there is, in the table's unit.
    Messages worth a second look are in the result's `warnings` (nothing is raised as a Python
    warning).
    """
    if not isinstance(runs, (MeasuredPlan, RunsTable, pd.DataFrame, str)) and not hasattr(runs, "__fspath__"):
        raise UserError(f"fit_ddo needs a runs table (a CSV path, a DataFrame or a RunsTable) or a MeasuredPlan, "
                        f"got {type(runs).__name__}")
    if surrogate not in SURROGATE_FORMS:
        raise UserError(f"unknown surrogate {surrogate!r}; use one of {', '.join(SURROGATE_FORMS)}")
    table, found = _table_and_layout(runs, base, extra=surrogate == "transfer")
    names = validation_domains(table, validation)
    values = objective_values(table, objective, names)
    domains = table.domains
    base_q = found.tokens
    base_obj = float(values[list(found.replicates)].mean())
    messages: list[str] = list(table.notes)
    if found.extra and surrogate == "separable":
        messages.append(f"the separable form uses only the one-at-a-time runs; {len(found.extra)} run(s) that "
                        f"change several domains are not used (the transfer form uses them)")

    fits: dict[str, PowerLawFit] = {}
    points: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for j, d in enumerate(domains):
        rows = list(found.replicates) + list(found.perturbed[d])
        if not found.perturbed[d]:
            raise UserError(f"{table.source}: no run changes only domain {d!r}; add runs with {d} at other "
                            f"quantities (e.g. 1/5 and 3 times its base) and the other domains at the base")
        x = table.tokens[rows, j] / base_q[j]
        y = values[rows] / base_obj
        fits[d] = fit_power_law_best(x, y, amplitude=amplitude, name=f"domain {d}")
        points[d] = (x, y)
        messages.extend(fits[d].warnings)

    lo_x = _per_domain(min_ratio, domains, "min_ratio", 0.0)
    if (lo_x < 0).any() or not np.isfinite(lo_x).all():
        raise UserError(f"min_ratio must be a finite number >= 0 (the paper uses 0.2), got {min_ratio!r}")
    hi_x = np.full(len(domains), np.inf)
    if max_ratio is not None:
        hi_x = _per_domain(max_ratio, domains, "max_ratio", np.inf)
    if available is not None:
        hi_x = np.minimum(hi_x, _per_domain(available, domains, "available", np.inf) / base_q)
    if (hi_x <= 0).any():
        raise UserError(f"upper bounds must be positive; got {hi_x.min():g} times the base quantity")
    for j, d in enumerate(domains):
        if hi_x[j] < lo_x[j]:
            raise UserError(f"domain {d}: the upper bound ({hi_x[j]:g} × base) is below the lower bound "
                            f"({lo_x[j]:g} × base); raise max-ratio / available data or lower min-ratio")
        if lo_x[j] + fits[d].a <= 0:
            raise UserError(f"domain {d}: its fitted law (x + a)^-b with a = {fits[d].a:.4g} is undefined at the "
                            f"lower bound x = {lo_x[j]:g}; use a min-ratio above {-fits[d].a:.4g}")
    if lo_x @ base_q > base_q.sum() * (1 + 1e-12):
        raise UserError(f"min-ratio {min_ratio} asks for {lo_x @ base_q:.6g} tokens in all, more than the base "
                        f"total {base_q.sum():.6g}; use a min-ratio below 1 (the paper uses 0.2)")
    if hi_x @ base_q < base_q.sum() * (1 - 1e-12):
        raise UserError(f"the upper bounds allow only {hi_x @ base_q:.6g} tokens in all, less than the base total "
                        f"{base_q.sum():.6g}; raise max-ratio or the available data")
    transfer_fit = None
    if surrogate == "transfer":
        transfer_fit = _transfer_fit(table, found, names)
        if not transfer_fit.identified:
            messages.append(f"the runs cannot identify the transfer form ({transfer_fit.reason}); the separable form "
                            f"is used instead. Add runs (more perturbation ratios, or a verification run) to fit it")
    if transfer_fit is not None and transfer_fit.identified:
        from autoscale_kit.fit.transfer import solve_transfer

        # trust region: no domain beyond the largest quantity measured for it (the fitted transfer is
        # an interpolation of the runs; past them it is a guess)
        measured = table.tokens.max(axis=0) / base_q
        capped = [d for j, d in enumerate(domains) if measured[j] < hi_x[j]]
        hi_x = np.minimum(hi_x, measured)
        if hi_x @ base_q < base_q.sum() * (1 - 1e-12):
            raise UserError("the largest measured quantities do not add up to the base total; the transfer form "
                            "needs runs above the base for some domains")
        upper = hi_x * base_q
        tsol = solve_transfer(transfer_fit, objective, float(base_q.sum()), lo_x * base_q, upper)
        x = tsol.tokens / base_q
        at_lo, at_hi, multiplier = tsol.at_lower, tsol.at_upper, tsol.multiplier
        base_f, opt_f = transfer_fit.objective(np.vstack([base_q, tsol.tokens]), objective)
        predicted = float(base_obj + opt_f - base_f)
        used = "transfer"
    else:
        sol = _solve_fits([fits[d] for d in domains], base_q, lo_x, hi_x)
        x = sol.x
        at_lo, at_hi, multiplier = sol.at_lower, sol.at_upper, sol.multiplier
        predicted = float(base_obj * (1.0 + sum(fits[d](x[j]) - fits[d](1.0) for j, d in enumerate(domains))))
        used = "separable"
    tokens = Mixture(zip(domains, (x * base_q).tolist()))
    at_bound = {domains[i]: "lower" for i in at_lo}
    at_bound.update({domains[i]: "upper" for i in at_hi})
    if used == "transfer":
        held = [domains[i] for i in at_hi if domains[i] in capped]
        if held:
            messages.append(f"the transfer optimum is held at the largest measured quantity of {', '.join(held)} "
                            f"(the fit is trusted only where runs were measured)")
    for j, d in enumerate(domains):
        hi_meas = float(points[d][0].max())
        if x[j] > 1.5 * hi_meas:
            messages.append(f"domain {d}: the optimum x = {x[j]:.3g} is far beyond the largest measured ratio "
                            f"{hi_meas:g}; the fitted law is extrapolated there")

    amb = None
    if ambiguity and used == "separable":
        amb = _ambiguity(fits, points, base_q, lo_x, hi_x, x, amplitude, ambiguity_threshold,
                         ambiguity_combinations, seed)
        if amb is not None and amb.ambiguous:
            worst = max(amb.weight_spread, key=amb.weight_spread.get)
            n_par = max(fits[d].n_params for d in amb.domains)
            messages.append(
                f"ambiguous fit: other exact fits of the same points move the optimal weights by up to "
                f"{amb.max_spread:.3f} (domain {worst}); {n_par} points cannot identify a {n_par}-parameter law, "
                f"so add perturbation ratios per domain (e.g. 1/3, 1/2 and 2 besides 1/5 and 3)")
    return DDOResult(objective=objective, validation=names, base_run=table.run_ids[found.row], base_objective=base_obj,
                     base_tokens=Mixture(zip(domains, base_q.tolist())), optimum=tokens,
                     weights=tokens.weights, relative=dict(zip(domains, x.tolist())),
                     predicted_objective=predicted, fits=fits,
                     multiplier=multiplier, at_bound=at_bound,
                     lower=dict(zip(domains, (lo_x * base_q).tolist())),
                     upper=dict(zip(domains, (hi_x * base_q).tolist())), ambiguity=amb,
                     warnings=tuple(messages), surrogate=used, transfer=transfer_fit,
                     n_runs=table.n_runs if used == "transfer" else
                     len(found.replicates) + sum(len(v) for v in found.perturbed.values()))


def _transfer_fit(table: RunsTable, found: BaseRun, names: Sequence[str]):
    """The transfer laws of the objective's validation domains on every run of the table."""
    from autoscale_kit.fit.transfer import fit_transfer

    return fit_transfer(table.tokens, {v: table.domain_loss(v) for v in names}, table.domains, found.replicates)


def _ambiguity(fits, points, base_q, lo_x, hi_x, x_main, amplitude, threshold, n_comb, seed) -> Ambiguity | None:
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
            sol = _solve_fits(chosen, base_q, lo_x, hi_x)
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
