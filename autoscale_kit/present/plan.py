"""A study's proxy runs written out for the user's own trainer: which runs to train (a method's
design: DDO's plan at every budget, a landscape grid, a RegMix swarm), one trainer config per run
through the export writers, and `plan.csv`, which `ingest` joins the trainer's logs to.

Why: people who choose mixtures at scale train proxies with the trainer they already run. The
plan is exactly what the toolkit would train itself — the same probes, mixtures in whole tokens,
seeds — and each run's id is the key our run store would give it, so a run trained here and one
trained elsewhere are the same run by name.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.tables import read_runs_table
from autoscale_kit.methods.registry import CompareConfig, get_method
from autoscale_kit.data import corpus as corpus_mod
from autoscale_kit.fit.ddo import fit_ddo
from autoscale_kit.methods.logged import round_from_table, verification_probes
from autoscale_kit.present.export import DOCUMENT_SAMPLING, FORMATS, Export, corpus_facts, export_filename, feasibility, write
from autoscale_kit.runs.store import RunStore
from autoscale_kit.study.config import StudyConfig, available_tokens
from autoscale_kit.study.lab import CorpusLab

DESIGNS = {"ddo": "autoscale", "landscape": "landscape-reused", "regmix": "regmix"}   # a design: whose probes


@dataclass(frozen=True)
class PlannedProxyRun:
    """One run of a plan: its id (the run store's key), what it is for, its mixture and seed."""

    run_id: str
    role: str                        # the probe's label: ddo/250000/code_x0.2/seed0, landscape/…, regmix/…
    budget: int                      # its total training tokens
    scale: int                       # the design's budget it belongs to (a DDO perturbation's base budget)
    seed: int
    tokens: dict[str, int]           # per domain

    @property
    def weights(self) -> dict[str, float]:
        total = sum(self.tokens.values())
        return {d: n / total for d, n in self.tokens.items()}


def plan_runs(config: StudyConfig, design: str = "ddo", *, options: CompareConfig = CompareConfig()) -> list[PlannedProxyRun]:
    """The runs a design asks for on `config` (a design name of DESIGNS or any registered method
    with probes), each once, in the method's order; nothing is trained."""
    method = get_method(DESIGNS.get(design, design), "corpus")
    lab = CorpusLab(config, RunStore(".autoscale-plan", frozen="autoscale-kit plan trains nothing"), options,
                    progress=False)
    probes = method.probes(lab)
    if not probes:
        raise UserError(f"the design {design!r} trains no proxy runs (it needs none); choose one of "
                        f"{', '.join(DESIGNS)} or a method that trains proxies")
    out, seen = [], set()
    for p in probes:
        spec = lab.spec(p)
        if spec.key in seen:
            continue
        seen.add(spec.key)
        total = int(round(p.mixture.total))
        out.append(PlannedProxyRun(spec.key, p.label, total, _design_budget(p.label, total), int(p.seed),
                                   {d: int(round(v)) for d, v in p.mixture.tokens.items()}))
    return out


def verification_runs(config: StudyConfig, runs, n: int = 3, *, objective: str = "mean-ppl",
                      surrogate: str = "separable") -> list[PlannedProxyRun]:
    """`plan --verify`: the candidate runs that verify the answer of a budget's ingested DDO table
    `runs` (`methods.logged.verification_probes`: t = 1, 1/2, … at the base's seeds), with run ids
    as `plan_runs` gives them. `autoscale-kit ddo RUNS --verified CANDIDATES` decides on them once
    trained and ingested (fit with the same objective and surrogate)."""
    table = read_runs_table(runs)          # read once: the fit and the round's layout both take it
    ddo = fit_ddo(table, objective, surrogate=surrogate)
    plan, records = round_from_table(table)
    if set(ddo.optimum.domains) != set(config.training_domains()):
        raise UserError(f"the runs train on {', '.join(ddo.optimum.domains)} but study {config.name} on "
                        f"{', '.join(config.training_domains())}; give the study the plan was written from")
    lab = CorpusLab(config, RunStore(".autoscale-plan", frozen="autoscale-kit plan trains nothing"), progress=False)
    out = []
    for p in verification_probes(ddo, plan, records, n, exact=lab.exact):
        tokens = {d: int(round(v)) for d, v in p.mixture.tokens.items()}
        total = sum(tokens.values())
        out.append(PlannedProxyRun(lab.spec(p).key, p.label, total, int(round(ddo.optimum.total)), int(p.seed), tokens))
    return out


def _design_budget(label: str, total: int) -> int:
    """The budget a probe's label names (`ddo/250000/…`), else its own total."""
    parts = label.split("/")
    try:
        return int(float(parts[1])) if len(parts) > 1 else total
    except ValueError:
        return total


PLAN_COLUMNS = ("run", "role", "scale", "budget", "seed")


def write_plan(config: StudyConfig, runs: Sequence[PlannedProxyRun], out: str | Path, *, fmt: str = "json",
               paths: Mapping[str, str] | None = None, design: str = "ddo", max_epochs: float = 1.0) -> tuple[Path, list[str]]:
    """`plan.csv` (run, role, scale, budget, seed, weight:<d>, tokens:<d>) and one trainer config per run in
    `out/runs/` (format `fmt`, named by run id), each with its total and the per-domain epochs
    check. Returns the plan's path and the warnings (domains a run would read more than
    `max_epochs` times)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown trainer format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out = Path(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    domains = list(config.training_domains())
    have = available_tokens(config)
    lengths = {}
    if fmt in DOCUMENT_SAMPLING:     # a trainer that samples documents needs their mean lengths
        _, lengths = corpus_facts(corpus_mod.load(config.corpus).select(domains), config.proxy.tokenizer)
    warnings = []
    for r in runs:
        feas = feasibility(r.weights, r.budget, have, max_epochs=max_epochs)
        warnings += [f"{r.run_id} ({r.role}): {w}" for w in feas.warnings()]
        export = Export(r.weights, f"autoscale-kit plan ({design}) of study {config.name}: run {r.run_id}, {r.role}",
                        r.budget, dict(paths or {}), dict(lengths), feas)
        try:
            text = write(export, fmt)
        except UserError as e:
            raise UserError(f"run {r.run_id}: {e}") from None
        (out / "runs" / export_filename(r.run_id, fmt)).write_text(text)
    path = out / "plan.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([*PLAN_COLUMNS, *[f"weight:{d}" for d in domains], *[f"tokens:{d}" for d in domains]])
        for r in runs:
            w.writerow([r.run_id, r.role, r.scale, r.budget, r.seed, *[f"{r.weights.get(d, 0.0):.6f}" for d in domains],
                        *[r.tokens.get(d, 0) for d in domains]])
    return path, warnings
