"""The comparison harness: every method's mixture, judged the same way, with the compute it spent.

Two arenas:
- `compare_methods(config, store)`: on a corpus, through the pipeline. AutoScale, the reused DDO
  optimum and uniform come from `run_study`; natural, a fixed preset, RegMix, Data Mixing Laws and
  DoReMi train their own proxies here and hand their weights to `run_study` as baselines, so all
  are validated at the target with the same seeds and the same speed-up measure.
- `compare_on_oracle(oracle, …)`: on a synthetic oracle with a known optimum: excess loss at the
  target over the true optimum. DoReMi needs a training loop and has no oracle version.

Proxy compute is counted in training tokens and FLOPs (6 × parameters × tokens; DoReMi adds
2 × N × D for the reference model scoring the proxy's batches). By default RegMix gets the same
proxy tokens as DDO (its runs at DDO's smallest scale), and Data Mixing Laws is fitted on the same
runs as RegMix (shared cost, said so in the table). RegMix regresses the study's objective itself;
the mixing law is fitted per validation domain on losses and minimises their mean (for a
`mean-ppl` study too), or the one domain of a `loss:`/`ppl:` objective.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from autoscale_kit.baselines import (PRESETS, RegMixConfig, mixing_law_optimum, natural_weights, preset_weights,
                                     regmix_optimum, regmix_sample, uniform_weights)
from autoscale_kit.ddo import fit_ddo, objective_from, perturbation_plan, uniform_base
from autoscale_kit.doremi import DoReMiConfig, run_doremi
from autoscale_kit.errors import UserError
from autoscale_kit.mixture import Mixture
from autoscale_kit.pipeline import StudyConfig, StudyResult, available_tokens, ddo_specs, run_study, summarize_speedup
from autoscale_kit.predict import predict_optimum
from autoscale_kit.surrogates import SURROGATES, make_surrogate
from autoscale_kit.runs import RunRecord, RunSpec, RunStore, _token_data, corpus_fingerprint, run_many

METHODS = ("natural", "preset", "regmix", "mixing-law", "doremi")  # besides autoscale, ddo-reused, uniform


@dataclass(frozen=True)
class CompareConfig:
    """Which peer methods run, and their budgets (None: matched to DDO's proxy tokens)."""

    methods: tuple[str, ...] = ("natural", "regmix", "mixing-law", "doremi")
    preset: str = "llama"                 # for "preset": a name in baselines.PRESETS
    regmix: RegMixConfig = RegMixConfig(runs=0)  # runs=0: as many as DDO's proxy tokens allow
    regmix_total: int | None = None       # tokens per RegMix proxy run; None: DDO's smallest scale
    doremi: DoReMiConfig = DoReMiConfig()
    doremi_total: int | None = None       # tokens per DoReMi run; None: DDO's largest scale
    doremi_reference: str = "natural"     # reference weights: natural | uniform

    def __post_init__(self):
        unknown = set(self.methods) - set(METHODS)
        if unknown:
            raise UserError(f"unknown method(s) {', '.join(sorted(unknown))}; choose from {', '.join(METHODS)}")
        if "preset" in self.methods and self.preset not in PRESETS:
            raise UserError(f"unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        if self.doremi_reference not in ("natural", "uniform"):
            raise UserError(f"doremi_reference must be natural or uniform, got {self.doremi_reference!r}")


def run_objective(record: RunRecord, objective: str) -> float:
    """The study's objective for one stored run (works for mixtures with zero-token domains,
    which a runs table refuses)."""
    v = record.val_loss
    return float(objective_from(tuple(v), v.__getitem__, lambda d: math.exp(v[d]), objective))


def _cost(records: Sequence[RunRecord]) -> dict:
    tokens = sum(r.metrics["total_tokens"] for r in records)
    return {"proxy_runs": len(records), "proxy_tokens": int(tokens),
            "proxy_flops": float(sum(6.0 * r.metrics["n_params"] * r.metrics["total_tokens"] for r in records))}


def regmix_specs(config: StudyConfig, compare: CompareConfig, prior: Mapping[str, float]) -> list[RunSpec]:
    total = compare.regmix_total or config.scales[0]
    runs = compare.regmix.runs
    if runs <= 0:  # matched compute: DDO's proxy tokens over the RegMix run size
        ddo_tokens = sum(sum(s.mixture.total for s in ddo_specs(config, t)) for t in config.scales)
        runs = max(2, round(ddo_tokens / total))
    mixtures = regmix_sample(prior, replace(compare.regmix, runs=runs))
    seed = config.ddo_seeds[0]
    return [RunSpec(Mixture.from_weights(w, total).rounded(), config.proxy.with_(seed=seed, eval_points=0),
                    config.corpus_ref, label=f"regmix/{total}/{i}/seed{seed}") for i, w in enumerate(mixtures)]


@dataclass(frozen=True)
class MethodWeights:
    weights: dict[str, dict[str, float]]   # method → weights
    costs: dict[str, dict]                 # method → proxy_runs, proxy_tokens, proxy_flops, note
    details: dict[str, object] = field(default_factory=dict, repr=False)


def method_weights(config: StudyConfig, store: RunStore, compare: CompareConfig = CompareConfig(), *,
                   progress: bool = True) -> MethodWeights:
    """Train what the peer methods need and return their mixtures (each cached in the store)."""
    have = available_tokens(config)
    domains = tuple(have)
    natural = natural_weights(have)
    weights, costs, details = {}, {}, {}
    if "natural" in compare.methods:
        weights["natural"], costs["natural"] = natural, {"proxy_runs": 0, "proxy_tokens": 0, "proxy_flops": 0.0}
    if "preset" in compare.methods:
        weights[f"preset-{compare.preset}"] = preset_weights(compare.preset, domains)
        costs[f"preset-{compare.preset}"] = {"proxy_runs": 0, "proxy_tokens": 0, "proxy_flops": 0.0}
    if {"regmix", "mixing-law"} & set(compare.methods):
        specs = regmix_specs(config, compare, natural)
        executor = "process" if config.workers > 1 else None
        records = run_many(specs, store, executor=executor, workers=config.workers, progress=progress)
        mixes = [{d: r.tokens.get(d, 0) for d in domains} for r in records]
        cost = _cost(records)
        details["regmix_runs"] = records
        if "regmix" in compare.methods:
            y = [run_objective(r, config.objective) for r in records]
            res = regmix_optimum(mixes, y, natural, compare.regmix)
            weights["regmix"], costs["regmix"], details["regmix"] = res.weights, cost, res
        if "mixing-law" in compare.methods:
            obj = config.objective
            valid = [obj.split(":", 1)[1]] if obj.startswith(("loss:", "ppl:")) else list(records[0].val_loss)
            losses = {v: [r.val_loss[v] for r in records] for v in valid}
            res = mixing_law_optimum(mixes, losses, domains)
            weights["mixing-law"] = res.weights
            costs["mixing-law"] = {**cost, "note": "the RegMix runs" if "regmix" in compare.methods else ""}
            details["mixing-law"] = res
    if "doremi" in compare.methods:
        p = config.proxy
        data = _token_data(config.corpus_ref, p.tokenizer, p.seq_len, p.val_tokens)
        ref = natural if compare.doremi_reference == "natural" else {d: 1.0 for d in domains}
        res = run_doremi(data, compare.doremi_total or config.scales[-1], ref, p.with_(seed=config.ddo_seeds[0], eval_points=0),
                         compare.doremi, store=store.root, fingerprint=corpus_fingerprint(config.corpus_ref),
                         progress=progress)
        weights["doremi"], details["doremi"] = res.weights, res
        costs["doremi"] = {"proxy_runs": 2, "proxy_tokens": 2 * res.tokens, "proxy_flops": res.flops}
    return MethodWeights(weights, costs, details)


@dataclass(frozen=True)
class Comparison:
    study: StudyResult
    methods: MethodWeights
    table: pd.DataFrame      # one row per method: cost, final loss, saving

    def summary(self) -> dict:
        return {"table": self.table.to_dict(orient="records"),
                "weights": {n: m.weights for n, m in self.study.mixtures.items()},
                "study": self.study.summary()}


def compare_methods(config: StudyConfig, store: RunStore | str = "runs", compare: CompareConfig = CompareConfig(), *,
                    progress: bool = True) -> Comparison:
    """Every method's mixture validated at `config.target` next to AutoScale's (resumable)."""
    store = store if isinstance(store, RunStore) else RunStore(store)
    methods = method_weights(config, store, compare, progress=progress)
    study = run_study(config, store, baselines=methods.weights, progress=progress)
    ddo_all = [r for s in study.scales for r in s.records]
    costs = {"autoscale": _cost(ddo_all), "ddo-reused": _cost(study.scales[-1].records),
             "uniform": {"proxy_runs": 0, "proxy_tokens": 0, "proxy_flops": 0.0}, **methods.costs}
    speed = summarize_speedup(study.speedup).set_index("mixture")
    rows = []
    for name in study.mixtures:
        rows.append({"method": name, **{k: costs[name].get(k) for k in ("proxy_runs", "proxy_tokens", "proxy_flops")},
                     "shared_runs": costs[name].get("note", ""), **speed.loc[name].to_dict()})
    return Comparison(study, methods, pd.DataFrame(rows))


def surrogate_cv(weights, losses, names=SURROGATES, *, folds: int = 5, seed: int = 0) -> dict[str, float]:
    """How well each surrogate ranks runs it was not fitted on: the Spearman correlation of
    k-fold out-of-fold predictions with the measured losses. A low value says the proxy runs are
    too noisy (or too few) for that method's optimum to mean much."""
    from scipy.stats import spearmanr

    X = np.asarray(weights, dtype=float)
    y = np.asarray(losses, dtype=float)
    if len(y) < 2 * folds:
        raise UserError(f"{len(y)} runs are too few for {folds}-fold cross-validation (need {2 * folds})")
    order = np.random.default_rng(seed).permutation(len(y))
    out = {}
    for name in names:
        pred = np.empty_like(y)
        for fold in np.array_split(order, folds):
            train = np.setdiff1d(order, fold)
            pred[fold] = make_surrogate(name).fit(X[train], y[train]).predict(X[fold])
        out[name] = float(spearmanr(pred, y).statistic)
    return out


def regmix_runs_cv(comparison: "Comparison", folds: int = 5) -> dict[str, float]:
    """`surrogate_cv` on the RegMix proxy runs of a comparison, against the study's objective."""
    recs = comparison.methods.details.get("regmix_runs")
    if not recs:
        raise UserError("this comparison trained no RegMix runs (add 'regmix' or 'mixing-law' to the methods)")
    domains = list(comparison.study.scales[0].ddo.weights)
    X = np.array([[r.tokens.get(d, 0) for d in domains] for r in recs], dtype=float)
    y = [run_objective(r, comparison.study.config.objective) for r in recs]
    return surrogate_cv(X / X.sum(axis=1, keepdims=True), y, folds=folds)


# --- on a synthetic oracle ----------------------------------------------------------------------

def compare_on_oracle(oracle, scales: Sequence[float], target: float, *, regmix: RegMixConfig = RegMixConfig(runs=0),
                      ratios: Sequence[float] = (0.2, 3.0), min_ratio: float = 0.2, noise: float = 0.0,
                      seed: int = 0) -> dict[str, dict]:
    """Excess loss at `target` of each method's mixture over the oracle's true optimum.

    DDO/AutoScale measure their perturbation plans at every scale; RegMix (and Data Mixing Laws, on
    the same runs) measure random mixtures at the smallest scale, as many as DDO's tokens buy when
    `regmix.runs` is 0; the prior is uniform (an oracle has no data sizes)."""
    scales = sorted(scales)
    domains = oracle.domains
    ddo_optima, plan_tokens = [], []
    for i, total in enumerate(scales):
        plan = perturbation_plan(uniform_base(domains, total), ratios)
        runs = oracle.measure(plan, noise=noise, seed=1000 * seed + i)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ddo_optima.append(fit_ddo(runs, "mean-loss", min_ratio=min_ratio, ambiguity=False).tokens)
        plan_tokens.append(sum(r.mixture.total for r in plan))
    ddo_tokens = sum(plan_tokens)
    prior = uniform_weights(domains)
    n = regmix.runs or max(2, round(ddo_tokens / scales[0]))
    samples = regmix_sample(prior, replace(regmix, runs=n, seed=regmix.seed + seed))
    table = oracle.measure([Mixture.from_weights(w, scales[0]) for w in samples], noise=noise, seed=1000 * seed + 999)
    losses = {d: table[f"loss:{d}"].to_numpy() for d in domains}
    objective = np.mean(list(losses.values()), axis=0)
    mixtures = {
        "autoscale": predict_optimum(ddo_optima, target).tokens.weights,
        "ddo-reused": ddo_optima[-1].weights,
        "uniform": prior,
        "regmix": regmix_optimum(samples, objective, prior, regmix).weights,
        "mixing-law": mixing_law_optimum(samples, losses, domains).weights,
    }
    best = oracle.objective(oracle.optimum(target))
    spent = {"autoscale": ddo_tokens, "ddo-reused": plan_tokens[-1], "uniform": 0.0, "regmix": n * scales[0],
             "mixing-law": n * scales[0]}
    return {m: {"excess": oracle.objective(Mixture.from_weights(w, target)) - best, "proxy_tokens": spent[m],
                "weights": w} for m, w in mixtures.items()}
