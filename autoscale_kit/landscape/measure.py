"""The measured mixture landscape: a design over the simplex trained at several budgets, the
fitted surface and its optimum (with an interval) at each budget, and a cross-budget model.

Why: a method's answer can only be judged against ground truth, and the paper's first claim (the
optimal mixture moves with the budget) is a statement about this landscape. On a laptop the
landscape of a few domains is cheap enough to measure directly.

Design choices:
- The design is a grid of step h over the simplex, corners and edges included (so a landscape's
  runs table holds zero quantities), plus the centroid (uniform weights: its target-budget run
  is the very run the methods' validation trains) and optional random points.
- Every run goes through the run store (resumable, shared with studies); analysis reads a runs
  table of *any* mixtures: ours, RegMix's released runs or a user's sweep. Runs are grouped into
  budgets by an explicit `scale` column, else by their total tokens (totals within 1% are one
  budget, so rounding to whole tokens does not split a budget).
- Per budget, the surface form is chosen by held-out error (`surfaces.choose_surface`), the
  optimum is its minimiser over the simplex, and the interval comes from a bootstrap over design
  points and seeds (`bootstrap`).
- Across budgets (`cross_budget`), the measured landscape is the anchor: the prediction at a
  larger budget is the largest measured landscape plus a shrunk extrapolation of how the
  landscape's shape changed with log budget, the shrinkage set by a backtest (predict the largest
  measured budget from the smaller ones, compare with reusing the next-smaller one).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from autoscale_kit.core import fmt
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.proxy.train import ProxyConfig
from autoscale_kit.runs.store import CorpusRef, RunRecord, RunSpec, RunStore, run_many

MAX_GRID_DOMAINS = 4


# --- the design ---------------------------------------------------------------------------------

def grid_divisions(step: float) -> int:
    """1/step as a whole number of divisions (step 0.25 → 4); other steps are refused."""
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not math.isfinite(step) or not 0 < step <= 1:
        raise UserError(f"the grid step must be a number in (0, 1], got {step!r}")
    m = round(1.0 / step)
    if m < 1 or abs(1.0 / step - m) > 1e-3 * m:
        raise UserError(f"the grid step must divide 1 into whole parts (0.5, 0.25, 0.2, 0.125, 0.1, …), got {step!r}")
    return int(m)


def simplex_grid(domains: Sequence[str], step: float) -> list[dict[str, float]]:
    """Every mixture whose weights are multiples of `step` (corners and edges included), in a
    fixed order; weights as fractions k/m."""
    m = grid_divisions(step)
    k = len(domains)
    out = []
    for combo in itertools.product(range(m + 1), repeat=k - 1):
        if sum(combo) <= m:
            counts = (*combo, m - sum(combo))
            out.append({d: c / m for d, c in zip(domains, counts)})
    return out


def design_points(domains: Sequence[str], step: float, *, centroid: bool = True, random_points: int = 0,
                  seed: int = 0) -> list[dict[str, float]]:
    """The landscape's mixtures: the grid, the centroid when it is not on the grid (as equal
    weights {d: 1}, the uniform mixture's exact tokens), then `random_points` Dirichlet(1) draws."""
    points = simplex_grid(domains, step)
    k = len(domains)
    if centroid:
        on_grid = any(all(abs(p[d] - 1 / k) < 1e-12 for d in domains) for p in points)
        if on_grid:
            points = [{d: 1.0 for d in domains} if all(abs(p[d] - 1 / k) < 1e-12 for d in domains) else p
                      for p in points]
        else:
            points.append({d: 1.0 for d in domains})
    if random_points:
        rng = np.random.default_rng(seed)
        for w in rng.dirichlet(np.ones(k), size=random_points):
            points.append({d: float(v) for d, v in zip(domains, w)})
    return points


def point_name(weights: Mapping[str, float]) -> str:
    """A short name for a design point: the weights in percent, e.g. 50-25-25."""
    total = sum(weights.values())
    return "-".join(f"{100 * w / total:.4g}" for w in weights.values())


@dataclass(frozen=True)
class LandscapeConfig:
    """What a landscape trains: domains, budgets, the design, seeds, the proxy model."""

    name: str = "landscape"
    corpus: str | None = None                                   # None: the bundled corpus
    domains: tuple[str, ...] = ("code", "books", "speeches")
    budgets: tuple[int, ...] = (250_000, 1_000_000, 4_000_000)
    step: float = 0.25
    seeds: tuple[int, ...] = (0, 1)
    centroid: bool = True
    random_points: int = 0
    point_seed: int = 0
    proxy: ProxyConfig = ProxyConfig()
    workers: int = 1

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip() or "/" in self.name:
            raise UserError(f"LandscapeConfig.name must be a non-empty name without '/', got {self.name!r}")
        if not isinstance(self.domains, tuple) or any(not isinstance(d, str) or not d for d in self.domains):
            raise UserError(f"LandscapeConfig.domains must be a tuple of names, got {self.domains!r}")
        if len(set(self.domains)) != len(self.domains):
            raise UserError(f"LandscapeConfig.domains names a domain twice: {list(self.domains)}")
        if not 2 <= len(self.domains) <= MAX_GRID_DOMAINS:
            raise UserError(f"a landscape grid takes 2 to {MAX_GRID_DOMAINS} domains (the grid grows as "
                            f"(1/step)^(K-1)); got {len(self.domains)}. For more domains, fit a sweep of random "
                            f"mixtures with `landscape fit`")
        for name in ("budgets", "seeds"):
            values = getattr(self, name)
            if not isinstance(values, tuple) or not values:
                raise UserError(f"LandscapeConfig.{name} must be a non-empty tuple, got {values!r}")
            low = 1 if name == "budgets" else 0
            if any(isinstance(v, bool) or not isinstance(v, int) or v < low for v in values):
                raise UserError(f"LandscapeConfig.{name} must hold integers >= {low}, got {list(values)}")
            if len(set(values)) != len(values):
                raise UserError(f"LandscapeConfig.{name} names a value twice: {list(values)}")
        if sorted(self.budgets) != list(self.budgets):
            raise UserError(f"LandscapeConfig.budgets must be increasing, got {list(self.budgets)}")
        grid_divisions(self.step)
        if isinstance(self.random_points, bool) or not isinstance(self.random_points, int) or self.random_points < 0:
            raise UserError(f"LandscapeConfig.random_points must be an integer >= 0, got {self.random_points!r}")
        if not isinstance(self.proxy, ProxyConfig):
            raise UserError(f"LandscapeConfig.proxy must be a ProxyConfig, got {type(self.proxy).__name__}")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise UserError(f"LandscapeConfig.workers must be an integer >= 1, got {self.workers!r}")

    @property
    def corpus_ref(self) -> CorpusRef:
        return CorpusRef(self.corpus, self.domains)

    @property
    def points(self) -> list[dict[str, float]]:
        return design_points(self.domains, self.step, centroid=self.centroid, random_points=self.random_points,
                             seed=self.point_seed)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["proxy"] = self.proxy.to_dict()
        return d


def landscape_specs(config: LandscapeConfig) -> list[RunSpec]:
    """One run per budget × design point × seed, smaller budgets first (an interrupted landscape
    has whole budgets done). A point's mixture is `Mixture.from_weights(point, budget).rounded()`,
    the same whole tokens a study's validation trains for the same weights."""
    specs = []
    for total in config.budgets:
        for point in config.points:
            mix = Mixture.from_weights(point, total).rounded()
            for seed in config.seeds:
                specs.append(RunSpec(mix, config.proxy.with_(seed=seed), config.corpus_ref,
                                     label=f"landscape/{total}/{point_name(point)}/seed{seed}"))
    return specs


def train_landscape(config: LandscapeConfig, store: RunStore | str = "runs", *, executor=None,
                    progress: bool = True) -> list[RunRecord]:
    """Train (or load) every run of the design; resumable through the store."""
    if executor is None and config.workers > 1:
        executor = "process"
    return run_many(landscape_specs(config), store, executor=executor, workers=config.workers, progress=progress)


# --- the landscape's runs as files ----------------------------------------------------------------

def landscape_frame(records: Sequence[RunRecord]) -> pd.DataFrame:
    """The runs table of a landscape (zero quantities included) with a `scale` column (the
    budget each run was asked for) and the run's label."""
    from autoscale_kit.runs.store import runs_table

    frame = runs_table(records)
    frame.insert(1, "scale", [int(round(r.mixture.total)) for r in records])
    return frame


def curves_frame(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Every run's validation curve, long form: run, scale, seed, then the curve's columns."""
    parts = []
    for r in records:
        c = r.curve.copy()
        c.insert(0, "seed", r.seed)
        c.insert(0, "scale", int(round(r.mixture.total)))
        c.insert(0, "run", r.key)
        parts.append(c)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["run", "scale", "seed"])


def write_landscape_folder(config: LandscapeConfig, records: Sequence[RunRecord], out: str | Path,
                           *, how: str = "") -> Path:
    """runs.csv, curves.csv and landscape.json (the config and how it was made) in `out`, each
    written atomically."""
    import json

    from autoscale_kit.core.tables import write_text_atomically

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomically(out / "runs.csv", landscape_frame(records).to_csv(index=False), "the landscape runs table")
    write_text_atomically(out / "curves.csv", curves_frame(records).to_csv(index=False), "the landscape curves")
    meta = {"config": config.to_dict(), "runs": len(records), "how": how,
            "wall_time_s": float(sum(r.wall_time for r in records)),
            "keys": [r.key for r in records]}
    write_text_atomically(out / "landscape.json", json.dumps(meta, indent=2) + "\n", "the landscape description")
    return out


# --- reading any runs table as a landscape --------------------------------------------------------

BUDGET_RTOL = 0.01


@dataclass(frozen=True)
class LandscapeRuns:
    """Runs of arbitrary mixtures, grouped into budgets: weights, per-domain losses, seeds."""

    domains: tuple[str, ...]              # training domains (weights' columns)
    eval_domains: tuple[str, ...]
    weights: np.ndarray                   # (runs, K), rows sum to 1
    losses: dict[str, np.ndarray]         # validation domain → loss (nats) per run
    budget: np.ndarray                    # the budget (total tokens) each run belongs to
    seeds: tuple | None
    run_ids: tuple[str, ...]
    source: str

    @property
    def budgets(self) -> tuple[float, ...]:
        return tuple(sorted(set(self.budget.tolist())))

    def at(self, total: float) -> "LandscapeRuns":
        keep = self.budget == total
        return replace(self, weights=self.weights[keep], losses={d: v[keep] for d, v in self.losses.items()},
                       budget=self.budget[keep], seeds=None if self.seeds is None else
                       tuple(s for s, k in zip(self.seeds, keep) if k),
                       run_ids=tuple(r for r, k in zip(self.run_ids, keep) if k))


def landscape_runs(records: Sequence[RunRecord]) -> LandscapeRuns:
    """Stored runs as a landscape (each run's budget: the total its mixture asked for)."""
    return read_landscape(landscape_frame(records))


def _group_totals(totals: np.ndarray) -> np.ndarray:
    """Totals within 1% of each other are one budget (their median names it)."""
    order = np.argsort(totals)
    out = np.empty(len(totals))
    start = 0
    for i in range(1, len(order) + 1):
        if i == len(order) or totals[order[i]] > totals[order[start]] * (1 + BUDGET_RTOL):
            members = order[start:i]
            out[members] = float(np.median(totals[members]))
            start = i
    return out


def _scale_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    from autoscale_kit.core.mixture import parse_tokens

    values = []
    for i, v in enumerate(frame["scale"].tolist()):
        try:
            values.append(parse_tokens(str(v)))
        except UserError:
            raise UserError(f"{name}: the scale column, row {i + 1}, holds {v!r}; give each run's budget as a number of "
                            f"tokens (250000, 250k, 1M)") from None
    return np.asarray(values, dtype=float)


def read_landscape(source, *, losses=None, tokens_per_run: float = 1.0) -> LandscapeRuns:
    """A landscape from a runs table (path or DataFrame; zero quantities allowed), or from
    RegMix's released pair of files (`source` the mixture file, `losses` the loss file: weights,
    one budget of `tokens_per_run`). Budgets come from a `scale` column when there is one, else
    from each run's total tokens."""
    from autoscale_kit.core.tables import _read_frame, read_mixture_losses, read_runs_table

    if losses is not None:
        ml = read_mixture_losses(source, losses)
        W = ml.weights
        Y = {str(c): ml.losses[c].to_numpy(dtype=float) for c in ml.losses.columns}
        for c, v in Y.items():
            if (v <= 0).any():
                raise UserError(f"the loss file's column {c!r} holds a loss <= 0; losses are in nats and positive")
        return LandscapeRuns(ml.domains, tuple(Y), W, Y, np.full(len(W), float(tokens_per_run)), None, ml.runs,
                             str(source))
    table = read_runs_table(source, allow_zero=True)
    frame, name = _read_frame(source, "runs table")
    totals = table.tokens.sum(axis=1)
    budget = _scale_column(frame, name) if "scale" in frame.columns else _group_totals(totals)
    Y = {d: table.domain_loss(d) for d in table.eval_domains}
    return LandscapeRuns(table.domains, table.eval_domains, table.tokens / totals[:, None], Y, budget, table.seeds,
                         table.run_ids, table.source)


# --- one budget: surface, optimum, interval -----------------------------------------------------

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

    def to_dict(self) -> dict:
        return {"total": float(self.total), "runs": int(self.runs), "points": int(self.points),
                "form": self.surface.form, "cv_rmse": self.cv, "optimum": self.optimum,
                "interval": {d: list(v) for d, v in self.interval.items()}, "objective": self.objective,
                "best_measured": self.best_measured, "best_measured_objective": self.best_measured_objective,
                "warnings": list(self.warnings)}


def _residual_inflation(points: int, params: int) -> float:
    """sqrt(G / (G - p)): a fit with p parameters on G design points leaves residuals smaller than
    the errors (it absorbed p of G degrees of freedom); the wild bootstrap inflates them back
    (the small-sample correction of clustered residuals, HC1-style)."""
    return math.sqrt(points / max(points - params, 1))


def _wild_parts(surface, W, Y, names, points: int) -> tuple[dict, dict]:
    """What the wild bootstrap of one budget flips: the surface's fitted values at W and the
    residuals, inflated for the parameters the fit absorbed, per validation domain."""
    from autoscale_kit.fit.surface import form_terms

    fitted = {d: law.predict(W) for d, law in zip(surface.eval_domains, surface.laws)}
    inflate = _residual_inflation(points, form_terms(surface.form, W.shape[1]))
    return fitted, {d: inflate * (Y[d] - fitted[d]) for d in names}


def _check_losses(runs: LandscapeRuns) -> None:
    for d, v in runs.losses.items():
        bad = ~np.isfinite(v)
        if bad.any():
            raise UserError(f"{runs.source}: run {runs.run_ids[int(np.flatnonzero(bad)[0])]} has a non-finite loss on "
                            f"{d!r}; drop or retrain that run")


def fit_budget(runs: LandscapeRuns, objective: str = "mean-loss", *, forms=None, n_boot: int = 100,
               level: float = 0.9, seed: int = 0) -> BudgetFit:
    """The surface (form chosen by held-out error), its minimiser and a bootstrap interval over
    design points and seeds, for runs at one budget."""
    from autoscale_kit.core.bootstrap import bootstrap, clusters_of
    from autoscale_kit.fit.surface import (choose_surface, measured_objective, minimise_on_simplex, objective_domains,
                                       point_groups, refit)
    from autoscale_kit.fit.surrogates import SURFACE_FORMS

    _check_losses(runs)
    if len(set(runs.budget.tolist())) != 1:
        raise UserError("fit_budget takes the runs of one budget (use LandscapeRuns.at)")
    W, Y, K = runs.weights, runs.losses, len(runs.domains)
    choice = choose_surface(W, Y, objective, forms=forms or SURFACE_FORMS, domains=runs.domains)
    surface = choice.surface
    w, value = minimise_on_simplex(surface, K)
    groups = point_groups(W)
    names = objective_domains(tuple(Y), objective)

    fitted, resid = _wild_parts(surface, W, Y, names, len(set(groups.tolist())))

    def statistic(signs):   # wild bootstrap: the design kept, each point's residuals flipped together
        s = refit(surface, W, {d: fitted[d] + signs * resid[d] for d in names})
        return minimise_on_simplex(s, K)[0]

    boot = bootstrap(statistic, clusters_of(groups), n=n_boot, seed=seed, scheme="wild")
    lo, hi = boot.interval(level)
    y = measured_objective(Y, names, objective)
    means = {g: float(y[groups == g].mean()) for g in np.unique(groups)}
    g_best = min(means, key=means.get)
    w_best = W[np.flatnonzero(groups == g_best)[0]]
    warnings = []
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
                     dict(zip(runs.domains, map(float, w_best))), means[g_best], tuple(warnings))


# --- across budgets ---------------------------------------------------------------------------

def _reference_points(K: int) -> np.ndarray:
    """Where landscapes are compared across budgets: a lattice (few domains) or random points."""
    from autoscale_kit.fit.surface import simplex_lattice

    if K <= 4:
        return simplex_lattice(K, {2: 50, 3: 20, 4: 10}[K])
    return np.random.default_rng(0).dirichlet(np.ones(K), 2000)


def _log_surface(surface, W) -> np.ndarray:
    return np.log(np.maximum(surface(W), 1e-9))


@dataclass(frozen=True)
class CrossBudget:
    """Predicts the objective of any mixture at a larger budget from the landscapes measured.

    log F_T(w) = level(T) + h_S(w) + λ · slope(w) · log(T / N_S): h_s is the landscape's shape at
    budget s (log objective minus its mean over the simplex), slope(w) the least-squares slope of
    h_s(w) in log budget, level(T) a line in log budget through the measured levels, and λ in
    [0, 1] how far the change of shape is trusted (set by the backtest; 0 with two budgets)."""

    totals: tuple[float, ...]
    surfaces: tuple
    shrink: float
    backtest: dict | None

    @cached_property
    def centres(self) -> np.ndarray:
        """Each budget's level: its mean log objective over the reference points (computed once:
        the minimiser calls `predict` thousands of times)."""
        G = _reference_points(len(self.surfaces[0].domains))
        return np.array([_log_surface(s, G).mean() for s in self.surfaces])

    @cached_property
    def level(self) -> tuple[float, float]:
        """(a, b) of level(N) = a + b log N, least squares through the budgets' levels."""
        x, levels = np.log(np.asarray(self.totals)), self.centres
        if len(x) == 1:
            return float(levels[0]), 0.0
        b = float(((x - x.mean()) * (levels - levels.mean())).sum() / ((x - x.mean()) ** 2).sum())
        return float(levels.mean() - b * x.mean()), b

    def _shape(self, W) -> tuple[np.ndarray, np.ndarray]:
        """h at the largest budget and the slope, at weights W."""
        logs = np.log(np.asarray(self.totals))
        H = np.stack([_log_surface(s, W) - c for s, c in zip(self.surfaces, self.centres)])
        if len(self.totals) == 1:
            return H[-1], np.zeros(H.shape[1])
        x = logs - logs.mean()
        slope = (x[:, None] * (H - H.mean(axis=0))).sum(axis=0) / (x ** 2).sum()
        return H[-1], slope

    def predict(self, W, total: float) -> np.ndarray:
        W = np.atleast_2d(np.asarray(W, dtype=float))
        h, slope = self._shape(W)
        a, b = self.level
        step = math.log(total / self.totals[-1])
        return np.exp(a + b * math.log(total) + h + self.shrink * slope * step)


def backtest(totals: Sequence[float], surfaces: Sequence, K: int, *, full: bool = True) -> dict | None:
    """Predict the largest budget's landscape from the smaller ones; compare with reusing the
    next-smaller landscape (errors in objective units on a lattice of the simplex, and, with
    `full`, the optimum each would pick and its regret on the measured landscape). The shrinkage
    λ is the least-squares weight of the extrapolated change; it is chosen on this same backtest,
    so its own error is optimistic. None with fewer than three budgets."""
    from autoscale_kit.fit.surface import minimise_on_simplex

    if len(totals) < 3:
        return None
    G = _reference_points(K)
    past = CrossBudget(tuple(totals[:-1]), tuple(surfaces[:-1]), 1.0, None)
    h_prev, slope = past._shape(G)
    last = surfaces[-1]
    log_last = _log_surface(last, G)
    level_last = float(log_last.mean())
    h_last = log_last - level_last
    change = slope * math.log(totals[-1] / totals[-2])
    true_change = h_last - h_prev
    denom = float(change @ change)
    lam = float(np.clip(true_change @ change / denom, 0.0, 1.0)) if denom > 0 else 0.0
    truth = last(G)

    def error(lmb):   # objective units, shape only (the level set to the measured one)
        return float(np.sqrt(np.mean((np.exp(level_last + h_prev + lmb * change) - truth) ** 2)))

    if not full:
        return {"shrink": lam}
    w_true, v_true = minimise_on_simplex(last, K)

    step = math.log(totals[-1] / totals[-2])

    def regret(lmb):
        def predicted(X):
            h, sl = past._shape(X)
            return np.exp(h + lmb * sl * step)

        w, _ = minimise_on_simplex(predicted, K)
        return w, float(last(w[None, :])[0] - v_true)

    a, b = past.level
    out = {"fitted_from": [float(t) for t in totals[:-1]], "predicted": float(totals[-1]), "shrink": lam,
           "error_reused": error(0.0), "error_extrapolated": error(1.0), "error_shrunk": error(lam),
           "level_error": float(abs(math.exp(a + b * math.log(totals[-1])) - math.exp(level_last)))}
    for name, lmb in (("reused", 0.0), ("extrapolated", 1.0), ("shrunk", lam)):
        w, r = regret(lmb)
        out[f"optimum_{name}"] = w.tolist()
        out[f"regret_{name}"] = r
    out["optimum_measured"] = w_true.tolist()
    out["held"] = out["error_extrapolated"] < out["error_reused"]
    return out


def cross_budget(totals: Sequence[float], surfaces: Sequence, K: int, *, full: bool = True) -> CrossBudget:
    """The cross-budget model of measured landscapes (sorted by budget), its shrinkage set by
    the backtest; with two budgets the shape is reused (λ = 0) and only the level extrapolated."""
    totals, surfaces = tuple(float(t) for t in totals), tuple(surfaces)
    bt = backtest(totals, surfaces, K, full=full)
    lam = bt["shrink"] if bt else 0.0
    return CrossBudget(totals, surfaces, lam, bt)


# --- the whole landscape ----------------------------------------------------------------------

@dataclass(frozen=True)
class TargetPrediction:
    total: float
    optimum: dict[str, float]
    objective: float
    interval: dict[str, tuple[float, float]]
    samples: np.ndarray
    query: list[float] | None

    def to_dict(self) -> dict:
        out = {"total": float(self.total), "optimum": self.optimum, "objective": self.objective,
               "interval": {d: list(v) for d, v in self.interval.items()}}
        if self.query is not None:
            out["query"] = self.query
        return out


@dataclass(frozen=True)
class LandscapeFit:
    """Every budget's fitted landscape, the cross-budget model, and (with a target) its answer."""

    domains: tuple[str, ...]
    objective: str
    scales: tuple[BudgetFit, ...]
    model: CrossBudget | None
    target: TargetPrediction | None
    level: float
    warnings: tuple[str, ...] = ()

    def moved(self) -> list[dict]:
        """Between consecutive budgets: did the optimum move beyond its intervals? (per domain:
        the two intervals do not overlap)."""
        out = []
        for a, b in zip(self.scales, self.scales[1:]):
            apart = [d for d in self.domains if a.interval[d][1] < b.interval[d][0] or b.interval[d][1] < a.interval[d][0]]
            out.append({"from": a.total, "to": b.total, "shift": {d: b.optimum[d] - a.optimum[d] for d in self.domains},
                        "beyond_interval": apart, "moved": bool(apart)})
        return out

    def to_dict(self) -> dict:
        out = {"domains": list(self.domains), "objective": self.objective, "level": self.level,
               "scales": [s.to_dict() for s in self.scales], "moved": self.moved(),
               "backtest": self.model.backtest if self.model else None,
               "shrink": self.model.shrink if self.model else None, "warnings": list(self.warnings)}
        if self.target is not None:
            out["target"] = self.target.to_dict()
        return out


def read_query(source, domains: Sequence[str]) -> np.ndarray:
    """Mixtures to predict (rows of MIX.csv: weight:<d> or tokens:<d> columns) as weights,
    columns in the landscape's domain order."""
    from autoscale_kit.core.tables import _read_frame

    frame, name = _read_frame(source, "query mixtures")
    for prefix in ("weight:", "tokens:"):
        cols = {c[len(prefix):].strip(): c for c in frame.columns if str(c).startswith(prefix)}
        if cols:
            break
    else:
        raise UserError(f"{name} has no weight:<domain> or tokens:<domain> columns")
    if set(cols) != set(domains):
        missing, extra = sorted(set(domains) - set(cols)), sorted(set(cols) - set(domains))
        raise UserError(f"{name} names domains {', '.join(sorted(cols))} but the runs train on {', '.join(domains)}"
                        + (f" (missing: {', '.join(missing)})" if missing else "")
                        + (f" (not in the runs: {', '.join(extra)})" if extra else ""))
    W = np.column_stack([pd.to_numeric(frame[cols[d]], errors="coerce").to_numpy(dtype=float) for d in domains])
    bad = ~np.isfinite(W) | (W < 0)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise UserError(f"{name}: row {r + 1}, {cols[domains[c]]!r} is {frame[cols[domains[c]]].iloc[r]!r}; give a "
                        f"finite number >= 0")
    sums = W.sum(axis=1)
    if (sums <= 0).any():
        raise UserError(f"{name}: row {int(np.argmin(sums)) + 1} has no positive quantity")
    return W / sums[:, None]


def fit_landscape(runs: LandscapeRuns, objective: str = "mean-loss", *, target: float | None = None,
                  query: np.ndarray | None = None, forms=None, n_boot: int = 100, level: float = 0.9,
                  seed: int = 0) -> LandscapeFit:
    """Fit every budget of `runs`; with `target`, the cross-budget model's optimum there (with a
    bootstrap interval over every budget's design points and seeds) and the predicted objective
    of each `query` mixture."""
    from autoscale_kit.core.bootstrap import bootstrap, clusters_of
    from autoscale_kit.fit.surface import minimise_on_simplex, objective_domains, point_groups, refit

    _check_losses(runs)
    totals = runs.budgets
    K = len(runs.domains)
    if target is not None:
        if isinstance(target, bool) or not isinstance(target, (int, float)) or not math.isfinite(target) or target <= 0:
            raise UserError(f"the target must be a positive number of tokens, got {target!r}")
        if len(totals) < 2:
            raise UserError(f"a prediction at a target budget needs landscapes at two or more budgets; the runs hold "
                            f"one ({totals[0]:,.6g} tokens). Train the design at more budgets (landscape run --scales)")
        if target < totals[-1]:
            raise UserError(f"the target {target:,.6g} is below the largest measured budget {totals[-1]:,.6g}; read "
                            f"the measured landscape there instead, or give a larger target")
    if query is not None and target is None:
        raise UserError("query mixtures are predicted at a target budget; give --target too")
    scales = tuple(fit_budget(runs.at(t), objective, forms=forms, n_boot=n_boot, level=level, seed=seed)
                   for t in totals)
    warnings = [f"{s.total:,.6g} tokens: {w}" for s in scales for w in s.warnings]
    model = cross_budget(totals, [s.surface for s in scales], K) if len(totals) >= 2 else None
    if model is not None and model.backtest is None:
        warnings.append("two budgets: no backtest is possible, so the cross-budget model reuses the largest "
                        "budget's landscape shape and extrapolates only its level; measure a third budget to test "
                        "whether the shape's change can be extrapolated")
    elif model is not None and not model.backtest["held"]:
        warnings.append(f"the backtest did not support extrapolating the landscape's change (reusing the "
                        f"{fmt.tokens(model.backtest['fitted_from'][-1])}-token landscape predicted the "
                        f"{fmt.tokens(model.backtest['predicted'])}-token one better); the model shrinks the change by "
                        f"λ = {model.shrink:.2f}")
    pred = None
    if target is not None:
        w, v = minimise_on_simplex(lambda X: model.predict(X, target), K)
        names = objective_domains(tuple(runs.losses), objective)
        labels = [(t, g) for t in totals for g in point_groups(runs.at(t).weights)]
        index = np.concatenate([np.flatnonzero(runs.budget == t) for t in totals])
        clusters = [index[c] for c in clusters_of(labels)]
        parts = []
        for t, s in zip(totals, scales):
            r = np.flatnonzero(runs.budget == t)
            W_t = runs.weights[r]
            fit_t, res_t = _wild_parts(s.surface, W_t, {d: runs.losses[d][r] for d in names}, names, s.points)
            parts.append((r, W_t, fit_t, res_t, s.surface))

        def statistic(signs):   # the wild bootstrap of every budget at once, then the model and its optimum
            surfaces = [refit(surf, W_t, {d: fit_t[d] + signs[r] * res[d] for d in names})
                        for r, W_t, fit_t, res, surf in parts]
            m = cross_budget(totals, surfaces, K, full=False)
            return minimise_on_simplex(lambda X: m.predict(X, target), K)[0]

        boot = bootstrap(statistic, clusters, n=n_boot, seed=seed + 1, scheme="wild")
        lo, hi = boot.interval(level)
        if boot.failed:
            warnings.append(f"target: {boot.failed} of {n_boot} bootstrap resamples could not be fitted")
        q = None if query is None else [float(x) for x in model.predict(np.asarray(query, dtype=float), target)]
        pred = TargetPrediction(float(target), dict(zip(runs.domains, map(float, w))), float(v),
                                {d: (float(a), float(b)) for d, a, b in zip(runs.domains, lo, hi)}, boot.samples, q)
    return LandscapeFit(runs.domains, objective, scales, model, pred, level, tuple(warnings))


def describe(fit: LandscapeFit) -> str:
    """The fit as text: per budget the optimum and its interval, what moved, the backtest, the target."""
    pct = lambda v: f"{100 * v:.0f}%"   # noqa: E731
    lines = [f"objective: {fit.objective}; intervals at {100 * fit.level:.0f}%"]
    for s in fit.scales:
        opt = ", ".join(f"{d} {pct(s.optimum[d])} [{pct(s.interval[d][0])}, {pct(s.interval[d][1])}]"
                        for d in fit.domains)
        lines.append(f"{fmt.tokens(s.total):>6} tokens  {s.runs:>4} runs  {s.surface.form:<17} optimum {opt}  "
                     f"objective {s.objective:.4f} (best measured {s.best_measured_objective:.4f})")
    for m in fit.moved():
        shift = ", ".join(f"{d} {100 * v:+.0f} pts" for d, v in m["shift"].items())
        lines.append(f"{fmt.tokens(m['from'])} → {fmt.tokens(m['to'])}: {shift}; "
                     + (f"moved beyond the intervals in {', '.join(m['beyond_interval'])}" if m["moved"]
                        else "within the intervals"))
    bt = fit.model.backtest if fit.model else None
    if bt:
        lines.append(f"backtest ({', '.join(fmt.tokens(t) for t in bt['fitted_from'])} → {fmt.tokens(bt['predicted'])}): "
                     f"landscape error reused {bt['error_reused']:.4f}, extrapolated {bt['error_extrapolated']:.4f}; "
                     f"regret of the optimum reused {bt['regret_reused']:.4f}, extrapolated "
                     f"{bt['regret_extrapolated']:.4f}; shrink λ = {bt['shrink']:.2f}")
    if fit.target is not None:
        t = fit.target
        opt = ", ".join(f"{d} {pct(t.optimum[d])} [{pct(t.interval[d][0])}, {pct(t.interval[d][1])}]"
                        for d in fit.domains)
        lines.append(f"target {fmt.tokens(t.total)} tokens: optimum {opt}; predicted objective {t.objective:.4f}")
        if t.query is not None:
            lines.append("query: " + ", ".join(f"{v:.4f}" for v in t.query))
    return "\n".join(lines)


SHIPPED = Path(__file__).resolve().parents[2] / "data" / "landscape"


def shipped_landscape(name: str = "bundled") -> Path:
    """The folder of a landscape shipped with the toolkit (runs.csv, curves.csv, fit.json, …)."""
    path = SHIPPED / name
    if not (path / "runs.csv").is_file():
        raise UserError(f"no shipped landscape {name!r} in {SHIPPED}; train it with "
                        f"`python benchmarks/landscape.py --name {name}`")
    return path


# --- what notebooks draw --------------------------------------------------------------------

def budget_views(runs: LandscapeRuns, fit: Mapping, objective: str | None = None, lattice: int = 30) -> list[dict]:
    """Per budget, what `plots.landscape_ternary` draws: the surface of the form `fit` recorded
    (refitted on the runs: fast, no model choice or bootstrap), its values on a lattice, the
    design points with their mean measured objective, the optimum and the bootstrap optima.
    `fit` is a `LandscapeFit.to_dict()` (as shipped in fit.json, with `bootstrap_optima`)."""
    from autoscale_kit.fit.surface import fit_surface, measured_objective, objective_domains, point_groups, simplex_lattice

    objective = objective or fit["objective"]
    L = simplex_lattice(len(runs.domains), lattice)
    out = []
    for s in fit["scales"]:
        at = runs.at(s["total"])
        names = objective_domains(tuple(at.losses), objective)
        surface = fit_surface(at.weights, at.losses, s["form"], objective, runs.domains)
        y = measured_objective(at.losses, names, objective)
        g = point_groups(at.weights)
        ids = np.unique(g)
        out.append({"total": s["total"], "lattice": L, "values": surface(L),
                    "points": np.array([at.weights[g == i][0] for i in ids]),
                    "measured": np.array([y[g == i].mean() for i in ids]), "optimum": s["optimum"],
                    "cloud": np.asarray(s.get("bootstrap_optima", []), dtype=float).reshape(-1, len(runs.domains)),
                    "surface": surface})
    return out
