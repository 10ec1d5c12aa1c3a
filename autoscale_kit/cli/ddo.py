"""`autoscale-kit ddo`: DDO on any runs table, or on a study's plan trained at one budget."""

from __future__ import annotations

import argparse
import json

from autoscale_kit.cli.common import (add_family, domain_list, draws_bar, print_json, print_verdict, print_warnings,
                                      tokens_arg)
from autoscale_kit.core import fmt
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.jsonio import json_safe
from autoscale_kit.fit.ddo import fit_ddo
from autoscale_kit.fit.forms import FALLBACK, SURROGATE_FORMS
from autoscale_kit.fit.uncertainty import table_uncertainty
from autoscale_kit.methods.logged import verify_logged
from autoscale_kit.study.config import study_config
from autoscale_kit.study.pipeline import ddo_at_budget

NAME = "ddo"


def add(sub) -> None:
    p = sub.add_parser(
        "ddo",
        help="fit DDO's per-domain laws to a runs table and print the optimal mixture at the base total",
        description="Direct Data Optimization on a runs table (tokens:<domain> and loss:<domain> and/or "
                    "ppl:<domain> columns, one base run and runs that each change one domain). Fits "
                    "y(x) = k(x + a)^-b + c per domain and solves the constrained optimum exactly.",
    )
    p.add_argument("runs", nargs="?", default=None,
                   help="the runs table (CSV); or leave it out and give --scale and --budget to train (or load) "
                        "that study's plan at that budget through the run store")
    p.add_argument("--objective", default="mean-ppl",
                   help="what to minimise: mean-ppl (default, the paper's: mean of per-domain perplexities), "
                        "mean-loss (mean of per-domain losses in nats), loss:<domain> or ppl:<domain>")
    p.add_argument("--validation", default=None,
                   help="comma-separated validation domains the objective averages (default: every loss:/ppl: "
                        "column, evaluation-only domains included)")
    p.add_argument("--min-ratio", type=float, default=0.2,
                   help="lower bound per domain as a fraction of its base quantity (default 0.2, the paper's)")
    p.add_argument("--max-ratio", type=float, default=None,
                   help="upper bound per domain as a multiple of its base quantity (default: none)")
    p.add_argument("--amplitude", choices=["auto", "fixed", "free"], default="auto",
                   help="amplitude k of each law: fixed at 1 (the paper's form), free, or auto "
                        "(free when a domain has 5 or more distinct quantities; default)")
    p.add_argument("--base", default=None, help="the run id of the base run, when the table is ambiguous")
    p.add_argument("--no-ambiguity", action="store_true",
                   help="skip the check of alternative exact fits (3 points per domain)")
    p.add_argument("--surrogate", choices=list(SURROGATE_FORMS), default="separable",
                   help="separable: the paper's sum of one law per training domain (default); transfer: one law per "
                        "validation domain in the data it effectively sees, so substitute domains are seen; uses "
                        "every run of the table, runs that change several domains included")
    p.add_argument("--verify", type=int, default=0, metavar="N",
                   help="train the recommendation (with --scale/--budget) and accept it only if it beats the base by "
                        "more than the noise, else step back towards the base: at most N candidates (default 0: off)")
    p.add_argument("--verified", default=None, metavar="CANDIDATES.csv",
                   help="with a runs table: the verification candidates trained elsewhere (`plan --verify RUNS`, "
                        "then ingest): accept the first that beats the base by more than the noise, as --verify does")
    p.add_argument("--level", type=float, default=0.9,
                   help="nominal coverage of the intervals on the weights (default 0.9)")
    p.add_argument("--draws", type=int, default=None, metavar="N",
                   help="bootstrap draws for the intervals (default when the table holds replicates, several rows "
                        "per mixture told apart by `seed`: 200, 40 with --surrogate transfer; else none unless asked, "
                        "and then from the transfer law's residuals, a guess; 0: none)")
    p.add_argument("--scale", default=None, help="with --budget and no RUNS: the study preset whose plan is trained")
    p.add_argument("--budget", type=tokens_arg, default=None, help="with --scale: the DDO budget (e.g. 1M)")
    p.add_argument("--store", default="runs", help="with --scale: the run store (default runs/)")
    add_family(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(command="ddo")


def _trained_round(args: argparse.Namespace):
    """`ddo --scale S --budget B`: the study's plan at B trained or loaded, fitted, verified if asked."""
    changes = {"min_ratio": args.min_ratio, "level": args.level}
    if args.objective != "mean-ppl":          # the CLI's default is the paper's; a study's is its own
        changes["objective"] = args.objective
    if args.draws is not None:
        changes["interval_draws"] = args.draws
    config = study_config(args.scale, family=args.family, **changes)
    return ddo_at_budget(config, args.budget, args.store, surrogate=args.surrogate, verify=args.verify,
                         progress=not args.json)


def run(args: argparse.Namespace) -> int:
    if isinstance(args.verify, int) and args.verify < 0:
        raise UserError(f"--verify must be >= 0, got {args.verify}")
    validation = domain_list(args.validation, "--validation") if args.validation else None
    verification = None
    if args.verified and args.runs is None:
        raise UserError("--verified reads candidates trained elsewhere against a runs table; give the table (with "
                        "--scale/--budget, use --verify N, which trains them here)")
    if args.runs is None:
        if args.scale is None or args.budget is None:
            raise UserError("give a runs table, or --scale and --budget to train that study's plan at that budget")
        rd = _trained_round(args)
        result, verification, unit = rd.ddo, rd.verification, rd.unit
        source = f"the {args.scale} plan at {fmt.tokens(args.budget)} tokens"
    else:
        unit = None                            # a table's losses: bare numbers
        if args.verify:
            raise UserError("--verify trains the recommendation, which a runs table cannot do; use --scale and "
                            "--budget (or add the trained candidates to the table: the transfer form uses them)")
        if args.scale is not None or args.budget is not None:
            raise UserError("give either a runs table or --scale/--budget, not both")
        if args.family != "gpt2":
            raise UserError("--family chooses the proxies --scale trains; a runs table's losses are fitted as they are")
        options = dict(validation=validation, min_ratio=args.min_ratio, max_ratio=args.max_ratio,
                       amplitude=args.amplitude, base=args.base, surrogate=args.surrogate)
        result = fit_ddo(args.runs, args.objective, ambiguity=not args.no_ambiguity, **options)
        unc = _table_uncertainty(args, result, options, progress=not args.json)
        source = args.runs
        if args.verified:      # the candidates trained elsewhere, decided as --verify decides
            verification = verify_logged(args.runs, args.verified, result, base=args.base, surrogate=args.surrogate,
                                         fit_options={"min_ratio": args.min_ratio})
        answer_interval, verdict = unc.interval, unc.verdict()
    if args.runs is None:
        unc = rd.uncertainty
        answer_interval, verdict = rd.answer_interval, rd.verdict
    if args.json:
        out = result.to_dict()
        if verification is not None:
            out["verification"] = verification.to_dict()
            out["weights"], out["tokens"] = verification.answer.weights, verification.answer.tokens
        out["interval"] = answer_interval
        out["level"] = args.level
        out["verdict"] = verdict.to_dict() if verdict is not None else None
        out["uncertainty"] = unc.to_dict() if unc is not None else None
        print_json(json_safe(out))
        return 0
    print(f"DDO on {source}: objective {result.objective} over {', '.join(result.validation)}, "
          f"{result.surrogate} surrogate on {result.n_runs} runs, base run {result.base_run}, "
          f"total {result.optimum.total:.6g}")
    if result.surrogate != FALLBACK:      # a form other than the paper's: its own parameters
        _print_form(result)
        if verification is not None:
            print(f"verification: {verification.summary(unit)}")
            print("answer: " + ", ".join(f"{d} {w:.3f}" for d, w in verification.answer.weights.items()))
        print_verdict(verdict, answer_interval, args.level)
        print_warnings(result.warnings)
        return 0
    header = f"{'domain':<20} {'tokens':>12} {'weight':>8} {'x':>8} {'bound':>6} " \
             f"{'a':>10} {'b':>10} {'c':>10} {'k':>10} {'rmse':>9}"
    print(header)
    for d in result.optimum.domains:
        f = result.fits[d]
        print(f"{d:<20} {result.optimum[d]:>12.6g} {result.weights[d]:>8.4f} {result.relative[d]:>8.4f} "
              f"{result.at_bound.get(d, ''):>6} {f.a:>10.5g} {f.b:>10.5g} {f.c:>10.5g} {f.k:>10.5g} {f.rmse:>9.2g}")
    print(f"base objective {result.base_objective:.6g}; predicted at the optimum {result.predicted_objective:.6g}; "
          f"multiplier {result.multiplier:.6g}")
    if result.ambiguity is not None:
        print(f"ambiguity: optimal weights move by up to {result.ambiguity.max_spread:.4f} across "
              f"{result.ambiguity.n_solutions} optima from equally exact fits")
    if verification is not None:
        print(f"verification: {verification.summary(unit)}")
        print("answer: " + ", ".join(f"{d} {w:.3f}" for d, w in verification.answer.weights.items()))
    print_verdict(verdict, answer_interval, args.level)
    print_warnings(result.warnings)
    return 0


def _table_uncertainty(args: argparse.Namespace, result, options: dict, progress: bool):
    """`ddo RUNS.csv`: the interval on the optimum when the table holds replicates (or when
    --draws asks for one from residuals), and the verdict."""
    return table_uncertainty(args.runs, result, args.objective, level=args.level, draws=args.draws,
                             progress=draws_bar(progress), **options)


def _print_form(result) -> None:
    print(f"{'domain':<20} {'tokens':>12} {'weight':>8} {'x':>8} {'bound':>6}")
    for d in result.optimum.domains:
        print(f"{d:<20} {result.optimum[d]:>12.6g} {result.weights[d]:>8.4f} {result.relative[d]:>8.4f} "
              f"{result.at_bound.get(d, ''):>6}")
    print(f"base objective {result.base_objective:.6g}; predicted at the optimum {result.predicted_objective:.6g}")
    if result.transfer is None:
        print(f"{result.surrogate} parameters: {json.dumps(json_safe(result.form.parameters(result)))}")
        return
    m = result.transfer.matrix()
    print("transfer T[validation, training] (how much a token of the column teaches the row, own = 1):")
    print(m.round(3).to_string())
    laws = result.transfer.laws
    print("laws: " + "; ".join(f"{v}: b {law.b:.3g}, rmse {law.rmse:.2g}" for v, law in laws.items()))
