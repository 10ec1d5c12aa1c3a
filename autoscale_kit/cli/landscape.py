"""`autoscale-kit landscape run|fit`: train a grid over the simplex, or fit any runs table's landscape."""

from __future__ import annotations

import argparse
from dataclasses import replace

from autoscale_kit.cli.common import (Parser, add_corpus, check_output_folder, corpus_source, domain_list, fraction,
                                      int_list, print_json, print_warnings, tokens_arg)
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.jsonio import json_safe
from autoscale_kit.core.mixture import parse_tokens
from autoscale_kit.fit.surrogates import SURFACE_FORMS
from autoscale_kit.landscape.compare import compare_landscapes, describe_comparison
from autoscale_kit.landscape.design import train_landscape
from autoscale_kit.landscape.fit import describe, fit_landscape, read_query
from autoscale_kit.landscape.folder import write_landscape_folder
from autoscale_kit.landscape.runs import read_landscape
from autoscale_kit.runs.store import branching_tokens
from autoscale_kit.proxy.config import wsd_config
from autoscale_kit.study.config import SCALES, study_config
from autoscale_kit.study.landscapes import landscape_config

NAME = "landscape"


def add(sub) -> None:
    p = sub.add_parser("landscape", help="the measured mixture landscape: train a design over the simplex at several "
                                         "budgets, or fit one (any runs table) and predict a larger budget",
                       description="Ground truth for mixture methods: `landscape run` trains a grid of mixtures at "
                                   "several budgets (resumable); `landscape fit` fits a surface per budget, its "
                                   "optimum with a bootstrap interval, and a cross-budget model with a backtest.")
    ls = p.add_subparsers(dest="landscape_command", required=True, parser_class=Parser)
    r = ls.add_parser("run", help="train the design (resumable through the run store)")
    r.add_argument("--preset", default="bundled", help="a named landscape whose settings the other flags change: "
                                                       "bundled (the shipped one: code,books,wikipedia at "
                                                       "125k,500k,2M, step 1/3, seeds 0,1), bundled-wsd (the same "
                                                       "grid at 125k…2M, 2x apart, wsd branches) or smoke")
    r.add_argument("--domains", default=None, help="2 to 4 comma-separated domains")
    r.add_argument("--scales", default=None, help="budgets in tokens, comma-separated, e.g. 250k,1M,4M")
    r.add_argument("--step", type=fraction, default=None, help="grid step on the simplex: 0.5, 0.3333 (1/3), 0.25, "
                                                            "0.125, …")
    r.add_argument("--seeds", default=None, help="seeds per design point, e.g. 0,1")
    r.add_argument("--random-points", type=int, default=None, help="extra Dirichlet(1) mixtures")
    r.add_argument("--model", default=None, help=f"the proxy model of a study scale ({', '.join(SCALES)}) instead "
                                                 f"of the preset's")
    add_corpus(r)
    r.add_argument("--store", default="runs", help="run store folder (default: runs)")
    r.add_argument("--out", default="reports/landscape", help="folder for runs.csv, curves.csv, landscape.json "
                                                             "(default: reports/landscape)")
    r.add_argument("--workers", type=int, default=2, help="local worker processes (default 2)")
    r.add_argument("--schedule", choices=["cosine", "wsd"], default="cosine",
                   help="cosine (default: every budget its own run) or wsd (one run per point and seed to the "
                        "largest budget, the smaller ones branched off it at the start of their cooldowns)")
    r.add_argument("--cooldown", type=float, default=0.2, help="wsd: the share of a run spent decaying (default 0.2)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    f = ls.add_parser("fit", help="fit a landscape from any runs table (ours, a sweep, RegMix's released runs)")
    f.add_argument("runs", help="a runs table CSV (tokens:<d>, loss:<d>, optional scale), a `landscape run` folder, "
                                "or RegMix's mixture file with --losses")
    f.add_argument("--losses", default=None, help="RegMix's loss file, when RUNS is its mixture file")
    f.add_argument("--objective", default="mean-loss", help="mean-loss (default), mean-ppl, loss:<d> or ppl:<d>")
    f.add_argument("--target", type=tokens_arg, default=None, help="predict the optimum at this budget (tokens)")
    f.add_argument("--query", default=None, help="MIX.csv of weight:<d> or tokens:<d> columns: predict each row's "
                                                 "objective at --target")
    f.add_argument("--bootstrap", type=int, default=100, help="bootstrap draws for the intervals (default 100)")
    f.add_argument("--level", type=float, default=0.9, help="interval level (default 0.9)")
    f.add_argument("--forms", default=None, help="surface forms to choose from by held-out error (default: all of "
                                                 "scheffe-quadratic, scheffe-cubic, mixing-law, transfer-law)")
    f.add_argument("--workers", type=int, default=None,
                   help="processes fitting the budgets at once (default: 2 for a table of 500 or more runs × "
                        "validation domains, else 1)")
    f.add_argument("--json", action="store_true", help="print one JSON object")
    c = ls.add_parser("compare", help="one grid measured two ways (e.g. wsd against cosine): per budget both "
                                      "measured, the loss gap, the ranking against the seed noise, the optima")
    c.add_argument("a", help="a landscape folder (or its runs.csv): the first way")
    c.add_argument("b", help="a landscape folder (or its runs.csv): the second way, on the same points and seeds")
    c.add_argument("--names", default="a,b", help="what to call the two in the output (default a,b; e.g. wsd,cosine)")
    c.add_argument("--objective", default="mean-loss", help="mean-loss (default), mean-ppl, loss:<d> or ppl:<d>")
    c.add_argument("--bootstrap", type=int, default=100, help="bootstrap draws for the optima's intervals (default 100)")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(command="landscape")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.landscape_command == "run":
        changes = {"corpus": corpus_source(args), "workers": args.workers}
        if args.domains is not None:
            changes["domains"] = domain_list(args.domains, "--domains")
        if args.scales is not None:
            changes["budgets"] = tuple(int(round(parse_tokens(t))) for t in args.scales.split(","))
        if args.step is not None:
            changes["step"] = args.step
        if args.seeds is not None:
            changes["seeds"] = int_list(args.seeds, "--seeds")
        if args.random_points is not None:
            if args.random_points < 0:
                raise UserError(f"--random-points must be >= 0, got {args.random_points}")
            changes["random_points"] = args.random_points
        if args.model is not None:
            changes["proxy"] = study_config(args.model).proxy
        config = landscape_config(args.preset, **changes)
        if args.schedule == "wsd":
            if not 0 < args.cooldown < 1:
                raise UserError(f"--cooldown must be in (0, 1), got {args.cooldown}")
            config = replace(config, proxy=wsd_config(config.proxy, config.budgets[0], args.cooldown))
        check_output_folder(args.out, "--out")
        records = train_landscape(config, args.store, progress=not args.quiet)
        how = (f"autoscale-kit landscape run --domains {','.join(config.domains)} --scales "
               f"{','.join(str(b) for b in config.budgets)} --step {config.step:.6g} --seeds "
               f"{','.join(str(s) for s in config.seeds)} --random-points {config.random_points}"
               + (f" --schedule wsd --cooldown {args.cooldown:g}" if args.schedule == "wsd" else "")
               + (f" --model {args.model}" if args.model else f" (proxy of the {args.preset} preset)"))
        out = write_landscape_folder(config, records, args.out, how=how)
        print(f"{len(records)} runs ({len(config.points)} mixtures × {len(config.budgets)} budgets × "
              f"{len(config.seeds)} seeds); runs table: {out / 'runs.csv'}")
        if args.schedule == "wsd":
            trained, separate = branching_tokens(records)
            print(f"branching: {trained:,} proxy tokens trained where separate runs would train {separate:,} "
                  f"({trained / separate:.2f}x)")
        print(f"next: autoscale-kit landscape fit {out} --target {4 * config.budgets[-1]:,}".replace(",", ""))
        return 0
    if args.landscape_command == "compare":
        names = tuple(x.strip() for x in args.names.split(","))
        if len(names) != 2 or not all(names) or names[0] == names[1]:
            raise UserError(f"--names takes two different names separated by a comma, got {args.names!r}")
        if args.bootstrap < 2:
            raise UserError(f"--bootstrap must be at least 2, got {args.bootstrap}")
        a, b = (read_landscape(_runs_csv(Path(x))) for x in (args.a, args.b))
        results = compare_landscapes(a, b, args.objective, names=names, n_boot=args.bootstrap)
        if args.json:
            print_json(json_safe(results))
        else:
            print(describe_comparison(results, names, a.domains))
        return 0
    source = _runs_csv(Path(args.runs))
    if args.bootstrap < 2:
        raise UserError(f"--bootstrap must be at least 2, got {args.bootstrap}")
    if not 0 < args.level < 1:
        raise UserError(f"--level must be in (0, 1), got {args.level}")
    forms = None
    if args.forms:
        forms = tuple(x.strip() for x in args.forms.split(",") if x.strip())
        unknown = [x for x in forms if x not in SURFACE_FORMS]
        if unknown or not forms:
            raise UserError(f"--forms: unknown form(s) {', '.join(unknown) or '(none given)'}; choose from "
                            f"{', '.join(SURFACE_FORMS)}")
    runs = read_landscape(source, losses=args.losses)
    query = read_query(args.query, runs.domains) if args.query else None
    fit = fit_landscape(runs, args.objective, target=args.target, query=query, forms=forms,
                        n_boot=args.bootstrap, level=args.level, workers=args.workers, progress=not args.json)
    if args.json:
        print_json(json_safe(fit.to_dict()))
        return 0
    print(describe(fit))
    print_warnings(fit.warnings)
    return 0


def _runs_csv(source):
    """A landscape folder's runs.csv, or the path as given."""
    return source / "runs.csv" if source.is_dir() and (source / "runs.csv").is_file() else source
