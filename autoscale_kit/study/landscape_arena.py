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
- The reference is the best mixture *measured* at the target: over the grid's points, every
  recommendation, the grid's fitted optimum, and a second-round optimum refitted on all of those
  runs (every mixture trained at the target is a point of its landscape) and trained too. A fitted
  optimum alone can be wrong where the grid is coarse; the table also gives each mixture's
  objective against the grid's fitted optimum (`vs_fitted_optimum`).
- Regret is paired by seed (same initialisation and validation windows); its interval is the
  seed bootstrap of `bootstrap` (with two seeds, the range of the two differences: say so when
  you quote it).
- Tokens to reach uniform's final objective come from each run's validation curve, the objective
  computed on the curve's columns (linear interpolation, as `pipeline.tokens_to_reach`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from autoscale_kit.core.bootstrap import bootstrap
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.objective import objective_from
from autoscale_kit.landscape.budget import fit_budget
from autoscale_kit.landscape.design import LandscapeConfig, point_name, train_landscape
from autoscale_kit.landscape.fit import LandscapeFit, fit_landscape
from autoscale_kit.landscape.runs import landscape_runs
from autoscale_kit.methods.registry import Choice, CompareConfig, choose_all, get_method, mixture_names, run_objective
from autoscale_kit.runs.store import RunRecord, RunStore
from autoscale_kit.study.config import StudyConfig, available_tokens
from autoscale_kit.study.lab import CorpusLab
from autoscale_kit.study.pipeline import capped_mixture, tokens_to_reach, validation_specs

ARENA_METHODS = ("autoscale", "ddo-reused", "uniform", "natural", "regmix", "mixing-law", "doremi",
                 "landscape-reused", "landscape-model", "landscape-extrapolated")
OPTIMUM = "landscape-optimum"          # the fitted optimum of the grid at the target
REFIT = "landscape-optimum-refit"       # refitted with every mixture measured at the target


def arena_study(config: LandscapeConfig, objective: str = "mean-loss"):
    """The study the methods run: DDO (and the landscape methods' grids) at every budget below the
    landscape's largest, the largest as the target, the landscape's seeds and proxy."""
    if len(config.budgets) < 3:
        raise UserError(f"the arena needs a landscape at three or more budgets (two for the methods, the largest as "
                        f"the target); this one has {len(config.budgets)}")
    return StudyConfig(name=f"{config.name}-arena", corpus=config.corpus, domains=config.domains,
                       budgets=tuple(config.budgets[:-1]), target=config.budgets[-1], objective=objective,
                       proxy=config.proxy, ddo_seeds=(config.seeds[0],), seeds=config.seeds, workers=config.workers)


def objective_curve(record: RunRecord, objective: str) -> pd.DataFrame:
    """The run's validation curve with the objective as a column `objective` (from val:<d>)."""
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
    refit: object = None                    # the target's landscape refitted with every run there (BudgetFit)

    def to_dict(self) -> dict:
        return {"objective": self.objective, "target": float(self.config.budgets[-1]),
                "seeds": list(self.config.seeds), "weights": self.weights,
                "table": self.table.to_dict(orient="records"), "best_measured": self.best_measured,
                "refit": self.refit.to_dict() if self.refit is not None else None}


def _whole_tokens(record: RunRecord) -> tuple[int, ...]:
    """A run's mixture as whole tokens per domain: what identifies a mixture across seeds."""
    return tuple(int(round(v)) for v in record.mixture.tokens.values())


def _regret_interval(diffs: np.ndarray, level: float, n_boot: int, seed: int) -> tuple[float, float]:
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
    # under the wsd schedule the methods' grids are the landscape's own branches: plans to its largest budget
    lab = CorpusLab(study, store, options, executor=executor, progress=progress, horizon=config.budgets[-1])
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

    # Second round: every mixture measured at the target is a point of its landscape. Refit with all of
    # them (each run once) and train that optimum too: the grid alone may be too coarse near the optimum.
    at_target = {r.key: r for r in records if r.budget == config.budgets[-1]}
    at_target.update({r.key: r for rs in target_runs.values() for r in rs})
    refit = fit_budget(landscape_runs(list(at_target.values())), objective, n_boot=n_boot, level=level)
    weights[REFIT] = dict(refit.optimum)
    spec = validation_specs(study, {REFIT: capped_mixture(REFIT, refit.optimum, study.target, have)[0]})[REFIT]
    target_runs[REFIT] = tuple(lab.train(spec))
    for rs in target_runs.values():
        at_target.update({r.key: r for r in rs})

    # the best mixture measured at the target, over every mixture trained there with all the seeds
    by_mixture: dict = {}
    for r in at_target.values():
        by_mixture.setdefault(_whole_tokens(r), {})[r.seed] = run_objective(r, objective)
    complete = {m: v for m, v in by_mixture.items() if set(v) == set(config.seeds)}
    best_tokens = min(complete, key=lambda m: np.mean(list(complete[m].values())))
    best_by_seed = complete[best_tokens]
    best_names = [n for n, rs in target_runs.items() if _whole_tokens(rs[0]) == best_tokens]
    best_weights = dict(zip(config.domains, np.asarray(best_tokens, float) / sum(best_tokens)))
    best = {"mixture": best_names[0] if best_names else "grid point " + point_name(best_weights),
            "weights": best_weights, "objective": float(np.mean(list(best_by_seed.values())))}

    obj = {n: np.array([run_objective(r, objective) for r in rs]) for n, rs in target_runs.items()}
    seeds = {n: [r.seed for r in rs] for n, rs in target_runs.items()}
    uniform_curves = {r.seed: objective_curve(r, objective) for r in target_runs[names["uniform"]]}
    fitted = obj[OPTIMUM]
    rows = []
    for i, (m, choice) in enumerate([*choices.items(), (OPTIMUM, None), (REFIT, None)]):
        n = names.get(m, m)
        diffs = obj[n] - np.array([best_by_seed[s] for s in seeds[n]])     # paired by seed
        lo, hi = _regret_interval(diffs, level, n_boot, seed=i)
        reach = []
        for r in target_runs[n]:
            u = uniform_curves[r.seed]
            reach.append(tokens_to_reach(objective_curve(r, objective), float(u["objective"].iloc[-1]), "objective"))
        hit = [t for t in reach if t is not None]
        spent = choice.spent.to_dict() if choice is not None else {"proxy_runs": 0, "proxy_tokens": 0,
                                                                     "proxy_flops": 0.0}
        shared = choice.shared if choice is not None else (
            "the landscape at the target" if n == OPTIMUM else "the landscape and every mixture above, at the target")
        rows.append({"method": n, **{f"w:{d}": weights[n][d] / sum(weights[n].values()) for d in config.domains},
                     "proxy_runs": spent["proxy_runs"], "proxy_tokens": spent["proxy_tokens"], "shared_runs": shared,
                     "objective": float(obj[n].mean()),
                     "std": float(obj[n].std(ddof=1)) if len(obj[n]) > 1 else float("nan"),
                     "regret": float(diffs.mean()), "regret_lo": lo, "regret_hi": hi,
                     "vs_fitted_optimum": float((obj[n] - fitted).mean()),
                     "tokens_to_uniform": float(np.mean(hit)) if len(hit) == len(reach) else float("nan"),
                     "reached": f"{len(hit)}/{len(reach)}"})
    table = pd.DataFrame(rows)
    return LandscapeArena(config, objective, fit, choices, weights, target_runs, table, best, refit)
