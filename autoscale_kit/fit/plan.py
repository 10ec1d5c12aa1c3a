"""DDO's design and its measured runs: the perturbation plan (a base mixture and one run per domain
and ratio, each changing only that domain's tokens, the paper's design), the plan as measured
(`MeasuredPlan`: which row is the base and what every other row perturbs), the paper's heat-map
table, and the objective of every run of a table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.core.objective import objective_from
from autoscale_kit.core.tables import BaseRun, RunsTable, find_base_run, read_runs_table

EXTRA = "*"        # PlannedRun.domain of a run outside the one-at-a-time plan (a verification run)


@dataclass(frozen=True)
class PlannedRun:
    """One run of a DDO plan: its name, its Mixture, and which domain/ratio it perturbs."""

    name: str
    mixture: Mixture
    domain: str | None = None      # None for the base run, EXTRA for a run that changes several domains
    ratio: float = 1.0


def uniform_base(domains: Sequence[str], total: float) -> Mixture:
    """The paper's base run: the same quantity of every domain, `total` in all."""
    domains = list(domains)
    if not domains:
        raise UserError("a base run needs at least one domain")
    return Mixture.uniform(domains, total)


def check_ratios(ratios) -> list[float]:
    """Perturbation ratios as floats: positive, finite, not 1, each once."""
    if isinstance(ratios, (str, bytes)) or not hasattr(ratios, "__iter__"):
        raise UserError(f"perturbation ratios must be a list of numbers (e.g. 0.2, 3), got {ratios!r}")
    clean: list[float] = []
    for r in ratios:
        try:
            v = float(r)
        except (TypeError, ValueError):
            raise UserError(f"perturbation ratio {r!r} is not a number") from None
        if not math.isfinite(v) or v <= 0:
            raise UserError(f"perturbation ratio {r!r} must be a positive finite number (e.g. 0.2 or 3)")
        if abs(v - 1.0) <= 1e-12:
            raise UserError("perturbation ratio 1 repeats the base run; use ratios below and above 1")
        if any(abs(v - c) <= 1e-12 * max(v, c) for c in clean):
            raise UserError(f"perturbation ratio {v:g} is given twice")
        clean.append(v)
    if not clean:
        raise UserError("give at least one perturbation ratio (the paper uses 1/5 and 3)")
    return clean


def perturbation_plan(base: Mixture, ratios: Sequence[float] = (1 / 5, 3)) -> list[PlannedRun]:
    """The base run, then for each domain and ratio a run with only that domain scaled by the ratio.

    The paper's GPT-2 plan uses ratios 1/5 and 3, its BERT plan 1/3 and 2; any list works, and
    more ratios per domain (e.g. 1/5, 1/2, 2, 3) make the per-domain laws identifiable.
    """
    if not isinstance(base, Mixture):
        raise UserError(f"the base run must be a Mixture, got {type(base).__name__}")
    clean = check_ratios(ratios)
    plan = [PlannedRun("base", base)]
    for d in base.domains:
        if base[d] <= 0:
            raise UserError(f"domain {d!r} has 0 tokens in the base run; every domain needs a positive base quantity")
        for v in clean:
            plan.append(PlannedRun(f"{d}_x{v:g}", base.with_tokens(d, base[d] * v), d, v))
    return plan


def plan_table(plan: Sequence[PlannedRun]) -> pd.DataFrame:
    """The plan as the first columns of a runs table (run, tokens:<domain>), losses to be added."""
    domains = plan[0].mixture.domains
    return pd.DataFrame({"run": [p.name for p in plan],
                         **{f"tokens:{d}": [p.mixture[d] for p in plan] for d in domains}})


@dataclass(frozen=True)
class MeasuredPlan:
    """DDO's input when the plan is known: the measured runs as a table, and which row is the base
    and which domain every other row perturbs — taken from the plan, not re-derived from float
    token vectors (that, `tables.find_base_run`, is only for hand-typed tables)."""

    table: RunsTable
    layout: BaseRun

    @classmethod
    def from_runs(cls, plan: Sequence[PlannedRun], records) -> "MeasuredPlan":
        """`records[i]` measured `plan[i]` (a plan repeated per seed is fine: equal planned runs are
        replicates). Records: anything `RunsTable.from_records` takes."""
        plan, records = list(plan), list(records)
        if len(plan) != len(records):
            raise UserError(f"{len(plan)} planned runs but {len(records)} measured ones; give one record per run")
        table = RunsTable.from_records(records, source="the DDO runs")
        if table.domains != plan[0].mixture.domains:
            raise UserError(f"the runs train on {', '.join(table.domains)} but the plan on "
                            f"{', '.join(plan[0].mixture.domains)}")
        base = [i for i, p in enumerate(plan) if p.domain is None]
        if not base:
            raise UserError("the plan has no base run")
        perturbed = {d: tuple(i for i, p in enumerate(plan) if p.domain == d) for d in table.domains}
        extra = tuple(i for i, p in enumerate(plan) if p.domain == EXTRA)
        return cls(table, BaseRun(base[0], tuple(base), perturbed, table.tokens[base[0]].copy(), extra))


def table_and_layout(runs, base=None, extra: bool = False) -> tuple[RunsTable, BaseRun]:
    """The runs as a table and where its base and perturbed runs are (from the plan when known)."""
    if isinstance(runs, MeasuredPlan):
        if base is not None:
            raise UserError("the base run of a measured plan is known; do not pass `base`")
        return runs.table, runs.layout
    table = runs if isinstance(runs, RunsTable) else read_runs_table(runs)
    return table, find_base_run(table, base=base, extra=extra)


def perturbation_effects(runs, metric: str = "loss", ratio: str = "up") -> pd.DataFrame:
    """The paper's heat-map table: rows = perturbed training domain, columns = validation domains
    and their mean; value = metric(perturbed run) − metric(base run).

    metric: "loss" or "ppl"; ratio: "up" (the largest quantity run per domain, e.g. ×3) or "down"
    (the smallest, e.g. ×1/5). With several base replicates their mean is the reference.
    """
    if metric not in ("loss", "ppl"):
        raise UserError(f"metric must be 'loss' or 'ppl', got {metric!r}")
    if ratio not in ("up", "down"):
        raise UserError(f"ratio must be 'up' or 'down', got {ratio!r}")
    table, found = table_and_layout(runs)
    get = table.domain_loss if metric == "loss" else table.domain_ppl
    evals = table.eval_domains
    values = np.array([get(d) for d in evals]).T                        # (runs, eval domains)
    values = np.column_stack([values, values.mean(axis=1)])
    base = values[list(found.replicates)].mean(axis=0)
    rows = {}
    for j, d in enumerate(table.domains):
        cand = list(found.perturbed[d])
        if not cand:
            continue
        q = table.tokens[cand, j]
        pick = q.max() if ratio == "up" else q.min()
        if (ratio == "up" and pick <= found.tokens[j]) or (ratio == "down" and pick >= found.tokens[j]):
            continue
        chosen = [r for r, v in zip(cand, q) if v == pick]
        rows[d] = values[chosen].mean(axis=0) - base
    return pd.DataFrame.from_dict(rows, orient="index", columns=[*evals, "mean"])



# --- the objective of every run --------------------------------------------------------------

def validation_domains(table: RunsTable, validation: Sequence[str] | None = None) -> tuple[str, ...]:
    """The validation domains an objective averages: those named (checked), else all of the table's."""
    if validation is None:
        return table.eval_domains
    names = tuple(validation)
    if not names:
        raise UserError("give at least one validation domain (or None for all)")
    unknown = [d for d in names if d not in table.eval_domains]
    if unknown:
        raise UserError(f"validation domain {unknown[0]!r} has no loss or ppl column; the table validates on "
                        f"{', '.join(table.eval_domains)}")
    if len(set(names)) != len(names):
        raise UserError(f"a validation domain is named twice in {', '.join(names)}")
    return names


def objective_values(table: RunsTable, objective: str, validation: Sequence[str] | None = None) -> np.ndarray:
    """The scalar objective of every run (lower is better), in the objective's own unit, over the
    named validation domains (default: all)."""
    return objective_from(validation_domains(table, validation), table.domain_loss, table.domain_ppl, objective)


