"""The objective a mixture is judged by, parsed once into a typed value.

Written as text everywhere a person gives it (`--objective`, `StudyConfig.objective`): "mean-ppl"
(the paper's: the arithmetic mean of per-domain perplexities), "mean-loss" (the mean of losses in
nats), or one validation domain's "loss:<domain>" / "ppl:<domain>". `Objective.parse` is the one
place that reads that text; every module asks the parsed value what it needs (the domains it reads,
whether it is in perplexity, its value from per-domain numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from autoscale_kit.core.errors import UserError

NAMES = ("mean-ppl", "mean-loss", "loss:<domain>", "ppl:<domain>")
_HELP = "use mean-ppl, mean-loss, loss:<domain> or ppl:<domain>"


@dataclass(frozen=True)
class Objective:
    """`measure` is "loss" or "ppl"; `domain` is None for the mean over the validation domains."""

    measure: str
    domain: str | None = None

    @classmethod
    def parse(cls, objective, what: str = "objective") -> "Objective":
        """The objective named by `objective` (text, or an Objective already parsed)."""
        if isinstance(objective, Objective):
            return objective
        if not isinstance(objective, str):
            raise UserError(f"the {what} must be a name ({_HELP}), got {objective!r}")
        text = objective.strip()
        if text in ("mean-loss", "mean-ppl"):
            return cls(text[len("mean-"):])
        for measure in ("loss", "ppl"):
            if text.startswith(measure + ":"):
                domain = text[len(measure) + 1:].strip()
                if not domain:
                    raise UserError(f"{what} {objective!r} names no domain; write {measure}:<domain>")
                return cls(measure, domain)
        raise UserError(f"unknown {what} {objective!r}; {_HELP}")

    def __str__(self) -> str:
        return f"mean-{self.measure}" if self.domain is None else f"{self.measure}:{self.domain}"

    @property
    def in_ppl(self) -> bool:
        return self.measure == "ppl"

    def domains(self, available: Sequence[str]) -> tuple[str, ...]:
        """The validation domains the objective reads, out of `available` (checked)."""
        if self.domain is None:
            return tuple(available)
        if self.domain not in available:
            raise UserError(f"objective {str(self)!r}: no validation column for domain {self.domain!r}; "
                            f"domains are {', '.join(available)}")
        return (self.domain,)

    def value(self, domains: Sequence[str], loss, ppl):
        """The objective from per-domain numbers given as functions of the domain name (`loss(d)`,
        `ppl(d)`: arrays or scalars), so a runs table and a single stored run share one definition."""
        getter = ppl if self.in_ppl else loss
        if self.domain is None:
            return np.mean([getter(d) for d in domains], axis=0)
        return getter(self.domains(tuple(domains))[0])


def objective_from(domains: Sequence[str], loss, ppl, objective) -> object:
    """`Objective.parse(objective).value(domains, loss, ppl)`."""
    return Objective.parse(objective).value(domains, loss, ppl)
