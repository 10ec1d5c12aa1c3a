"""What a study trains: `StudyConfig` and the named study sizes (`SCALES`).

Vocabulary, one meaning each: a *budget* (or total) is a number of training tokens; a *scale* is
the name of a study size preset (smoke, small, medium, gpu); a proxy *preset* is a model size
(`proxy.PRESETS`); a *round* is DDO at one budget (`pipeline.DDORound`).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace

from autoscale_kit.errors import UserError
from autoscale_kit.proxy import ProxyConfig, preset
from autoscale_kit.runs import CorpusRef


@dataclass(frozen=True)
class StudyConfig:
    """What a study trains: domains, DDO budgets, target, proxy model, seeds."""

    name: str = "study"
    corpus: str | None = None                        # None: the bundled corpus
    domains: tuple[str, ...] | None = None           # None: every domain of the corpus
    budgets: tuple[int, ...] = (250_000, 1_000_000)  # DDO totals, tokens
    target: int = 4_000_000                          # validation total, tokens
    ratios: tuple[float, ...] = (0.2, 3.0)           # DDO perturbations (the paper's 1/5 and 3)
    objective: str = "mean-loss"
    min_ratio: float = 0.2                           # lower bound per domain, × its base quantity
    proxy: ProxyConfig = ProxyConfig()
    ddo_seeds: tuple[int, ...] = (0,)                # DDO runs repeated per seed (replicates)
    seeds: tuple[int, ...] = (0,)                    # validation runs repeated per seed
    predict_method: str = "auto"
    workers: int = 1                                 # local processes (each with proxy.threads threads)

    def __post_init__(self):
        if len(self.budgets) < 2:
            raise UserError(f"a study needs DDO at two or more budgets, got {list(self.budgets)}")
        if sorted(self.budgets) != list(self.budgets) or len(set(self.budgets)) != len(self.budgets):
            raise UserError(f"budgets must be increasing and distinct, got {list(self.budgets)}")
        if any(s <= 0 for s in self.budgets) or self.target <= 0:
            raise UserError("budgets and target must be positive token counts")
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
        name="smoke", domains=("code", "books", "wikipedia"), budgets=(30_000, 120_000), target=480_000,
        proxy=preset("tiny", n_layer=1, n_embd=32, n_head=2, seq_len=64, batch_size=16, lr=5e-3,
                     eval_points=4, val_tokens=8_192, curve_val_tokens=8_192, threads=1)),
    # 0.37M parameters at 0.25M / 1M / 4M tokens: 0.7 to 11 tokens per parameter, the paper's regime
    # (GPT-2 Large at 0.3B / 1.2B / 10B tokens: 0.4 to 13). Batches of 4 sequences: a byte-level model
    # leaves its early plateau after a few hundred steps, not tokens; with batches of 16 the 250k runs
    # were still on it and their losses moved by ±0.1 with the seed and against the data (measured).
    "small": StudyConfig(
        name="small", budgets=(250_000, 1_000_000), target=4_000_000,
        proxy=preset("mini", batch_size=4, eval_points=8, val_tokens=65_536, curve_val_tokens=65_536, threads=1),
        seeds=(0, 1), workers=2),
    "medium": StudyConfig(
        name="medium", budgets=(2_000_000, 8_000_000), target=32_000_000,
        proxy=preset("small", val_tokens=131_072, curve_val_tokens=131_072, threads=1), workers=2,
        seeds=(0, 1)),
    "gpu": StudyConfig(
        name="gpu", budgets=(20_000_000, 80_000_000), target=320_000_000,
        proxy=preset("medium", batch_size=64, val_tokens=262_144, curve_val_tokens=262_144, repetition="repeat"),
        seeds=(0, 1, 2)),
}


def study_config(scale: str = "small", **overrides) -> StudyConfig:
    if scale not in SCALES:
        raise UserError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    return replace(SCALES[scale], **overrides)


def scale_from_env(default: str = "small") -> str:
    """The scale a notebook runs at: $AUTOSCALE_SCALE when set (the tests set 'smoke'), else `default`."""
    scale = os.environ.get("AUTOSCALE_SCALE", default)
    if scale not in SCALES:
        raise UserError(f"AUTOSCALE_SCALE={scale!r} is not a scale; choose one of {', '.join(SCALES)}")
    return scale


def available_tokens(config: StudyConfig) -> dict[str, int]:
    """Training tokens each domain holds without repetition (whole windows)."""
    from autoscale_kit.runs import _token_data

    p = config.proxy
    data = _token_data(config.corpus_ref, p.tokenizer, p.seq_len, p.val_tokens)
    return {d: data.available_tokens(d, p.seq_len) for d in data.domains}
