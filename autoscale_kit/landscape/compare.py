"""One grid measured two ways (the wsd schedule and the cosine one, two proxy sizes, two corpora):
how far the two landscapes' losses, rankings and optima differ, set against each one's seed noise.

Why: a cheaper way of measuring a landscape (branches off one wsd run instead of a cosine run per
budget) is only a substitute if it ranks the mixtures as the original does, to within the noise
that already blurs the original. Every number here is paired: the same mixtures, the same seeds.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Sequence

import numpy as np
from scipy.stats import spearmanr

from autoscale_kit.core import fmt
from autoscale_kit.core.errors import UserError
from autoscale_kit.fit.surface import measured_objective, objective_domains
from autoscale_kit.landscape.budget import fit_budget, intervals_apart
from autoscale_kit.landscape.runs import LandscapeRuns


POINT_TOLERANCE = 0.01     # weights closer than this are one design point (grid steps are far coarser)


def point_table(runs: LandscapeRuns, objective: str = "mean-loss") -> dict[tuple, dict[int, dict]]:
    """Per design point (the weights of its first run) and seed: the objective and each validation loss."""
    if runs.seeds is None:
        raise UserError(f"{runs.source}: the runs have no seed column; a paired comparison needs each run's seed")
    names = objective_domains(tuple(runs.losses), objective)
    y = measured_objective(runs.losses, names, objective)
    out: dict[tuple, dict[int, dict]] = {}
    for i, w in enumerate(runs.weights):
        # runs within the tolerance are one point: a wsd branch's weights differ by a window between seeds
        near = [k for k in out if np.abs(np.array(k) - w).max() <= POINT_TOLERANCE]
        key = near[0] if near else tuple(float(v) for v in np.round(w, 6))
        out.setdefault(key, {})[int(runs.seeds[i])] = {"objective": float(y[i]),
                                                      **{d: float(v[i]) for d, v in runs.losses.items()}}
    return out


def matched_points(pa: dict, pb: dict, tolerance: float = POINT_TOLERANCE) -> list[tuple[tuple, tuple]]:
    """Design points of `pa` paired with the nearest of `pb` when no weight differs by more than
    `tolerance` (a wsd branch gives each domain its share to within one window, so its weights sit
    a little off the grid point it was asked for)."""
    keys_b = list(pb)
    if not keys_b:
        return []
    Wb = np.array(keys_b)
    out = []
    for p in pa:
        dist = np.abs(Wb - np.array(p)).max(axis=1)
        j = int(np.argmin(dist))
        if dist[j] <= tolerance:
            out.append((p, keys_b[j]))
    return out


def _rank_corr(x: np.ndarray, y: np.ndarray) -> float:
    return float(spearmanr(x, y).statistic) if len(x) > 2 else float("nan")


def pair_noise(values: np.ndarray) -> float:
    """The seed noise of one seed's difference between two mixtures (points × seeds in): the root
    mean over every pair of points of the variance across seeds of their difference."""
    if values.shape[1] < 2:
        return float("nan")
    var = [np.var(values[i] - values[j], ddof=1) for i, j in itertools.combinations(range(len(values)), 2)]
    return float(np.sqrt(np.mean(var)))


def seed_rank_agreement(values: np.ndarray) -> float:
    """Mean Spearman of the points' ranking between two seeds (over every pair of seeds): how well
    one seed reproduces another's ranking, the ceiling for any agreement between two landscapes."""
    pairs = list(itertools.combinations(range(values.shape[1]), 2))
    return float(np.mean([_rank_corr(values[:, a], values[:, b]) for a, b in pairs])) if pairs else float("nan")


def compare_budget(a: LandscapeRuns, b: LandscapeRuns, total: float, objective: str = "mean-loss", *,
                   names: Sequence[str] = ("a", "b"), n_boot: int = 100, level: float = 0.9) -> dict:
    """The two landscapes at `total` on the points and seeds both measured: mean loss gap (a − b,
    overall and per validation domain), Spearman of the points' ranking (against the seed-to-seed
    Spearman within each), the paired seed noise of a difference between two mixtures in each,
    the pairs of points whose difference the two disagree on beyond that noise (2 standard errors),
    and each one's fitted optimum with its interval (and the domains where the intervals are apart)."""
    pa, pb = point_table(a.at(total), objective), point_table(b.at(total), objective)
    matched = matched_points(pa, pb)
    seeds = sorted(set.intersection(*[set(pa[p]) & set(pb[q]) for p, q in matched])) if matched else []
    if len(matched) < 3 or not seeds:
        raise UserError(f"at {total:,.6g} tokens the two landscapes share {len(matched)} design points and seeds "
                        f"{seeds}; a comparison needs three or more points measured with the same seeds in both")
    A = np.array([[pa[p][s]["objective"] for s in seeds] for p, _ in matched])
    B = np.array([[pb[q][s]["objective"] for s in seeds] for _, q in matched])
    domains = [d for d in a.losses if d in b.losses]
    gaps = {d: float(np.mean([pa[p][s][d] - pb[q][s][d] for p, q in matched for s in seeds])) for d in domains}
    noise_a, noise_b = pair_noise(A), pair_noise(B)
    se = np.sqrt((noise_a ** 2 + noise_b ** 2) / len(seeds)) if len(seeds) > 1 else float("nan")
    pairs = list(itertools.combinations(range(len(matched)), 2))
    da = np.array([A[i].mean() - A[j].mean() for i, j in pairs])
    db = np.array([B[i].mean() - B[j].mean() for i, j in pairs])
    beyond = np.abs(da - db) > 2 * se if np.isfinite(se) else np.zeros(len(pairs), bool)
    flipped = (np.sign(da) != np.sign(db)) & beyond
    fits = [fit_budget(r.at(total), objective, n_boot=n_boot, level=level) for r in (a, b)]
    apart = intervals_apart(fits[0], fits[1], a.domains)
    na, nb = names
    return {"budget": float(total), "points": len(matched), "seeds": seeds,
            "mean_gap": float((A - B).mean()), "gap_by_domain": gaps,
            "spearman": _rank_corr(A.mean(axis=1), B.mean(axis=1)),
            f"spearman_seeds_{na}": seed_rank_agreement(A), f"spearman_seeds_{nb}": seed_rank_agreement(B),
            f"pair_noise_{na}": noise_a, f"pair_noise_{nb}": noise_b,
            "pairs": len(pairs), "pairs_beyond_noise": int(beyond.sum()), "pairs_flipped_beyond_noise": int(flipped.sum()),
            f"optimum_{na}": fits[0].optimum, f"interval_{na}": {d: list(v) for d, v in fits[0].interval.items()},
            f"optimum_{nb}": fits[1].optimum, f"interval_{nb}": {d: list(v) for d, v in fits[1].interval.items()},
            "optima_apart_in": apart}


def compare_landscapes(a: LandscapeRuns, b: LandscapeRuns, objective: str = "mean-loss", *,
                       names: Sequence[str] = ("a", "b"), n_boot: int = 100, level: float = 0.9) -> list[dict]:
    """`compare_budget` at every budget both landscapes measured (within 1 %)."""
    if tuple(a.domains) != tuple(b.domains):
        raise UserError(f"the landscapes mix different domains ({', '.join(a.domains)} against {', '.join(b.domains)})")
    common = [t for t in a.budgets if any(abs(t - u) <= 0.01 * t for u in b.budgets)]
    if not common:
        raise UserError(f"the landscapes share no budget ({list(a.budgets)} against {list(b.budgets)})")
    out = []
    for t in common:
        u = min(b.budgets, key=lambda v: abs(v - t))
        out.append(compare_budget(a, b if u == t else _relabel(b, u, t), t, objective, names=names, n_boot=n_boot,
                                  level=level))
    return out


def _relabel(runs: LandscapeRuns, old: float, new: float) -> LandscapeRuns:
    return replace(runs, budget=np.where(runs.budget == old, new, runs.budget))


def describe_comparison(results: Sequence[dict], names: Sequence[str] = ("a", "b"), domains: Sequence[str] = ()) -> str:
    """`compare_landscapes`' answer as text: one paragraph per budget."""
    na, nb = names
    lines = []
    for c in results:
        doms = domains or list(c[f"optimum_{na}"])

        def opt(name):
            return ", ".join(f"{d} {100 * c[f'optimum_{name}'][d]:.0f}% [{100 * c[f'interval_{name}'][d][0]:.0f}%, "
                             f"{100 * c[f'interval_{name}'][d][1]:.0f}%]" for d in doms)

        lines += [f"{fmt.tokens(c['budget']):>5}: {c['points']} points × seeds {c['seeds']}; mean loss gap {na} − {nb} "
                  f"{c['mean_gap']:+.4f} ({', '.join(f'{d} {v:+.4f}' for d, v in c['gap_by_domain'].items())}); "
                  f"Spearman {c['spearman']:.3f} (seed against seed: {na} {c[f'spearman_seeds_{na}']:.3f}, {nb} "
                  f"{c[f'spearman_seeds_{nb}']:.3f}); seed noise of a difference between two mixtures: {na} "
                  f"{c[f'pair_noise_{na}']:.4f}, {nb} {c[f'pair_noise_{nb}']:.4f}; pairs ordered differently beyond "
                  f"2 s.e.: {c['pairs_flipped_beyond_noise']} of {c['pairs']}",
                  f"       optimum {na}: {opt(na)}", f"       optimum {nb}: {opt(nb)}; intervals apart in: "
                  f"{', '.join(c['optima_apart_in']) or 'none'}"]
    return "\n".join(lines)
