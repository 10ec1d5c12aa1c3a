"""A smooth surface over the simplex fitted to measured runs at one budget, and its minimiser.

Why: a landscape's design points are a few dozen noisy measurements; the optimum lies between
them. A fitted surface gives the optimum anywhere on the simplex, and refitting it on bootstrap
resamples gives the optimum's interval.

Design choices:
- One law per validation domain (any form of `surrogates.SURFACE_FORMS`), the objective computed
  from the predicted per-domain losses with the same definition as everywhere else
  (`core.objective`): a `mean-ppl` or `loss:<d>` objective needs no separate fit.
- The form is chosen by held-out error, not by taste: cross-validation that holds out whole design
  points (all seeds of a mixture together: a seed's twin in the training fold would flatter the
  fit), leave-one-point-out up to 40 points and 8 folds beyond. Forms with as many parameters as
  the fold has points are skipped, and the report says so.
- The minimiser evaluates a dense lattice (K ≤ 4 domains) or Dirichlet samples (more domains),
  then polishes the best few with SLSQP on the simplex: exact enough (1e-4 in weight) and
  robust to the non-convex forms.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
from scipy.optimize import minimize

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.objective import Objective, objective_from
from autoscale_kit.fit.surrogates import SURFACE_FORMS, make_surrogate, predict_all


def form_terms(form: str, K: int) -> int:
    """Parameters of one law of `form` on K domains (what a fit needs fewer points than)."""
    if form == "scheffe-quadratic":
        return K + K * (K - 1) // 2
    if form == "scheffe-cubic":
        return K + K * (K - 1) // 2 + K * (K - 1) * (K - 2) // 6
    if form == "mixing-law":
        return K + 1          # c, k and t up to a shift (Σ w = 1)
    if form == "transfer-law":
        return K + 3
    raise UserError(f"unknown surface form {form!r}; choose from {', '.join(SURFACE_FORMS)}")


def point_groups(W: np.ndarray, decimals: int = 6) -> np.ndarray:
    """A design-point id per row: rows with the same weights (to 1e-6) are one point (seeds)."""
    keys = [tuple(np.round(w, decimals)) for w in W]
    ids: dict = {}
    return np.array([ids.setdefault(k, len(ids)) for k in keys])


@dataclass(frozen=True)
class Surface:
    """Fitted laws per validation domain; calling it gives the objective at weights W."""

    form: str
    domains: tuple[str, ...]          # training domains: the columns of W
    eval_domains: tuple[str, ...]     # the validation domains the objective averages
    objective: str
    laws: tuple = field(repr=False)   # one fitted surrogate per eval domain

    def losses(self, W) -> np.ndarray:
        """Predicted loss per validation domain, (runs, eval domains)."""
        return predict_all(self.laws, np.atleast_2d(np.asarray(W, dtype=float)))

    def __call__(self, W) -> np.ndarray:
        L = self.losses(W)
        idx = {d: i for i, d in enumerate(self.eval_domains)}
        return np.asarray(objective_from(self.eval_domains, lambda d: L[:, idx[d]],
                                         lambda d: np.exp(L[:, idx[d]]), self.objective), dtype=float)

    @property
    def params(self) -> dict:
        return {d: getattr(law, "params", {}) for d, law in zip(self.eval_domains, self.laws)}


def measured_objective(Y: Mapping[str, np.ndarray], eval_domains: Sequence[str], objective: str) -> np.ndarray:
    return np.asarray(objective_from(tuple(eval_domains), lambda d: Y[d], lambda d: np.exp(Y[d]), objective),
                      dtype=float)


def objective_domains(eval_domains: Sequence[str], objective: str) -> tuple[str, ...]:
    """The validation domains an objective needs laws for."""
    return Objective.parse(objective).domains(tuple(eval_domains))


def fit_surface(W, Y: Mapping[str, np.ndarray], form: str, objective: str = "mean-loss",
                domains: Sequence[str] | None = None) -> Surface:
    """One law of `form` per validation domain the objective needs, on weights W (runs × K)."""
    W = np.asarray(W, dtype=float)
    names = objective_domains(tuple(Y), objective)
    K = W.shape[1]
    n_points = len(set(point_groups(W)))
    if n_points <= form_terms(form, K):
        raise UserError(f"the {form} surface has {form_terms(form, K)} parameters per validation domain but the "
                        f"runs hold only {n_points} distinct mixtures; add design points or use a smaller form")
    laws = tuple(make_surrogate(form).fit(W, np.asarray(Y[d], dtype=float)) for d in names)
    return Surface(form, tuple(domains) if domains else tuple(f"w{i}" for i in range(K)), names, objective, laws)


def refit(surface: Surface, W, Y: Mapping[str, np.ndarray]) -> Surface:
    """The same form refitted on other data, each law started from `surface`'s parameters (the
    nonlinear forms search from one start instead of several: bootstrap draws, CV folds)."""
    W = np.asarray(W, dtype=float)
    if len(set(point_groups(W))) <= form_terms(surface.form, W.shape[1]):
        raise UserError(f"too few distinct mixtures for the {surface.form} surface")
    laws = []
    for d, law in zip(surface.eval_domains, surface.laws):
        start = getattr(law, "p", None)
        new = make_surrogate(surface.form, start=start) if start is not None else make_surrogate(surface.form)
        laws.append(new.fit(W, np.asarray(Y[d], dtype=float)))
    return Surface(surface.form, surface.domains, surface.eval_domains, surface.objective, tuple(laws))


def hull_vertices(P: np.ndarray) -> np.ndarray:
    """Which rows of P are vertices of the convex hull of all rows (not a convex combination of
    the others): a feasibility LP per row."""
    from scipy.optimize import linprog

    P = np.asarray(P, dtype=float)
    out = np.zeros(len(P), dtype=bool)
    for i in range(len(P)):
        others = np.delete(P, i, axis=0)
        if len(others) == 0:
            out[i] = True
            continue
        A_eq = np.vstack([others.T, np.ones(len(others))])
        res = linprog(np.zeros(len(others)), A_eq=A_eq, b_eq=np.r_[P[i], 1.0], bounds=(0, None), method="highs")
        out[i] = res.status != 0
    return out


def cross_validate(W, Y: Mapping[str, np.ndarray], form: str, objective: str = "mean-loss", *,
                   groups: np.ndarray | None = None, max_loo: int = 40, folds: int = 8, seed: int = 0,
                   full: Surface | None = None, vertex: np.ndarray | None = None) -> float:
    """Root-mean-square held-out error of the objective, holding out whole design points that
    lie inside the design's convex hull (each fold's fit starts from the all-data fit's
    parameters, which speeds the nonlinear forms and changes only where their search begins): a vertex (a corner of the simplex, say) held out can only
    be extrapolated to, which says nothing about how well a form interpolates the landscape where
    its optimum is sought. Vertices always stay in the training folds."""
    W = np.asarray(W, dtype=float)
    groups = point_groups(W) if groups is None else np.asarray(groups)
    names = objective_domains(tuple(Y), objective)
    y = measured_objective(Y, names, objective)
    ids = np.unique(groups)
    if vertex is None:   # per design point, in the order of np.unique(groups)
        first = np.array([np.flatnonzero(groups == g)[0] for g in ids])
        vertex = hull_vertices(W[first])
    ids = ids[~np.asarray(vertex)]
    if len(ids) == 0:
        raise UserError("every design point is a vertex of the design: nothing to hold out")
    if len(ids) <= max_loo:
        fold_of = {g: i for i, g in enumerate(ids)}
    else:
        perm = np.random.default_rng(seed).permutation(ids)
        fold_of = {g: i % folds for i, g in enumerate(perm)}
    fold = np.array([fold_of.get(g, -1) for g in groups])
    if full is None:
        full = fit_surface(W, {d: np.asarray(Y[d]) for d in names}, form, objective)
    err = []
    for f in np.unique(fold[fold >= 0]):
        test = fold == f
        s = refit(full, W[~test], {d: np.asarray(Y[d])[~test] for d in names})
        err.append(s(W[test]) - y[test])
    err = np.concatenate(err)
    return float(np.sqrt(np.mean(err ** 2)))


@dataclass(frozen=True)
class SurfaceChoice:
    surface: Surface
    cv: dict[str, float]              # form → held-out RMSE of the objective (NaN: skipped)
    skipped: dict[str, str]           # form → why it was not tried
    note: str = ""                    # how the held-out error was measured, when not as usual


def choose_surface(W, Y: Mapping[str, np.ndarray], objective: str = "mean-loss", *,
                   forms: Sequence[str] = SURFACE_FORMS, domains: Sequence[str] | None = None) -> SurfaceChoice:
    """The form with the lowest held-out error, fitted on all runs."""
    W = np.asarray(W, dtype=float)
    for f in forms:
        form_terms(f, W.shape[1])   # unknown names refused
    groups = point_groups(W)
    ids = np.unique(groups)
    n_points = len(ids)
    vertex = hull_vertices(W[[np.flatnonzero(groups == g)[0] for g in ids]])
    note = ""
    if vertex.all():
        # random mixtures over five or more domains are all corners of their own hull: holding out
        # only interior points would hold out nothing, so every point is held out, and said so
        vertex = np.zeros_like(vertex)
        note = (f"every one of the {n_points} design points is a vertex of the design's hull (random mixtures on "
                f"{W.shape[1]} domains), so the surface form was chosen by holding out every point: that error "
                f"measures extrapolation to each point, which flatters no form but is larger than interpolation")
    cv, skipped, fitted = {}, {}, {}
    for f in forms:
        need = form_terms(f, W.shape[1]) + 2   # a leave-one-out fold still has more points than parameters
        if n_points < need:
            skipped[f] = f"needs at least {need} distinct mixtures, the runs hold {n_points}"
            continue
        try:
            fitted[f] = fit_surface(W, Y, f, objective, domains)
            cv[f] = cross_validate(W, Y, f, objective, groups=groups, full=fitted[f], vertex=vertex)
        except (UserError, np.linalg.LinAlgError, ValueError) as exc:
            skipped[f] = " ".join(str(exc).split())
    usable = {f: v for f, v in cv.items() if math.isfinite(v)}
    if not usable:
        raise UserError(f"no surface form can be fitted to these runs ({n_points} distinct mixtures on "
                        f"{W.shape[1]} domains): " + "; ".join(f"{f}: {why}" for f, why in skipped.items()))
    best = min(usable, key=usable.get)
    return SurfaceChoice(fitted[best], cv, skipped, note)


# --- the minimiser --------------------------------------------------------------------------------

def simplex_lattice(K: int, m: int) -> np.ndarray:
    """All points of the simplex with coordinates k/m."""
    rows = [(*c, m - sum(c)) for c in itertools.product(range(m + 1), repeat=K - 1) if sum(c) <= m]
    return np.asarray(rows, dtype=float) / m


def candidates(K: int, seed: int = 0) -> np.ndarray:
    """Starting points for the minimiser: a lattice for few domains, random points for many."""
    if K == 1:
        return np.ones((1, 1))
    if K <= 4:
        return simplex_lattice(K, {2: 400, 3: 60, 4: 24}[K])
    rng = np.random.default_rng(seed)
    return np.vstack([np.eye(K), np.full((1, K), 1 / K), rng.dirichlet(np.ones(K), 4000),
                      rng.dirichlet(np.full(K, 0.2), 4000)])


def minimise_on_simplex(f: Callable[[np.ndarray], np.ndarray], K: int, *, polish: int = 2, seed: int = 0
                        ) -> tuple[np.ndarray, float]:
    """The weights minimising f (vectorised over rows) on the simplex, and f there."""
    C = candidates(K, seed)
    v = f(C)
    if not np.isfinite(v).any():
        raise UserError("the fitted surface is not finite anywhere on the simplex")
    v = np.where(np.isfinite(v), v, np.inf)
    order = np.argsort(v)[:polish]
    best_w, best_v = C[order[0]], float(v[order[0]])

    def one(x):
        return float(f(np.clip(x, 0, 1)[None, :])[0])

    step = math.sqrt(np.finfo(float).eps)     # SLSQP's own forward-difference step

    def value_and_gradient(x):   # f at x and at x + step·e_i in one vectorised call, not K + 1 calls
        x = np.clip(x, 0, 1)
        h = np.where(x + step > 1, -step, step)     # backward at the upper bound, as scipy's differences do
        v = f(np.vstack([x, x + np.diag(h)]))
        return float(v[0]), (v[1:] - v[0]) / h

    for i in order:
        res = minimize(value_and_gradient, C[i], jac=True, method="SLSQP", bounds=[(0.0, 1.0)] * K,
                       constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1.0}],
                       options={"ftol": 1e-12, "maxiter": 200})
        x = np.clip(res.x, 0, 1)
        x = x / x.sum()
        val = one(x)
        if math.isfinite(val) and val < best_v:
            best_w, best_v = x, val
    return best_w, best_v
