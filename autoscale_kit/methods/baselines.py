"""The peer methods' mixtures: uniform, natural, fixed presets, RegMix and Data Mixing Laws.

Each function takes measured data (or nothing) and returns weights; training the runs they need
is the harness's job (`compare`), so every method here is testable on synthetic numbers.

Design choices (faithful to the peers' papers and repositories, see docs in each function):
- RegMix samples its proxy mixtures around the token prior exactly as `synthesize_mixture.py`
  does (tempered prior, 15 Dirichlet strengths, usage cap, minimum weight, rounding, dedup), fits
  a regressor (LightGBM by default) and averages the top-k of a large simulated search.
- Data Mixing Laws fits one exponential law per validation domain and minimises their weighted
  sum (the mean by default, our objective) on the simplex; the law is convex in the weights, so a
  local solver finds the minimum, including per-domain caps.
- DoReMi needs a training loop and lives in `doremi`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
from scipy.optimize import minimize

from autoscale_kit.core.errors import UserError
from autoscale_kit.fit.surrogates import MixingLawSurrogate, make_surrogate

# LLaMA's RedPajama-domain weights (Touvron et al. 2023, Table 1) and DoReMi's token-count
# baseline for RedPajama (`configs/rp_baseline.json`).
MIXTURE_PRESETS: dict[str, dict[str, float]] = {
    "llama": {"common_crawl": 0.67, "c4": 0.15, "github": 0.045, "wikipedia": 0.045, "book": 0.045,
              "arxiv": 0.025, "stackexchange": 0.02},
    "redpajama-tokens": {"common_crawl": 0.7256, "c4": 0.1446, "github": 0.0488, "book": 0.0215,
                         "arxiv": 0.0231, "wikipedia": 0.0198, "stackexchange": 0.0165},
}
# The bundled corpus's stand-ins for the RedPajama domains (data/corpus/LICENSES.md, corpus-sources
# §4): the two web shares go to the two web-like domains, the larger to the public-domain prose.
BUNDLED_ANALOGUES = {"common_crawl": "speeches", "c4": "docs", "github": "code", "book": "books",
                     "arxiv": "arxiv", "wikipedia": "wikipedia", "stackexchange": "qa"}


def _normalised(weights: Mapping[str, float], what: str) -> dict[str, float]:
    w = {d: float(v) for d, v in weights.items()}
    if not w or any(not np.isfinite(v) or v < 0 for v in w.values()) or sum(w.values()) <= 0:
        raise UserError(f"{what}: weights must be non-negative numbers with a positive sum, got {weights}")
    s = sum(w.values())
    return {d: v / s for d, v in w.items()}


def uniform_weights(domains: Sequence[str]) -> dict[str, float]:
    if not domains:
        raise UserError("no domains given")
    return {d: 1.0 / len(domains) for d in domains}


def natural_weights(available: Mapping[str, float]) -> dict[str, float]:
    """Proportional to the tokens each domain holds (the 'natural' or token-count mixture)."""
    return _normalised(available, "available tokens")


def preset_weights(name: str, domains: Sequence[str] | None = None,
                   mapping: Mapping[str, str] | None = None) -> dict[str, float]:
    """A published fixed mixture, renamed onto `domains` through `mapping` (preset name → domain).

    With `domains` and no mapping, the preset's names must be the domains, or some of the bundled
    corpus's seven (renamed by BUNDLED_ANALOGUES). A preset covering more than `domains` is
    restricted to them and renormalised (a study on a subset of the corpus)."""
    if name not in MIXTURE_PRESETS:
        raise UserError(f"unknown preset mixture {name!r}; choose one of {', '.join(MIXTURE_PRESETS)}")
    weights = MIXTURE_PRESETS[name]
    if mapping is None and domains is not None and set(domains) <= set(BUNDLED_ANALOGUES.values()):
        mapping = BUNDLED_ANALOGUES
    if mapping is not None:
        missing = [k for k in weights if k not in mapping]
        if missing:
            raise UserError(f"preset {name!r}: the mapping does not say where {', '.join(missing)} goes")
        renamed: dict[str, float] = {}
        for k, v in weights.items():
            renamed[mapping[k]] = renamed.get(mapping[k], 0.0) + v
        weights = renamed
    if domains is not None:
        if not set(domains) <= set(weights):
            raise UserError(f"preset {name!r} has domains {', '.join(sorted(weights))}, not "
                            f"{', '.join(sorted(domains))}; pass mapping={{preset domain: your domain}}")
        weights = {d: weights[d] for d in domains}
    return _normalised(weights, f"preset {name}")


# --- RegMix ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RegMixConfig:
    """RegMix's published settings (sail-sg/regmix, `synthesize_mixture.py`, `regression.ipynb`)."""

    runs: int = 512                    # proxy mixtures (0: let the harness match DDO's proxy tokens)
    temperature: float = 0.5           # prior^temperature for sampling
    max_usage: float = 15.0            # weight cap: min(max_usage × prior, 1)
    minimum: float = 2e-4              # smaller weights become 0; weights rounded to multiples of it
    strengths: tuple[float, float, int] = (0.1, 5.0, 15)  # Dirichlet concentrations, log-spaced
    sample_multiplier: int = 100       # candidates drawn per wanted mixture
    regressor: str = "regmix-lightgbm"
    search_samples: int = 100_000      # simulated mixtures, Dirichlet(prior × 1)
    top_k: int = 128                   # the final mixture: mean of the top-k predicted
    seed: int = 42

    def __post_init__(self):
        if self.runs < 0 or self.top_k < 1 or self.search_samples < self.top_k or self.sample_multiplier < 1:
            raise UserError("RegMix needs runs >= 0, top_k >= 1, search_samples >= top_k, sample_multiplier >= 1")
        if not 0 < self.temperature or self.max_usage <= 0 or not 0 <= self.minimum < 1:
            raise UserError("RegMix needs temperature > 0, max_usage > 0 and 0 <= minimum < 1")


def _prior(prior: Mapping[str, float]) -> tuple[list[str], np.ndarray]:
    p = _normalised(prior, "RegMix prior")
    return list(p), np.array(list(p.values()))


def regmix_sample(prior: Mapping[str, float], config: RegMixConfig = RegMixConfig()) -> list[dict[str, float]]:
    """`config.runs` distinct proxy mixtures drawn as RegMix draws them (fewer if not enough distinct ones exist)."""
    if config.runs < 1:
        raise UserError("ask RegMix for at least one proxy mixture (runs >= 1)")
    names, p = _prior(prior)
    rng = np.random.default_rng(config.seed)
    upper = np.minimum(config.max_usage * p, 1.0)
    tempered = p ** config.temperature
    tempered /= tempered.sum()
    lo, hi, n_s = config.strengths
    strengths = np.logspace(np.log10(lo), np.log10(hi), int(n_s))
    n = config.runs * config.sample_multiplier
    alpha = np.maximum(tempered[None, :] * strengths[rng.integers(len(strengths), size=n)][:, None], 1e-300)
    # a Dirichlet draw per candidate at its randomly kept strength (RegMix draws all 15, keeps one)
    gam = rng.gamma(alpha)
    ok = gam.sum(axis=1) > 0
    draws = gam[ok] / gam[ok].sum(axis=1, keepdims=True)
    draws = draws[(draws <= upper[None, :]).all(axis=1)]
    draws[draws < config.minimum] = 0.0
    draws = draws[draws.sum(axis=1) > 0]
    draws /= draws.sum(axis=1, keepdims=True)
    if config.minimum > 0:  # whole multiples of the minimum; the largest weight absorbs the rounding
        units = np.round(draws / config.minimum)
        whole = round(1 / config.minimum)
        top = np.argmax(units, axis=1)
        units[np.arange(len(units)), top] += whole - units.sum(axis=1)
        draws = units[(units >= 0).all(axis=1)] / whole
    draws = np.unique(np.round(draws, 10), axis=0)  # duplicates: equal to 1e-10 (RegMix: L1 ≤ 1e-5)
    if len(draws) == 0:
        raise UserError("RegMix sampling produced no valid mixture; raise max_usage or lower minimum")
    pick = rng.choice(len(draws), size=min(config.runs, len(draws)), replace=False)
    return [dict(zip(names, row.tolist())) for row in draws[np.sort(pick)]]


@dataclass(frozen=True)
class RegMixResult:
    weights: dict[str, float]
    predicted: float                        # the surrogate's loss at `weights`
    top_predicted: tuple[float, float]      # best and k-th best predicted loss in the search
    surrogate: object = field(repr=False)


def _matrix(mixtures: Sequence[Mapping[str, float]], names: Sequence[str]) -> np.ndarray:
    rows = []
    for i, m in enumerate(mixtures):
        extra = set(m) - set(names)
        if extra:
            raise UserError(f"mixture {i + 1} has domain(s) {', '.join(sorted(extra))} not in the prior")
        rows.append([float(m.get(d, 0.0)) for d in names])
    X = np.array(rows, dtype=float)
    if len(X) == 0:
        raise UserError("no mixtures given")
    s = X.sum(axis=1, keepdims=True)
    if (s <= 0).any() or (X < 0).any():
        raise UserError("each mixture needs non-negative weights with a positive sum")
    return X / s


def regmix_optimum(mixtures: Sequence[Mapping[str, float]], losses: Sequence[float], prior: Mapping[str, float],
                   config: RegMixConfig = RegMixConfig()) -> RegMixResult:
    """Fit the regressor on (mixture → loss) and average the top-k mixtures of a simulated search
    drawn from Dirichlet(prior)."""
    names, p = _prior(prior)
    X = _matrix(mixtures, names)
    model = make_surrogate(config.regressor).fit(X, losses)
    rng = np.random.default_rng(config.seed)
    candidates = rng.dirichlet(np.maximum(p, 1e-12), size=config.search_samples)
    predicted = model.predict(candidates)
    top = np.argsort(predicted, kind="stable")[: config.top_k]
    w = candidates[top].mean(axis=0)
    return RegMixResult(dict(zip(names, (w / w.sum()).tolist())), float(model.predict(w[None, :])[0]),
                        (float(predicted[top[0]]), float(predicted[top[-1]])), model)


# --- Data Mixing Laws ----------------------------------------------------------------------------

@dataclass(frozen=True)
class MixingLawResult:
    weights: dict[str, float]
    predicted: float                                  # the weighted law sum at `weights`
    laws: dict[str, dict] = field(default_factory=dict)  # per validation domain: c, k, t


def mixing_law_optimum(mixtures: Sequence[Mapping[str, float]], losses: Mapping[str, Sequence[float]],
                       domains: Sequence[str] | None = None, *, valid_weights: Mapping[str, float] | None = None,
                       caps: Mapping[str, float] | None = None, huber_delta: float = 0.02) -> MixingLawResult:
    """Fit L_v(r) = c_v + k_v exp(t_v · r) per validation domain v, minimise Σ_v s_v L_v on the simplex.

    `losses`: validation domain → one loss per mixture; `valid_weights` s_v (default equal: the
    mean loss); `caps`: the largest weight each training domain may take (data availability)."""
    names = list(domains) if domains is not None else sorted({d for m in mixtures for d in m})
    X = _matrix(mixtures, names)
    if not losses:
        raise UserError("give the validation losses of at least one domain")
    s = _normalised(valid_weights or {v: 1.0 for v in losses}, "validation weights")
    if set(s) != set(losses):
        raise UserError(f"validation weights name {', '.join(sorted(s))} but losses {', '.join(sorted(losses))}")
    laws = {v: MixingLawSurrogate(huber_delta=huber_delta).fit(X, np.asarray(y, dtype=float)) for v, y in losses.items()}
    ub = np.array([float((caps or {}).get(d, 1.0)) for d in names])
    if ub.sum() < 1 - 1e-12 or (ub < 0).any():
        raise UserError(f"the caps {dict(zip(names, ub.tolist()))} leave no mixture (they must sum to >= 1)")

    def objective(r):
        return sum(s[v] * float(law.predict(r[None, :])[0]) for v, law in laws.items())

    starts = [np.minimum(np.full(len(names), 1 / len(names)), ub), X[np.argmin([objective(x) for x in X])]]
    best = None
    for r0 in starts:
        r0 = np.clip(r0, 0, ub)
        r0 = r0 / r0.sum()
        res = minimize(objective, r0, method="SLSQP", bounds=list(zip(np.zeros(len(names)), ub)),
                       constraints=[{"type": "eq", "fun": lambda r: r.sum() - 1.0}],
                       options={"ftol": 1e-12, "maxiter": 500})
        r = np.clip(res.x, 0, ub)
        r = r / r.sum()
        if best is None or objective(r) < best[0]:
            best = (objective(r), r)
    return MixingLawResult(dict(zip(names, best[1].tolist())), float(best[0]),
                           {v: law.params for v, law in laws.items()})
