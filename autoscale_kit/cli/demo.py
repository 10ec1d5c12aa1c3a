"""`autoscale-kit demo`: the whole study at a named scale, resumable; writes its report folder."""

from __future__ import annotations

import argparse
from dataclasses import replace

from autoscale_kit.cli.common import (add_corpus, add_ddo_options, add_family, check_output_folder, corpus_source,
                                      ddo_overrides, domain_list, int_list, print_verdicts)
from autoscale_kit.core import fmt
from autoscale_kit.present.report import write_report
from autoscale_kit.core.errors import UserError
from autoscale_kit.study.config import SCALES, StudyFile, read_study_file, study_config
from autoscale_kit.study.pipeline import run_study, summarize_speedup

NAME = "demo"


def add(sub) -> None:
    p = sub.add_parser("demo", help="the whole study on the bundled corpus: DDO at two scales, prediction, "
                                    "validation, report",
                       description="Run the whole AutoScale study (resumable through the run store) and write a "
                                   "report folder.")
    p.add_argument("--scale", default=None, help=f"study size: {', '.join(SCALES)} (default: small, "
                                                 f"about 40 minutes on 2 CPU cores)")
    p.add_argument("--study", default=None, metavar="FILE",
                   help="a study file (TOML: corpus, domains, eval_domains, budgets, target, [proxy], seeds, methods, "
                        "…; the named scales are such files) instead of --scale; the flags below change it")
    p.add_argument("--out", default=None, help="report folder (default: reports/<scale>)")
    p.add_argument("--store", default="runs", help="run store folder (default: runs)")
    p.add_argument("--seeds", default=None, help="validation seeds, e.g. 0,1,2 (default: the preset's)")
    p.add_argument("--domains", default=None, help="comma-separated domains (default: the preset's)")
    add_corpus(p)
    add_family(p)
    add_ddo_options(p)
    p.add_argument("--workers", type=int, default=None, help="local worker processes")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(command="demo")


def run(args: argparse.Namespace) -> int:
    import time

    if args.study and args.scale:
        raise UserError("give --study FILE or --scale NAME, not both (a study file can start from a scale: "
                        "scale = \"small\")")
    study = read_study_file(args.study) if args.study else None
    if study is not None and args.family != "gpt2":
        raise UserError("--family does not change a study file; set family in its [proxy] table")
    scale = args.scale or "small"
    overrides = {}
    if args.seeds:
        overrides["seeds"] = int_list(args.seeds, "--seeds")
    if args.domains:
        overrides["domains"] = domain_list(args.domains, "--domains")
    if args.workers is not None:
        overrides["workers"] = args.workers
    overrides.update(ddo_overrides(args))
    if study is not None:
        if getattr(args, "token_store", False):   # the file's corpus, as a store
            args.corpus = args.corpus or study.config.corpus
        source = corpus_source(args, study.config.proxy.tokenizer)
        config = replace(study.config, **overrides, **({"corpus": source} if source else {}))
        study = replace(study, config=config)
    else:
        config = study_config(scale, family=args.family, **overrides)
        source = corpus_source(args, config.proxy.tokenizer)
        if source:
            config = replace(config, corpus=source)
    out = args.out or f"reports/{config.name}"
    check_output_folder(out, "--out")
    t0 = time.time()
    result = run_study(config, args.store, progress=not args.quiet, methods=study.methods if study else ())
    page = write_report(result, out, study_file=study)
    print(fmt.text_table(summarize_speedup(result.speedup),
                         {"mean_final_loss": lambda v: fmt.loss(v, None), "std_final_loss": lambda v: fmt.loss(v, None),
                          "mean_saving": fmt.percent, "std_saving": fmt.percent},
                         missing="not reached on every seed (saving), or one seed (spread)"))
    print(f"losses in {result.loss_unit}\n\n{result.verdict()}\n")
    print_verdicts(result)
    for w in result.warnings:
        print(f"warning: {w}")
    n_runs = result.summary()["training_runs"]   # the plans, verification candidates and validation runs
    print(f"runs: {len(result.trained)} of {n_runs} trained here, the rest loaded from the store {args.store}")
    print(f"report: {page}  ({time.time() - t0:.0f} s)")
    return 0
