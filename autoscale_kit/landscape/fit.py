"""The whole landscape: every budget's fit, whether the optimum moved beyond the intervals, the
cross-budget model's optimum at a target, and a plain-text description."""

from __future__ import annotations

import math
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from autoscale_kit.core import fmt
from autoscale_kit.core.bootstrap import propagate
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.tables import read_frame
from autoscale_kit.fit.surface import minimise_on_simplex
from autoscale_kit.landscape.budget import BudgetFit, check_losses, fit_budget, intervals_apart
from autoscale_kit.landscape.cross import CrossBudget, backtest, cross_budget
from autoscale_kit.landscape.runs import LandscapeRuns


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
    backtests: tuple[dict, ...] = ()      # the backtest at each budget from the third on (the last: the model's)

    def _shift(self, a: BudgetFit, b: BudgetFit) -> dict:
        apart = intervals_apart(a, b, self.domains)
        return {"from": a.total, "to": b.total, "shift": {d: b.optimum[d] - a.optimum[d] for d in self.domains},
                "beyond_interval": apart, "moved": bool(apart)}

    def moved(self) -> list[dict]:
        """Between consecutive budgets: did the optimum move beyond its intervals? (per domain:
        the two intervals do not overlap)."""
        return [self._shift(a, b) for a, b in zip(self.scales, self.scales[1:])]

    def moved_overall(self) -> dict | None:
        """The same between the smallest and the largest budget (None with one budget): the
        paper's question over the whole range measured."""
        return self._shift(self.scales[0], self.scales[-1]) if len(self.scales) > 1 else None

    def to_dict(self) -> dict:
        out = {"domains": list(self.domains), "objective": self.objective, "level": self.level,
               "scales": [s.to_dict() for s in self.scales], "moved": self.moved(),
               "moved_overall": self.moved_overall(),
               "backtest": self.model.backtest if self.model else None, "backtests": list(self.backtests),
               "shrink": self.model.shrink if self.model else None, "warnings": list(self.warnings)}
        if self.target is not None:
            out["target"] = self.target.to_dict()
        return out


def read_query(source, domains: Sequence[str]) -> np.ndarray:
    """Mixtures to predict (rows of MIX.csv: weight:<d> or tokens:<d> columns) as weights,
    columns in the landscape's domain order."""
    frame, name = read_frame(source, "query mixtures")
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


PARALLEL_FROM = 500     # runs × validation domains from which `workers=None` fits budgets in two processes


def _fit_one(job: tuple) -> BudgetFit:
    runs, objective, forms, n_boot, level, seed = job
    return fit_budget(runs, objective, forms=forms, n_boot=n_boot, level=level, seed=seed)


def _fit_budgets(jobs: list, workers: int, progress: bool) -> tuple[BudgetFit, ...]:
    """Each budget's fit (independent of the others), in `workers` processes when more than one:
    the budgets of a real swarm's table (tens of runs × tens of validation domains) take seconds
    each, and two cores halve the wait."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), desc="landscape fit", unit="budget", disable=not progress, leave=False,
               delay=2.0)       # shown only when the fit takes longer than a couple of seconds
    try:
        if workers <= 1 or len(jobs) < 2:
            out = []
            for job in jobs:
                out.append(_fit_one(job))
                bar.update()
            return tuple(out)
        # spawn: a fresh interpreter per worker, safe whatever threads the parent holds (torch's)
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=mp.get_context("spawn")) as pool:
            futures = [pool.submit(_fit_one, job) for job in jobs]
            for _ in as_completed(futures):
                bar.update()
            return tuple(f.result() for f in futures)
    finally:
        bar.close()


def fit_landscape(runs: LandscapeRuns, objective: str = "mean-loss", *, target: float | None = None,
                  query: np.ndarray | None = None, forms=None, n_boot: int = 100, level: float = 0.9,
                  seed: int = 0, workers: int | None = 1, progress: bool = False) -> LandscapeFit:
    """Fit every budget of `runs` (in `workers` processes; None: two where the table is large
    enough for that to pay, PARALLEL_FROM runs × validation domains); with `target`, the cross-budget
    model's optimum there (with a bootstrap interval over every budget's design points and seeds)
    and the predicted objective of each `query` mixture."""
    check_losses(runs)
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
    if workers is None:      # a process start costs about a second: worth it for a real swarm's table only
        workers = min(2, os.cpu_count() or 1) if len(runs.budget) * len(runs.losses) >= PARALLEL_FROM else 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UserError(f"workers must be a whole number >= 1, got {workers!r}")
    scales = _fit_budgets([(runs.at(t), objective, forms, n_boot, level, seed) for t in totals], workers, progress)
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
        # each budget's own wild-bootstrap draws, taken together: draw b of every budget (their signs are
        # independent across budgets, as a joint draw's would be) refitted once, in fit_budget, not again
        n_draws = min(len(s.draws) for s in scales)

        def statistic(b):
            if b is None:
                return w
            surfaces = [s.draws[b] for s in scales]
            if any(x is None for x in surfaces):
                raise UserError("a budget's bootstrap draw could not be fitted")
            m = cross_budget(totals, surfaces, K, full=False)
            return minimise_on_simplex(lambda X: m.predict(X, target), K)[0]

        boot = propagate(statistic, list(range(n_draws)), None)
        lo, hi = boot.interval(level)
        if boot.failed:
            warnings.append(f"target: {boot.failed} of {n_boot} bootstrap resamples could not be fitted")
        q = None if query is None else [float(x) for x in model.predict(np.asarray(query, dtype=float), target)]
        pred = TargetPrediction(float(target), dict(zip(runs.domains, map(float, w))), float(v),
                                {d: (float(a), float(b)) for d, a, b in zip(runs.domains, lo, hi)}, boot.samples, q)
    # every earlier step of the backtest too (each budget predicted from those below it)
    steps = [backtest(totals[:k], [s.surface for s in scales[:k]], K) for k in range(3, len(totals))]
    steps += [model.backtest] if model is not None and model.backtest is not None else []
    return LandscapeFit(runs.domains, objective, scales, model, pred, level, tuple(warnings), tuple(steps))


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
    overall = fit.moved_overall()
    if overall is not None and len(fit.scales) > 2:
        lines.append(f"smallest → largest ({fmt.tokens(overall['from'])} → {fmt.tokens(overall['to'])}): "
                     + (f"moved beyond the intervals in {', '.join(overall['beyond_interval'])}" if overall["moved"]
                        else "within the intervals"))
    for bt in fit.backtests:
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
