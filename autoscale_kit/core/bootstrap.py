"""One bootstrap for every interval the toolkit reports: over clusters of runs, then within them.

Why one helper: the landscape's optimum (clusters = design points, replicates = seeds), the regret
of a method at the target (clusters = seeds) and the uncertainty of a DDO optimum or a prediction
(clusters = planned runs, replicates = seeds) are the same computation: resample the units that
vary independently, recompute the statistic, read percentiles. Writing it once keeps the
resampling scheme (and its seeding) the same everywhere.

Design choices:
- Two schemes over the same clusters. `pairs`: clusters drawn with replacement, then
  (optionally) the rows of each drawn cluster with replacement: for units that are a sample
  (seeds, random mixtures). `wild`: the design is kept and each cluster's residuals from a fit
  are flipped in sign together (Rademacher weights, one per cluster): for a designed experiment
  such as a grid, where dropping design points would leave fits unidentified (a 10-point grid
  resampled keeps about 6.5 distinct points). The residuals carry both the seed noise and the
  lack of fit of each design point, and a point's seeds move together.
  `residual`: the data are kept and every row gets a noise vector drawn with replacement from a
  pool of residual rows (scaled by the caller to one run's noise): for fits whose design cannot
  lose a point and whose replicates are too few to resample (2 seeds give 3 distinct draws of
  seeds). The estimate is the statistic with no noise added; the draws' spread around it stands
  for the estimate's spread around the truth (to first order, the same noise through the same fit).
- `propagate` maps draws made elsewhere (one per budget, paired by index) through a further
  computation with the same failure policy: how an interval on the optima becomes one on the
  predicted mixture.
- A resample on which the statistic cannot be computed (a singular fit) is skipped and counted;
  the result says how many, and refuses to give an interval when most failed.
- Percentile intervals (the simplest that is invariant to monotone transforms); the level is
  the caller's, 0.9 by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from autoscale_kit.core.errors import UserError


def clusters_of(labels: Sequence) -> list[np.ndarray]:
    """Row indices grouped by label, in order of first appearance."""
    out: dict = {}
    for i, lab in enumerate(labels):
        out.setdefault(lab, []).append(i)
    return [np.asarray(v, dtype=int) for v in out.values()]


def resample(clusters: Sequence[np.ndarray], rng: np.random.Generator, *, within: bool = True) -> np.ndarray:
    """Row indices of one bootstrap sample: as many clusters as there are, drawn with replacement,
    and within each drawn cluster its rows drawn with replacement (`within`)."""
    picks = rng.integers(len(clusters), size=len(clusters))
    parts = []
    for c in picks:
        rows = clusters[c]
        parts.append(rows[rng.integers(len(rows), size=len(rows))] if within and len(rows) > 1 else rows)
    return np.concatenate(parts)


@dataclass(frozen=True)
class Bootstrap:
    """Bootstrap replicates of a statistic (rows: resamples) and how many resamples failed."""

    estimate: np.ndarray        # the statistic on the full data
    samples: np.ndarray         # (successful resamples, *statistic shape)
    failed: int

    def interval(self, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """Percentile interval per component at `level`."""
        if not 0 < level < 1:
            raise UserError(f"an interval level must be in (0, 1), got {level!r}")
        a = (1 - level) / 2
        return np.quantile(self.samples, a, axis=0), np.quantile(self.samples, 1 - a, axis=0)

    @property
    def std(self) -> np.ndarray:
        return self.samples.std(axis=0, ddof=1) if len(self.samples) > 1 else np.full_like(self.estimate, np.nan)


def wild_signs(clusters: Sequence[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """One Rademacher sign per cluster, spread to its rows (rows not in any cluster keep +1)."""
    n_rows = int(max(int(c.max()) for c in clusters)) + 1
    out = np.ones(n_rows)
    for c, s in zip(clusters, rng.choice([-1.0, 1.0], size=len(clusters))):
        out[c] = s
    return out


SKIPPED = (UserError, np.linalg.LinAlgError)


def bootstrap(statistic: Callable[[np.ndarray], np.ndarray], clusters: Sequence[np.ndarray], *, n: int = 200,
              seed: int = 0, within: bool = True, scheme: str = "pairs", rows: int | None = None,
              skip: tuple[type[BaseException], ...] = SKIPPED, progress: Callable | None = None) -> Bootstrap:
    """The statistic on the full data and on `n` bootstrap draws over `clusters`.

    scheme "pairs": `statistic(rows)` takes an index array into the caller's data (the full data:
    every row once; a draw: see `resample`). scheme "wild": `statistic(signs)` takes one
    multiplier per row for the caller's residuals (the full data: all +1; a draw: `wild_signs`).
    scheme "residual": `statistic(picks)` takes, for each of the data's `rows`, the index of a
    residual row of the pool (the indices in `clusters`), drawn with replacement; the full data is
    `statistic(None)`, no noise added.
    It returns an array (or a number). Draws on which it raises one of `skip` are counted as
    failed; more than half failed is an error, since the interval would describe only the easy
    draws. `progress`, if given, wraps the range of draws (a tqdm)."""
    if scheme not in ("pairs", "wild", "residual"):
        raise UserError(f"unknown bootstrap scheme {scheme!r}; use pairs, wild or residual")
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise UserError(f"a bootstrap needs at least 2 resamples, got {n!r}")
    clusters = [np.asarray(c, dtype=int) for c in clusters]
    if not clusters or any(len(c) == 0 for c in clusters):
        raise UserError("a bootstrap needs at least one non-empty cluster of rows")
    full = np.concatenate(clusters)
    rng = np.random.default_rng(seed)
    if scheme == "wild":
        estimate = np.asarray(statistic(np.ones(int(full.max()) + 1)), dtype=float)
    elif scheme == "residual":
        estimate = np.asarray(statistic(None), dtype=float)
        rows = len(full) if rows is None else int(rows)
    else:
        estimate = np.asarray(statistic(full), dtype=float)

    def draw():
        if scheme == "wild":
            return wild_signs(clusters, rng)
        if scheme == "residual":
            return full[rng.integers(len(full), size=rows)]
        return resample(clusters, rng, within=within)

    return _collect(estimate, (draw() for _ in range(n)), statistic, n, skip, progress)


def propagate(function: Callable, draws: Sequence, estimate, *, skip: tuple[type[BaseException], ...] = SKIPPED,
              progress: Callable | None = None) -> Bootstrap:
    """`function` applied to each of `draws` (made elsewhere, e.g. paired draws of the optima at
    every budget), with `estimate` = `function` of the point estimates; the failure policy of
    `bootstrap`."""
    draws = list(draws)
    if len(draws) < 2:
        raise UserError(f"propagating an interval needs at least 2 draws, got {len(draws)}")
    return _collect(np.asarray(function(estimate), dtype=float), draws, function, len(draws), skip, progress)


def _collect(estimate: np.ndarray, draws, statistic: Callable, n: int, skip, progress) -> Bootstrap:
    samples, failed = [], 0
    it = iter(draws)
    for _ in (progress(range(n)) if progress else range(n)):
        try:
            samples.append(np.asarray(statistic(next(it)), dtype=float))
        except skip:
            failed += 1
    if failed > n // 2:
        raise UserError(f"the statistic could not be computed on {failed} of {n} bootstrap resamples; the data "
                        f"are too few for an interval (add design points or seeds)")
    return Bootstrap(estimate, np.stack(samples) if samples else np.empty((0, *estimate.shape)), failed)
