"""DDO at one budget as the study's methods use it (`DDORound`: plan, runs, fit, verification,
intervals), and `autoscale_from`, the AutoScale prediction from several rounds."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from autoscale_kit.core import fmt
from autoscale_kit.core.bootstrap import Bootstrap
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.fit.ddo import DDOResult, fit_ddo
from autoscale_kit.fit.forms import get_form, interval_draws
from autoscale_kit.fit.plan import MeasuredPlan, PlannedRun, perturbation_plan, uniform_base
from autoscale_kit.fit.predict import Prediction, predict_optimum
from autoscale_kit.fit.uncertainty import WeightsInterval, ddo_uncertainty, prediction_uncertainty
from autoscale_kit.methods.base import Choice, Probe, wsd_plan
from autoscale_kit.methods.verify import verify_round
from autoscale_kit.runs.store import runs_table

# --- DDO at one budget: shared by autoscale and ddo-reused ---------------------------------------

@dataclass(frozen=True)
class DDORound:
    """DDO at one budget: the plan's runs as measured and the fitted optimum (and, when verified,
    what training the recommendation showed)."""

    total: float
    plan: tuple[PlannedRun, ...]     # one per run (the plan repeated per DDO seed)
    records: tuple
    ddo: DDOResult
    verification: object = None     # verify.Verification, when the round was verified
    uncertainty: object = None      # uncertainty.DDOUncertainty of the plan's optimum, when intervals are on
    unit: str | None = None         # the objective's unit (nats/byte…) for the verdict's sentences

    @property
    def fell_back(self) -> bool:
        """Verified, and no candidate beat the base: the answer is the base, a fixed measured mixture."""
        return self.verification is not None and self.verification.accepted is None

    @property
    def answer_draws(self):
        """Bootstrap draws of the answer's weights (draws × domains, in the answer's domain order),
        or None without intervals. A verified answer at step t of base → recommendation moves with
        the recommendation's draws by t; an answer that fell back to the base is a fixed, measured
        mixture: its draws are all the base."""
        u = self.uncertainty
        if u is None or u.weights is None:
            return None
        draws = u.weights.samples
        v = self.verification
        if v is None:
            return draws
        base = np.array([v.base.weights[d] for d in u.domains])
        step = v.accepted.step if v.accepted is not None else 0.0
        return base + step * (draws - base)

    @property
    def answer_interval(self) -> dict[str, tuple[float, float]] | None:
        """The answer's weights' percentile interval at the lab's level (None without intervals)."""
        draws = self.answer_draws
        if draws is None:
            return None
        a = (1 - self.uncertainty.level) / 2
        lo, hi = np.quantile(draws, [a, 1 - a], axis=0)
        return {d: (float(x), float(y)) for d, x, y in zip(self.uncertainty.domains, lo, hi)}

    @property
    def verdict(self):
        """The plain-words verdict against uniform (uncertainty.Verdict), or None without intervals."""
        return None if self.uncertainty is None else self.uncertainty.verdict(self.verification, unit=self.unit)

    @property
    def answer(self) -> Mixture:
        """The mixture this budget hands on: the verified one when verified, else the optimum."""
        return self.verification.answer if self.verification is not None else self.ddo.optimum

    @property
    def answer_weights(self) -> dict[str, float]:
        """The answer's weights; a verified round that fell back to a uniform base hands on exactly
        equal weights ({d: 1}), so that at the target it is the uniform mixture to the token (and the
        same runs), not one token off it."""
        if self.fell_back:
            q = list(self.verification.base.tokens.values())
            if max(q) - min(q) <= 1:
                return {d: 1.0 for d in self.verification.base.domains}
        return self.answer.weights

    @property
    def measured(self) -> MeasuredPlan:
        """The plan and its runs, as DDO and the heat-maps take them."""
        return MeasuredPlan.from_runs(self.plan, self.records)

    @property
    def table(self):
        """The runs as a public runs table (DataFrame), with label, mean_loss and costs."""
        return runs_table(self.records)


def ddo_plan(lab, total: float) -> list[tuple[PlannedRun, Probe]]:
    """The DDO plan at one budget (base + each domain × each ratio) for every DDO seed."""
    # On a corpus: round the base first, then perturb one domain of the rounded base, so every run
    # differs from the base in exactly that domain, down to the token.
    # Under a wsd proxy each run is a prefix of the same run at the lab's horizon (`wsd_plan`): the
    # plans of every budget are the same mixtures, trained once with the budgets branched off.
    base = lab.exact(uniform_base(lab.domains, total))
    wide = wsd_plan(lab, lambda h: uniform_base(lab.domains, h), total)     # the base at the horizon, or None
    plans = {} if wide is None else {run.name: lab.exact(run.mixture) for run in perturbation_plan(wide, lab.ratios)}
    out = []
    for seed in lab.ddo_seeds:
        for run in perturbation_plan(base, lab.ratios):
            run = replace(run, mixture=lab.exact(run.mixture))
            out.append((run, Probe(run.mixture, seed, f"ddo/{total}/{run.name}/seed{seed}", plan=plans.get(run.name))))
    return out


def ddo_round(lab, total: float, surrogate: str | None = None, verify: int | None = None) -> DDORound:
    """DDO at `total` with the given surrogate form and verification runs (default: the lab's
    `surrogate` and `verify`): measured (or loaded) and fitted once per lab."""
    surrogate = surrogate or getattr(lab, "surrogate", "separable")
    verify = getattr(lab, "verify", 0) if verify is None else verify
    key = ("ddo", total, surrogate, verify)
    if key in lab.cache:
        return lab.cache[key]
    if verify:
        rd = ddo_round(lab, total, surrogate, 0)
        check = verify_round(lab, total, rd.plan, rd.records, rd.ddo, verify, surrogate=surrogate,
                             fit_options={"min_ratio": lab.min_ratio})
        lab.cache[key] = replace(rd, verification=check)
        return lab.cache[key]
    if getattr(lab, "branching", False) and ("ddo-plans",) not in lab.cache:
        # every budget's runs at once, so each mixture's plan is trained once with all its branches
        lab.cache[("ddo-plans",)] = lab.measure(all_ddo_probes(lab))
    plan = ddo_plan(lab, total)
    records = lab.measure([p for _, p in plan])
    fitted = fit_ddo(MeasuredPlan.from_runs([r for r, _ in plan], records), lab.objective,
                     min_ratio=lab.min_ratio, ambiguity=lab.ambiguity and get_form(surrogate).checks_ambiguity,
                     surrogate=surrogate)
    measured = MeasuredPlan.from_runs([r for r, _ in plan], records)
    unc = None
    if getattr(lab, "interval_draws", 0):
        draws = interval_draws(surrogate, lab.interval_draws)   # a costly form takes a share of them
        unc = ddo_uncertainty(measured, lab.objective, level=lab.level, draws=draws, result=fitted,
                              min_ratio=lab.min_ratio, surrogate=surrogate)
    lab.cache[key] = DDORound(total, tuple(r for r, _ in plan), tuple(records), fitted, uncertainty=unc,
                              unit=getattr(lab, "loss_unit", None))
    return lab.cache[key]


def all_ddo_probes(lab) -> list[Probe]:
    return [p for t in lab.budgets for _, p in ddo_plan(lab, t)]


def ddo_probes_at_largest(lab) -> list[Probe]:
    return [p for _, p in ddo_plan(lab, lab.budgets[-1])]


# --- the study's own methods, their shared part


def autoscale_from(lab, rounds: Sequence[DDORound]) -> Choice:
    """The AutoScale prediction from the rounds' answers. Verified rounds hand on only what was
    measured to beat the base: the prediction uses the budgets whose recommendation was accepted;
    with fewer than two of them the trend is not supported by the runs, and the largest budget's
    answer (verified) is reused at the target instead, with a warning saying so."""
    runs = tuple(r for rd in rounds for r in round_runs(rd))
    fell_back = [r for r in rounds if r.fell_back]
    kept = [r for r in rounds if r not in fell_back]
    weights = None
    if len(kept) >= 2:
        prediction: Prediction = predict_optimum([r.answer for r in kept], lab.target, method=lab.predict_method)
    else:
        weights = rounds[-1].answer_weights     # {d: 1} for a uniform base: the uniform mixture to the token
        target = Mixture.from_weights(weights, lab.target)
        prediction = Prediction(target, target.weights, "reused (prediction unsupported)", None,
                                tuple(r.total for r in rounds), {}, None)
    prediction = replace(prediction, uncertainty=_prediction_interval(lab, kept, rounds, prediction))
    if fell_back:
        where = ", ".join(fmt.tokens(r.total) for r in fell_back)
        note = (f"no recommendation beat its base at {where} tokens, so that budget has no verified optimum; "
                + (f"the prediction uses the other {len(kept)} budgets" if len(kept) >= 2 else
                   "with fewer than two verified optima the prediction is unsupported, and the largest budget's "
                   "verified answer is reused at the target"))
        prediction = replace(prediction, warnings=tuple(prediction.warnings) + (note,))
    return Choice(weights or prediction.weights, runs, details=prediction)


def _prediction_interval(lab, kept: Sequence[DDORound], rounds: Sequence[DDORound], prediction: Prediction):
    """The prediction's interval: every budget's answer draws through the predictor (paired by
    index); when the prediction is the largest budget's answer reused, that answer's draws. None
    without intervals, or when the draws cannot be predicted (said in the warnings instead)."""
    used = list(kept) if len(kept) >= 2 else [rounds[-1]]
    draws = [rd.answer_draws for rd in used]
    if any(d is None for d in draws):
        return None
    if len(used) == 1:
        domains = used[0].uncertainty.domains
        est = np.array([prediction.weights[d] for d in domains])
        spread = draws[0] - np.array([used[0].answer.weights[d] for d in domains]) + est
        return WeightsInterval(domains, lab.level, Bootstrap(est, spread, 0))
    try:
        return prediction_uncertainty([rd.answer for rd in used], draws, lab.target, method=lab.predict_method,
                                      level=lab.level)
    except UserError:
        return None


def round_runs(rd: DDORound) -> tuple:
    """Every run a round measured: the plan's, and the verification candidates'."""
    v = rd.verification
    extra = () if v is None else tuple(v.runs)
    return tuple(rd.records) + extra
