"""The oracle arena, written once: registered methods on a synthetic world with a known optimum.

`SyntheticLab` is the lab interface of `methods` over an oracle (`autoscale_kit.methods.oracle`): a probe
is "measured" by evaluating the oracle's per-domain losses at its mixture (optionally with
Gaussian noise, seeded per probe, so a probe's noise does not depend on what else was measured).
`oracle_arena` lets each named method choose its weights there and scores them by their excess
loss at the target over the true optimum. The comparison benchmark, the DDO oracle benchmark,
notebook 07 and its widget all call it.

Two arena-only methods use the oracle's truth, to separate DDO's error from the predictor's:
`oracle-autoscale` (the predictor fed the true optima at the DDO budgets, each with DDO's lower
bound min_ratio × the uniform share) and `oracle-reused` (the true optimum at the largest budget).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.fit.plan import uniform_base
from autoscale_kit.fit.predict import predict_optimum
from autoscale_kit.methods.baselines import RegMixConfig, uniform_weights
from autoscale_kit.methods.registry import Choice, CompareConfig, Method, Probe, choose_all, ddo_round, register


@dataclass(frozen=True)
class OracleRun:
    """A probe measured on an oracle, with the fields methods read from a stored run."""

    key: str
    mixture: Mixture
    seed: int
    val_loss: dict[str, float]
    tokens: dict[str, float]
    total_tokens: int
    flops: float = 0.0

    @property
    def mean_val_loss(self) -> float:
        return sum(self.val_loss.values()) / len(self.val_loss)


class SyntheticLab:
    kind = "oracle"

    def __init__(self, oracle, budgets: Sequence[float], target: float, *, ratios: Sequence[float] = (0.2, 3.0),
                 min_ratio: float = 0.2, noise: float = 0.0, seed: int = 0,
                 options: CompareConfig = CompareConfig(methods=()), objective: str = "mean-loss",
                 predict_method: str = "auto", ambiguity: bool = False, surrogate: str = "separable",
                 verify: int = 0, ddo_seeds: Sequence[int] = (0,), interval_draws: int = 0, level: float = 0.9):
        budgets = sorted(float(b) for b in budgets)
        if len(budgets) < 2:
            raise UserError(f"the arena needs DDO at two or more budgets, got {budgets}")
        self.oracle = oracle
        self.domains = tuple(oracle.domains)
        self.budgets, self.target = tuple(budgets), float(target)
        self.ratios, self.min_ratio = tuple(ratios), float(min_ratio)
        self.noise, self.seed = float(noise), int(seed)
        self.options, self.objective, self.predict_method = options, objective, predict_method
        self.ambiguity = ambiguity
        self.surrogate, self.verify = surrogate, int(verify)
        self.ddo_seeds = tuple(ddo_seeds)
        self.interval_draws, self.level = int(interval_draws), float(level)
        self.cache: dict = {}

    def measure(self, probes: Sequence[Probe]) -> list[OracleRun]:
        out = []
        for p in probes:
            losses = self.oracle.losses(p.mixture)
            if self.noise:
                rng = np.random.default_rng([self.seed, p.seed, zlib.crc32(p.label.encode())])
                losses = dict(zip(losses, (np.array(list(losses.values())) +
                                           rng.normal(0.0, self.noise, len(losses))).tolist()))
            out.append(OracleRun(p.label, p.mixture, p.seed, losses, p.mixture.tokens, int(round(p.mixture.total))))
        return out

    def exact(self, mixture: Mixture) -> Mixture:
        return mixture

    def prior(self) -> dict[str, float]:
        return uniform_weights(self.domains)

    def truth(self, total: float, *, with_ddo_bounds: bool = False) -> Mixture:
        """The oracle's optimum at `total`; with DDO's lower bounds (min_ratio × the uniform share)."""
        bounded = with_ddo_bounds and self.min_ratio > 0
        lower = uniform_base(self.domains, total).scaled(self.min_ratio) if bounded else None
        return self.oracle.optimum(total, lower=lower)


def _oracle_autoscale(lab) -> Choice:
    optima = [lab.truth(t, with_ddo_bounds=True) for t in lab.budgets]
    pred = predict_optimum(optima, lab.target, method=lab.predict_method)
    return Choice(pred.weights, details=pred)


def _oracle_reused(lab) -> Choice:
    return Choice(lab.truth(lab.budgets[-1], with_ddo_bounds=True).weights)


register(Method("oracle-autoscale", "the AutoScale predictor fed the oracle's true optima (arena only)",
                _oracle_autoscale, labs=("oracle",)))
register(Method("oracle-reused", "the oracle's true optimum at the largest budget, reused (arena only)",
                _oracle_reused, labs=("oracle",)))


@dataclass(frozen=True)
class ArenaEntry:
    """One method in the arena: its mixture at the target and how far above the optimum it is."""

    weights: dict[str, float] | None
    mixture: Mixture | None
    excess: float | None             # objective(mixture) − objective(true optimum), nats
    max_weight_error: float | None   # max_d |w_d − w*_d|
    proxy_tokens: float
    error: str = ""                  # why the method gave no answer (e.g. the predictor failed)


@dataclass(frozen=True)
class ArenaResult:
    lab: SyntheticLab
    truth: Mixture                   # the optimum at the target
    best: float                      # its objective
    entries: dict[str, ArenaEntry]
    choices: dict[str, Choice] = field(repr=False, default_factory=dict)


def oracle_arena(oracle, budgets: Sequence[float], target: float,
                 methods: Sequence[str] = ("autoscale", "ddo-reused", "uniform"), **lab_options) -> ArenaResult:
    """Each method's mixture at `target` on `oracle`, and its excess loss over the true optimum.

    lab_options go to `SyntheticLab` (ratios, min_ratio, noise, seed, options, …). A method that
    fails with a UserError (say, a predictor that cannot extrapolate) gets an entry with the error."""
    lab = SyntheticLab(oracle, budgets, target, **lab_options)
    truth = oracle.optimum(lab.target)
    best = oracle.objective(truth)
    entries, choices = {}, {}
    for name in methods:
        try:
            choice = choose_all(lab, [name])[name]
        except UserError as exc:
            entries[name] = ArenaEntry(None, None, None, None, 0.0, str(exc))
            continue
        mix = Mixture.from_weights(choice.weights, lab.target)
        choices[name] = choice
        entries[name] = ArenaEntry(mix.weights, mix, oracle.objective(mix) - best,
                                   max(abs(mix.weights[d] - truth.weights[d]) for d in lab.domains),
                                   choice.spent.proxy_tokens)
    return ArenaResult(lab, truth, best, entries, choices)


def compare_on_oracle(oracle, budgets: Sequence[float], target: float, *, regmix: RegMixConfig = RegMixConfig(runs=0),
                      ratios: Sequence[float] = (0.2, 3.0), min_ratio: float = 0.2, noise: float = 0.0,
                      seed: int = 0, methods: Sequence[str] = ("autoscale", "ddo-reused", "uniform", "regmix",
                                                              "mixing-law")) -> dict[str, dict]:
    """The comparison's oracle table: {method: {excess, proxy_tokens, weights}}.

    DDO/AutoScale measure their perturbation plans at every budget; RegMix (and Data Mixing Laws, on
    the same runs) measure random mixtures at the smallest budget, as many as DDO's tokens buy when
    `regmix.runs` is 0; the prior is uniform (an oracle has no data sizes)."""
    options = CompareConfig(methods=tuple(m for m in methods if m in ("regmix", "mixing-law")), regmix=regmix)
    res = oracle_arena(oracle, budgets, target, methods, ratios=ratios, min_ratio=min_ratio, noise=noise, seed=seed,
                       options=options)
    failed = {m: e.error for m, e in res.entries.items() if e.error}
    if failed:
        m = next(iter(failed))
        raise UserError(f"method {m} failed on the oracle: {failed[m]}")
    return {m: {"excess": e.excess, "proxy_tokens": e.proxy_tokens, "weights": e.weights} for m, e in res.entries.items()}


def ddo_rounds(result: ArenaResult):
    """The DDO rounds the arena measured (one per budget), for diagnostics against the truth."""
    return [ddo_round(result.lab, t) for t in result.lab.budgets]
