"""The per-domain law of DDO: y(x) = k·(x + a)^(-b) + c, and its fits.

Design choices:
- x is a domain's quantity relative to the base run (x = 1 is the base); y is the objective
  relative to the base run's objective. The paper's law has k = 1.
- Amplitude policy (`amplitude="auto"`): k is fixed at 1 when the domain has fewer than 5 distinct
  x values (the paper's form; 3 points is the paper's design) and free with 5 or more. Why free:
  after normalising by the base objective, a true per-domain amplitude is in general not 1. A
  factor common to all domains does not move the constrained optimum, but per-domain factors do,
  so with k fixed a separable power law with offsets is not recovered; with k free (4 parameters
  on 5 or more distinct points) it is recovered exactly. "fixed" / "free" force either form.
- Fit: scipy `least_squares` (trust-region reflective, analytic Jacobian) with bounds
  a > -min(x) (so x + a > 0), b > 0, k > 0, tolerances 1e-15 so noise-free data is recovered to
  about machine precision. Default start (a, b, c, k) = (1, 1, 1, 1): it lands on the paper's
  branch (§7.3).
- From one start, least squares can stop in a local minimum, or crawl along the flat valley that
  a nearly linear (a ≫ x) or nearly logarithmic (b → 0, k → ∞) law makes in (a, b, c, k).
  `fit_power_law_best` therefore adds a global search by variable projection: c and k are
  eliminated by linear least squares, the remaining two parameters are reparametrised so that
  both limits are smooth, scanned on a grid, and the best local minima polished.
- With as many distinct points as parameters the fit interpolates exactly (`interpolates`), and
  the residual says nothing about the law. 3 points do not identify (a, b, c): several exact fits
  exist. `fit_power_law_starts` fits from a grid of starts (and the grid's local minima) and
  returns the distinct ones.
- Measurements that rise with x are suspicious for a "more data helps" law: the message is kept
  in the fit's `warnings` (the toolkit's one warning channel: results carry their messages, the
  CLI, the report and the notebooks show them; nothing is sent through Python's `warnings`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
from scipy.optimize import least_squares

from autoscale_kit.core.errors import UserError

FREE_AMPLITUDE_MIN_POINTS = 5      # distinct x values from which k is fitted under "auto"
_TOL = dict(ftol=1e-15, xtol=1e-15, gtol=1e-15, x_scale="jac")
_BOUND_EPS = 1e-12                 # keeps the bounds strict: x + a > 0, b > 0, k > 0


@dataclass(frozen=True)
class PowerLawFit:
    """One fitted law y(x) = k·(x + a)^(-b) + c, with its data and diagnostics."""

    a: float
    b: float
    c: float
    k: float
    amplitude_free: bool
    x: tuple[float, ...]
    y: tuple[float, ...]
    residuals: tuple[float, ...]     # fitted minus measured, per point
    rmse: float
    n_params: int
    n_distinct: int                  # distinct x values
    interpolates: bool               # as many distinct points as parameters: an exact fit, no test
    converged: bool
    warnings: tuple[str, ...] = field(default=())

    def __call__(self, x):
        return self.k * (np.asarray(x, dtype=float) + self.a) ** (-self.b) + self.c

    def params(self) -> dict[str, float]:
        return {"a": self.a, "b": self.b, "c": self.c, "k": self.k}

    def to_dict(self) -> dict:
        return {**self.params(), "amplitude_free": self.amplitude_free, "rmse": self.rmse,
                "max_abs_residual": float(np.max(np.abs(self.residuals))) if self.residuals else 0.0,
                "n_points": len(self.x), "n_distinct": self.n_distinct, "n_params": self.n_params,
                "x": list(self.x), "y": list(self.y),
                "interpolates": self.interpolates, "converged": self.converged,
                "warnings": list(self.warnings)}


def _check_xy(x, y, name: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.size != y.size:
        raise UserError(f"{name}: {x.size} x values but {y.size} y values; give one y per x")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise UserError(f"{name}: x and y must be finite numbers")
    if (x <= 0).any():
        raise UserError(f"{name}: quantities x must be > 0, got {x.min():g}")
    return x, y


def amplitude_is_free(n_distinct: int, amplitude: str) -> bool:
    """Whether k is fitted, under the policy "auto" | "fixed" | "free"."""
    if amplitude == "auto":
        return n_distinct >= FREE_AMPLITUDE_MIN_POINTS
    if amplitude in ("fixed", "free"):
        return amplitude == "free"
    raise UserError(f"unknown amplitude policy {amplitude!r}; use 'auto', 'fixed' or 'free'")


def _monotonicity_warning(x: np.ndarray, y: np.ndarray, name: str) -> str | None:
    xs = np.unique(x)
    means = np.array([y[x == v].mean() for v in xs])
    rises = np.flatnonzero(np.diff(means) > 0)
    if rises.size == 0:
        return None
    i = rises[0]
    return (f"{name}: the objective rises with more data (x = {xs[i]:g} -> {xs[i + 1]:g}: "
            f"{means[i]:.6g} -> {means[i + 1]:.6g}); the law assumes more data never hurts, "
            f"so check these runs or their noise")


def _prepare(x, y, amplitude: str, name: str):
    x, y = _check_xy(x, y, name)
    n_distinct = int(np.unique(x).size)
    free = amplitude_is_free(n_distinct, amplitude)
    n_params = 4 if free else 3
    if n_distinct < n_params:
        raise UserError(f"{name}: {n_distinct} distinct quantities cannot fit a law with {n_params} parameters; "
                        f"add runs at more ratios (at least {n_params} distinct, e.g. 1/5, 1, 3)")
    return x, y, free, n_params, n_distinct


def _make_fit(x, y, a, b, c, k, free, n_params, n_distinct, converged, name,
              stop_note: str = "") -> PowerLawFit:
    """A PowerLawFit with residuals and messages computed from the final parameters."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        resid = k * (x + a) ** (-b) + c - y
    finite = bool(np.isfinite(resid).all())
    messages = []
    mono = _monotonicity_warning(x, y, name)
    if mono:
        messages.append(mono)
    converged = converged and finite
    if not converged:
        drift = " (drifting toward the logarithmic limit b -> 0, k -> inf)" if free and b < 1e-3 else ""
        messages.append(f"{name}: the least-squares fit stopped {stop_note}without meeting its tolerances{drift}")
    rmse = float(np.sqrt(np.mean(resid ** 2))) if finite else float("inf")
    return PowerLawFit(a=float(a), b=float(b), c=float(c), k=float(k), amplitude_free=free, x=tuple(x.tolist()),
                       y=tuple(y.tolist()), residuals=tuple(resid.tolist()), rmse=rmse, n_params=n_params,
                       n_distinct=n_distinct, interpolates=n_distinct == n_params, converged=converged,
                       warnings=tuple(messages))


def fit_power_law(x, y, *, amplitude: str = "auto", start: Sequence[float] = (1.0, 1.0, 1.0),
                  name: str = "fit", max_nfev: int = 1000) -> PowerLawFit:
    """Fit y = k·(x + a)^(-b) + c by bounded least squares from one start (a, b, c[, k])."""
    x, y, free, n_params, n_distinct = _prepare(x, y, amplitude, name)
    start = [float(s) for s in start]
    if len(start) not in (3, 4):
        raise UserError(f"{name}: a start is (a, b, c) or (a, b, c, k), got {start}")
    a_lo = -float(x.min()) + _BOUND_EPS * max(1.0, float(x.min()))
    a0 = max(start[0], a_lo + 1e-6 * max(1.0, abs(a_lo)))
    b0 = max(start[1], 1e-9)
    p0 = [a0, b0, start[2]]
    lower, upper = [a_lo, _BOUND_EPS, -np.inf], [np.inf, np.inf, np.inf]
    if free:
        p0.append(max(start[3] if len(start) == 4 else 1.0, 1e-9))
        lower.append(_BOUND_EPS)
        upper.append(np.inf)

    def model(p):
        k = p[3] if free else 1.0
        return k * (x + p[0]) ** (-p[1]) + p[2]

    def jacobian(p):
        k = p[3] if free else 1.0
        g = (x + p[0]) ** (-p[1])
        cols = [-k * p[1] * g / (x + p[0]), -k * g * np.log(x + p[0]), np.ones_like(x)]
        return np.column_stack(cols + [g] if free else cols)

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        res = least_squares(lambda p: model(p) - y, p0, jac=jacobian, bounds=(lower, upper), max_nfev=max_nfev,
                            **_TOL)
    k = float(res.x[3]) if free else 1.0
    return _make_fit(x, y, res.x[0], res.x[1], res.x[2], k, free, n_params, n_distinct, res.status > 0, name,
                     f"after {res.nfev} evaluations ")


# --- variable projection: a robust global fit ---------------------------------------------------
# With v = 1/(x_min + a) and d = x − x_min, the law is y = c + K·(1 + v d)^(-b), K = k·v^b. Write
# q(d) = ((1 + v d)^(-b) − 1)/(b v): y = y1 + s·q with y1 = c + K, s = K·b·v, linear in (y1, s).
# q tends to −d as v → 0 (a linear law) and to −log(1 + v d)/v as b → 0 (a logarithmic law), so
# the two-parameter search over (log v, log b) is smooth where (a, b, c, k) degenerate.
_VP_LOG_VSPAN = (-10.0, 12.0)        # log(v · span of x): from nearly linear to nearly singular
_VP_LOG_B = (math.log(1e-5), math.log(50.0))


def _vp_residuals(d, y, log_vspan, log_b, span, free):
    """Residuals (grid shape + points) after the linear parameters are eliminated, and those parameters."""
    v = np.exp(log_vspan) / span
    b = np.exp(log_b)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        L = np.log1p(v[..., None] * d)
        if free:
            q = np.expm1(-b[..., None] * L) / (b * v)[..., None]
            qc = q - q.mean(-1, keepdims=True)
            yc = y - y.mean()
            s = np.maximum((qc * yc).sum(-1) / np.maximum((qc * qc).sum(-1), 1e-300), 0.0)
            y1 = y.mean() - s * q.mean(-1)
            return y1[..., None] + s[..., None] * q - y, (y1, s, v, b)
        g = np.exp(b[..., None] * (np.log(v)[..., None] - L))        # (x + a)^(-b)
        c = (y - g).mean(-1)
        return g + c[..., None] - y, (c, v, b)


def _vp_to_params(lin, free, x_min):
    if free:
        y1, s, v, b = (float(t) for t in lin)
        k = max(s * v ** (-b - 1) / b, 1e-300)
        return 1.0 / v - x_min, b, y1 - s / (b * v), k
    c, v, b = (float(t) for t in lin)
    return 1.0 / v - x_min, b, c, 1.0


def _varpro_fits(x, y, free, n_params, n_distinct, name, n_best: int = 4) -> list[PowerLawFit]:
    """Fits polished from the best local minima of a (log v, log b) grid of the reduced residual."""
    x_min = float(x.min())
    span = float(x.max() - x_min)
    d = x - x_min
    T = np.linspace(*_VP_LOG_VSPAN, 34)
    B = np.linspace(*_VP_LOG_B, 28)
    TT, BB = np.meshgrid(T, B, indexing="ij")
    with np.errstate(over="ignore", invalid="ignore"):
        r, _ = _vp_residuals(d, y, TT, BB, span, free)
        rss = np.where(np.isfinite(r).all(-1), (r * r).sum(-1), np.inf)
    padded = np.pad(rss, 1, constant_values=np.inf)
    neighbours = np.min([padded[1 + i:1 + i + rss.shape[0], 1 + j:1 + j + rss.shape[1]]
                         for i in (-1, 0, 1) for j in (-1, 0, 1) if (i, j) != (0, 0)], axis=0)
    minima = np.argwhere((rss <= neighbours) & np.isfinite(rss))
    minima = minima[np.argsort(rss[minima[:, 0], minima[:, 1]])][:n_best]
    fits = []
    spread = max(float(np.max(np.abs(y - y.mean()))), 1e-300)  # residuals relative to the data's variation,
    for i, j in minima:                                         # so tolerances mean the same at any scale
        def reduced(p):
            res = _vp_residuals(d, y, np.array(p[0]), np.array(p[1]), span, free)[0] / spread
            return np.where(np.isfinite(res), res, 1e10)

        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            sol = least_squares(reduced, [T[i], B[j]], bounds=([_VP_LOG_VSPAN[0], _VP_LOG_B[0]],
                                                               [_VP_LOG_VSPAN[1], _VP_LOG_B[1]]),
                                method="trf", jac="3-point", ftol=1e-15, xtol=1e-15, gtol=1e-15, max_nfev=300)
            lin = _vp_residuals(d, y, np.array(sol.x[0]), np.array(sol.x[1]), span, free)[1]
        a, b, c, k = _vp_to_params(lin, free, x_min)
        fits.append(_make_fit(x, y, a, b, c, k, free, n_params, n_distinct, sol.status > 0, name,
                              f"after {sol.nfev} evaluations "))
    return fits


def default_starts(x) -> list[tuple[float, float, float]]:
    """A grid of starts (a, b, c) over offsets and exponents; c is then set from the data."""
    x_min = float(np.min(x))
    offsets = [-0.5 * x_min, 0.1, 0.5, 2.0, 10.0]
    exponents = [0.03, 0.2, 1.0, 4.0]
    return [(a, b, np.nan) for a in offsets for b in exponents]


def same_fit(f: PowerLawFit, g: PowerLawFit, rtol: float = 1e-5) -> bool:
    p, q = np.array(list(f.params().values())), np.array(list(g.params().values()))
    return bool(np.all(np.abs(p - q) <= rtol * np.maximum(1.0, np.maximum(np.abs(p), np.abs(q)))))


def _linear_start(x, y, a: float, b: float, free: bool) -> tuple[float, float] | None:
    """(c, k) that fit best for a given (a, b): linear least squares (k = 1 when not free)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        g = (x + max(a, -x.min() + 1e-6)) ** (-b)
    if not np.isfinite(g).all():
        return None
    if free and np.ptp(g) > 0:
        k, c = np.linalg.lstsq(np.column_stack([g, np.ones_like(g)]), y, rcond=None)[0]
        if k > 0:
            return float(c), float(k)
    return float(np.mean(y - g)), 1.0


def _is_exact(fit: PowerLawFit, exact_tol: float) -> bool:
    """Residuals below exact_tol × the data's spread (or, for nearly flat data, rounding level).
    Replicated quantities (a plan run on several seeds) are judged by their mean: no law can fit
    the scatter between replicates, and judging it by each point sent noise-free-but-one-ulp
    replicates to the global search and another of the exact fits."""
    x, y, r = np.array(fit.x), np.array(fit.y), np.array(fit.residuals, dtype=float)
    _, inv = np.unique(x, return_inverse=True)
    count = np.bincount(inv)
    mean_y, mean_r = np.bincount(inv, y) / count, np.bincount(inv, r) / count
    tol = max(exact_tol * float(np.ptp(mean_y)), 64 * np.finfo(float).eps * float(np.max(np.abs(y))))
    return bool(np.isfinite(fit.rmse) and np.max(np.abs(mean_r)) <= tol)


def fit_power_law_starts(x, y, *, starts: Iterable[Sequence[float]] | None = None, amplitude: str = "auto",
                         exact_tol: float = 1e-10, name: str = "fit") -> list[PowerLawFit]:
    """The distinct fits reached from many starts: all exact ones, or else the best ones.

    Starts: the default (1, 1, 1), `starts` (default: a grid over a and b; a start (a, b, NaN) takes
    c, and k when free, from linear least squares), and the local minima of the reduced residual
    over a (log v, log b) grid. A fit is exact when its largest |residual| is below `exact_tol` times
    the spread of y. Sorted by RMSE, except that the default start's fit comes first when exact.
    """
    x, y, free, n_params, n_distinct = _prepare(x, y, amplitude, name)
    grid = [(1.0, 1.0, 1.0)] + list(starts if starts is not None else default_starts(x))
    candidates: list[PowerLawFit] = []
    for s in grid:
        s = list(s)
        if len(s) >= 3 and not np.isfinite(s[2]):
            ck = _linear_start(x, y, s[0], s[1], free)
            if ck is None:
                continue
            s = [s[0], s[1], ck[0], ck[1]]
        candidates.append(fit_power_law(x, y, amplitude=amplitude, start=s, name=name))
    candidates += _varpro_fits(x, y, free, n_params, n_distinct, name)
    fits: list[PowerLawFit] = []
    for fit in candidates:
        if np.isfinite(fit.rmse) and not any(same_fit(fit, g) for g in fits):
            fits.append(fit)
    exact = [f for f in fits if _is_exact(f, exact_tol)]
    if exact:
        return exact if exact[0] is fits[0] else sorted(exact, key=lambda f: f.rmse)
    best = min(f.rmse for f in fits)
    return sorted([f for f in fits if f.rmse <= best * (1 + 1e-6) + 1e-15], key=lambda f: f.rmse)


def fit_power_law_best(x, y, *, amplitude: str = "auto", exact_tol: float = 1e-10, name: str = "fit"
                       ) -> PowerLawFit:
    """The default-start fit when it is exact (the paper's branch), else the lowest-RMSE fit found.

    From one start, least squares can stop in a local minimum or crawl along the flat valley that a
    nearly linear or nearly logarithmic law makes in (a, b, c, k). The fallback searches the
    reduced residual (c and k eliminated) on a grid and polishes its best local minima.
    """
    xs, ys, free, n_params, n_distinct = _prepare(x, y, amplitude, name)
    if n_distinct == n_params:  # interpolation: the default start picks the paper's branch
        best = fit_power_law(xs, ys, amplitude=amplitude, name=name)
        if not _is_exact(best, exact_tol):
            best = min([best] + _varpro_fits(xs, ys, free, n_params, n_distinct, name), key=lambda f: f.rmse)
    else:  # least squares: the global search first, the default start as a short second opinion
        best = min(_varpro_fits(xs, ys, free, n_params, n_distinct, name), key=lambda f: f.rmse)
        if not _is_exact(best, exact_tol):
            other = fit_power_law(xs, ys, amplitude=amplitude, name=name, max_nfev=200)
            best = min([best, other], key=lambda f: f.rmse)
    return best
