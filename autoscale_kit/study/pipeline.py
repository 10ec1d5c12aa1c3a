"""The whole study in one call: DDO at two or more small budgets → prediction → validation.

Design choices:
- Every training run goes through the run store, so a second call trains nothing new and an
  interrupted call resumes where it stopped; analysis (fits, prediction, speed-up, report) only
  reads stored results and is cheap to redo.
- The mixtures come from the method registry (`methods`): the study's own three (the AutoScale
  prediction, uniform weights, the largest-budget DDO optimum reused), any other registered
  method asked for, and fixed weights passed in as `baselines`. Each is trained once per seed at
  the target through the same `CorpusLab` that measured the methods' proxy runs.
- The DDO objective defaults to the mean validation loss (nats per byte), the same quantity the
  validation compares, rather than the paper's mean perplexity: what is optimised is what is
  judged.
- The paper's speed-up: for each mixture, the tokens it needs to reach uniform's final mean
  validation loss (linear interpolation on its validation curve) and the relative saving.
- Named study sizes (`study.config.SCALES`) size a study to the machine: `smoke` for the tests,
  `small` for a laptop CPU demo, larger ones for a GPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from autoscale_kit.core import fmt
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture, cap_and_redistribute
from autoscale_kit.fit.predict import Prediction
from autoscale_kit.fit.uncertainty import paired_verdict
from autoscale_kit.methods.registry import (STUDY_METHODS, Choice, CompareConfig, DDORound, choose_all, ddo_round,
                                            mixture_names)
from autoscale_kit.proxy.families import loss_unit
from autoscale_kit.runs.store import RunRecord, RunSpec, RunStore, branching_tokens
from autoscale_kit.study.config import SCALES, StudyConfig, available_tokens, scale_from_env, study_config
from autoscale_kit.study.lab import CorpusLab
from autoscale_kit.study.shipped import ShippedStore, shipped_notes

__all__ = ["DDORound", "SCALES", "StudyConfig", "StudyResult", "available_tokens", "capped_mixture", "run_ddo",
           "run_study", "scale_from_env", "speedup_table", "study_config", "summarize_speedup", "tokens_to_reach",
           "validation_specs"]


def run_ddo(config: StudyConfig, store: RunStore | str = "runs", *, executor=None, progress: bool = True
            ) -> list[DDORound]:
    """Train (or load) the DDO runs of every budget (in one batch) and fit each budget."""
    lab = CorpusLab(config, store, executor=executor, progress=progress)
    choose_all(lab, ["autoscale"])   # measures every budget's plan at once
    return [ddo_round(lab, t) for t in config.budgets]


@dataclass(frozen=True)
class AutoScaleAnswer:
    """DDO at every budget and the study's own AutoScale prediction at its target: what `run_study`
    validates, fed only the budgets whose answer stands (verified when the study verifies)."""

    rounds: tuple[DDORound, ...]
    prediction: Prediction

    @property
    def fed(self) -> tuple[DDORound, ...]:
        """The rounds whose answer the predictor took (a verified round that fell back to its base has none)."""
        return tuple(rd for rd in self.rounds if not rd.fell_back)

    @property
    def supported(self) -> bool:
        """Two or more budgets with an answer: the prediction has a trend to follow."""
        return len(self.fed) >= 2

    @property
    def optima(self) -> list[Mixture]:
        """The answers the prediction was made from."""
        return [rd.answer for rd in self.fed]

    @property
    def draws(self) -> list | None:
        """Their bootstrap draws (None without intervals)."""
        draws = [rd.answer_draws for rd in self.fed]
        return None if any(d is None for d in draws) else draws


def autoscale_answer(config: StudyConfig, store: RunStore | str = "runs", *, executor=None,
                     progress: bool = True) -> AutoScaleAnswer:
    """Train (or load) the DDO runs of every budget, fit and verify them as the study does, and
    predict at the target from the answers that stand: the study's own prediction."""
    lab = CorpusLab(config, store, executor=executor, progress=progress)
    choice = choose_all(lab, ["autoscale"])["autoscale"]
    return AutoScaleAnswer(tuple(ddo_round(lab, t) for t in config.budgets), choice.details)


def ddo_at_budget(config: StudyConfig, budget: float, store: RunStore | str = "runs", *, surrogate: str | None = None,
                  verify: int | None = None, executor=None, progress: bool = True) -> DDORound:
    """The study's DDO plan at `budget` (a budget of the study or any other) trained or loaded,
    fitted with `surrogate` and verified with `verify` candidates (default: the study's)."""
    budget = int(round(budget))
    if budget not in config.budgets:
        config = replace(config, budgets=tuple(sorted({*config.budgets, budget})))
    lab = CorpusLab(config, store, executor=executor, progress=progress)
    return ddo_round(lab, budget, surrogate, verify)


def capped_mixture(name: str, weights: Mapping[str, float], total: int, available: Mapping[str, int] | None
                   ) -> tuple[Mixture, str | None]:
    """`weights` as whole tokens at `total`; with `available` (no repetition), domains asking for
    more than they hold are capped there and the rest redistributed in proportion
    (`mixture.cap_and_redistribute`, the one implementation). Returns the mixture and a message
    when something was capped."""

    mix = Mixture.from_weights(weights, total).rounded()
    if available is None:
        return mix, None
    over = {d: n for d, n in mix.items() if n > available[d]}
    if not over:
        return mix, None
    share = sum(weights.values())
    try:
        counts = cap_and_redistribute({d: w / share for d, w in weights.items()}, total, available)
    except UserError:
        raise UserError(f"mixture {name!r} needs more tokens than the corpus holds at target "
                        f"{total:,}; lower the target or use repetition='repeat'") from None
    at_cap = [d for d, n in counts.items() if n >= available[d] - 1e-6]
    capped = Mixture({d: min(int(math.floor(n)), available[d]) if d in at_cap else n for d, n in counts.items()})
    message = (f"mixture {name}: {', '.join(at_cap)} capped at the available tokens "
               f"({', '.join(fmt.tokens(available[d]) for d in at_cap)}); the rest redistributed in proportion")
    return capped.rounded(), message


def validation_specs(config: StudyConfig, mixtures: Mapping[str, Mixture]) -> dict[str, list[RunSpec]]:
    """Per mixture name, one run at the target per validation seed."""
    return {name: [RunSpec(m, config.proxy.with_(seed=seed), config.corpus_ref, label=f"target/{name}/seed{seed}")
                   for seed in config.seeds] for name, m in mixtures.items()}


def tokens_to_reach(curve: pd.DataFrame, level: float, column: str = "val_mean") -> float | None:
    """Tokens at which the curve first reaches `level` (linear interpolation); None if never."""
    x = curve["tokens_seen"].to_numpy(dtype=float)
    y = curve[column].to_numpy(dtype=float)
    hit = np.nonzero(y <= level)[0]
    if len(hit) == 0:
        return None
    i = int(hit[0])
    if i == 0:
        return float(x[0])
    x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
    return float(x0 + (x1 - x0) * (y0 - level) / (y0 - y1)) if y0 != y1 else float(x1)


def speedup_table(records: Mapping[str, Sequence[RunRecord]], reference: str = "uniform") -> pd.DataFrame:
    """Per mixture and seed: final mean loss, tokens to reach the reference's final mean loss, saving."""
    if reference not in records:
        raise UserError(f"no validation runs of the reference mixture {reference!r}")
    ref_by_seed = {r.seed: r for r in records[reference]}
    rows = []
    for name, recs in records.items():
        for r in recs:
            seed = r.seed
            ref = ref_by_seed[seed]
            level = float(ref.curve["val_mean"].iloc[-1])
            ref_tokens = float(ref.curve["tokens_seen"].iloc[-1])
            needed = tokens_to_reach(r.curve, level)
            rows.append({"mixture": name, "seed": seed, "final_mean_loss": r.mean_val_loss,
                         "final_curve_loss": float(r.curve["val_mean"].iloc[-1]),
                         "reference_loss": level, "tokens_to_reference": needed,
                         "saving": None if needed is None else 1.0 - needed / ref_tokens})
    return pd.DataFrame(rows)


def summarize_speedup(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread over seeds, per mixture."""
    out = []
    for name, g in table.groupby("mixture", sort=False):
        savings = g["saving"].dropna().to_numpy(dtype=float)
        out.append({"mixture": name, "seeds": len(g), "mean_final_loss": g["final_mean_loss"].mean(),
                    "std_final_loss": g["final_mean_loss"].std(ddof=1) if len(g) > 1 else float("nan"),
                    "mean_saving": savings.mean() if len(savings) == len(g) else float("nan"),
                    "std_saving": savings.std(ddof=1) if len(savings) > 1 and len(savings) == len(g) else float("nan"),
                    "reached": f"{len(savings)}/{len(g)}"})
    return pd.DataFrame(out)


@dataclass(frozen=True)
class StudyResult:
    """Everything a study measured and concluded; the report is drawn from this alone."""

    config: StudyConfig
    rounds: tuple[DDORound, ...]                 # DDO at each budget
    prediction: Prediction
    mixtures: dict[str, Mixture]                 # mixture name -> what was trained at the target
    validation: dict[str, tuple[RunRecord, ...]]
    speedup: pd.DataFrame
    warnings: tuple[str, ...] = field(default=())
    choices: dict[str, Choice] = field(default_factory=dict, repr=False)  # mixture name -> the method's Choice
    trained: tuple[str, ...] = ()                # keys of the runs this call trained (the rest were loaded)

    @property
    def optima(self) -> list[Mixture]:
        """Each budget's answer: the verified mixture when the study verifies, else DDO's optimum."""
        return [r.answer for r in self.rounds]

    def final_losses(self) -> dict[str, dict[str, float]]:
        """Final validation loss per mixture and domain, the mean over seeds."""
        return {name: {d: float(np.mean([r.val_loss[d] for r in recs])) for d in recs[0].val_loss}
                for name, recs in self.validation.items()}

    def against_uniform(self) -> dict[str, dict]:
        """Each mixture's final mean loss against uniform's, paired by seed, judged at the config's
        level (uncertainty.paired_verdict): what the target runs say, in plain words."""
        if "uniform" not in self.validation:
            return {}
        ref = {r.seed: r.mean_val_loss for r in self.validation["uniform"]}
        return {name: paired_verdict({r.seed: r.mean_val_loss for r in recs}, ref, self.config.level, self.loss_unit)
                for name, recs in self.validation.items() if name != "uniform"}

    @property
    def loss_unit(self) -> str:

        return loss_unit(self.config.proxy.tokenizer, getattr(self.config.proxy, "family", "gpt2"))

    def verdict(self) -> str:
        """One sentence, drawn from the validation runs: which mixture reached uniform's final loss
        with fewer tokens, by how much and with what spread over seeds, or that none did, and how
        the best final loss compares with uniform's (paired by seed)."""

        if "uniform" not in self.validation:
            return "No uniform runs at the target: nothing to judge the mixtures against."
        table = summarize_speedup(self.speedup).set_index("mixture")
        others = [n for n in table.index if n != "uniform"]
        if not others:
            return "Only uniform was trained at the target."
        target, unit = fmt.tokens(self.config.target), self.loss_unit
        ref = fmt.loss(table.loc["uniform", "mean_final_loss"], unit)
        won = [n for n in others if table.loc[n, "mean_saving"] > 0]
        vs = self.against_uniform()

        level = f"{100 * self.config.level:.0f}%"

        def ends(n):   # the gain (uniform's loss − the mixture's: positive is better), as in every verdict
            v = vs[n]
            side = f"{fmt.loss(abs(v['gain']), unit)} {'below' if v['gain'] > 0 else 'above'} uniform's loss"
            if not v["interval"]:
                return f"ends {side} (gain {fmt.loss(v['gain'], None, signed=True)}, one seed: no interval)"
            return (f"ends {side} (gain {fmt.loss(v['gain'], None, signed=True)} {fmt.interval(*v['interval'], signed=True)}, "
                    f"{level} interval over {v['seeds']} seeds, paired by seed)")

        if won:
            best = max(won, key=lambda n: table.loc[n, "mean_saving"])
            sd, seeds = table.loc[best, "std_saving"], int(table.loc[best, "seeds"])
            spread = f" ± {fmt.percent(sd)} over {seeds} seeds" if not fmt.is_missing(sd) else " (one seed)"
            return (f"At {target} tokens, {best} reached uniform's final loss ({ref}) with "
                    f"{fmt.percent(table.loc[best, 'mean_saving'])} fewer tokens{spread}; {best} {ends(best)}.")
        best = min(others, key=lambda n: table.loc[n, "mean_final_loss"])
        partial = [f"{n} on {table.loc[n, 'reached']} seeds" for n in others
                   if not str(table.loc[n, "reached"]).startswith("0/")]
        weights = {n: m.weights for n, m in self.mixtures.items()}
        same = [n for n in others if n != best and n in weights and weights[n] == weights.get(best)]
        named = f"{best} (the same mixture as {', '.join(same)})" if same else best
        return (f"At {target} tokens, no mixture reached uniform's final loss ({ref}) with fewer tokens on every "
                f"seed" + (f" (only {', '.join(partial)})" if partial else "") + f"; the closest, {named}, {ends(best)}.")

    def summary(self) -> dict:
        s = summarize_speedup(self.speedup)
        return {
            "study": self.config.name, "config": self.config.to_dict(),
            "domains": list(self.rounds[0].ddo.weights),
            "ddo": [{"total": sc.total, "weights": sc.answer.weights, "surrogate": sc.ddo.surrogate,
                     "optimum": sc.ddo.weights, "at_bound": sc.ddo.at_bound,
                     "verification": sc.verification.to_dict() if sc.verification is not None else None,
                     "predicted_objective": sc.ddo.predicted_objective, "base_objective": sc.ddo.base_objective,
                     "ambiguous": bool(sc.ddo.ambiguity and sc.ddo.ambiguity.ambiguous),
                     "interval": sc.answer_interval, "level": self.config.level,
                     "uncertainty": sc.uncertainty.to_dict() if sc.uncertainty is not None else None,
                     "verdict": sc.verdict.to_dict() if sc.verdict is not None else None,
                     "warnings": list(sc.ddo.warnings)} for sc in self.rounds],
            "prediction": {"total": self.config.target, "weights": self.prediction.weights,
                           "interval": self.prediction.interval, "level": self.config.level,
                           "method": self.prediction.method, "pinned": self.prediction.pinned,
                           "warnings": list(self.prediction.warnings)},
            "against_uniform": self.against_uniform(),
            "mixtures": {n: m.weights for n, m in self.mixtures.items()},
            "speedup": s.to_dict(orient="records"),
            "final_losses": self.final_losses(),
            "training_runs": sum(len(sc.records) + (sc.verification.extra_runs if sc.verification else 0)
                                 for sc in self.rounds) + sum(len(v) for v in self.validation.values()),
            "training_tokens": int(sum(r.total_tokens for sc in self.rounds for r in sc.records)
                                   + sum(sc.verification.extra_tokens for sc in self.rounds if sc.verification)
                                   + sum(r.total_tokens for v in self.validation.values() for r in v)),
            "warnings": list(self.warnings),
            "verdict": self.verdict(),
            **self.branching(),
        }

    def branching(self) -> dict:
        """With branched (wsd) runs: the tokens trained against separate runs at the same budgets."""
        records = [r for sc in self.rounds for r in sc.records] + [r for v in self.validation.values() for r in v]
        if not any(r.parent is not None for r in records):
            return {}
        trained, separate = branching_tokens({r.key: r for r in records}.values())
        return {"branching": {"trained_tokens": trained, "separate_runs_tokens": separate}}


def run_study(config: StudyConfig, store: RunStore | str = "runs", *, methods: Sequence[str] = (),
              options: CompareConfig | None = None, baselines: Mapping[str, Mapping[str, float]] | None = None,
              executor=None, progress: bool = True) -> StudyResult:
    """DDO at every budget, the prediction at the target, and validation runs of every mixture.

    methods: registered methods to validate besides the study's own (autoscale, uniform,
    ddo-reused), with their `options`; baselines: fixed weights by name, validated too."""
    store = store if isinstance(store, RunStore) else RunStore(store)
    names = list(STUDY_METHODS) + [m for m in methods if m not in STUDY_METHODS]
    lab = CorpusLab(config, store, options or CompareConfig(methods=tuple(methods)), executor=executor,
                    progress=progress)
    choices = choose_all(lab, names)
    rounds = tuple(ddo_round(lab, t) for t in config.budgets)
    prediction = choices["autoscale"].details
    by_name = {mixture_names(choices)[m]: c for m, c in choices.items()}
    for name, w in (baselines or {}).items():
        if name in by_name:
            raise UserError(f"baseline name {name!r} is taken; choose another")
        by_name[name] = Choice(dict(w))
    have = available_tokens(config) if config.proxy.repetition == "refuse" else None
    recorded = lab.store.recorded(config, lab.options) if isinstance(lab.store, ShippedStore) else {}
    mixtures, messages = {}, []
    for name, choice in by_name.items():
        mixtures[name], note = capped_mixture(name, choice.weights, config.target, have)
        if note:
            messages.append(note)
        if name in recorded and recorded[name] != mixtures[name]:
            messages.append(recorded_difference(name, mixtures[name], recorded[name]))
            mixtures[name] = recorded[name]
    specs = validation_specs(config, mixtures)
    flat = [s for v in specs.values() for s in v]
    records = iter(lab.train(flat))
    validation = {name: tuple(next(records) for _ in v) for name, v in specs.items()}
    messages += shipped_notes(lab.store)
    return StudyResult(config, rounds, prediction, mixtures, validation, speedup_table(validation),
                       tuple(messages) + tuple(prediction.warnings), by_name, tuple(lab.store.trained))


def recorded_difference(name: str, here: Mixture, shipped: Mixture) -> str:
    """What a shipped study's reader is told when this machine's fit lands elsewhere than the one
    that made the study: by how much, where, and what retraining would do."""
    domain = max(shipped.domains, key=lambda d: abs(here[d] - shipped[d]))
    off = int(round(abs(here[domain] - shipped[domain])))
    return (f"{name}: the mixture this machine computes at {fmt.tokens(shipped.total)} tokens differs from "
            f"the one recorded with the shipped study by up to {off:,} tokens ({domain}: {int(round(here[domain])):,} "
            f"here, {int(round(shipped[domain])):,} shipped); the shipped runs of the recorded mixture are shown, "
            f"and retraining (retrain = True) would train this machine's mixture")
