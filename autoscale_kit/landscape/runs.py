"""Any runs table read as a landscape (ours, RegMix's released runs, a user's sweep): runs grouped
into budgets by an explicit `scale` column, else by their total tokens (within 1 % is one budget,
so rounding to whole tokens does not split a budget)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import pandas as pd

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import parse_tokens
from autoscale_kit.core.tables import read_frame, read_mixture_losses, read_runs_table
from autoscale_kit.runs.store import RunRecord, runs_table


def landscape_frame(records: Sequence[RunRecord]) -> pd.DataFrame:
    """The runs table of a landscape (zero quantities included) with a `scale` column (the
    budget each run was asked for) and the run's label."""
    frame = runs_table(records)
    frame.insert(1, "scale", [r.budget for r in records])
    return frame


def curves_frame(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Every run's validation curve, long form: run, scale, seed, then the curve's columns."""
    parts = []
    for r in records:
        c = r.curve.copy()
        c.insert(0, "seed", r.seed)
        c.insert(0, "scale", r.budget)
        c.insert(0, "run", r.key)
        parts.append(c)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["run", "scale", "seed"])


BUDGET_RTOL = 0.01


@dataclass(frozen=True)
class LandscapeRuns:
    """Runs of arbitrary mixtures, grouped into budgets: weights, per-domain losses, seeds."""

    domains: tuple[str, ...]              # training domains (weights' columns)
    eval_domains: tuple[str, ...]
    weights: np.ndarray                   # (runs, K), rows sum to 1
    losses: dict[str, np.ndarray]         # validation domain → loss (nats) per run
    budget: np.ndarray                    # the budget (total tokens) each run belongs to
    seeds: tuple | None
    run_ids: tuple[str, ...]
    source: str

    @property
    def budgets(self) -> tuple[float, ...]:
        return tuple(sorted(set(self.budget.tolist())))

    def at(self, total: float) -> "LandscapeRuns":
        keep = self.budget == total
        return replace(self, weights=self.weights[keep], losses={d: v[keep] for d, v in self.losses.items()},
                       budget=self.budget[keep], seeds=None if self.seeds is None else
                       tuple(s for s, k in zip(self.seeds, keep) if k),
                       run_ids=tuple(r for r, k in zip(self.run_ids, keep) if k))


def landscape_runs(records: Sequence[RunRecord]) -> LandscapeRuns:
    """Stored runs as a landscape (each run's budget: the total its mixture asked for)."""
    return read_landscape(landscape_frame(records))


def _group_totals(totals: np.ndarray) -> np.ndarray:
    """Totals within 1% of each other are one budget (their median names it)."""
    order = np.argsort(totals)
    out = np.empty(len(totals))
    start = 0
    for i in range(1, len(order) + 1):
        if i == len(order) or totals[order[i]] > totals[order[start]] * (1 + BUDGET_RTOL):
            members = order[start:i]
            out[members] = float(np.median(totals[members]))
            start = i
    return out


def _scale_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    values = []
    for i, v in enumerate(frame["scale"].tolist()):
        try:
            values.append(parse_tokens(str(v)))
        except UserError:
            raise UserError(f"{name}: the scale column, row {i + 1}, holds {v!r}; give each run's budget as a number of "
                            f"tokens (250000, 250k, 1M)") from None
    return np.asarray(values, dtype=float)


def read_landscape(source, *, losses=None, tokens_per_run: float = 1.0) -> LandscapeRuns:
    """A landscape from a runs table (path or DataFrame; zero quantities allowed), or from
    RegMix's released pair of files (`source` the mixture file, `losses` the loss file: weights,
    one budget of `tokens_per_run`). Budgets come from a `scale` column when there is one, else
    from each run's total tokens."""
    if losses is not None:
        ml = read_mixture_losses(source, losses)
        W = ml.weights
        Y = {str(c): ml.losses[c].to_numpy(dtype=float) for c in ml.losses.columns}
        for c, v in Y.items():
            if (v <= 0).any():
                raise UserError(f"the loss file's column {c!r} holds a loss <= 0; losses are in nats and positive")
        return LandscapeRuns(ml.domains, tuple(Y), W, Y, np.full(len(W), float(tokens_per_run)), None, ml.runs,
                             str(source))
    table = read_runs_table(source, allow_zero=True)
    frame, name = read_frame(source, "runs table")
    totals = table.tokens.sum(axis=1)
    budget = _scale_column(frame, name) if "scale" in frame.columns else _group_totals(totals)
    Y = {d: table.domain_loss(d) for d in table.eval_domains}
    return LandscapeRuns(table.domains, table.eval_domains, table.tokens / totals[:, None], Y, budget, table.seeds,
                         table.run_ids, table.source)
