"""The AutoScale predictor: from optimal Mixtures at two or more scales, the optimum at any total.

Design choices:
- Theory (paper §3.2): for separable power laws the optima satisfy log N_i* = u_i + v_i·t with
  one path parameter t shared by all domains (t = −log λ up to an affine map). All three forms
  below are this straight line in log quantity:
  * `step_rule(n1, n2)`: the paper's rule N3_i = N2_i² / N1_i, elementwise; the total is an
    output (t = 2 on the line through t = 0, 1). It stays purely elementwise, no pinning, so it
    reproduces the released 5B vector.
  * continuous form (two scales): u_i = log N1_i, v_i = log(N2_i/N1_i); the target total T fixes t
    by Σ_i exp(u_i + v_i t) = T. t = 0.5 is the geometric mean, t = 1, 2, … the recursion.
  * least squares (three or more scales): one t_s per input scale (t = 0 at the smallest, 1 at the
    largest, interior ones fitted), (u_i, v_i) by per-domain OLS given t (variable projection,
    scipy least_squares on the interior t); per-domain max |residual| in log N and R² reported.
    With two scales it is exactly the continuous form.
- Σ_i exp(u_i + v_i t) is convex in t; the root is taken on its increasing branch (Brent on the
  log of the sum, bracket grown automatically). A target below the branch's minimum is an error.
- Pinned domains: a domain whose weight is the same at every input scale (relative 1e-9; in
  practice a domain DDO held at its lower bound) keeps that weight at the target, and the free
  domains share the rest. `pinned="auto"` detects them, a list names them (held at the largest
  scale's weight), None disables pinning.
- Inputs are sorted by total; equal totals, different domain sets, zero quantities, fewer than two
  scales and non-positive targets are UserErrors. Targets beyond 10× the largest input total
  carry an extrapolation warning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy.optimize import brentq, least_squares
from scipy.special import logsumexp

from autoscale_kit.core import fmt
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture

METHODS = ("auto", "continuous", "least-squares", "step")
EXTRAPOLATION_WARNING = 10.0   # warn when the target exceeds this multiple of the largest input total


# --- input checks --------------------------------------------------------------------------------

def _check_optima(optima: Sequence[Mixture], *, at_least: int = 2) -> list[Mixture]:
    if isinstance(optima, (str, bytes)) or not hasattr(optima, "__iter__"):
        raise UserError(f"the predictor takes a list of optimal Mixtures (one per scale), got {type(optima).__name__}; "
                        f"read a CSV with core.tables.read_optima_table")
    optima = list(optima)
    if len(optima) < at_least:
        raise UserError(f"the predictor needs optima at {at_least} or more scales, got {len(optima)}; "
                        f"run DDO at another total (e.g. 4x the first)")
    for m in optima:
        if not isinstance(m, Mixture):
            raise UserError(f"optima must be Mixtures, got {type(m).__name__}")
    domains = optima[0].domains
    for m in optima[1:]:
        if set(m.domains) != set(domains):
            extra = sorted(set(m.domains) ^ set(domains))
            raise UserError(f"the optima have different domains (differ in {', '.join(extra)}); "
                            f"every scale must give a quantity for the same domains")
    for m in optima:
        zero = [d for d in domains if not m[d] > 0]
        if zero:
            raise UserError(f"domain {zero[0]!r} has {m[zero[0]]:g} tokens in the optimum at total {m.total:.6g}; "
                            f"the predictor works on logarithms and needs positive quantities")
    optima = sorted(optima, key=lambda m: m.total)
    for m1, m2 in zip(optima, optima[1:]):
        if abs(m2.total - m1.total) <= 1e-9 * m2.total:
            raise UserError(f"two optima have the same total {m1.total:.6g}; the scales must differ")
    return [Mixture([(d, m[d]) for d in domains]) for m in optima]


def _check_total(total) -> float:
    try:
        t = float(total)
    except (TypeError, ValueError):
        raise UserError(f"the target total must be a number, got {total!r}") from None
    if not math.isfinite(t) or t <= 0:
        raise UserError(f"the target total must be a positive number of tokens, got {total!r}")
    return t


# --- the step rule ---------------------------------------------------------------------------------

def step_rule(n1: Mixture, n2: Mixture) -> Mixture:
    """The paper's rule: N3_i = N2_i² / N1_i for every domain; the new total is Σ_i N3_i."""
    n1, n2 = _check_optima([n1, n2])
    return Mixture([(d, n2[d] ** 2 / n1[d]) for d in n1.domains])


# --- the path through the optima ------------------------------------------------------------------

@dataclass(frozen=True)
class PathFit:
    """log N_i = u_i + v_i·t through the input optima, for the free domains."""

    domains: tuple[str, ...]
    intercept: dict[str, float]              # u_i
    slope: dict[str, float]                  # v_i
    scale_parameters: tuple[float, ...]      # t_s per input scale (sorted by total): 0, …, 1
    input_totals: tuple[float, ...]
    max_abs_residual: dict[str, float]       # in log N, per domain
    r_squared: dict[str, float]

    def quantities(self, t: float) -> dict[str, float]:
        return {d: math.exp(self.intercept[d] + self.slope[d] * t) for d in self.domains}

    def to_dict(self) -> dict:
        return {"intercept": self.intercept, "slope": self.slope,
                "scale_parameters": list(self.scale_parameters), "input_totals": list(self.input_totals),
                "max_abs_residual": self.max_abs_residual, "r_squared": self.r_squared}


def _ols(L: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-domain OLS of L (domains × scales) on t: intercepts, slopes, residuals."""
    tc = t - t.mean()
    slope = (L - L.mean(axis=1, keepdims=True)) @ tc / (tc @ tc)
    intercept = L.mean(axis=1) - slope * t.mean()
    resid = L - (intercept[:, None] + slope[:, None] * t[None, :])
    return intercept, slope, resid


def fit_path(optima: Sequence[Mixture], domains: Sequence[str] | None = None) -> PathFit:
    """Fit the shared-path form to two or more optima (sorted by total) over `domains`.

    Two scales: the line through both points, exactly. More: t_0 = 0 and t_last = 1 fixed, interior
    t fitted by least squares with (u, v) eliminated (per-domain OLS given t).
    """
    optima = _check_optima(optima)
    domains = list(domains if domains is not None else optima[0].domains)
    L = np.array([[math.log(m[d]) for m in optima] for d in domains])
    totals = np.array([m.total for m in optima])
    K = len(optima)
    if K == 2:
        t = np.array([0.0, 1.0])
        u, v, resid = L[:, 0], L[:, 1] - L[:, 0], np.zeros_like(L)
    else:
        lt = np.log(totals)
        t0 = (lt[1:-1] - lt[0]) / (lt[-1] - lt[0])

        def residual(interior):
            return _ols(L, np.concatenate([[0.0], interior, [1.0]]))[2].ravel()

        res = least_squares(residual, t0, ftol=1e-15, xtol=1e-15, gtol=1e-15, max_nfev=10000)
        t = np.concatenate([[0.0], res.x, [1.0]])
        u, v, resid = _ols(L, t)
    ss_res = (resid ** 2).sum(axis=1)
    ss_tot = ((L - L.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.where(ss_res > 0, 0.0, 1.0))
    return PathFit(tuple(domains), dict(zip(domains, u.tolist())), dict(zip(domains, v.tolist())),
                   tuple(t.tolist()), tuple(totals.tolist()),
                   dict(zip(domains, np.abs(resid).max(axis=1).tolist())), dict(zip(domains, r2.tolist())))


def solve_path(path: PathFit, total: float) -> float:
    """The t at which Σ_i exp(u_i + v_i t) = total, on the increasing branch of this convex sum."""
    u = np.array([path.intercept[d] for d in path.domains])
    v = np.array([path.slope[d] for d in path.domains])
    log_target = math.log(total)
    if not (v > 0).any():
        raise UserError("no domain grows with scale in the given optima, so no larger total can be reached; "
                        "check that the optima are ordered by scale and come from DDO at different totals")

    def log_sum(t):
        return float(logsumexp(u + v * t))

    def slope_sign(t):  # d/dt log Σ exp(u + v t) = weighted mean of v
        w = np.exp(u + v * t - logsumexp(u + v * t))
        return float(w @ v)

    def grow(t, keep_going):
        for _ in range(1100):      # doubling: |t| stays finite well before this runs out
            if not keep_going(t):
                return t
            t *= 2
        raise UserError(f"the target total {total:.6g} cannot be reached on the fitted path; check the optima")

    if (v < 0).any():  # the sum has a minimum: find it, the increasing branch starts there
        lo = grow(-1.0, lambda t: slope_sign(t) > 0)
        hi = grow(1.0, lambda t: slope_sign(t) < 0)
        t_min = brentq(slope_sign, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps)
        if log_sum(t_min) >= log_target:
            raise UserError(f"the target total {total:.6g} is below the smallest total {math.exp(log_sum(t_min)):.6g} "
                            f"the fitted path reaches; choose a larger target")
        lo = t_min
    else:
        floor = v == 0
        if floor.any() and logsumexp(u[floor]) >= log_target:
            raise UserError(f"the target total {total:.6g} is below the quantity of the domains that do not grow "
                            f"({math.exp(logsumexp(u[floor])):.6g}); choose a larger target")
        lo = grow(-1.0, lambda t: log_sum(t) > log_target)
    hi = grow(max(lo, 0.0) + 1.0, lambda t: log_sum(t) < log_target)
    return brentq(lambda t: log_sum(t) - log_target, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)


# --- the entry point -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prediction:
    """The predicted optimal Mixture at the target total, and how it was obtained."""

    optimum: Mixture
    weights: dict[str, float]
    method: str                          # "step" | "continuous" | "least-squares"
    path_parameter: float | None         # t on the path (k of the continuous form); 2 for the step rule
    input_totals: tuple[float, ...]
    pinned: dict[str, float]             # domain -> weight held at the target
    path: PathFit | None
    warnings: tuple[str, ...] = field(default=())
    uncertainty: object = None           # uncertainty.WeightsInterval: the optima's draws predicted

    @property
    def interval(self) -> dict[str, tuple[float, float]] | None:
        return None if self.uncertainty is None else self.uncertainty.interval

    def to_dict(self) -> dict:
        out = {"total": self.optimum.total, "weights": self.weights, "tokens": self.optimum.tokens,
               "method": self.method, "path_parameter": self.path_parameter,
               "input_totals": list(self.input_totals), "pinned": self.pinned,
               "path": self.path.to_dict() if self.path else None, "warnings": list(self.warnings)}
        if self.uncertainty is not None:
            out["interval"] = {d: list(v) for d, v in self.interval.items()}
            out["level"] = self.uncertainty.level
        return out


def pinned_domains(optima: Sequence[Mixture], rtol: float = 1e-9) -> list[str]:
    """Domains whose weight is the same (within rtol) at every input scale."""
    optima = list(optima)
    out = []
    for d in optima[0].domains:
        w = np.array([m.weights[d] for m in optima])
        if np.all(np.abs(w - w[-1]) <= rtol * np.abs(w[-1])):
            out.append(d)
    return out


def predict_optimum(optima: Sequence[Mixture], total: float | None = None, *, method: str = "auto",
                    pinned: str | Sequence[str] | None = "auto", pin_rtol: float = 1e-9) -> Prediction:
    """Predict the optimal Mixture at `total` from optimal Mixtures at two or more scales.

    method: "auto" (continuous for two scales, least squares for more), "continuous" (exactly two),
    "least-squares" (two or more), "step" (exactly two, no total: the paper's rule).
    """
    if method not in METHODS:
        raise UserError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    optima = _check_optima(optima)
    totals = tuple(m.total for m in optima)
    if method == "step":
        if len(optima) != 2:
            raise UserError(f"the step rule takes exactly two optima, got {len(optima)}; use method 'least-squares'")
        if total is not None:
            raise UserError("the step rule sets its own total (Σ N2²/N1); leave the total out or use 'continuous'")
        mix = step_rule(*optima)
        return Prediction(mix, mix.weights, "step", 2.0, totals, {}, fit_path(optima), ())
    if total is None:
        raise UserError("give the target total (e.g. 5e9 tokens)")
    total = _check_total(total)
    if method == "continuous" and len(optima) != 2:
        raise UserError(f"the continuous form takes exactly two optima, got {len(optima)}; use 'least-squares'")
    used = "continuous" if len(optima) == 2 else "least-squares"
    domains = optima[0].domains

    if pinned == "auto":
        held = pinned_domains(optima, pin_rtol)
    elif pinned is None:
        held = []
    elif isinstance(pinned, str):
        raise UserError(f"pinned must be 'auto', None or a list of domains, got {pinned!r}")
    else:
        held = list(pinned)
        unknown = [d for d in held if d not in domains]
        if unknown:
            raise UserError(f"pinned domain {unknown[0]!r} is not in the optima ({', '.join(domains)})")
    held_weights = {d: optima[-1].weights[d] for d in held}
    free = [d for d in domains if d not in held_weights]
    messages = []
    if total > EXTRAPOLATION_WARNING * totals[-1]:
        messages.append(f"extrapolating to {fmt.tokens(total)} tokens, {fmt.multiple(total / totals[-1])} the largest "
                        f"fitted scale ({fmt.tokens(totals[-1])}); the prediction assumes the optima keep following "
                        f"the same path")
    if total < totals[0] / EXTRAPOLATION_WARNING:
        messages.append(f"extrapolating down to {fmt.tokens(total)} tokens, below 1/{EXTRAPOLATION_WARNING:g} of the "
                        f"smallest fitted scale ({fmt.tokens(totals[0])})")
    if not free:
        mix = Mixture.from_weights(held_weights, total)
        return Prediction(mix, mix.weights, used, None, totals, held_weights, None, tuple(messages))
    free_share = 1.0 - sum(held_weights.values())
    if free_share <= 0:
        raise UserError("the pinned domains take the whole budget; pin fewer domains")
    path = fit_path(optima, free)
    t = solve_path(path, total * free_share)
    q = path.quantities(t)
    # the sum is exact to rounding; rescale so the free domains take exactly their share
    scale = total * free_share / sum(q.values())
    tokens = {d: held_weights[d] * total if d in held_weights else q[d] * scale for d in domains}
    mix = Mixture(tokens)
    if used == "least-squares":
        if any(t2 <= t1 for t1, t2 in zip(path.scale_parameters, path.scale_parameters[1:])):
            messages.append("the fitted path parameters do not increase with scale "
                            f"({', '.join(f'{t:.3g}' for t in path.scale_parameters)}); the optima do not "
                            "follow one path, so the prediction is doubtful")
        worst = max(path.max_abs_residual, key=path.max_abs_residual.get)
        if path.max_abs_residual[worst] > 0.1:
            messages.append(f"domain {worst}: the optima deviate from the fitted path by up to "
                            f"{path.max_abs_residual[worst]:.3f} in log quantity (R² = {path.r_squared[worst]:.3f})")
    return Prediction(mix, mix.weights, used, float(t), totals, held_weights, path, tuple(messages))
