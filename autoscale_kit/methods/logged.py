"""Verification when the runs were trained elsewhere: the same `verify_round`, with a lab that
answers from the logs instead of training.

Why: the external loop (`plan`, your trainer, `ingest`) has no lab to train the recommendation,
but verifying it is the same procedure — candidates on base → recommendation (t = 1, 1/2, …),
each trained at the base's seeds, accepted when it beats the base by more than the paired noise.
`verification_probes` lists the candidates for `autoscale-kit plan --verify` to write out;
`verify_logged` runs `verify_round` over the ingested candidates, so both loops decide alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.core.tables import RunsTable, read_runs_table
from autoscale_kit.fit.ddo import DDOResult
from autoscale_kit.fit.plan import EXTRA, PlannedRun, table_and_layout
from autoscale_kit.methods.base import Probe
from autoscale_kit.methods.verify import Verification, candidate_label, candidate_steps, verify_round


@dataclass(frozen=True)
class TableRun:
    """One row of a runs table as the record `verify_round` reads."""

    key: str
    mixture: Mixture
    tokens: Mapping[str, float]
    val_loss: Mapping[str, float]
    seed: int

    @property
    def total_tokens(self) -> float:
        return float(sum(self.tokens.values()))


def _records(table: RunsTable) -> list[TableRun]:
    out = []
    for i, run in enumerate(table.run_ids):
        tokens = {d: float(table.tokens[i, k]) for k, d in enumerate(table.domains)}
        losses = {d: float(v[i]) for d, v in table.loss.items()}
        losses.update({d: float(np.log(v[i])) for d, v in table.ppl.items() if d not in losses})
        seed = int(table.seeds[i]) if table.seeds is not None and table.seeds[i] is not None else 0
        out.append(TableRun(str(run), Mixture(tokens), tokens, losses, seed))
    return out


def round_from_table(runs, base: str | None = None) -> tuple[list[PlannedRun], list[TableRun]]:
    """A DDO runs table as the plan and records of a round: which row is the base (its
    replicates too), which domain each other row changes, by what ratio."""
    table, layout = table_and_layout(runs, base=base, extra=True)
    records = _records(table)
    plan = []
    for i, rec in enumerate(records):
        if i in layout.replicates:
            plan.append(PlannedRun("base", rec.mixture))
            continue
        domain = next((d for d, rows in layout.perturbed.items() if i in rows), None)
        if domain is None:
            plan.append(PlannedRun(f"extra_{i}", rec.mixture, EXTRA))
            continue
        k = table.domains.index(domain)
        ratio = float(table.tokens[i, k] / layout.tokens[k])
        plan.append(PlannedRun(f"{domain}_x{ratio:.6g}", rec.mixture, domain, ratio))
    return plan, records


def base_seeds(plan: Sequence[PlannedRun], records: Sequence[TableRun]) -> list[int]:
    """The seeds of the base run, in order: the seeds each candidate trains at."""
    return list(dict.fromkeys(r.seed for p, r in zip(plan, records) if p.domain is None))


def verification_probes(ddo: DDOResult, plan: Sequence[PlannedRun], records: Sequence[TableRun], n: int,
                        *, exact=Mixture.rounded) -> list[Probe]:
    """The candidates `verify_round` would train, all of them (it stops at the first accepted;
    trained elsewhere, they are planned at once): t = 1, 1/2, … (n of them) at the base's seeds."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise UserError(f"verification needs a number of candidates >= 1, got {n!r}")
    base = plan[next(i for i, p in enumerate(plan) if p.domain is None)].mixture
    seeds = base_seeds(plan, records)
    probes = [Probe(mix, s, candidate_label(ddo.optimum.total, t, s))
              for t, mix in candidate_steps(base, ddo.optimum, n, exact) for s in seeds]
    if not probes:
        raise UserError("the recommendation is the base itself: there is nothing to verify")
    return probes


class LoggedLab:
    """`verify_round`'s lab over candidates already trained and ingested: `measure` finds each
    probe's run (same whole-token mixture, same seed) in the table instead of training it."""

    def __init__(self, candidates: RunsTable):
        self.records = _records(candidates)
        self.source = candidates.source

    @staticmethod
    def exact(mixture: Mixture) -> Mixture:
        return mixture.rounded()

    def measure(self, probes: Sequence[Probe]) -> list[TableRun]:
        out = []
        for p in probes:
            hit = [r for r in self.records if r.seed == p.seed and r.mixture.domains == p.mixture.domains
                   and all(abs(r.tokens[d] - p.mixture[d]) <= 0.5 for d in p.mixture.domains)]
            if not hit:
                raise UserError(f"{self.source} has no run of candidate {p.label} (" + ", ".join(
                    f"{d} {p.mixture[d]:,.0f}" for d in p.mixture.domains) + f"); train the runs `autoscale-kit "
                    f"plan --verify` wrote (with the same --objective and --surrogate) and ingest them")
            out.append(hit[0])
        return out


def verify_logged(runs, candidates, ddo: DDOResult, *, base: str | None = None,
                  surrogate: str = "transfer", fit_options: dict | None = None) -> Verification:
    """`verify_round` over ingested candidates: the answer of the runs table `runs` (whose fit is
    `ddo`) checked against the candidate runs `candidates` (a runs table: `ingest` of the plan
    `plan --verify` wrote). As many candidates are tried as the table holds mixtures; `surrogate`
    refits as in `verify_round` (give the fit's own, as `ddo --scale --verify` does)."""
    table = candidates if isinstance(candidates, RunsTable) else read_runs_table(candidates)
    plan, records = round_from_table(runs, base=base)
    n = len({tuple(np.round(row, 3)) for row in table.tokens})
    return verify_round(LoggedLab(table), ddo.optimum.total, plan, records, ddo, n, surrogate=surrogate,
                        fit_options=fit_options)
