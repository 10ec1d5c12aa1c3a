"""The shapes of the method seam: what a method asks a lab for (`Probe`), what it answers (`Choice`,
with its `Cost`), the `Method` itself and the registry it is added to (`register`); and
`run_objective`, the study's objective of one measured run. See `methods.registry` for the
methods themselves and the lookups."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.core.objective import objective_from

# --- the shapes ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Probe:
    """One proxy run a method asks for: a mixture (whole tokens on a corpus), a seed, a label for
    people (not part of any key)."""

    mixture: Mixture
    seed: int
    label: str = ""
    curve: bool = False      # keep the study's loss curve (a landscape's runs, shared with `landscape run`)
    plan: Mixture | None = None   # under a wsd proxy: the same mixture at the lab's horizon (`wsd_plan`)


def wsd_plan(lab, mixture_at: Callable[[float], Mixture], total: float) -> Mixture | None:
    """The whole plan a probe at `total` is a prefix of, when the lab branches (a wsd proxy with its
    warm-up fixed in tokens, `lab.horizon` above `total`): `mixture_at(lab.horizon)`, whole tokens.
    Methods that ask for one mixture at several budgets (DDO's plan, a landscape's grid) pass it so
    that the lab trains it once, to the horizon, branching the smaller budgets off it; None
    otherwise (a run on its own)."""
    horizon = getattr(lab, "horizon", None)
    if not getattr(lab, "branching", False) or horizon is None or total >= horizon:
        return None
    return lab.exact(mixture_at(horizon))


@dataclass(frozen=True)
class Cost:
    """Proxy compute a method spent: runs, training tokens, FLOPs (6 × parameters × tokens)."""

    proxy_runs: int = 0
    proxy_tokens: float = 0
    proxy_flops: float = 0.0

    @classmethod
    def of(cls, runs: Sequence) -> "Cost":
        return cls(len(runs), int(sum(r.total_tokens for r in runs)), float(sum(r.flops for r in runs)))

    def to_dict(self) -> dict:
        return {"proxy_runs": self.proxy_runs, "proxy_tokens": self.proxy_tokens, "proxy_flops": self.proxy_flops}


@dataclass(frozen=True)
class Choice:
    """A method's answer: weights, the runs it used, and what it cost."""

    weights: dict[str, float]
    runs: tuple = ()                 # measured runs the weights come from
    cost: Cost | None = None         # None: Cost.of(runs)
    name: str | None = None          # the mixture's name when it is not the method's (preset-llama)
    shared: str = ""                 # "the RegMix runs": whose runs it shares, for the cost table
    details: object = field(default=None, repr=False)

    @property
    def spent(self) -> Cost:
        return self.cost if self.cost is not None else Cost.of(self.runs)


def _no_probes(lab) -> list[Probe]:
    return []


@dataclass(frozen=True)
class Method:
    """One way to pick a mixture (see the module docstring)."""

    name: str
    summary: str
    choose: Callable[[object], Choice]
    probes: Callable[[object], list[Probe]] = _no_probes
    labs: tuple[str, ...] = ("corpus", "oracle")   # where it can run
    default: bool = True     # part of the default comparison (False: asked for by name, e.g. the landscape grids)


METHODS: dict[str, Method] = {}
STUDY_METHODS = ("autoscale", "uniform", "ddo-reused")   # what every study validates


def register(method: Method) -> Method:
    """Add a method to the registry (its name must be new); returns it."""
    if not isinstance(method, Method):
        raise UserError(f"register takes a methods.Method, got {type(method).__name__}")
    if method.name in METHODS:
        raise UserError(f"a method named {method.name!r} is registered already")
    METHODS[method.name] = method
    return method


def run_objective(run, objective: str) -> float:
    """The study's objective for one measured run (works for mixtures with zero-token domains,
    which a DDO runs table refuses)."""
    v = run.val_loss
    return float(objective_from(tuple(v), v.__getitem__, lambda d: math.exp(v[d]), objective))
