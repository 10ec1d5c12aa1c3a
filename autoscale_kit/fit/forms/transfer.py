"""Transfer-aware DDO: one power law per validation domain in the data it effectively sees.

    L_v(N) = c_v + k_v (Σ_i T_vi N_i / u + a_v)^(−b_v),   T_vv = 1,  T_vi ≥ 0,  a_v ≥ 0

Why: the paper's separable surrogate sums one law per *training* domain, fitted on the runs that
change that domain alone. When two domains teach the same thing (books and wikipedia; Pile-CC and
OpenWebText2), cutting either alone barely moves the loss, so the separable surrogate cuts both at
once — a combination no run measured — and the loss it never saw is paid at the target. Every DDO
run measures every validation domain, so the 2K+1 runs already hold the K×K picture of which data
helps which domain: T is fitted from it, and cutting two substitutes together costs what it does.

Design choices:
- Quantities in units u (the mean base quantity, or given), so parameters stay of order one.
- The offset a_v (as in the paper's (x + a)^-b) makes the separable law the case T = I, so a
  separable world is fitted exactly, and absorbs what a tiny model learns from any data.
- Per validation domain the free parameters are c ∈ [0, min loss), log k, b ∈ [0.02, 4], a ∈ [0, 10]
  and the K − 1 off-diagonal transfers in [0, 20]; for an evaluation-only domain (no tokens column) the
  training domain whose runs move it most is the reference (T = 1) instead. Bounded least squares
  (dogbox) with the analytic Jacobian from several starts: b on a grid, T from the
  finite-difference slopes of the one-at-a-time runs (locally ∂L_v/∂N_i = T_vi ∂L_v/∂N_v) and T = 0,
  each with the two best (b, a) of a small grid, c and k by linear least squares.
- The offset is fitted only where the runs identify it (the Jacobian with it has full rank: with
  two perturbation ratios and no transfer, three distinct effective quantities cannot fix four
  parameters) and kept when it lowers BIC; otherwise a = 0.
- Identified when every validation domain has more distinct mixtures than parameters and its
  Jacobian has full numerical rank; otherwise `fit_transfer` says why and DDO falls back to the
  separable form with a warning.
- Every objective DDO offers (mean loss, mean perplexity, one domain's loss or perplexity) is a
  convex function of N under this law (a convex decreasing power of a linear map, and exp of a
  convex function), so a KKT point of Σ N = total with box bounds is the global optimum.
  `solve_transfer` finds it with SLSQP and polishes it by Newton's method on the KKT system of its
  active set; the result carries its KKT residual.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import least_squares, minimize

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.core.objective import Objective, objective_from
from autoscale_kit.fit.forms.base import DDOProblem, FormSolution

T_MAX = 20.0
A_MAX = 10.0
B_RANGE = (0.02, 4.0)


@dataclass(frozen=True)
class TransferLaw:
    """L_v = c + k (Σ_i T_i N_i/u + a)^(-b) for one validation domain."""

    domain: str
    c: float
    k: float
    b: float
    a: float
    transfer: tuple[float, ...]     # T_v,i over the training domains, reference at 1
    reference: int                  # the training domain fixed at T = 1
    rmse: float                     # residual root mean square on the fitted runs, nats

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """Losses at quantities z (runs × training domains, in units of u)."""
        return self.c + self.k * (np.atleast_2d(z) @ np.array(self.transfer) + self.a) ** (-self.b)

    def to_dict(self, domains: Sequence[str]) -> dict:
        return {"c": self.c, "k": self.k, "b": self.b, "a": self.a, "transfer": dict(zip(domains, self.transfer)),
                "reference": domains[self.reference], "rmse": self.rmse}


@dataclass(frozen=True)
class TransferFit:
    """The fitted laws of every validation domain, on one runs table."""

    domains: tuple[str, ...]        # training domains (columns of T)
    laws: dict[str, TransferLaw]    # validation domain -> law
    unit: float                     # tokens per unit of the laws' quantities
    n_runs: int
    identified: bool
    reason: str = ""                # why not, when not identified

    @property
    def validation(self) -> tuple[str, ...]:
        return tuple(self.laws)

    def matrix(self) -> pd.DataFrame:
        """T as a table: rows = validation domains, columns = training domains."""
        return pd.DataFrame([law.transfer for law in self.laws.values()], index=list(self.laws),
                            columns=list(self.domains))

    def losses(self, tokens) -> np.ndarray:
        """Predicted losses (runs × validation domains) at quantities in tokens (runs × domains)."""
        z = np.atleast_2d(np.asarray(tokens, dtype=float)) / self.unit
        return np.column_stack([law(z) for law in self.laws.values()])

    def objective(self, tokens, objective: str = "mean-loss") -> np.ndarray:
        """The objective at quantities in tokens, one value per row."""
        L = self.losses(tokens)
        col = {v: L[:, j] for j, v in enumerate(self.validation)}
        return objective_from(self.validation, col.__getitem__, lambda v: np.exp(col[v]), objective)

    def to_dict(self) -> dict:
        return {"form": "L_v = c_v + k_v (sum_i T_vi N_i / u + a_v)^(-b_v)", "unit": self.unit, "n_runs": self.n_runs,
                "identified": self.identified, "reason": self.reason,
                "laws": {v: law.to_dict(self.domains) for v, law in self.laws.items()}}


# --- fitting ------------------------------------------------------------------------------------

def _unpack(p: np.ndarray, ref: int, K: int, offset: bool) -> tuple[float, float, float, float, np.ndarray]:
    """p = (c, log k, b, [a,] T without the reference)."""
    j = 4 if offset else 3
    T = np.insert(p[j:], ref, 1.0)
    return float(p[0]), float(p[1]), float(p[2]), float(p[3]) if offset else 0.0, T


def _model(p, Z, ref, offset):
    c, logk, b, a, T = _unpack(p, ref, Z.shape[1], offset)
    return c + math.exp(logk) * (Z @ T + a) ** (-b)


def _jac(p, Z, ref, offset):
    c, logk, b, a, T = _unpack(p, ref, Z.shape[1], offset)
    E = Z @ T + a
    P = math.exp(logk) * E ** (-b)
    J = np.empty((len(Z), len(p)))
    J[:, 0] = 1.0
    J[:, 1] = P
    J[:, 2] = -np.log(E) * P
    dE = -b * P / E
    j = 3
    if offset:
        J[:, 3] = dE
        j = 4
    others = [i for i in range(Z.shape[1]) if i != ref]
    J[:, j:] = dE[:, None] * Z[:, others]
    return J


def _slopes(Z: np.ndarray, y: np.ndarray, base_rows: Sequence[int]) -> np.ndarray:
    """Per training domain, the least-squares slope of y against that domain's quantity over the
    runs that differ from the base in that domain alone (0 where none does): the start of T."""
    base = Z[list(base_rows)].mean(axis=0)
    y0 = float(y[list(base_rows)].mean())
    out = np.zeros(Z.shape[1])
    diff = np.abs(Z - base) > 1e-9 * np.maximum(1.0, np.abs(base))
    for i in range(Z.shape[1]):
        rows = np.flatnonzero(diff[:, i] & (diff.sum(axis=1) == 1))
        if len(rows):
            dz = Z[rows, i] - base[i]
            out[i] = float(np.sum(dz * (y[rows] - y0)) / np.sum(dz * dz))
    return out


def _linear_ck(E, b, y, c_max):
    """For fixed b and E, the best (c, k) of c + k E^-b, c clipped into [0, c_max], k > 0."""
    f = E ** (-b)
    A = np.column_stack([np.ones_like(f), f])
    (c, k), *_ = np.linalg.lstsq(A, y, rcond=None)
    c = float(np.clip(c, 0.0, c_max))
    k = float(np.sum(f * (y - c)) / np.sum(f * f))
    return c, max(k, 1e-6)


def fit_law(Z: np.ndarray, y: np.ndarray, ref: int, base_rows: Sequence[int], domain: str = "", *,
            offset: bool = False):
    """One validation domain's law on quantities Z (runs × training domains, units of u), and
    the least-squares result (its Jacobian tells whether the runs identify the law)."""
    n, K = Z.shape
    c_max = float(y.min()) * (1 - 1e-6)
    slopes = _slopes(Z, y, base_rows)
    t_starts = [np.zeros(K)]
    if slopes[ref] < 0:
        t_starts.insert(0, np.clip(slopes / slopes[ref], 0.0, T_MAX))
    a_lo, a_hi = ([0.0], [A_MAX]) if offset else ([], [])
    lo = np.r_[0.0, -30.0, B_RANGE[0], a_lo, np.zeros(K - 1)]
    hi = np.r_[max(c_max, 1e-12), 30.0, B_RANGE[1], a_hi, np.full(K - 1, T_MAX)]
    best = None
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for T0 in t_starts:
            T0 = T0.copy()
            T0[ref] = 1.0
            # the start's b and a: the best of a small grid, with c and k by linear least squares
            grid = []
            for b0 in (0.1, 0.2, 0.4, 0.7, 1.0, 1.5):
                for a0 in ((0.0, 0.3, 1.0) if offset else (0.0,)):
                    E = Z @ T0 + a0
                    c0, k0 = _linear_ck(E, b0, y, c_max)
                    grid.append((float(np.sum((c0 + k0 * E ** (-b0) - y) ** 2)), b0, a0, c0, k0))
            for _, b0, a0, c0, k0 in sorted(grid)[:2]:
                p0 = np.clip(np.r_[c0, math.log(k0), b0, [a0] if offset else [], np.delete(T0, ref)], lo, hi)
                res = least_squares(lambda p: _model(p, Z, ref, offset) - y, p0,
                                    jac=lambda p: _jac(p, Z, ref, offset),
                                    bounds=(lo, hi), method="dogbox", max_nfev=60 * (K + 4))
                if best is None or res.cost < best.cost - 1e-15:
                    best = res
    c, logk, b, a, T = _unpack(best.x, ref, K, offset)
    rmse = float(np.sqrt(np.mean(best.fun ** 2)))
    return TransferLaw(domain, c, math.exp(logk), b, a, tuple(T.tolist()), ref, rmse), best


def fit_transfer(tokens, losses: dict[str, np.ndarray], domains: Sequence[str], base_rows: Sequence[int],
                 unit: float | None = None) -> TransferFit:
    """The transfer laws of every validation domain in `losses` on the runs' quantities.

    tokens: (runs × training domains); losses: {validation domain: loss per run, nats};
    base_rows: the base run's rows (for the starts and the unit); unit: tokens per law unit
    (default: the base run's mean quantity)."""
    tokens = np.asarray(tokens, dtype=float)
    domains = tuple(domains)
    n, K = tokens.shape
    if K != len(domains):
        raise UserError(f"{K} token columns for {len(domains)} domains")
    if (tokens < 0).any() or not np.isfinite(tokens).all():
        raise UserError("token quantities must be finite and non-negative")
    unit = float(unit) if unit else float(tokens[list(base_rows)].mean())
    Z = tokens / unit
    distinct = len(np.unique(np.round(Z, 12), axis=0))
    laws: dict[str, TransferLaw] = {}
    reasons: list[str] = []
    for v, y in losses.items():
        y = np.asarray(y, dtype=float)
        if not np.isfinite(y).all() or (y <= 0).any():
            raise UserError(f"validation domain {v}: losses must be positive finite numbers")
        if v in domains:
            ref = domains.index(v)
        else:   # evaluation-only: the training domain whose runs lower it most is the reference
            ref = int(np.argmin(_slopes(Z, y, base_rows)))
        p = K + 2
        if distinct <= p:
            reasons.append(f"{v}: {distinct} distinct mixtures for {p} parameters")
        if np.ptp(y) <= 1e-9 * float(np.abs(y).mean()):
            reasons.append(f"{v}: no run moves its loss, so nothing says which data it learns from")
        law, res = fit_law(Z, y, ref, base_rows, v)
        if not _full_rank(res.jac, p):
            if distinct > p:
                reasons.append(f"{v}: the runs do not separate the law's {p} parameters (rank-deficient fit)")
        elif distinct > p + 1 and law.rmse > 1e-9 * float(np.abs(y).mean()):
            # the offset a when the runs identify it and it pays for itself (BIC)
            law_a, res_a = fit_law(Z, y, ref, base_rows, v, offset=True)
            if _full_rank(res_a.jac, p + 1) and _bic(res_a.fun, p + 1) < _bic(res.fun, p):
                law = law_a
        laws[v] = law
    return TransferFit(domains, laws, unit, n, not reasons, "; ".join(reasons))


def _full_rank(J: np.ndarray, p: int) -> bool:
    sv = np.linalg.svd(J, compute_uv=False)
    return sv.size >= p and sv[-1] > 1e-9 * sv[0]


def _bic(residuals: np.ndarray, p: int) -> float:
    n = len(residuals)
    return float(n * math.log(np.mean(residuals ** 2) + 1e-30) + p * math.log(n))


# --- solving ------------------------------------------------------------------------------------

def _derivatives(fit: TransferFit, objective: str, z: np.ndarray):
    """Objective, gradient and Hessian in z (units of u)."""
    V = list(fit.laws.values())
    val, grad, hess = [], [], []
    for law in V:
        T = np.array(law.transfer)
        E = float(z @ T) + law.a
        P = law.k * E ** (-law.b)
        val.append(law.c + P)
        grad.append(-law.b * P / E * T)
        hess.append(law.b * (law.b + 1) * P / E ** 2 * np.outer(T, T))
    L, G, H = np.array(val), np.array(grad), np.array(hess)
    names = fit.validation
    obj = Objective.parse(objective)
    if obj.domain is None:
        if not obj.in_ppl:
            return float(L.mean()), G.mean(axis=0), H.mean(axis=0)
        e = np.exp(L)
        return (float(e.mean()), (e[:, None] * G).mean(axis=0),
                (e[:, None, None] * (H + np.einsum("vi,vj->vij", G, G))).mean(axis=0))
    j = list(names).index(obj.domains(names)[0])
    if not obj.in_ppl:
        return float(L[j]), G[j], H[j]
    e = math.exp(L[j])
    return e, e * G[j], e * (H[j] + np.outer(G[j], G[j]))


@dataclass(frozen=True)
class TransferSolution:
    tokens: np.ndarray              # optimal quantities, in the table's unit
    objective: float                # the law's objective there
    multiplier: float               # λ = −∂F/∂N_i of the free domains, per token
    at_lower: tuple[int, ...]
    at_upper: tuple[int, ...]
    kkt_residual: float             # max violation of the KKT conditions, relative to the gradient


def solve_transfer(fit: TransferFit, objective: str, total: float, lower, upper=None, *,
                   start=None) -> TransferSolution:
    """The global minimum of the fitted objective under Σ N = total and lower ≤ N ≤ upper."""
    K = len(fit.domains)
    u = fit.unit
    s = float(total) / u
    lo = np.broadcast_to(np.asarray(lower, dtype=float), (K,)) / u
    hi = np.full(K, np.inf) if upper is None else np.broadcast_to(np.asarray(upper, dtype=float), (K,)) / u
    if lo.sum() > s * (1 + 1e-12) or hi.sum() < s * (1 - 1e-12) or (hi < lo).any():
        raise UserError(f"infeasible bounds for a total of {total:.6g}: the lower bounds sum to {lo.sum() * u:.6g}, "
                        f"the upper bounds to {hi.sum() * u:.6g}")
    # the law needs positive effective data: a domain with a zero lower bound is kept a hair above it
    lo_eff = np.maximum(lo, 1e-9 * s)
    hi_eff = np.minimum(hi, s)

    def f(z):
        return _derivatives(fit, objective, z)

    z0 = np.asarray(start, dtype=float) / u if start is not None else np.clip(np.full(K, s / K), lo_eff, hi_eff)
    z0 = _feasible(z0, lo_eff, hi_eff, s)
    scale = max(float(np.max(np.abs(f(z0)[1]))), 1e-300)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = minimize(lambda z: f(z)[0] / scale, z0, jac=lambda z: f(z)[1] / scale, method="SLSQP",
                       bounds=list(zip(lo_eff, hi_eff)),
                       constraints=[{"type": "eq", "fun": lambda z: z.sum() - s, "jac": lambda z: np.ones(K)}],
                       options={"ftol": 1e-15, "maxiter": 1000})
    z = _feasible(np.clip(res.x, lo_eff, hi_eff), lo_eff, hi_eff, s)
    z, lam, at_lo, at_hi, resid = _polish(f, z, lo_eff, hi_eff, s)
    return TransferSolution(z * u, f(z)[0], lam / u, tuple(np.flatnonzero(at_lo).tolist()),
                            tuple(np.flatnonzero(at_hi).tolist()), resid)


def _feasible(z, lo, hi, s):
    """Shift z onto Σ z = s within the box (proportionally to the room left)."""
    z = np.clip(z, lo, hi)
    for _ in range(50):
        gap = s - z.sum()
        if abs(gap) <= 1e-13 * s:
            break
        room = (hi - z) if gap > 0 else (z - lo)
        room = np.where(np.isfinite(room), room, s)
        if room.sum() <= 0:
            break
        z = np.clip(z + gap * room / room.sum(), lo, hi)
    return z


def _polish(f, z, lo, hi, s):
    """Newton's method on the KKT system of the active set, with bound moves; returns
    (z, λ, at_lower, at_upper, residual)."""
    tol = 1e-9
    at_lo = z <= lo + 1e-10 * s
    at_hi = (z >= hi - 1e-10 * s) & ~at_lo
    for _ in range(30):
        free = ~(at_lo | at_hi)
        if not free.any():
            break
        z = z.copy()
        z[at_lo], z[at_hi] = lo[at_lo], hi[at_hi]
        for _ in range(60):
            _, g, H = f(z)
            lam = -float(np.mean(g[free]))
            nf = int(free.sum())
            A = np.zeros((nf + 1, nf + 1))
            A[:nf, :nf] = H[np.ix_(free, free)]
            A[:nf, nf] = A[nf, :nf] = 1.0
            r = np.r_[g[free] + lam, z.sum() - s]
            try:
                step = np.linalg.solve(A, -r)[:nf]
            except np.linalg.LinAlgError:
                break
            t = 1.0
            while t > 1e-10 and (z[free] + t * step <= 0).any():
                t /= 2
            z[free] += t * step
            if np.max(np.abs(step)) <= 1e-14 * s:
                break
        below, above = free & (z < lo), free & (z > hi)
        if below.any() or above.any():
            at_lo |= below
            at_hi |= above
            continue
        _, g, _ = f(z)
        lam = -float(np.mean(g[free]))
        gnorm = max(float(np.max(np.abs(g))), 1e-300)
        release = (at_lo & (g + lam < -tol * gnorm)) | (at_hi & (g + lam > tol * gnorm))
        if release.any():
            at_lo &= ~release
            at_hi &= ~release
            continue
        break
    _, g, _ = f(z)
    free = ~(at_lo | at_hi)
    lam = -float(np.mean(g[free])) if free.any() else -float(np.mean(g))
    gnorm = max(float(np.max(np.abs(g))), 1e-300)
    viol = np.r_[np.abs(g[free] + lam), np.maximum(0, -(g[at_lo] + lam)), np.maximum(0, g[at_hi] + lam)]
    resid = float(viol.max() / gnorm) if viol.size else 0.0
    return z, lam, at_lo, at_hi, resid


# --- the law at the target, from runs at several budgets -----------------------------------------

@dataclass(frozen=True)
class TargetSolution:
    """The transfer law fitted on the DDO runs of several budgets, minimised at the target."""

    optimum: "object"                # Mixture at the target
    weights: dict[str, float]
    fit: TransferFit
    rmse_joint: dict[float, float]   # per budget: the joint law's residual error on that budget's runs
    rmse_own: dict[float, float]     # per budget: the budget's own transfer fit's residual error
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"weights": self.weights, "tokens": self.optimum.tokens, "fit": self.fit.to_dict(),
                "rmse_joint": {f"{k:g}": v for k, v in self.rmse_joint.items()},
                "rmse_own": {f"{k:g}": v for k, v in self.rmse_own.items()}, "warnings": list(self.warnings)}


def transfer_at_target(rounds, target: float, objective: str, min_ratio: float = 0.2) -> TargetSolution:
    """Fit one law in absolute quantities on every round's runs (`methods.DDORound`s at two or more
    budgets) and minimise it at `target`, each domain at least min_ratio × the uniform share.

    Whether the law holds across budgets is reported: its residual error per budget against that
    budget's own fit (a joint error several times the own one says the extrapolation is unsupported)."""
    rounds = list(rounds)
    if len(rounds) < 2:
        raise UserError("solving the transfer law at the target needs DDO runs at two or more budgets")
    domains = tuple(rounds[0].ddo.base_tokens.domains)
    validation = tuple(rounds[0].ddo.validation)
    records = [r for rd in rounds for r in rd.records]
    tokens = np.array([[float(r.tokens.get(d, 0)) for d in domains] for r in records])
    losses = {v: np.array([r.val_loss[v] for r in records]) for v in validation}
    offset = sum(len(rd.records) for rd in rounds[:-1])
    last = rounds[-1]
    base_rows = [offset + i for i, p in enumerate(last.plan) if p.domain is None]
    fit = fit_transfer(tokens, losses, domains, base_rows,
                       unit=float(np.mean([last.ddo.base_tokens[d] for d in domains])))
    if not fit.identified:
        raise UserError(f"the runs cannot identify one transfer law across the budgets ({fit.reason})")
    K = len(domains)
    lower = min_ratio * float(target) / K
    # trust region, as within a budget: no domain beyond its largest measured multiple of the base
    base_q = np.array([last.ddo.base_tokens[d] for d in domains])
    ratio = (tokens[offset:] / base_q).max(axis=0)
    sol = solve_transfer(fit, objective, float(target), np.full(K, lower), ratio * float(target) / K)
    pred = fit.losses(tokens)
    obs = np.column_stack([losses[v] for v in validation])
    joint, own, start, messages = {}, {}, 0, []
    for rd in rounds:
        n = len(rd.records)
        joint[float(rd.total)] = float(np.sqrt(np.mean((pred[start:start + n] - obs[start:start + n]) ** 2)))
        t = rd.ddo.transfer
        own[float(rd.total)] = float(np.sqrt(np.mean([law.rmse ** 2 for law in t.laws.values()]))) if t else math.nan
        start += n
    bad = [b for b in joint if math.isfinite(own[b]) and joint[b] > 3 * max(own[b], 1e-3)]
    if bad:
        messages.append(f"one transfer law does not fit every budget (residual error {joint[bad[0]]:.3g} at "
                        f"{bad[0]:,.0f} tokens against {own[bad[0]]:.3g} for that budget's own fit): the "
                        f"extrapolation to the target is not supported by the runs")
    opt = Mixture(zip(domains, sol.tokens.tolist()))
    return TargetSolution(opt, opt.weights, fit, joint, own, tuple(messages))


# --- the form DDO uses ---------------------------------------------------------------------------

class TransferForm:
    """Transfer-aware DDO: the laws above fitted on every run of the table, minimised globally."""

    name = "transfer"
    uses_extra_runs = True       # runs that change several domains identify T
    checks_ambiguity = False
    draw_divisor = 5             # a refit fits every validation domain's law (about a second each on 7 domains)

    def fit(self, problem: DDOProblem) -> TransferFit:
        table = problem.table
        return fit_transfer(table.tokens, {v: table.domain_loss(v) for v in problem.validation}, table.domains,
                            problem.layout.replicates)

    def identified(self, state: TransferFit) -> str | None:
        return None if state.identified else state.reason

    def solve(self, state: TransferFit, problem: DDOProblem, lower_x, upper_x, options: dict) -> FormSolution:
        table, base_q, domains = problem.table, problem.base_q, problem.table.domains
        # trust region: no domain beyond the largest quantity measured for it (the fitted transfer is
        # an interpolation of the runs; past them it is a guess)
        measured = table.tokens.max(axis=0) / base_q
        capped = [d for j, d in enumerate(domains) if measured[j] < upper_x[j]]
        upper_x = np.minimum(upper_x, measured)
        if upper_x @ base_q < base_q.sum() * (1 - 1e-12):
            raise UserError("the largest measured quantities do not add up to the base total; the transfer form "
                            "needs runs above the base for some domains")
        tsol = solve_transfer(state, problem.objective, float(base_q.sum()), lower_x * base_q, upper_x * base_q)
        x = tsol.tokens / base_q
        base_f, opt_f = state.objective(np.vstack([base_q, tsol.tokens]), problem.objective)
        predicted = float(problem.base_objective + opt_f - base_f)
        held = [domains[i] for i in tsol.at_upper if domains[i] in capped]
        messages = () if not held else (
            f"the transfer optimum is held at the largest measured quantity of {', '.join(held)} "
            f"(the fit is trusted only where runs were measured)",)
        return FormSolution(x, tsol.at_lower, tsol.at_upper, tsol.multiplier, predicted, upper_x, messages)

    def objective_at(self, result, base_q: np.ndarray, quantities: np.ndarray) -> float:
        f0, f1 = result.state.objective(np.vstack([base_q, quantities]), result.objective)
        return float(result.base_objective + f1 - f0)

    def parameters(self, result) -> dict:
        return result.state.to_dict()["laws"]
