"""Every method judged against the measured landscape: regret at the landscape's largest budget.

Why: "method A beats uniform" says little when neither is near the optimum. With the landscape
measured at the target budget, each method's recommendation (computed from the smaller budgets
only) is trained at the target with the landscape's seeds and scored by its regret: its measured
objective minus that of the landscape's optimum, trained there with the same seeds.

Design choices:
- The target is the landscape's largest budget; the methods see the smaller budgets (AutoScale:
  DDO at each and the predictor; the landscape methods: the grids at those budgets). Every run
  goes through one `CorpusLab` and the run store, so the arena resumes and shares runs with the
  landscape (the uniform mixture is the landscape's centroid run).
- Regret is paired by seed (same initialisation and validation windows); its interval is the
  seed bootstrap of `bootstrap` (with two seeds, the range of the two differences: say so when
  you quote it). A second reference, the best mixture measured at the target (grid points and
  recommendations alike), guards against a poorly fitted optimum.
- Tokens to reach uniform's final objective come from each run's validation curve, the objective
  computed on the curve's columns (linear interpolation, as `pipeline.tokens_to_reach`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from autoscale_kit.errors import UserError
from autoscale_kit.landscape import LandscapeConfig, LandscapeFit, fit_landscape, landscape_runs, train_landscape
from autoscale_kit.methods import Choice, CompareConfig, choose_all, run_objective
from autoscale_kit.runs import RunRecord, RunStore

ARENA_METHODS = ("autoscale", "ddo-reused", "uniform", "natural", "regmix", "mixing-law", "doremi",
                 "landscape-reused", "landscape-model", "landscape-extrapolated")
OPTIMUM = "landscape-optimum"


def arena_study(config: LandscapeConfig, objective: str = "mean-loss"):
    """The study the methods run: DDO (and the landscape methods' grids) at every budget below the
    landscape's largest, the largest as the target, the landscape's seeds and proxy."""
    from autoscale_kit.studies import StudyConfig

    if len(config.budgets) < 3:
        raise UserError(f"the arena needs a landscape at three or more budgets (two for the methods, the largest as "
                        f"the target); this one has {len(config.budgets)}")
    return StudyConfig(name=f"{config.name}-arena", corpus=config.corpus, domains=config.domains,
                       budgets=tuple(config.budgets[:-1]), target=config.budgets[-1], objective=objective,
                       proxy=config.proxy, ddo_seeds=(config.seeds[0],), seeds=config.seeds, workers=config.workers)


def objective_curve(record: RunRecord, objective: str) -> pd.DataFrame:
    """The run's validation curve with the objective as a column `objective` (from val:<d>)."""
    from autoscale_kit.ddo import objective_from

    c = record.curve
    domains = tuple(col[4:] for col in c.columns if col.startswith("val:"))
    values = objective_from(domains, lambda d: c[f"val:{d}"].to_numpy(dtype=float),
                            lambda d: np.exp(c[f"val:{d}"].to_numpy(dtype=float)), objective)
    return pd.DataFrame({"tokens_seen": c["tokens_seen"].to_numpy(dtype=float), "objective": values})


@dataclass(frozen=True)
class LandscapeArena:
    config: LandscapeConfig
    objective: str
    fit: LandscapeFit                       # the landscape at every budget (its largest: the truth)
    choices: dict[str, Choice]
    weights: dict[str, dict[str, float]]    # every judged mixture, the optimum included
    records: dict[str, tuple]               # target runs per mixture (one per seed)
    table: pd.DataFrame
    best_measured: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"objective": self.objective, "target": float(self.config.budgets[-1]),
                "seeds": list(self.config.seeds), "weights": self.weights,
                "table": self.table.to_dict(orient="records"), "best_measured": self.best_measured}


def _regret_interval(diffs: np.ndarray, level: float, n_boot: int, seed: int) -> tuple[float, float]:
    from autoscale_kit.bootstrap import bootstrap

    if len(diffs) < 2:
        return float("nan"), float("nan")
    boot = bootstrap(lambda rows: diffs[rows].mean(), [np.array([i]) for i in range(len(diffs))], n=n_boot,
                     seed=seed, within=False)
    lo, hi = boot.interval(level)
    return float(lo), float(hi)


def landscape_arena(config: LandscapeConfig, store: RunStore | str = "runs", *,
                    methods: Sequence[str] = ARENA_METHODS, objective: str = "mean-loss", n_boot: int = 100,
                    level: float = 0.9, executor=None, progress: bool = True) -> LandscapeArena:
    """Train (or load) the landscape and every method's runs, then each recommendation and the
    landscape's optimum at the target with the landscape's seeds; score them by regret."""
    from autoscale_kit.labs import CorpusLab
    from autoscale_kit.methods import get_method, mixture_names
    from autoscale_kit.pipeline import capped_mixture, tokens_to_reach, validation_specs
    from autoscale_kit.studies import available_tokens

    study = arena_study(config, objective)
    for m in methods:
        get_method(m, "corpus")
    if "uniform" not in methods:
        raise UserError("the arena measures tokens to reach uniform's final objective: keep 'uniform' in the methods")
    store = store if isinstance(store, RunStore) else RunStore(store)
    records = train_landscape(config, store, executor=executor, progress=progress)
    fit = fit_landscape(landscape_runs(records), objective, n_boot=n_boot, level=level)
    truth = fit.scales[-1]
    peers = tuple(m for m in methods if m not in ("autoscale", "uniform", "ddo-reused"))
    options = CompareConfig(methods=peers, landscape_step=config.step, landscape_bootstrap=n_boot)
    lab = CorpusLab(study, store, options, executor=executor, progress=progress)
    choices = choose_all(lab, methods)
    names = mixture_names(choices)
    have = available_tokens(study) if study.proxy.repetition == "refuse" else None
    weights = {names[m]: dict(c.weights) for m, c in choices.items()}
    weights[OPTIMUM] = dict(truth.optimum)
    mixtures = {n: capped_mixture(n, w, study.target, have)[0] for n, w in weights.items()}
    specs = validation_specs(study, mixtures)
    trained = lab.train([s for v in specs.values() for s in v])
    it = iter(trained)
    target_runs = {n: tuple(next(it) for _ in v) for n, v in specs.items()}

    obj = {n: np.array([run_objective(r, objective) for r in rs]) for n, rs in target_runs.items()}
    ref = obj[OPTIMUM]
    uniform_curves = {r.seed: objective_curve(r, objective) for r in target_runs[names["uniform"]]}
    # the best mixture measured at the target: grid points and recommendations alike
    measured = {}
    for r in records:
        if int(round(r.mixture.total)) == config.budgets[-1]:
            measured.setdefault(tuple(round(v, 6) for v in r.mixture.weights.values()), []).append(
                run_objective(r, objective))
    grid_best = min(measured.items(), key=lambda kv: np.mean(kv[1]))
    means = {n: float(v.mean()) for n, v in obj.items()}
    best_name = min(means, key=means.get)
    best = ({"mixture": best_name, "objective": means[best_name]} if means[best_name] <= np.mean(grid_best[1]) else
            {"mixture": "grid point " + "-".join(f"{100 * w:.4g}" for w in grid_best[0]),
             "objective": float(np.mean(grid_best[1]))})
    rows = []
    for i, (m, choice) in enumerate([*choices.items(), (OPTIMUM, None)]):
        n = names.get(m, m)
        diffs = obj[n] - ref
        lo, hi = _regret_interval(diffs, level, n_boot, seed=i)
        reach = []
        for r in target_runs[n]:
            u = uniform_curves[r.seed]
            reach.append(tokens_to_reach(objective_curve(r, objective), float(u["objective"].iloc[-1]), "objective"))
        hit = [t for t in reach if t is not None]
        spent = choice.spent.to_dict() if choice is not None else {"proxy_runs": 0, "proxy_tokens": 0,
                                                                     "proxy_flops": 0.0}
        rows.append({"method": n, **{f"w:{d}": weights[n][d] / sum(weights[n].values()) for d in config.domains},
                     "proxy_runs": spent["proxy_runs"], "proxy_tokens": spent["proxy_tokens"],
                     "shared_runs": choice.shared if choice is not None else "the landscape at the target",
                     "objective": means[n], "std": float(obj[n].std(ddof=1)) if len(obj[n]) > 1 else float("nan"),
                     "regret": float(diffs.mean()), "regret_lo": lo, "regret_hi": hi,
                     "regret_vs_best": means[n] - best["objective"],
                     "tokens_to_uniform": float(np.mean(hit)) if len(hit) == len(reach) else float("nan"),
                     "reached": f"{len(hit)}/{len(reach)}"})
    table = pd.DataFrame(rows)
    return LandscapeArena(config, objective, fit, choices, weights, target_runs, table, best)
