"""Direct Data Optimization on a runs table: the paper's per-domain laws, the surrogate form's exact
constrained optimum, and what DDO promises any other mixture.

Design choices:
- Objective of a run: "mean-ppl" (the paper's: arithmetic mean of per-domain perplexities, exp of
  the loss where only losses are given), "mean-loss" (mean of losses in nats, log of ppl where only
  perplexities are given), or "loss:<domain>" / "ppl:<domain>" (`core.objective`). The default is
  "mean-ppl" so that the paper's table reproduces the paper out of the box.
- Per domain, the points are the base run(s) (x = 1) and every run that changes only that domain;
  y is the run's objective divided by the base run's. Fits: `laws.fit_power_law_best` (the
  default start first, which is the paper's branch; a global search when that is not exact).
  Every form gets these laws (the separable form is made of them; the others fall back to them).
- The surrogate form (`fit.forms`: separable, transfer, or one registered) is fitted and solved
  through one protocol; `fit_ddo` never branches on its name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.core.tables import RunsTable
from autoscale_kit.fit.forms import FALLBACK, SURROGATE_FORMS, get_form
from autoscale_kit.fit.forms.base import DDOProblem
from autoscale_kit.fit.forms.separable import Ambiguity
from autoscale_kit.fit.forms.transfer import TransferFit
from autoscale_kit.fit.laws import PowerLawFit, fit_power_law_best
from autoscale_kit.fit.plan import MeasuredPlan, objective_values, table_and_layout, validation_domains


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
    surrogate: str = "separable"     # the form whose optimum this is (one the runs do not identify falls back)
    state: object = None             # the fitted state of the form asked for (fitted even when it fell back)
    n_runs: int = 0                  # runs the fit used (a form fitted on every run uses the whole table)

    @property
    def form(self):
        """The surrogate form whose optimum this is."""
        return get_form(self.surrogate)

    @property
    def transfer(self) -> TransferFit | None:
        """The transfer laws, when the transfer form was fitted (the transfer matrix of the report)."""
        return self.state if isinstance(self.state, TransferFit) else None

    def objective_at(self, mixture: Mixture) -> float:
        """The surrogate's objective at any mixture (in the objective's unit), anchored at the measured
        base: what DDO promises that mixture would score."""
        base_q = np.array([self.base_tokens[d] for d in self.base_tokens.domains])
        q = np.array([mixture[d] for d in self.base_tokens.domains], dtype=float)
        return self.form.objective_at(self, base_q, q)

    def to_dict(self) -> dict:
        def finite(v):
            return v if math.isfinite(v) else None
        fits = self.form.parameters(self)
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


def fit_ddo(runs, objective: str = "mean-ppl", *, validation: Sequence[str] | None = None,
            min_ratio: float | Mapping[str, float] = 0.2,
            max_ratio: float | Mapping[str, float] | None = None, available: Mapping[str, float] | None = None,
            amplitude: str = "auto", base: int | str | None = None, ambiguity: bool = True,
            ambiguity_threshold: float = 0.01, ambiguity_combinations: int = 8, seed: int = 0,
            surrogate: str = "separable") -> DDOResult:
    """Fit the per-domain laws and return the surrogate's exact optimum.

    surrogate: a registered form (`fit.forms`): "separable" (the paper's Σ_i y_i(x_i), one law per
    training domain, fitted on the one-at-a-time runs) or "transfer" (one law per validation domain
    in the effective data it sees, fitted on every run of the table — runs that change several
    domains included — and minimised globally); when the runs cannot identify the form asked for,
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
    form = get_form(surrogate)
    table, found = table_and_layout(runs, base, extra=form.uses_extra_runs)
    names = validation_domains(table, validation)
    values = objective_values(table, objective, names)
    domains = table.domains
    base_q = found.tokens
    base_obj = float(values[list(found.replicates)].mean())
    messages: list[str] = list(table.notes)
    if found.extra and not form.uses_extra_runs:
        users = " or ".join(n for n, f in SURROGATE_FORMS.items() if f.uses_extra_runs) or "another"
        messages.append(f"the {form.name} form uses only the one-at-a-time runs; {len(found.extra)} run(s) that "
                        f"change several domains are not used (the {users} form uses them)")

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
    problem = DDOProblem(table, found, objective, names, values, base_q, base_obj, fits, points)
    state = form.fit(problem)
    used, used_state = form, state
    why = form.identified(state)
    if why is not None:
        messages.append(f"the runs cannot identify the {form.name} form ({why}); the {FALLBACK} form "
                        f"is used instead. Add runs (more perturbation ratios, or a verification run) to fit it")
        used = get_form(FALLBACK)
        used_state = used.fit(problem)
    options = {"ambiguity": ambiguity, "amplitude": amplitude, "ambiguity_threshold": ambiguity_threshold,
               "ambiguity_combinations": ambiguity_combinations, "seed": seed}
    sol = used.solve(used_state, problem, lo_x, hi_x, options)
    x, hi_x = sol.x, sol.upper_x
    at_lo, at_hi, multiplier, predicted = sol.at_lower, sol.at_upper, sol.multiplier, sol.predicted
    tokens = Mixture(zip(domains, (x * base_q).tolist()))
    at_bound = {domains[i]: "lower" for i in at_lo}
    at_bound.update({domains[i]: "upper" for i in at_hi})
    messages.extend(sol.messages)
    for j, d in enumerate(domains):
        hi_meas = float(points[d][0].max())
        if x[j] > 1.5 * hi_meas:
            messages.append(f"domain {d}: the optimum x = {x[j]:.3g} is far beyond the largest measured ratio "
                            f"{hi_meas:g}; the fitted law is extrapolated there")

    amb = sol.ambiguity
    if amb is not None:
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
                     warnings=tuple(messages), surrogate=used.name, state=state,
                     n_runs=table.n_runs if used.uses_extra_runs else
                     len(found.replicates) + sum(len(v) for v in found.perturbed.values()))
