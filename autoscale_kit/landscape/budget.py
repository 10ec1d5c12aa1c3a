"""One budget's landscape: the surface form chosen by held-out error (`fit.surface`), its minimiser
over the simplex, and a wild bootstrap over design points and seeds for the interval."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from autoscale_kit.core.bootstrap import bootstrap, clusters_of
from autoscale_kit.core.errors import UserError
from autoscale_kit.fit.surface import (choose_surface, form_terms, measured_objective, minimise_on_simplex,
                                       objective_domains, point_groups, refit)
from autoscale_kit.fit.surrogates import SURFACE_FORMS
from autoscale_kit.landscape.runs import LandscapeRuns


@dataclass(frozen=True)
class BudgetFit:
    """The landscape at one budget: the chosen surface, its optimum and the optimum's interval."""

    total: float
    runs: int
    points: int
    surface: "object"                     # surface.Surface
    cv: dict[str, float]
    skipped: dict[str, str]
    optimum: dict[str, float]
    objective: float                      # the surface at its optimum
    interval: dict[str, tuple[float, float]]
    samples: np.ndarray                   # bootstrap optima (resamples × K)
    best_measured: dict[str, float]       # the design point with the lowest mean measured objective
    best_measured_objective: float
    warnings: tuple[str, ...] = ()
    draws: tuple = field(default=(), repr=False)   # per bootstrap draw, its refitted surface (None: failed)

    def to_dict(self) -> dict:
        return {"total": float(self.total), "runs": int(self.runs), "points": int(self.points),
                "form": self.surface.form, "cv_rmse": self.cv, "optimum": self.optimum,
                "interval": {d: list(v) for d, v in self.interval.items()}, "objective": self.objective,
                "best_measured": self.best_measured, "best_measured_objective": self.best_measured_objective,
                "warnings": list(self.warnings)}


def intervals_apart(a: BudgetFit, b: BudgetFit, domains) -> list[str]:
    """The domains whose optimum intervals at the two fits do not overlap."""
    return [d for d in domains if a.interval[d][1] < b.interval[d][0] or b.interval[d][1] < a.interval[d][0]]


def _residual_inflation(points: int, params: int) -> float:
    """sqrt(G / (G - p)): a fit with p parameters on G design points leaves residuals smaller than
    the errors (it absorbed p of G degrees of freedom); the wild bootstrap inflates them back
    (the small-sample correction of clustered residuals, HC1-style)."""
    return math.sqrt(points / max(points - params, 1))


def wild_parts(surface, W, Y, names, points: int) -> tuple[dict, dict]:
    """What the wild bootstrap of one budget flips: the surface's fitted values at W and the
    residuals, inflated for the parameters the fit absorbed, per validation domain."""
    fitted = {d: law.predict(W) for d, law in zip(surface.eval_domains, surface.laws)}
    inflate = _residual_inflation(points, form_terms(surface.form, W.shape[1]))
    return fitted, {d: inflate * (Y[d] - fitted[d]) for d in names}


def check_losses(runs: LandscapeRuns) -> None:
    for d, v in runs.losses.items():
        bad = ~np.isfinite(v)
        if bad.any():
            raise UserError(f"{runs.source}: run {runs.run_ids[int(np.flatnonzero(bad)[0])]} has a non-finite loss on "
                            f"{d!r}; drop or retrain that run")


def fit_budget(runs: LandscapeRuns, objective: str = "mean-loss", *, forms=None, n_boot: int = 100,
               level: float = 0.9, seed: int = 0) -> BudgetFit:
    """The surface (form chosen by held-out error), its minimiser and a bootstrap interval over
    design points and seeds, for runs at one budget."""
    check_losses(runs)
    if len(set(runs.budget.tolist())) != 1:
        raise UserError("fit_budget takes the runs of one budget (use LandscapeRuns.at)")
    W, Y, K = runs.weights, runs.losses, len(runs.domains)
    choice = choose_surface(W, Y, objective, forms=forms or SURFACE_FORMS, domains=runs.domains)
    surface = choice.surface
    w, value = minimise_on_simplex(surface, K)
    groups = point_groups(W)
    names = objective_domains(tuple(Y), objective)

    fitted, resid = wild_parts(surface, W, Y, names, len(set(groups.tolist())))

    draws: list = []

    def statistic(signs):   # wild bootstrap: the design kept, each point's residuals flipped together
        draws.append(None)
        s = refit(surface, W, {d: fitted[d] + signs * resid[d] for d in names})
        w = minimise_on_simplex(s, K)[0]
        draws[-1] = s       # kept: a prediction across budgets reuses each draw's surfaces
        return w

    boot = bootstrap(statistic, clusters_of(groups), n=n_boot, seed=seed, scheme="wild")
    lo, hi = boot.interval(level)
    y = measured_objective(Y, names, objective)
    means = {g: float(y[groups == g].mean()) for g in np.unique(groups)}
    g_best = min(means, key=means.get)
    w_best = W[np.flatnonzero(groups == g_best)[0]]
    warnings = [choice.note] if choice.note else []
    if boot.failed:
        warnings.append(f"{boot.failed} of {n_boot} bootstrap resamples could not be fitted")
    cv_best = choice.cv[surface.form]
    if value < means[g_best] - 3 * cv_best:
        warnings.append(f"the fitted optimum ({value:.4f}) beats every measured mixture (best {means[g_best]:.4f}) by "
                        f"more than 3× the surface's held-out error ({cv_best:.4f}): it is an extrapolation away from "
                        f"the measured mixtures; train it before trusting it")
    return BudgetFit(float(runs.budget[0]), len(W), len(means), surface, choice.cv, choice.skipped,
                     dict(zip(runs.domains, map(float, w))), float(value),
                     {d: (float(a), float(b)) for d, a, b in zip(runs.domains, lo, hi)}, boot.samples,
                     dict(zip(runs.domains, map(float, w_best))), means[g_best], tuple(warnings),
                     tuple(draws[1:]))     # draws[0]: the full data
