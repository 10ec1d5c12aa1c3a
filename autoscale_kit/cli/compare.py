"""`autoscale-kit compare`: AutoScale against the peer methods, all validated at the target."""

from __future__ import annotations

import argparse

from autoscale_kit.cli.common import add_ddo_options, add_family, ddo_overrides, print_json, print_verdicts
from autoscale_kit.core import fmt
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.jsonio import json_safe
from autoscale_kit.methods.baselines import RegMixConfig
from autoscale_kit.methods.registry import peer_methods
from autoscale_kit.study.compare import CompareConfig, compare_methods
from autoscale_kit.study.config import SCALES, study_config

NAME = "compare"


def add(sub) -> None:
    METHODS = peer_methods("corpus", defaults_only=True)
    p = sub.add_parser("compare", help="AutoScale against the peer methods (natural, a preset, RegMix, Data Mixing "
                                       "Laws, DoReMi), all validated at the target scale",
                       description="Train what each peer method needs, validate every method's mixture at the "
                                   "study's target with the same seeds, and print proxy compute, final loss and "
                                   "speed-up per method. Resumable through the run store.")
    p.add_argument("--scale", default="small", help=f"study size: {', '.join(SCALES)} (default: small)")
    extra = [m for m in peer_methods("corpus") if m not in METHODS]
    p.add_argument("--methods", default=",".join(METHODS),
                   help=f"peer methods, comma-separated (default: {', '.join(METHODS)}"
                        + (f"; also {', '.join(extra)})" if extra else ")"))
    p.add_argument("--mixture-preset", default="llama",
                   help="the published mixture of the 'preset' method (llama, redpajama-tokens)")
    p.add_argument("--regmix-runs", type=int, default=0, help="RegMix proxy runs (default 0: as many as DDO's proxy "
                                                              "tokens buy at DDO's smallest scale)")
    p.add_argument("--store", default="runs", help="run store folder (default: runs)")
    add_family(p)
    add_ddo_options(p)
    p.add_argument("--workers", type=int, default=None, help="local worker processes")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print one JSON object (table, weights, the study's summary)")
    p.set_defaults(command="compare")


def run(args: argparse.Namespace) -> int:
    if args.regmix_runs < 0:
        raise UserError(f"--regmix-runs must be >= 0, got {args.regmix_runs}")
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    unknown = [m for m in methods if m not in peer_methods("corpus")]
    if unknown:
        raise UserError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(peer_methods('corpus'))}")
    cmp = CompareConfig(methods=methods, mixture_preset=args.mixture_preset, regmix=RegMixConfig(runs=args.regmix_runs))
    config = study_config(args.scale, family=args.family,
                          **({"workers": args.workers} if args.workers is not None else {}), **ddo_overrides(args))
    result = compare_methods(config, args.store, cmp, progress=not (args.quiet or args.json))
    if args.json:
        print_json(json_safe(result.summary()))
        return 0

    cols = ["method", "proxy_runs", "proxy_tokens", "mean_final_loss", "std_final_loss", "mean_saving", "reached"]
    print(fmt.text_table(result.table[cols], {"proxy_tokens": fmt.tokens, "mean_final_loss": lambda v: fmt.loss(v, None),
                                              "std_final_loss": lambda v: fmt.loss(v, None), "mean_saving": fmt.percent},
                         missing="not reached on every seed (saving), or one seed (spread)"))
    print(f"losses in {result.study.loss_unit}\n\n{result.study.verdict()}")
    print_verdicts(result.study)
    return 0
