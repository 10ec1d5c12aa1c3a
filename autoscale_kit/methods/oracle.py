"""Synthetic ground truth: validation losses as known functions of a Mixture, with exact optima.

Design choices:
- Three kinds, one class each, sharing `losses`, `objective`, `measure` (a runs table) and
  `optimum(total, lower)`, the exactly known constrained optimum (to about 1e-10 in weight):
  * "separable"  `SeparableOracle`:  loss_d = c_d + β_d (N_d/u + A_d)^(-b_d). Inside DDO's family;
    optimum by `fit.forms.separable.solve_separable` (KKT, one root find).
  * "power"      `PowerLawOracle`:   A_d = 0, the predictor's theory; optimum from its closed form
    N_i*(λ) = u (β_i b_i / (m λ))^(1/(1+b_i)) and one root find on λ (independent of the DDO solver).
  * "transfer"   `TransferOracle`:   loss_d = c_d + β_d (Σ_j T_dj N_j/u)^(-γ_d), T_dd = 1, T_dj ≥ 0:
    cross-domain transfer, outside both families but convex; optimum by SLSQP, then polished by
    Newton's method on the KKT system of its active set, and checked (KKT residual).
  * "substitute" a `TransferOracle` in which groups of domains teach nearly the same thing
    (T between members of a group 0.7–0.95, elsewhere 0–0.1): books, speeches and wikipedia;
    Pile-CC and OpenWebText2. Cutting one member alone costs little, cutting the group a lot,
    the case one-at-a-time runs and the separable surrogate cannot see.
- Validation domains are the training domains (loss_d is measured on domain d). The objective is
  the mean of the per-domain losses (nats), i.e. DDO's "mean-loss".
- Unit: the laws see quantities in u = 1e6 tokens (`TOKEN_UNIT`). `random_oracle` draws
  parameters so that totals from 1e5 to 1e10 tokens give losses of roughly 1–5 nats falling with
  scale, with exponents spread enough that the optimal weights move with scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import brentq, minimize

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.fit.forms.separable import solve_separable

TOKEN_UNIT = 1e6
KINDS = ("separable", "power", "transfer", "substitute")


class _Oracle:
    """Shared behaviour: domain bookkeeping, the objective, measurements, bounds."""

    kind = ""
    domains: tuple[str, ...]
    unit: float

    def _vector(self, mixture: Mixture) -> np.ndarray:
        if set(mixture.domains) != set(self.domains):
            raise UserError(f"the mixture's domains ({', '.join(mixture.domains)}) are not the oracle's "
                            f"({', '.join(self.domains)})")
        return np.array([mixture[d] for d in self.domains]) / self.unit

    def _loss_vector(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def losses(self, mixture: Mixture) -> dict[str, float]:
        """Validation loss (nats) per domain after training on `mixture`."""
        return dict(zip(self.domains, self._loss_vector(self._vector(mixture)).tolist()))

    def objective(self, mixture: Mixture) -> float:
        """The mean validation loss over the domains (what DDO's "mean-loss" minimises)."""
        return float(np.mean(self._loss_vector(self._vector(mixture))))

    def _bounds(self, total: float, lower) -> tuple[float, np.ndarray]:
        if not (isinstance(total, (int, float)) and math.isfinite(total) and total > 0):
            raise UserError(f"the total must be a positive number of tokens, got {total!r}")
        if lower is None:
            lo = np.zeros(len(self.domains))
        elif isinstance(lower, Mixture) or isinstance(lower, Mapping):
            lo = np.array([float(lower[d]) if d in (lower.domains if isinstance(lower, Mixture) else lower)
                           else 0.0 for d in self.domains])
        else:
            lo = np.full(len(self.domains), float(lower))
        if (lo < 0).any() or not np.isfinite(lo).all():
            raise UserError("lower bounds must be finite and non-negative")
        if lo.sum() > total * (1 + 1e-12):
            raise UserError(f"infeasible: the lower bounds sum to {lo.sum():.6g}, more than the total {total:.6g}")
        return float(total), lo

    def measure(self, mixtures: Iterable, noise: float = 0.0, seed: int = 0) -> pd.DataFrame:
        """A runs table (run, tokens:<d>, loss:<d>) for the given runs; Gaussian noise (nats) if asked.

        `mixtures` holds Mixtures, (name, Mixture) pairs, or objects with .name and .mixture
        (a DDO plan).
        """
        rng = np.random.default_rng(seed)
        rows = []
        for i, item in enumerate(mixtures):
            if isinstance(item, Mixture):
                name, mix = f"run{i}", item
            elif hasattr(item, "mixture"):
                name, mix = item.name, item.mixture
            else:
                name, mix = item
            losses = self._loss_vector(self._vector(mix))
            if noise:
                losses = losses + rng.normal(0.0, noise, size=losses.size)
            rows.append({"run": name, **{f"tokens:{d}": mix[d] for d in self.domains},
                         **{f"loss:{d}": v for d, v in zip(self.domains, losses.tolist())}})
        if not rows:
            raise UserError("nothing to measure; give at least one mixture")
        return pd.DataFrame(rows)


def _names(domains: int | Sequence[str]) -> tuple[str, ...]:
    if isinstance(domains, int):
        if domains < 1:
            raise UserError(f"an oracle needs at least one domain, got {domains}")
        return tuple(f"d{i}" for i in range(domains))
    names = tuple(domains)
    if not names or len(set(names)) != len(names):
        raise UserError("domain names must be non-empty and distinct")
    return names


@dataclass(frozen=True)
class SeparableOracle(_Oracle):
    """loss_d = c_d + β_d (N_d/u + A_d)^(-b_d): each validation domain learns from its own data."""

    domains: tuple[str, ...]
    floor: tuple[float, ...]       # c_d, nats
    scale: tuple[float, ...]       # β_d, nats
    exponent: tuple[float, ...]    # b_d
    offset: tuple[float, ...]      # A_d, in units of u
    unit: float = TOKEN_UNIT
    kind = "separable"

    def _loss_vector(self, z):
        c, beta, b, A = (np.array(v) for v in (self.floor, self.scale, self.exponent, self.offset))
        return c + beta * (z + A) ** (-b)

    def optimum(self, total: float, lower=None) -> Mixture:
        """Exact, by the DDO solver: minimise Σ_d (β_d/m)(z_d + A_d)^(-b_d), Σ z = total/u, z ≥ lower/u."""
        total, lo = self._bounds(total, lower)
        k = np.array(self.scale) / len(self.domains)
        sol = solve_separable(k, np.array(self.offset), np.array(self.exponent), total / self.unit, lo / self.unit)
        return Mixture(zip(self.domains, (sol.x * self.unit).tolist()))


@dataclass(frozen=True)
class PowerLawOracle(_Oracle):
    """loss_d = c_d + β_d (N_d/u)^(-b_d): pure power laws, under which the AutoScale rule is exact."""

    domains: tuple[str, ...]
    floor: tuple[float, ...]
    scale: tuple[float, ...]
    exponent: tuple[float, ...]
    unit: float = TOKEN_UNIT
    kind = "power"

    def _loss_vector(self, z):
        c, beta, b = (np.array(v) for v in (self.floor, self.scale, self.exponent))
        return c + beta * z ** (-b)

    def optimum(self, total: float, lower=None) -> Mixture:
        """Closed form in λ: z_i = max(lower_i, (β_i b_i / (m λ))^(1/(1+b_i))), Σ z_i = total."""
        total, lo = self._bounds(total, lower)
        beta, b = np.array(self.scale), np.array(self.exponent)
        m, target, lo_z = len(self.domains), total / self.unit, lo / self.unit
        if lo_z.sum() >= target * (1 - 1e-12):
            return Mixture(zip(self.domains, lo.tolist()))
        log_num = np.log(beta * b / m)

        def z_of(log_lam):
            return np.maximum(lo_z, np.exp((log_num - log_lam) / (1 + b)))

        # at log λ = min/max of log_num − (1+b) log(target): every z_i above/below the target
        s_lo = float(np.min(log_num - (1 + b) * math.log(target)))
        s_hi = float(np.max(log_num - (1 + b) * math.log(target / (10 * len(b)))))
        while z_of(s_hi).sum() > target and s_hi < 1e6:
            s_hi += 10.0
        s = brentq(lambda s: z_of(s).sum() - target, s_lo, s_hi, xtol=1e-300, rtol=4 * np.finfo(float).eps)
        z = z_of(s)
        free = z > lo_z
        z[free] += (target - z.sum()) / max(1, free.sum())
        return Mixture(zip(self.domains, (z * self.unit).tolist()))


@dataclass(frozen=True)
class TransferOracle(_Oracle):
    """loss_d = c_d + β_d (Σ_j T_dj N_j/u)^(-γ_d): training on j also helps domain d (T_dj ≥ 0)."""

    domains: tuple[str, ...]
    floor: tuple[float, ...]
    scale: tuple[float, ...]
    exponent: tuple[float, ...]
    transfer: tuple[tuple[float, ...], ...]   # T[d][j], T[d][d] = 1
    unit: float = TOKEN_UNIT
    kind = "transfer"

    def _loss_vector(self, z):
        c, beta, g = (np.array(v) for v in (self.floor, self.scale, self.exponent))
        return c + beta * (np.array(self.transfer) @ z) ** (-g)

    def _derivatives(self, w: np.ndarray, s: float):
        """Objective, gradient and Hessian in weights w (N = w·total), with s = total/u."""
        beta, g, T = np.array(self.scale), np.array(self.exponent), np.array(self.transfer)
        m = len(self.domains)
        E = s * (T @ w)
        f = float(np.sum(beta * E ** (-g)) / m)
        d1 = -beta * g * E ** (-g - 1) * s / m
        d2 = beta * g * (g + 1) * E ** (-g - 2) * s * s / m
        return f, T.T @ d1, T.T @ (d2[:, None] * T)

    def optimum(self, total: float, lower=None, *, kkt_tol: float = 1e-9) -> Mixture:
        total, lo = self._bounds(total, lower)
        s, n = total / self.unit, len(self.domains)
        lw = lo / total
        if lw.sum() >= 1 - 1e-12:
            return Mixture(zip(self.domains, lo.tolist()))
        w0 = np.full(n, 1.0 / n)
        if lw.sum() > 0:
            w0 = lw + (1 - lw.sum()) / n
        g_scale = float(np.max(np.abs(self._derivatives(w0, s)[1])))
        res = minimize(lambda w: self._derivatives(w, s)[0] / g_scale, w0,
                       jac=lambda w: self._derivatives(w, s)[1] / g_scale, method="SLSQP",
                       bounds=[(l, 1.0) for l in lw],
                       constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(n)}],
                       options={"ftol": 1e-16, "maxiter": 2000})
        w = np.clip(res.x, lw, None)
        w = _polish_kkt(lambda v: self._derivatives(v, s), w, lw, kkt_tol)
        return Mixture(zip(self.domains, (w * total).tolist()))


def _polish_kkt(derivs, w: np.ndarray, lw: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Newton's method on the KKT system of min F(w), Σ w = 1, w ≥ lw, with an active-set loop.

    Free domains share ∇_i F = −λ; domains at the bound need ∇_i F ≥ −λ. Raises if the result
    does not meet the KKT conditions to `tol` (relative to the gradient's size): a bug, not input.
    """
    active = w <= lw + 1e-9
    for _ in range(50):
        free = ~active
        w = w.copy()
        w[active] = lw[active]
        for _ in range(100):
            _, grad, hess = derivs(w)
            lam = -float(np.mean(grad[free]))
            r = np.concatenate([grad[free] + lam, [w.sum() - 1.0]])
            nf = int(free.sum())
            kkt = np.zeros((nf + 1, nf + 1))
            kkt[:nf, :nf] = hess[np.ix_(free, free)]
            kkt[:nf, nf] = kkt[nf, :nf] = 1.0
            step = np.linalg.solve(kkt, -r)
            w_new = w.copy()
            w_new[free] += step[:nf]
            t = 1.0
            while (w_new[free] <= 0).any() and t > 1e-8:   # keep the effective data positive
                t /= 2
                w_new[free] = w[free] + t * step[:nf]
            w = w_new
            if np.max(np.abs(step[:nf])) <= 1e-15:
                break
        _, grad, _ = derivs(w)
        lam = -float(np.mean(grad[free]))
        gnorm = float(np.max(np.abs(grad)))
        below = free & (w < lw)
        if below.any():
            active |= below
            continue
        release = active & (grad + lam < -tol * gnorm)
        if release.any():
            active &= ~release
            continue
        if np.max(np.abs(grad[free] + lam)) <= tol * gnorm and abs(w.sum() - 1) <= 1e-12:
            return w
        break
    raise RuntimeError("the transfer oracle's optimum failed its KKT check; this is a bug")


def random_oracle(kind: str, domains: int | Sequence[str] = 5, seed: int = 0, *, unit: float = TOKEN_UNIT,
                  groups: Sequence[Sequence[str]] | None = None):
    """A seeded random oracle of the given kind ("separable", "power", "transfer").

    Draws: floor c ~ U(0.8, 2.0) nats, scale β ~ U(0.3, 0.8), exponents ~ U(0.1, 0.5) (the spread
    moves the optimum with scale), offsets A ~ log-U(0.05, 1) units of u (separable), transfer
    T_dj ~ U(0, 0.3) off the diagonal (transfer); for "substitute", `groups` (default: the first
    half of the domains, at least two, as one group) with T ~ U(0.7, 0.95) within a group and
    U(0, 0.1) elsewhere.
    """
    if kind not in KINDS:
        raise UserError(f"unknown oracle kind {kind!r}; use one of {', '.join(KINDS)}")
    names = _names(domains)
    n = len(names)
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    floor = tuple(rng.uniform(0.8, 2.0, n).tolist())
    scale = tuple(rng.uniform(0.3, 0.8, n).tolist())
    exponent = tuple(rng.uniform(0.1, 0.5, n).tolist())
    if kind == "separable":
        offset = tuple(np.exp(rng.uniform(math.log(0.05), 0.0, n)).tolist())
        return SeparableOracle(names, floor, scale, exponent, offset, unit)
    if kind == "power":
        return PowerLawOracle(names, floor, scale, exponent, unit)
    if kind == "substitute":
        T = _substitute_transfer(names, groups, rng)
    else:
        T = rng.uniform(0.0, 0.3, (n, n))
    np.fill_diagonal(T, 1.0)
    return TransferOracle(names, floor, scale, exponent, tuple(map(tuple, T.tolist())), unit)


def _substitute_transfer(names: tuple[str, ...], groups, rng) -> np.ndarray:
    n = len(names)
    if n < 2:
        raise UserError("a substitute oracle needs at least two domains")
    if groups is None:
        groups = [names[:max(2, n // 2)]]
    T = rng.uniform(0.0, 0.1, (n, n))
    seen: set[str] = set()
    for g in groups:
        g = list(g)
        unknown = [d for d in g if d not in names]
        if unknown or len(g) < 2 or seen & set(g):
            raise UserError(f"substitute group {g}: give two or more of the oracle's domains, each in one group")
        seen |= set(g)
        idx = [names.index(d) for d in g]
        T[np.ix_(idx, idx)] = rng.uniform(0.7, 0.95, (len(idx), len(idx)))
    return T
