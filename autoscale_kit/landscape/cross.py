"""Across budgets: the largest measured landscape plus a shrunk extrapolation of how its shape changed
with log budget, the shrinkage set by a backtest (predict the largest measured budget from the
smaller ones, compare with reusing the next-smaller one)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import numpy as np

from autoscale_kit.fit.surface import minimise_on_simplex, simplex_lattice


def _reference_points(K: int) -> np.ndarray:
    """Where landscapes are compared across budgets: a lattice (few domains) or random points."""
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

