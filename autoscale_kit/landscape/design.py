"""The landscape's design: a grid of step h over the simplex (corners and edges included, so its runs
hold zero quantities) plus the centroid and optional random points, at several budgets; its run
specs, trained through the run store (resumable, shared with studies)."""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import numpy as np

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.proxy.config import ProxyConfig
from autoscale_kit.runs.store import CorpusRef, RunRecord, RunSpec, RunStore, run_many

MAX_GRID_DOMAINS = 4


def grid_divisions(step: float) -> int:
    """1/step as a whole number of divisions (step 0.25 → 4); other steps are refused."""
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not math.isfinite(step) or not 0 < step <= 1:
        raise UserError(f"the grid step must be a number in (0, 1], got {step!r}")
    m = round(1.0 / step)
    if m < 1 or abs(1.0 / step - m) > 1e-3 * m:
        raise UserError(f"the grid step must divide 1 into whole parts (0.5, 0.25, 0.2, 0.125, 0.1, …), got {step!r}")
    return int(m)


def simplex_grid(domains: Sequence[str], step: float) -> list[dict[str, float]]:
    """Every mixture whose weights are multiples of `step` (corners and edges included), in a
    fixed order; weights as fractions k/m."""
    m = grid_divisions(step)
    k = len(domains)
    out = []
    for combo in itertools.product(range(m + 1), repeat=k - 1):
        if sum(combo) <= m:
            counts = (*combo, m - sum(combo))
            out.append({d: c / m for d, c in zip(domains, counts)})
    return out


def design_points(domains: Sequence[str], step: float, *, centroid: bool = True, random_points: int = 0,
                  seed: int = 0) -> list[dict[str, float]]:
    """The landscape's mixtures: the grid, the centroid when it is not on the grid (as equal
    weights {d: 1}, the uniform mixture's exact tokens), then `random_points` Dirichlet(1) draws."""
    points = simplex_grid(domains, step)
    k = len(domains)
    if centroid:
        on_grid = any(all(abs(p[d] - 1 / k) < 1e-12 for d in domains) for p in points)
        if on_grid:
            points = [{d: 1.0 for d in domains} if all(abs(p[d] - 1 / k) < 1e-12 for d in domains) else p
                      for p in points]
        else:
            points.append({d: 1.0 for d in domains})
    if random_points:
        rng = np.random.default_rng(seed)
        for w in rng.dirichlet(np.ones(k), size=random_points):
            points.append({d: float(v) for d, v in zip(domains, w)})
    return points


def point_name(weights: Mapping[str, float]) -> str:
    """A short name for a design point: the weights in percent, e.g. 50-25-25."""
    total = sum(weights.values())
    return "-".join(f"{100 * w / total:.4g}" for w in weights.values())


@dataclass(frozen=True)
class LandscapeConfig:
    """What a landscape trains: domains, budgets, the design, seeds, the proxy model."""

    name: str = "landscape"
    corpus: str | None = None                                   # None: the bundled corpus
    domains: tuple[str, ...] = ("code", "books", "speeches")
    budgets: tuple[int, ...] = (250_000, 1_000_000, 4_000_000)
    step: float = 0.25
    seeds: tuple[int, ...] = (0, 1)
    centroid: bool = True
    random_points: int = 0
    point_seed: int = 0
    proxy: ProxyConfig = ProxyConfig()
    workers: int = 1

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip() or "/" in self.name:
            raise UserError(f"LandscapeConfig.name must be a non-empty name without '/', got {self.name!r}")
        if not isinstance(self.domains, tuple) or any(not isinstance(d, str) or not d for d in self.domains):
            raise UserError(f"LandscapeConfig.domains must be a tuple of names, got {self.domains!r}")
        if len(set(self.domains)) != len(self.domains):
            raise UserError(f"LandscapeConfig.domains names a domain twice: {list(self.domains)}")
        if not 2 <= len(self.domains) <= MAX_GRID_DOMAINS:
            raise UserError(f"a landscape grid takes 2 to {MAX_GRID_DOMAINS} domains (the grid grows as "
                            f"(1/step)^(K-1)); got {len(self.domains)}. For more domains, fit a sweep of random "
                            f"mixtures with `landscape fit`")
        for name in ("budgets", "seeds"):
            values = getattr(self, name)
            if not isinstance(values, tuple) or not values:
                raise UserError(f"LandscapeConfig.{name} must be a non-empty tuple, got {values!r}")
            low = 1 if name == "budgets" else 0
            if any(isinstance(v, bool) or not isinstance(v, int) or v < low for v in values):
                raise UserError(f"LandscapeConfig.{name} must hold integers >= {low}, got {list(values)}")
            if len(set(values)) != len(values):
                raise UserError(f"LandscapeConfig.{name} names a value twice: {list(values)}")
        if sorted(self.budgets) != list(self.budgets):
            raise UserError(f"LandscapeConfig.budgets must be increasing, got {list(self.budgets)}")
        grid_divisions(self.step)
        if isinstance(self.random_points, bool) or not isinstance(self.random_points, int) or self.random_points < 0:
            raise UserError(f"LandscapeConfig.random_points must be an integer >= 0, got {self.random_points!r}")
        if not isinstance(self.proxy, ProxyConfig):
            raise UserError(f"LandscapeConfig.proxy must be a ProxyConfig, got {type(self.proxy).__name__}")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise UserError(f"LandscapeConfig.workers must be an integer >= 1, got {self.workers!r}")

    @property
    def corpus_ref(self) -> CorpusRef:
        return CorpusRef(self.corpus, self.domains)

    @property
    def points(self) -> list[dict[str, float]]:
        return design_points(self.domains, self.step, centroid=self.centroid, random_points=self.random_points,
                             seed=self.point_seed)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["proxy"] = self.proxy.to_dict()
        return d


def landscape_specs(config: LandscapeConfig) -> list[RunSpec]:
    """One run per budget × design point × seed, smaller budgets first (an interrupted landscape
    has whole budgets done). A point's mixture is `Mixture.from_weights(point, budget).rounded()`,
    the same whole tokens a study's validation trains for the same weights. With the wsd schedule,
    a point's runs are prefixes of one plan at the largest budget (`RunSpec.stop`): `run_many`
    trains each point and seed once, branching the smaller budgets off it."""
    specs = []
    wsd = config.proxy.schedule == "wsd"
    for total in config.budgets:
        for point in config.points:
            mix = Mixture.from_weights(point, config.budgets[-1] if wsd else total).rounded()
            stop = total if wsd and total < config.budgets[-1] else None
            for seed in config.seeds:
                specs.append(RunSpec(mix, config.proxy.with_(seed=seed), config.corpus_ref,
                                     label=f"landscape/{total}/{point_name(point)}/seed{seed}", stop=stop))
    return specs


def train_landscape(config: LandscapeConfig, store: RunStore | str = "runs", *, executor=None,
                    progress: bool = True) -> list[RunRecord]:
    """Train (or load) every run of the design; resumable through the store."""
    return run_many(landscape_specs(config), store, executor=executor or "auto", workers=config.workers, progress=progress)
