"""DDO that checks its own answer: train the recommendation at its budget before handing it over.

Why: on the `small` study the 250k optimum that the surrogate promised would gain 0.03 nats lost
to uniform when trained (prototype-findings.md), and it was one of the two inputs of the AutoScale
prediction. A recommendation is only an answer once it was measured.

The procedure, at one budget (`verify_round`):
1. Train the recommended mixture with the seeds of the base run (common random numbers: the same
   initialisation, validation windows and, where the mixture allows, data order).
2. Accept it when its objective beats the base's, averaged over the seeds, by more than the noise:
   one standard error of the paired difference (candidate − base, seed by seed). With two or more
   seeds the error comes from the plan's own runs (the spread over seeds of each run's difference
   from its seed's base, pooled); with one seed, from the residuals of the transfer law on the
   plan's runs (√2 × the objective's residual error, dof-corrected) — the best available guess,
   and said so in `noise_source`.
3. Otherwise step back along base → recommendation (t = 1/2, 1/4, …), at most `max_runs`
   candidates in all; the first that beats the base is accepted.
4. Refit DDO with every run (the candidates are runs too: the transfer form uses them), for the
   report. The answer is the accepted candidate or, when none beat it, the base: always a measured
   mixture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from autoscale_kit.core import fmt
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.fit.ddo import DDOResult, fit_ddo
from autoscale_kit.fit.plan import EXTRA, MeasuredPlan, PlannedRun
from autoscale_kit.methods.base import Probe, run_objective


@dataclass(frozen=True)
class Candidate:
    """One verification run (per seed): a point on base → recommendation, promised and measured."""

    step: float                      # t: base + t (recommendation − base)
    mixture: Mixture
    predicted: float                 # the surrogate's objective there, before it was trained
    measured: tuple[float, ...]      # per seed, in the order of the base's seeds
    gain: float                      # mean over seeds of base − candidate (positive: better)
    accepted: bool


@dataclass(frozen=True)
class Verification:
    """What verifying one budget's recommendation measured and concluded."""

    total: float
    base: Mixture
    base_objective: float            # mean over the seeds
    noise: float                     # one standard error of the mean paired difference
    noise_source: str
    candidates: tuple[Candidate, ...]
    answer: Mixture                  # the accepted candidate, or the base
    answer_objective: float          # its measured objective (mean over seeds)
    refit: DDOResult                 # DDO refitted on every run, the candidates included
    runs: tuple = ()                 # the candidates' measured runs (they are the verification's cost)

    @property
    def extra_runs(self) -> int:
        return len(self.runs)

    @property
    def extra_tokens(self) -> int:
        return int(sum(r.total_tokens for r in self.runs))

    @property
    def accepted(self) -> Candidate | None:
        return next((c for c in self.candidates if c.accepted), None)

    def summary(self, unit: str | None = None) -> str:
        """One sentence; `unit` (nats/byte…) is what the objective is in (None: bare numbers)."""
        n = len(self.candidates)
        at = f"at {fmt.tokens(self.total)} tokens"
        if not n:
            return f"{at} the recommendation is the base itself; nothing to verify"
        c = self.accepted
        if c is None:
            best = max(self.candidates, key=lambda k: k.gain)
            return (f"{at} no candidate beat the base by more than the noise "
                    f"({fmt.loss(self.noise, unit)}; best gain {fmt.loss(best.gain, unit, signed=True)} at "
                    f"t = {best.step:g}) after {n} candidate(s), {self.extra_runs} extra run(s): the answer is the base")
        return (f"{at} the candidate at t = {c.step:g} beat the base by {fmt.loss(c.gain, unit)} "
                f"(noise {fmt.loss(self.noise, unit)}; promised {fmt.loss(self.base_objective - c.predicted, unit)}) "
                f"after {self.extra_runs} extra run(s)")

    def to_dict(self) -> dict:
        return {"total": self.total, "base_objective": self.base_objective, "noise": self.noise,
                "noise_source": self.noise_source, "extra_runs": self.extra_runs,
                "extra_tokens": self.extra_tokens, "accepted": self.accepted is not None,
                "answer": self.answer.weights, "answer_objective": self.answer_objective,
                "candidates": [{"step": c.step, "weights": c.mixture.weights, "predicted": c.predicted,
                                "measured": list(c.measured), "gain": c.gain, "accepted": c.accepted}
                               for c in self.candidates],
                "summary": self.summary()}


def _objectives(runs, objective: str) -> np.ndarray:

    return np.array([run_objective(r, objective) for r in runs])


def paired_noise(plan: Sequence[PlannedRun], runs: Sequence, objective: str, ddo: DDOResult) -> tuple[float, str]:
    """σ of one run's paired difference from its seed's base (see the module docstring)."""
    y = _objectives(runs, objective)
    seeds = [r.seed for r in runs]
    base_by_seed = {}
    for p, r, v in zip(plan, runs, y):
        if p.domain is None:
            base_by_seed.setdefault(r.seed, []).append(v)
    base_by_seed = {s: float(np.mean(v)) for s, v in base_by_seed.items()}
    if len(base_by_seed) >= 2:
        groups: dict[str, list[float]] = {}
        for p, s, v in zip(plan, seeds, y):
            if p.domain is not None and s in base_by_seed:
                groups.setdefault(p.name, []).append(v - base_by_seed[s])
        replicated = [g for g in groups.values() if len(g) > 1]
        dof = sum(len(g) - 1 for g in replicated)
        if dof:
            pooled = math.sqrt(sum(np.var(g, ddof=1) * (len(g) - 1) for g in replicated) / dof)
            return pooled, f"the spread over {len(base_by_seed)} seeds of the plan's paired differences ({dof} dof)"
    fit = ddo.transfer or fit_ddo(MeasuredPlan.from_runs(plan, runs), ddo.objective, validation=ddo.validation,
                                  surrogate="transfer", ambiguity=False, min_ratio=0.0).transfer
    tokens = np.array([[r.tokens.get(d, 0) for d in fit.domains] for r in runs], dtype=float)
    resid = y - fit.objective(tokens, objective)
    n = len(y)
    p = len(fit.domains) + 2
    if n <= p:
        raise UserError(f"{n} runs cannot estimate the noise of a single-seed plan; verify with two or more "
                        f"DDO seeds (ddo_seeds) or more perturbation ratios")
    sigma = float(np.sqrt(np.sum(resid ** 2) / (n - p)))
    return math.sqrt(2.0) * sigma, f"the transfer law's residuals on {n} single-seed runs (×√2 for a difference)"


def candidate_steps(base: Mixture, recommendation: Mixture, n: int, exact):
    """(t, mixture) of the candidates on base → recommendation, t = 1, 1/2, … (at most n), each
    made exact (whole tokens) by `exact`; it stops early where a step is the base itself. The one
    sequence both `verify_round` and a plan of candidates for another trainer walk."""
    t = 1.0
    for _ in range(n):
        mix = exact(Mixture({d: base[d] + t * (recommendation[d] - base[d]) for d in base.domains}))
        if all(abs(mix[d] - base[d]) <= 1e-9 * max(1.0, base[d]) for d in base.domains):
            return
        yield t, mix
        t /= 2


def candidate_label(total: float, t: float, seed: int) -> str:
    return f"verify/{total:g}/t{t:g}/seed{seed}"


def verify_round(lab, total: float, plan: Sequence[PlannedRun], records: Sequence, ddo: DDOResult,
                 max_runs: int, *, surrogate: str = "transfer", fit_options: dict | None = None) -> Verification:
    """Verify `ddo`'s recommendation at `total` on `lab` (which trains the candidates); see the module
    docstring. `plan`/`records` are the round's runs, one record per planned run."""

    if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1:
        raise UserError(f"verify needs a number of candidate runs >= 1, got {max_runs!r}")
    fit_options = dict(fit_options or {})
    plan, records = list(plan), list(records)
    base_rows = [i for i, p in enumerate(plan) if p.domain is None]
    base = plan[base_rows[0]].mixture
    seeds = list(dict.fromkeys(records[i].seed for i in base_rows))
    y = _objectives(records, ddo.objective)
    base_obj = {s: float(np.mean([y[i] for i in base_rows if records[i].seed == s])) for s in seeds}
    base_mean = float(np.mean(list(base_obj.values())))
    sigma_d, source = paired_noise(plan, records, ddo.objective, ddo)
    noise = sigma_d / math.sqrt(len(seeds))

    rec = ddo.optimum
    candidates: list[Candidate] = []
    extra_records: list = []
    current = ddo      # the surrogate fitted on every run so far
    for t, mix in candidate_steps(base, rec, max_runs, lab.exact):
        predicted = current.objective_at(mix)
        runs = lab.measure([Probe(mix, s, candidate_label(total, t, s)) for s in seeds])
        measured = tuple(float(v) for v in _objectives(runs, ddo.objective))
        gain = float(np.mean([base_obj[s] - m for s, m in zip(seeds, measured)]))
        accepted = gain > noise
        candidates.append(Candidate(t, mix, predicted, measured, gain, accepted))
        plan += [PlannedRun(f"verify_t{t:g}", mix, EXTRA, t) for _ in runs]
        records += list(runs)
        extra_records += list(runs)
        current = _refit(plan, records, ddo, surrogate, fit_options)
        if accepted:
            break
    chosen = next((c for c in candidates if c.accepted), None)
    answer = chosen.mixture if chosen else base
    answer_obj = float(np.mean(chosen.measured)) if chosen else base_mean
    return Verification(float(total), base, base_mean, noise, source, tuple(candidates), answer, answer_obj, current,
                        tuple(extra_records))


def _refit(plan, records, ddo: DDOResult, surrogate: str, fit_options: dict) -> DDOResult:
    options = {"min_ratio": {d: ddo.lower[d] / ddo.base_tokens[d] for d in ddo.lower},
               "ambiguity": False, **fit_options}
    upper = {d: v / ddo.base_tokens[d] for d, v in ddo.upper.items() if math.isfinite(v)}
    if upper and "max_ratio" not in options:
        options["max_ratio"] = upper
    return fit_ddo(MeasuredPlan.from_runs(plan, records), ddo.objective, validation=ddo.validation,
                   surrogate=surrogate, **options)

