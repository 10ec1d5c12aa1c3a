"""`autoscale-kit ingest PLAN LOGS…`: the runs of a plan, trained by your trainer, read back from its
logs into runs tables that `ddo`, `landscape fit` and `predict` take."""

from __future__ import annotations

import argparse
from pathlib import Path

from autoscale_kit.cli.common import check_output_folder, domain_list, print_warnings
from autoscale_kit.core.tables import write_text_atomically
from autoscale_kit.runs.ingest import DEFAULT_PATTERNS, ingest, read_logs, read_plan

NAME = "ingest"


def add(sub) -> None:
    p = sub.add_parser("ingest", help="read the logs of a plan's runs back into runs tables",
                       description="Join each planned run (plan.csv from `autoscale-kit plan`) to its per-domain "
                                   "validation losses in what the trainer wrote: a CSV (run, loss:<d>), a Weights & "
                                   "Biases CSV export (Name, eval/<d>/loss), Hugging Face Trainer run folders "
                                   "(trainer_state.json, eval_<d>_loss) or TensorBoard event files under a run folder "
                                   "(scalars eval/<d>_loss); a folder is named by its run id.")
    p.add_argument("plan", help="plan.csv written by autoscale-kit plan")
    p.add_argument("logs", nargs="+", help="log files, or run folders (Trainer output, TensorBoard logs)")
    p.add_argument("--kind", default="auto", choices=["auto", *DEFAULT_PATTERNS],
                   help="what the logs are (default: by the file; a folder with both a "
                                                                 "trainer_state.json and event files reads the former)")
    p.add_argument("--pattern", default=None, help="the loss column / log key with {domain}, e.g. eval/{domain}/loss "
                                                   "(default per kind: " + ", ".join(f"{k} {v}" for k, v in
                                                                                     DEFAULT_PATTERNS.items()) + ")")
    p.add_argument("--eval-domains", default=None, help="validation domains to read (default: the plan's domains)")
    p.add_argument("--out", default="reports/ingest", help="folder for runs.csv and runs-<scale>.csv "
                                                           "(default reports/ingest)")
    p.set_defaults(command="ingest")


def run(args: argparse.Namespace) -> int:
    plan = read_plan(args.plan)
    domains = [c[len("tokens:"):] for c in plan.columns if c.startswith("tokens:")]
    evals = list(domain_list(args.eval_domains, "--eval-domains")) if args.eval_domains else domains
    check_output_folder(args.out, "--out")
    result = ingest(plan, read_logs(args.logs, evals, kind=args.kind, pattern=args.pattern), eval_domains=evals)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomically(out / "runs.csv", result.table.to_csv(index=False), "the runs table")
    per_scale = []
    for scale, rows in result.table.groupby("scale"):      # one DDO plan per budget, for `autoscale-kit ddo`
        path = out / f"runs-{int(scale)}.csv"
        write_text_atomically(path, rows.to_csv(index=False), "a budget's runs table")
        per_scale.append(path.name)
    print(f"{len(result.table)} of {len(plan)} planned runs read: {out / 'runs.csv'} (and {', '.join(per_scale)})")
    print_warnings(result.warnings)
    return 0
