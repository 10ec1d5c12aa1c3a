"""The whole study in one call: DDO at two or more small scales → prediction → validation.

Design choices:
- Every training run goes through the run store, so a second call trains nothing new and an
  interrupted call resumes where it stopped; analysis (fits, prediction, speed-up, report) only
  reads stored results and is cheap to redo.
- The DDO objective defaults to the mean validation loss (nats per byte), the same quantity the
  validation compares, rather than the paper's mean perplexity: what is optimised is what is
  judged.
- Validation mixtures at the target: the AutoScale prediction, uniform weights, and the largest
  small-scale DDO optimum reused as is (weights carried to the target total); more (peer
  baselines) can be passed in. Each is trained once per seed.
- The paper's speed-up: for each mixture, the tokens it needs to reach uniform's final mean
  validation loss (linear interpolation on its validation curve) and the relative saving.
- Named scale presets size a study to the machine: `smoke` for the tests, `small` for a laptop
  CPU demo, larger ones for a GPU.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field, replace
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from autoscale_kit.ddo import DDOResult, fit_ddo, perturbation_plan, uniform_base
from autoscale_kit.errors import UserError
from autoscale_kit.laws import LawWarning
from autoscale_kit.mixture import Mixture
from autoscale_kit.predict import Prediction, predict_optimum
from autoscale_kit.proxy import ProxyConfig, preset
from autoscale_kit.runs import CorpusRef, RunRecord, RunSpec, RunStore, run_many, runs_table


@dataclass(frozen=True)
class StudyConfig:
    """What a study trains: domains, DDO scales, target, proxy model, seeds."""

    name: str = "study"
    corpus: str | None = None                       # None: the bundled corpus
    domains: tuple[str, ...] | None = None          # None: every domain of the corpus
    scales: tuple[int, ...] = (250_000, 1_000_000)  # DDO totals, tokens
    target: int = 4_000_000                         # validation total, tokens
    ratios: tuple[float, ...] = (0.2, 3.0)          # DDO perturbations (the paper's 1/5 and 3)
    objective: str = "mean-loss"
    min_ratio: float = 0.2                          # lower bound per domain, × its base quantity
    proxy: ProxyConfig = ProxyConfig()
    ddo_seeds: tuple[int, ...] = (0,)               # DDO runs repeated per seed (replicates)
    seeds: tuple[int, ...] = (0,)                   # validation runs repeated per seed
    predict_method: str = "auto"
    workers: int = 1                                # local processes (each with proxy.threads threads)

    def __post_init__(self):
        if len(self.scales) < 2:
            raise UserError(f"a study needs DDO at two or more scales, got {list(self.scales)}")
        if sorted(self.scales) != list(self.scales) or len(set(self.scales)) != len(self.scales):
            raise UserError(f"scales must be increasing and distinct, got {list(self.scales)}")
        if any(s <= 0 for s in self.scales) or self.target <= 0:
            raise UserError("scales and target must be positive token counts")
        if not self.seeds or not self.ddo_seeds:
            raise UserError("give at least one seed")
        if self.workers < 1:
            raise UserError(f"workers must be >= 1, got {self.workers}")

    @property
    def corpus_ref(self) -> CorpusRef:
        return CorpusRef(self.corpus, self.domains)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["proxy"] = self.proxy.to_dict()
        return d


# Sizes: smoke (tests, about a minute), small (the default demo on 2 CPU cores), medium and gpu.
SCALES: dict[str, StudyConfig] = {
    "smoke": StudyConfig(
        name="smoke", domains=("code", "books", "wikipedia"), scales=(30_000, 120_000), target=480_000,
        proxy=preset("tiny", n_layer=1, n_embd=32, n_head=2, seq_len=64, batch_size=16, lr=5e-3,
                     eval_points=4, val_tokens=8_192, curve_val_tokens=8_192, threads=1)),
    # 0.37M parameters at 0.25M / 1M / 4M tokens: 0.7 to 11 tokens per parameter, the paper's regime
    # (GPT-2 Large at 0.3B / 1.2B / 10B tokens: 0.4 to 13). Batches of 4 sequences: a byte-level model
    # leaves its early plateau after a few hundred steps, not tokens; with batches of 16 the 250k runs
    # were still on it and their losses moved by ±0.1 with the seed and against the data (measured).
    "small": StudyConfig(
        name="small", scales=(250_000, 1_000_000), target=4_000_000,
        proxy=preset("mini", batch_size=4, eval_points=8, val_tokens=65_536, curve_val_tokens=65_536, threads=1),
        seeds=(0, 1), workers=2),
    "medium": StudyConfig(
        name="medium", scales=(2_000_000, 8_000_000), target=32_000_000,
        proxy=preset("small", val_tokens=131_072, curve_val_tokens=131_072, threads=1), workers=2,
        seeds=(0, 1)),
    "gpu": StudyConfig(
        name="gpu", scales=(20_000_000, 80_000_000), target=320_000_000,
        proxy=preset("medium", batch_size=64, val_tokens=262_144, curve_val_tokens=262_144, repetition="repeat"),
        seeds=(0, 1, 2)),
}


def study_config(scale: str = "small", **overrides) -> StudyConfig:
    if scale not in SCALES:
        raise UserError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    return replace(SCALES[scale], **overrides)


def scale_from_env(default: str = "small") -> str:
    """The scale a notebook runs at: $AUTOSCALE_SCALE when set (the tests set 'smoke'), else `default`."""
    import os

    scale = os.environ.get("AUTOSCALE_SCALE", default)
    if scale not in SCALES:
        raise UserError(f"AUTOSCALE_SCALE={scale!r} is not a scale; choose one of {', '.join(SCALES)}")
    return scale


# --- steps ---------------------------------------------------------------------------------

def _domains(config: StudyConfig) -> tuple[str, ...]:
    return config.corpus_ref.load().domains


def ddo_specs(config: StudyConfig, total: int) -> list[RunSpec]:
    """The DDO plan at one scale (base + each domain × each ratio), for every DDO seed."""
    # Round the base first, then perturb one domain of the rounded base: every run then differs
    # from the base in exactly that domain, down to the token (rounding each run on its own would
    # move leftover tokens between the other domains and hide the base run).
    base = uniform_base(_domains(config), total).rounded()
    specs = []
    for seed in config.ddo_seeds:
        for run in perturbation_plan(base, config.ratios):
            # DDO reads only the final losses: no loss curve along the way
            specs.append(RunSpec(run.mixture.rounded(), config.proxy.with_(seed=seed, eval_points=0),
                                 config.corpus_ref, label=f"ddo/{total}/{run.name}/seed{seed}"))
    return specs


@dataclass(frozen=True)
class ScaleResult:
    """DDO at one scale: its runs and the fitted optimum."""

    total: int
    records: tuple[RunRecord, ...]
    table: pd.DataFrame
    ddo: DDOResult


def available_tokens(config: StudyConfig) -> dict[str, int]:
    """Training tokens each domain holds without repetition (whole windows)."""
    from autoscale_kit.runs import _token_data

    p = config.proxy
    data = _token_data(config.corpus_ref, p.tokenizer, p.seq_len, p.val_tokens)
    return {d: data.available_tokens(d, p.seq_len) for d in data.domains}


def fit_scale(config: StudyConfig, total: int, records: Sequence[RunRecord]) -> ScaleResult:
    """Fit DDO on the stored runs of one scale (analysis only: nothing is trained)."""
    table = runs_table(records)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LawWarning)  # the messages are kept in DDOResult.warnings
        ddo = fit_ddo(table, config.objective, min_ratio=config.min_ratio)
    return ScaleResult(total, tuple(records), table, ddo)


def _executor(config: StudyConfig):
    return "process" if config.workers > 1 else None


def run_ddo(config: StudyConfig, store: RunStore, *, executor=None, progress: bool = True) -> list[ScaleResult]:
    """Train (or load) the DDO runs of every scale and fit each scale."""
    specs = {s: ddo_specs(config, s) for s in config.scales}
    flat = [sp for s in config.scales for sp in specs[s]]
    records = run_many(flat, store, executor=executor or _executor(config), workers=config.workers, progress=progress)
    out, i = [], 0
    for s in config.scales:
        n = len(specs[s])
        out.append(fit_scale(config, s, records[i: i + n]))
        i += n
    return out


def validation_mixtures(config: StudyConfig, scales: Sequence[ScaleResult], prediction: Prediction,
                        extra: Mapping[str, Mapping[str, float]] | None = None) -> tuple[dict[str, Mixture], list[str]]:
    """The mixtures compared at the target (whole tokens), and warnings about capped domains."""
    weights = {
        "autoscale": prediction.weights,
        "uniform": {d: 1.0 for d in _domains(config)},
        "ddo-reused": scales[-1].ddo.weights,
    }
    for name, w in (extra or {}).items():
        if name in weights:
            raise UserError(f"baseline name {name!r} is taken; choose another")
        weights[name] = dict(w)
    have = available_tokens(config)
    messages, out = [], {}
    for name, w in weights.items():
        mix = Mixture.from_weights(w, config.target).rounded()
        if config.proxy.repetition == "refuse":
            over = {d: n for d, n in mix.items if n > have[d]}
            if over:
                capped = {d: min(n, have[d]) for d, n in mix.items}
                rest = [d for d in capped if d not in over]
                short = config.target - sum(capped.values())
                room = sum(have[d] - capped[d] for d in rest)
                if short > room:
                    raise UserError(f"mixture {name!r} needs more tokens than the corpus holds at target "
                                    f"{config.target:,}; lower the target or use repetition='repeat'")
                base = sum(capped[d] for d in rest)
                for d in rest:
                    capped[d] += short * capped[d] / base
                mix = Mixture(capped).rounded()
                messages.append(f"mixture {name}: {', '.join(over)} capped at the available tokens "
                                f"({', '.join(f'{have[d]:,}' for d in over)}); the rest redistributed in proportion")
        out[name] = mix
    return out, messages


def validation_specs(config: StudyConfig, mixtures: Mapping[str, Mixture]) -> list[RunSpec]:
    return [RunSpec(m, config.proxy.with_(seed=seed), config.corpus_ref, label=f"target/{name}/seed{seed}")
            for name, m in mixtures.items() for seed in config.seeds]


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
    ref_by_seed = {r.config["proxy"]["seed"]: r for r in records[reference]}
    rows = []
    for name, recs in records.items():
        for r in recs:
            seed = r.config["proxy"]["seed"]
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
    scales: tuple[ScaleResult, ...]
    prediction: Prediction
    mixtures: dict[str, Mixture]
    validation: dict[str, tuple[RunRecord, ...]]
    speedup: pd.DataFrame
    warnings: tuple[str, ...] = field(default=())

    @property
    def optima(self) -> list[Mixture]:
        return [s.ddo.tokens for s in self.scales]

    def final_losses(self) -> dict[str, dict[str, float]]:
        """Final validation loss per mixture and domain, the mean over seeds."""
        return {name: {d: float(np.mean([r.val_loss[d] for r in recs])) for d in recs[0].val_loss}
                for name, recs in self.validation.items()}

    def summary(self) -> dict:
        s = summarize_speedup(self.speedup)
        return {
            "study": self.config.name, "config": self.config.to_dict(),
            "domains": list(self.scales[0].ddo.weights),
            "ddo": [{"total": sc.total, "weights": sc.ddo.weights, "at_bound": sc.ddo.at_bound,
                     "predicted_objective": sc.ddo.predicted_objective, "base_objective": sc.ddo.base_objective,
                     "ambiguous": bool(sc.ddo.ambiguity and sc.ddo.ambiguity.ambiguous),
                     "warnings": list(sc.ddo.warnings)} for sc in self.scales],
            "prediction": {"total": self.config.target, "weights": self.prediction.weights,
                           "method": self.prediction.method, "pinned": self.prediction.pinned,
                           "warnings": list(self.prediction.warnings)},
            "mixtures": {n: m.weights for n, m in self.mixtures.items()},
            "speedup": s.to_dict(orient="records"),
            "final_losses": self.final_losses(),
            "training_runs": sum(len(sc.records) for sc in self.scales) + sum(len(v) for v in self.validation.values()),
            "training_tokens": int(sum(r.metrics["total_tokens"] for sc in self.scales for r in sc.records)
                                   + sum(r.metrics["total_tokens"] for v in self.validation.values() for r in v)),
            "warnings": list(self.warnings),
        }


def run_study(config: StudyConfig, store: RunStore | str = "runs", *, baselines: Mapping[str, Mapping[str, float]] | None = None,
              executor=None, progress: bool = True) -> StudyResult:
    """DDO at every scale, the prediction at the target, and validation runs of every mixture."""
    store = store if isinstance(store, RunStore) else RunStore(store)
    scales = run_ddo(config, store, executor=executor, progress=progress)
    prediction = predict_optimum([s.ddo.tokens for s in scales], config.target, method=config.predict_method)
    mixtures, messages = validation_mixtures(config, scales, prediction, baselines)
    specs = validation_specs(config, mixtures)
    records = run_many(specs, store, executor=executor or _executor(config), workers=config.workers,
                       progress=progress)
    by_name: dict[str, list[RunRecord]] = {}
    for spec, rec in zip(specs, records):
        by_name.setdefault(spec.label.split("/")[1], []).append(rec)
    validation = {k: tuple(v) for k, v in by_name.items()}
    return StudyResult(config, tuple(scales), prediction, mixtures, validation, speedup_table(validation),
                       tuple(messages) + tuple(prediction.warnings))
