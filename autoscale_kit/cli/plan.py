"""`autoscale-kit plan`: a study's proxy runs as configs for your own trainer, and plan.csv."""

from __future__ import annotations

import argparse
from dataclasses import replace

from autoscale_kit.cli.common import add_corpus, check_output_folder, corpus_source, domain_list, int_list, print_warnings
from autoscale_kit.core.errors import UserError
from autoscale_kit.fit.forms import SURROGATE_FORMS
from autoscale_kit.present.export import FORMATS, parse_assignments
from autoscale_kit.present.plan import DESIGNS, plan_runs, verification_runs, write_plan
from autoscale_kit.study.config import SCALES, read_study_file, study_config

NAME = "plan"


def add(sub) -> None:
    p = sub.add_parser("plan", help="write a study's proxy runs as configs for your own trainer, with plan.csv",
                       description="Which proxy runs to train — DDO's plan at every budget, a landscape grid or a "
                                   "RegMix swarm — written as one trainer config per run (the export formats) and "
                                   "plan.csv (run id, role, budget, seed, weights, tokens per domain). Name each "
                                   "trained run by its run id; `autoscale-kit ingest` reads the logs back.")
    p.add_argument("--scale", default=None, help=f"a named study: {', '.join(SCALES)} (default: small)")
    p.add_argument("--study", default=None, metavar="FILE", help="a study file (TOML) instead of --scale")
    p.add_argument("--design", default="ddo", help=f"{', '.join(DESIGNS)} (default ddo: DDO's 2K+1 runs at every "
                                                   f"budget), or any method that trains proxies")
    p.add_argument("--format", default="json", choices=list(FORMATS), help="trainer format of each run's config "
                                                                          "(default json)")
    p.add_argument("--paths", default=None, help="data path per domain, domain=prefix,… (default: placeholders)")
    p.add_argument("--domains", default=None, help="comma-separated training domains (default: the study's)")
    p.add_argument("--seeds", default=None, help="seeds of the validation runs (and a landscape's), e.g. 0,1")
    p.add_argument("--ddo-seeds", default=None, help="seeds of DDO's runs at each budget, e.g. 0 (default: the study's)")
    p.add_argument("--verify", default=None, metavar="RUNS.csv",
                   help="instead of a design: the candidate runs that verify the answer of one budget's ingested "
                        "DDO table (t = 1, 1/2, … on base → recommendation, at the base's seeds); train and ingest "
                        "them, then autoscale-kit ddo RUNS.csv --verified CANDIDATES.csv")
    p.add_argument("--candidates", type=int, default=3, help="with --verify: how many steps t (default 3)")
    p.add_argument("--objective", default="mean-ppl", help="with --verify: the objective of the fit (as ddo's, "
                                                           "default mean-ppl)")
    p.add_argument("--surrogate", choices=list(SURROGATE_FORMS), default="separable",
                   help="with --verify: the surrogate of the fit (as ddo's, default separable)")
    p.add_argument("--max-epochs", type=float, default=1.0, help="warn where a run would read a domain more often "
                                                                 "(default 1)")
    add_corpus(p)
    p.add_argument("--out", default="reports/plan", help="folder for plan.csv and runs/ (default reports/plan)")
    p.set_defaults(command="plan")


def run(args: argparse.Namespace) -> int:
    if args.study and args.scale:
        raise UserError("give --study FILE or --scale NAME, not both")
    config = read_study_file(args.study).config if args.study else study_config(args.scale or "small")
    changes = {}
    if args.domains:
        changes["domains"] = domain_list(args.domains, "--domains")
    if args.seeds:
        changes["seeds"] = int_list(args.seeds, "--seeds")
    if args.ddo_seeds:
        changes["ddo_seeds"] = int_list(args.ddo_seeds, "--ddo-seeds")
    source = corpus_source(args, config.proxy.tokenizer)
    if source:
        changes["corpus"] = source
    config = replace(config, **changes)
    paths = parse_assignments(args.paths, "--paths") if args.paths else None
    if paths:
        missing = [d for d in config.training_domains() if d not in paths]
        if missing:
            raise UserError(f"--paths gives no path for {', '.join(missing)}; give one for every domain")
    check_output_folder(args.out, "--out")
    if args.verify:
        runs = verification_runs(config, args.verify, args.candidates, objective=args.objective,
                                 surrogate=args.surrogate)
        design = "verify"
    else:
        runs, design = plan_runs(config, args.design), args.design
    path, warnings = write_plan(config, runs, args.out, fmt=args.format, paths=paths, design=design,
                                max_epochs=args.max_epochs)
    budgets = sorted({r.budget for r in runs})
    print(f"{len(runs)} proxy runs ({design}, study {config.name}; {len(budgets)} distinct totals, "
          f"{sum(r.budget for r in runs):,} tokens in all): {path}; one {args.format} config per run in "
          f"{path.parent / 'runs'}")
    print_warnings(warnings)
    print(f"next: train each run under its run id, then autoscale-kit ingest {path} LOGS…")
    return 0
