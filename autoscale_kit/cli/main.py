"""`autoscale-kit …`: thin commands over the modules.

Each subcommand parses flags, calls one library function and prints its result (a table, or one
JSON object with --json). A `UserError` becomes one line on stderr and exit status 2, with no
traceback and nothing half-written; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Callable, Sequence

from autoscale_kit.core import fmt
from autoscale_kit.core.errors import UserError
from autoscale_kit.fit.forms import FALLBACK, SURROGATE_FORMS, interval_draws

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as UserError (one line, exit 2) instead of exiting."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse API
        raise UserError(f"{self.prog}: {message}")


def _print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


# --- corpus -------------------------------------------------------------------------------

def _add_corpus(sub) -> None:
    p = sub.add_parser(
        "corpus",
        help="per-domain statistics of the bundled corpus, a folder of domains or a RedPajama-style JSONL/dataset",
        description="Print documents, blocks, characters and tokens per domain and split.",
    )
    p.add_argument("source", nargs="?", default=None,
                   help="a folder of domains, a RedPajama-style .jsonl file, or hf:<dataset name>; "
                        "default: the bundled corpus")
    p.add_argument("--domains", default=None, help="comma-separated subset of domains")
    p.add_argument("--tokenizer", default="bytes", help="'bytes' (default) or the path of a local Hugging Face tokenizer")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(command="corpus")


def _run_corpus(args: argparse.Namespace) -> int:
    from autoscale_kit.data import corpus as corpus_mod
    from autoscale_kit.data.tokenize import load_tokenizer

    domains = [d.strip() for d in args.domains.split(",")] if args.domains else None
    corpus = corpus_mod.load(args.source, domains=domains)
    stats = corpus_mod.statistics(corpus, tokenizer=load_tokenizer(args.tokenizer))
    if args.json:
        _print_json({"name": corpus.name, "domains": stats.to_dict(orient="records")})
    else:
        print(f"corpus: {corpus.name}")
        print(stats.to_string(index=False))
    return 0


COMMANDS["corpus"] = _run_corpus

# --- ddo / predict: the method core -------------------------------------------------------------

def _json_safe(obj):
    """Non-finite floats become null, numpy scalars plain numbers: strict JSON for any reader."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


from autoscale_kit.core.mixture import parse_tokens  # noqa: E402  (re-exported: `cli.parse_tokens`)


def _tokens_arg(text: str) -> float:
    """parse_tokens for argparse, keeping its message (argparse would replace a ValueError's)."""
    try:
        return parse_tokens(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _domain_list(text: str, flag: str) -> tuple[str, ...]:
    """'a,b' → ('a', 'b'); empty names and repeats are errors."""
    names = [d.strip() for d in str(text).split(",")]
    if any(not d for d in names):
        raise UserError(f"{flag}: empty domain name in {text!r}; separate names with single commas")
    twice = sorted({d for d in names if names.count(d) > 1})
    if twice:
        raise UserError(f"{flag}: domain {twice[0]!r} is named twice")
    return tuple(names)


def check_output_folder(path: str, flag: str) -> None:
    """An output folder that will be written after long work: refused now if it cannot be."""
    from autoscale_kit.runs.store import check_writable_folder

    check_writable_folder(path, f"{flag} folder")


def _print_warnings(messages) -> None:
    for m in messages:
        print(f"warning: {m}", file=sys.stderr)


def _add_ddo(sub) -> None:
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
    p.add_argument("--level", type=float, default=0.9,
                   help="nominal coverage of the intervals on the weights (default 0.9)")
    p.add_argument("--draws", type=int, default=None, metavar="N",
                   help="bootstrap draws for the intervals (default when the table holds replicates, several rows "
                        "per mixture told apart by `seed`: 200, 40 with --surrogate transfer; else none unless asked, "
                        "and then from the transfer law's residuals, a guess; 0: none)")
    p.add_argument("--scale", default=None, help="with --budget and no RUNS: the study preset whose plan is trained")
    p.add_argument("--budget", type=_tokens_arg, default=None, help="with --scale: the DDO budget (e.g. 1M)")
    p.add_argument("--store", default="runs", help="with --scale: the run store (default runs/)")
    _add_family(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(command="ddo")


def _trained_round(args: argparse.Namespace):
    """`ddo --scale S --budget B`: the study's plan at B trained or loaded, fitted, verified if asked."""
    from dataclasses import replace

    from autoscale_kit.study.lab import CorpusLab
    from autoscale_kit.methods.registry import ddo_round
    from autoscale_kit.study.config import study_config

    config = study_config(args.scale, family=args.family)
    budget = int(round(args.budget))
    config = replace(config, budgets=tuple(sorted({*config.budgets, budget}))) if budget not in config.budgets \
        else config
    if args.objective != "mean-ppl":
        config = replace(config, objective=args.objective)
    config = replace(config, min_ratio=args.min_ratio, level=args.level)
    if args.draws is not None:
        config = replace(config, interval_draws=args.draws)
    lab = CorpusLab(config, args.store, progress=not args.json)
    return ddo_round(lab, budget, args.surrogate, args.verify)


def _run_ddo(args: argparse.Namespace) -> int:
    from autoscale_kit.fit.ddo import fit_ddo

    if isinstance(args.verify, int) and args.verify < 0:
        raise UserError(f"--verify must be >= 0, got {args.verify}")
    validation = _domain_list(args.validation, "--validation") if args.validation else None
    verification = None
    if args.runs is None:
        if args.scale is None or args.budget is None:
            raise UserError("give a runs table, or --scale and --budget to train that study's plan at that budget")
        rd = _trained_round(args)
        result, verification = rd.ddo, rd.verification
        source = f"the {args.scale} plan at {fmt.tokens(args.budget)} tokens"
    else:
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
        _print_json(_json_safe(out))
        return 0
    print(f"DDO on {source}: objective {result.objective} over {', '.join(result.validation)}, "
          f"{result.surrogate} surrogate on {result.n_runs} runs, base run {result.base_run}, "
          f"total {result.optimum.total:.6g}")
    if result.surrogate != FALLBACK:      # a form other than the paper's: its own parameters
        _print_form(result)
        if verification is not None:
            print(f"verification: {verification.summary(rd.unit)}")
            print("answer: " + ", ".join(f"{d} {w:.3f}" for d, w in verification.answer.weights.items()))
        _print_verdict(verdict, answer_interval, args.level)
        _print_warnings(result.warnings)
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
        print(f"verification: {verification.summary(rd.unit)}")
    _print_verdict(verdict, answer_interval, args.level)
    _print_warnings(result.warnings)
    return 0


def _table_uncertainty(args: argparse.Namespace, result, options: dict, progress: bool):
    """`ddo RUNS.csv`: the interval on the optimum when the table holds replicates (or when
    --draws asks for one from residuals), and the verdict."""
    from dataclasses import replace

    from autoscale_kit.core.tables import read_runs_table
    from autoscale_kit.fit.uncertainty import check_level, ddo_uncertainty, replicate_groups

    check_level(args.level)
    table = read_runs_table(args.runs)
    replicated = any(len(g) > 1 for g in replicate_groups(table.tokens))
    default = interval_draws(args.surrogate, 200)    # a costly form (transfer) takes a share of them
    draws = args.draws if args.draws is not None else (default if replicated else 0)
    bar = _draws_bar(progress) if draws else None
    unc = ddo_uncertainty(table, args.objective, level=args.level, draws=draws, result=result, progress=bar,
                          **options)
    if not draws and args.draws is None:
        unc = replace(unc, note="the table holds no replicates (several rows per mixture, told apart by a `seed` "
                                "column), so its noise is not measured: add the plan run on a second seed, or ask "
                                "--draws 200 for an interval from the transfer law's residuals (a guess)")
    return unc


def _draws_bar(progress: bool):
    from functools import partial

    from tqdm.auto import tqdm

    return partial(tqdm, desc="interval", unit="draw", disable=not progress, leave=False)


def _print_verdict(verdict, interval, level: float) -> None:
    if interval:
        print(f"interval ({100 * level:.0f}%): " + ", ".join(f"{d} [{lo:.3f}, {hi:.3f}]"
                                                            for d, (lo, hi) in interval.items()))
    if verdict is not None:
        print(f"verdict: {verdict.text}" + (f" Then {verdict.measured}." if verdict.measured else ""))


def _print_form(result) -> None:
    print(f"{'domain':<20} {'tokens':>12} {'weight':>8} {'x':>8} {'bound':>6}")
    for d in result.optimum.domains:
        print(f"{d:<20} {result.optimum[d]:>12.6g} {result.weights[d]:>8.4f} {result.relative[d]:>8.4f} "
              f"{result.at_bound.get(d, ''):>6}")
    print(f"base objective {result.base_objective:.6g}; predicted at the optimum {result.predicted_objective:.6g}")
    if result.transfer is None:
        print(f"{result.surrogate} parameters: {json.dumps(_json_safe(result.form.parameters(result)))}")
        return
    m = result.transfer.matrix()
    print("transfer T[validation, training] (how much a token of the column teaches the row, own = 1):")
    print(m.round(3).to_string())
    laws = result.transfer.laws
    print("laws: " + "; ".join(f"{v}: b {law.b:.3g}, rmse {law.rmse:.2g}" for v, law in laws.items()))


COMMANDS["ddo"] = _run_ddo


def _add_predict(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="predict the optimal mixture at a target total from DDO optima at two or more scales",
        description="The AutoScale predictor. OPTIMA.csv has one row per scale with tokens:<domain> columns "
                    "(optimal quantities found by DDO at that scale); or several rows per scale (bootstrap draws "
                    "or replicates, told apart by a `sample` column: empty or 'estimate' for the point estimate, "
                    "the same id at every scale for paired draws), and then every draw is predicted and the "
                    "answer gets an interval per domain.",
    )
    p.add_argument("optima", help="the optima table (CSV)")
    p.add_argument("--total", type=_tokens_arg, default=None,
                   help="target total in the table's unit: 5e9, 5B, 300M, 1.5T (required unless --method step)")
    p.add_argument("--method", choices=["auto", "continuous", "least-squares", "step"], default="auto",
                   help="auto (default): continuous form for two scales, least squares for more; "
                        "step: the paper's rule N2^2/N1, whose total is an output")
    p.add_argument("--no-pin", action="store_true",
                   help="do not hold domains whose weight is the same at every scale")
    p.add_argument("--level", type=float, default=0.9, help="nominal coverage of the intervals (default 0.9)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(command="predict")


def _run_predict(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from autoscale_kit.fit.predict import predict_optimum
    from autoscale_kit.core.tables import read_optima_samples
    from autoscale_kit.fit.uncertainty import check_level, prediction_uncertainty

    if args.total is None and args.method != "step":
        raise UserError("give the target total with --total (e.g. --total 5B), or use --method step")
    check_level(args.level)
    read = read_optima_samples(args.optima)
    pinned = None if args.no_pin else "auto"
    pred = predict_optimum(read.estimates, args.total, method=args.method, pinned=pinned)
    if read.draws is not None:
        unc = prediction_uncertainty(read.estimates, read.draws, args.total, method=args.method, pinned=pinned,
                                     level=args.level)
        pred = replace(pred, uncertainty=unc, warnings=tuple(pred.warnings) + read.notes + (
            (f"{unc.boot.failed} draw(s) could not be predicted and were left out",) if unc.boot.failed else ()))
    interval = pred.interval
    if args.json:
        _print_json(_json_safe({**pred.to_dict(), "scales": list(read.labels)}))
        return 0
    t = "" if pred.path_parameter is None else f", path parameter t = {pred.path_parameter:.6g}"
    print(f"AutoScale prediction ({pred.method}{t}) at total {fmt.tokens(pred.optimum.total)} "
          f"from scales {', '.join(fmt.tokens(x) for x in pred.input_totals)}"
          + (f"; {100 * args.level:.0f}% intervals from {len(pred.uncertainty.samples)} paired draws" if interval
             else ""))
    diag = pred.path is not None and len(pred.input_totals) > 2
    print(f"{'domain':<20} {'tokens':>14} {'weight':>8}" + (f" {'low':>8} {'high':>8}" if interval else "")
          + (f" {'max|res|':>9} {'R2':>7}" if diag else ""))
    for d in pred.optimum.domains:
        line = f"{d:<20} {pred.optimum[d]:>14.6g} {pred.weights[d]:>8.4f}"
        if interval:
            line += f" {interval[d][0]:>8.4f} {interval[d][1]:>8.4f}"
        if diag and d in pred.path.domains:
            line += f" {pred.path.max_abs_residual[d]:>9.3g} {pred.path.r_squared[d]:>7.4f}"
        if d in pred.pinned:
            line += "  (pinned)"
        print(line)
    _print_warnings(pred.warnings)
    return 0


COMMANDS["predict"] = _run_predict

# --- train / runs ---------------------------------------------------------------------------

def _assigned_number(text: str, what: str) -> float:
    """A weight or token count in a domain=value pair (suffixes as in parse_tokens; 0 allowed)."""
    if str(text).strip() in ("0", "0.0"):
        return 0.0
    try:
        return parse_tokens(text)
    except UserError:
        raise UserError(f"{what} must be a non-negative number (e.g. 0.5, 2e5 or 200k), got {text!r}") from None


def _parse_assignments(text: str, what: str) -> dict[str, float]:
    """'code=0.5,books=0.5' → {'code': 0.5, 'books': 0.5}."""
    from autoscale_kit.core.mixture import parse_pairs

    return {k: _assigned_number(v, f"{what} for {k!r}") for k, v in parse_pairs(text, what).items()}


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train one proxy on one mixture and print its per-domain validation loss",
                       description="Train one proxy (GPT-2 causal LM, or BERT masked LM with --family bert) on a "
                                   "mixture (through the run store: a finished run is loaded, not retrained) and "
                                   "print per-domain validation losses.")
    p.add_argument("--corpus", default=None, help="corpus source (default: the bundled corpus)")
    p.add_argument("--domains", default=None, help="comma-separated domains to load and evaluate (default: all)")
    mix = p.add_mutually_exclusive_group()
    mix.add_argument("--weights", default=None, help="domain=weight pairs, e.g. code=0.5,books=0.5 (with --total)")
    mix.add_argument("--tokens", default=None, help="domain=tokens pairs, e.g. code=200k,books=100k")
    p.add_argument("--total", default=None, help="total tokens for --weights or uniform weights, e.g. 1M")
    p.add_argument("--preset", default="tiny", help="proxy size preset: tiny, mini, small, medium, gpt2-small")
    _add_family(p)
    p.add_argument("--config", default=None, help="a JSON file of ProxyConfig fields (over the preset)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", default=None, help="auto, cpu, cuda")
    p.add_argument("--store", default="runs", help="run store folder (default: runs)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(command="train")


def _proxy_config(args):
    from autoscale_kit.proxy.train import ProxyConfig, preset

    cfg = preset(args.preset, family=args.family)
    if args.config:
        try:
            data = json.loads(open(args.config).read())
        except OSError as exc:
            raise UserError(f"cannot read config file {args.config!r}: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise UserError(f"config file {args.config!r} is not valid JSON ({exc.msg})") from None
        if not isinstance(data, dict):
            raise UserError(f"config file {args.config!r} must hold a JSON object of ProxyConfig fields")
        cfg = ProxyConfig.from_dict({**cfg.to_dict(), **data})
    changes = {}
    if args.seed is not None:
        if args.seed < 0:
            raise UserError(f"--seed must be a non-negative integer, got {args.seed}")
        changes["seed"] = args.seed
    if args.device:
        changes["device"] = args.device
    return cfg.with_(**changes) if changes else cfg


def _run_train(args: argparse.Namespace) -> int:
    from autoscale_kit.core.mixture import Mixture
    from autoscale_kit.runs.store import CorpusRef, RunSpec, RunStore

    from autoscale_kit.proxy.train import resolve_device

    domains = _domain_list(args.domains, "--domains") if args.domains else None
    config = _proxy_config(args)
    resolve_device(config)            # a device that does not exist: refused before anything else
    store = RunStore(args.store)
    store.check_writable()
    ref = CorpusRef(args.corpus, domains)
    corpus = ref.load()
    if args.tokens:
        if args.total:
            raise UserError("give --tokens or --total, not both")
        mixture = Mixture(_parse_assignments(args.tokens, "--tokens")).rounded()
    else:
        if not args.total:
            raise UserError("give --total (e.g. --total 500k) with --weights, or --tokens")
        total = parse_tokens(args.total)
        weights = _parse_assignments(args.weights, "--weights") if args.weights else {d: 1.0 for d in corpus.domains}
        mixture = Mixture.from_weights(weights, total).rounded()
    spec = RunSpec(mixture, config, ref, label="cli/train")
    rec = store.run(spec, progress=not args.quiet)
    if args.json:
        _print_json({"run": rec.key, "path": str(rec.path), "family": config.family, "tokens": rec.tokens,
                     "val_loss": rec.val_loss, "mean_val_loss": rec.mean_val_loss, "wall_time": rec.wall_time})
    else:
        from autoscale_kit.proxy.families import family_class

        print(f"run {rec.key}  ({rec.path})")
        print(f"proxy: {family_class(config.family).display}")
        print(f"{'domain':>14} {'tokens':>12} {'val loss':>9} {'bits/byte':>9}")
        for d, v in rec.val_loss.items():
            print(f"{d:>14} {rec.tokens.get(d, 0):>12,} {v:>9.4f} {v / 0.6931471805599453:>9.4f}")
        print(f"{'mean':>14} {sum(rec.tokens.values()):>12,} {rec.mean_val_loss:>9.4f}")
    return 0


def _add_runs(sub) -> None:
    p = sub.add_parser("runs", help="the run store as a runs table",
                       description="List finished runs as a runs table (public CSV format).")
    p.add_argument("--store", default="runs", help="run store folder (default: runs)")
    p.add_argument("--csv", default=None, help="write the table to this CSV file instead of printing it")
    p.add_argument("--label", default=None, help="only runs whose label contains this text")
    p.set_defaults(command="runs")


def _run_runs(args: argparse.Namespace) -> int:
    from autoscale_kit.runs.store import RunStore

    store = RunStore(args.store)
    if not store.root.is_dir():
        raise UserError(f"run store {args.store!r} does not exist; train something first (autoscale-kit train/demo)")
    records = [r for r in store.records() if args.label is None or args.label in r.label]
    table = store.table(records)
    if args.csv:
        from autoscale_kit.core.tables import write_text_atomically

        write_text_atomically(args.csv, table.to_csv(index=False), "--csv")
        print(f"wrote {len(table)} runs to {args.csv}")
    else:
        import pandas as pd

        with pd.option_context("display.max_columns", None, "display.width", 200):
            print(table.to_string(index=False) if len(table) else "no finished runs")
    return 0


# --- demo ------------------------------------------------------------------------------------

def _add_demo(sub) -> None:
    from autoscale_kit.study.pipeline import SCALES

    p = sub.add_parser("demo", help="the whole study on the bundled corpus: DDO at two scales, prediction, "
                                    "validation, report",
                       description="Run the whole AutoScale study (resumable through the run store) and write a "
                                   "report folder.")
    p.add_argument("--scale", default="small", help=f"study size: {', '.join(SCALES)} (default: small, "
                                                    f"about 40 minutes on 2 CPU cores)")
    p.add_argument("--out", default=None, help="report folder (default: reports/<scale>)")
    p.add_argument("--store", default="runs", help="run store folder (default: runs)")
    p.add_argument("--seeds", default=None, help="validation seeds, e.g. 0,1,2 (default: the preset's)")
    p.add_argument("--domains", default=None, help="comma-separated domains (default: the preset's)")
    p.add_argument("--corpus", default=None, help="corpus source (default: the bundled corpus)")
    _add_family(p)
    _add_ddo_options(p)
    p.add_argument("--workers", type=int, default=None, help="local worker processes")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(command="demo")


def _add_family(p) -> None:
    from autoscale_kit.proxy.families import FAMILIES

    p.add_argument("--family", choices=list(FAMILIES), default="gpt2",
                   help="model family of the proxies: gpt2 (causal LM, the default) or bert (masked LM, the "
                        "paper's second setting, with its DDO ratios 1/3 and 2)")


def _add_ddo_options(p) -> None:
    """--surrogate and --verify, for the commands that run a study (demo, compare)."""
    p.add_argument("--surrogate", choices=list(SURROGATE_FORMS), default=None,
                   help="DDO's surrogate: separable (the paper's) or transfer (sees substitute domains); "
                        "default: the preset's")
    p.add_argument("--verify", type=int, default=None, metavar="N",
                   help="verify DDO at every budget: train its recommendation, accept it only if it beats the base "
                        "by more than the noise, else step back (at most N candidates; default: the preset's)")


def _ddo_overrides(args: argparse.Namespace) -> dict:
    """--surrogate / --verify as StudyConfig overrides (checked there)."""
    out = {}
    if args.surrogate is not None:
        out["surrogate"] = args.surrogate
    if args.verify is not None:
        out["verify"] = args.verify
    return out


def _run_demo(args: argparse.Namespace) -> int:
    import time

    from autoscale_kit.study.pipeline import run_study, study_config, summarize_speedup
    from autoscale_kit.present.report import write_report

    overrides = {}
    if args.seeds:
        overrides["seeds"] = _int_list(args.seeds, "--seeds")
    if args.domains:
        overrides["domains"] = _domain_list(args.domains, "--domains")
    if args.corpus:
        overrides["corpus"] = args.corpus
    if args.workers is not None:
        overrides["workers"] = args.workers
    overrides.update(_ddo_overrides(args))
    config = study_config(args.scale, family=args.family, **overrides)
    out = args.out or f"reports/{config.name}"
    check_output_folder(out, "--out")
    t0 = time.time()
    result = run_study(config, args.store, progress=not args.quiet)
    page = write_report(result, out)
    print(fmt.text_table(summarize_speedup(result.speedup),
                         {"mean_final_loss": lambda v: fmt.loss(v, None), "std_final_loss": lambda v: fmt.loss(v, None),
                          "mean_saving": fmt.percent, "std_saving": fmt.percent},
                         missing="not reached on every seed (saving), or one seed (spread)"))
    print(f"losses in {result.loss_unit}\n\n{result.verdict()}\n")
    _print_verdicts(result)
    for w in result.warnings:
        print(f"warning: {w}")
    n_runs = result.summary()["training_runs"]   # the plans, verification candidates and validation runs
    print(f"runs: {len(result.trained)} of {n_runs} trained here, the rest loaded from the store {args.store}")
    print(f"report: {page}  ({time.time() - t0:.0f} s)")
    return 0


def _print_verdicts(result) -> None:
    """The study's answer in plain words: each budget's verdict, the prediction with its interval,
    and what the target runs say against uniform."""
    level = f"{100 * result.config.level:.0f}%"
    for rd in result.rounds:
        v = rd.verdict
        if v is not None:
            print(f"DDO at {fmt.tokens(rd.total)}: {v.text}" + (f" Then {v.measured}." if v.measured else ""))
    iv = result.prediction.interval
    weights = result.prediction.weights
    cells = [f"{d} {fmt.weight(w)}" + (f" {fmt.interval(*iv[d])}" if iv else "") for d, w in weights.items()]
    print(f"predicted at {fmt.tokens(result.config.target)}" + (f" ({level} intervals)" if iv else "") + ": "
          + ", ".join(cells))
    for name, v in result.against_uniform().items():
        print(f"at the target, {name} {v['text']}")


# --- compare ---------------------------------------------------------------------------------

def _add_compare(sub) -> None:
    from autoscale_kit.methods.registry import peer_methods
    from autoscale_kit.study.pipeline import SCALES

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
    _add_family(p)
    _add_ddo_options(p)
    p.add_argument("--workers", type=int, default=None, help="local worker processes")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print one JSON object (table, weights, the study's summary)")
    p.set_defaults(command="compare")


def _run_compare(args: argparse.Namespace) -> int:
    from autoscale_kit.methods.baselines import RegMixConfig
    from autoscale_kit.study.compare import CompareConfig, compare_methods
    from autoscale_kit.methods.registry import peer_methods
    from autoscale_kit.study.pipeline import study_config

    if args.regmix_runs < 0:
        raise UserError(f"--regmix-runs must be >= 0, got {args.regmix_runs}")
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    unknown = [m for m in methods if m not in peer_methods("corpus")]
    if unknown:
        raise UserError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(peer_methods('corpus'))}")
    cmp = CompareConfig(methods=methods, mixture_preset=args.mixture_preset, regmix=RegMixConfig(runs=args.regmix_runs))
    config = study_config(args.scale, family=args.family,
                          **({"workers": args.workers} if args.workers is not None else {}), **_ddo_overrides(args))
    result = compare_methods(config, args.store, cmp, progress=not (args.quiet or args.json))
    if args.json:
        _print_json(_json_safe(result.summary()))
        return 0

    cols = ["method", "proxy_runs", "proxy_tokens", "mean_final_loss", "std_final_loss", "mean_saving", "reached"]
    print(fmt.text_table(result.table[cols], {"proxy_tokens": fmt.tokens, "mean_final_loss": lambda v: fmt.loss(v, None),
                                              "std_final_loss": lambda v: fmt.loss(v, None), "mean_saving": fmt.percent},
                         missing="not reached on every seed (saving), or one seed (spread)"))
    print(f"losses in {result.study.loss_unit}\n\n{result.study.verdict()}")
    _print_verdicts(result.study)
    return 0


# --- landscape -------------------------------------------------------------------------------

def _add_landscape(sub) -> None:
    from autoscale_kit.study.config import SCALES

    p = sub.add_parser("landscape", help="the measured mixture landscape: train a design over the simplex at several "
                                         "budgets, or fit one (any runs table) and predict a larger budget",
                       description="Ground truth for mixture methods: `landscape run` trains a grid of mixtures at "
                                   "several budgets (resumable); `landscape fit` fits a surface per budget, its "
                                   "optimum with a bootstrap interval, and a cross-budget model with a backtest.")
    ls = p.add_subparsers(dest="landscape_command", required=True, parser_class=_Parser)
    r = ls.add_parser("run", help="train the design (resumable through the run store)")
    r.add_argument("--preset", default="bundled", help="a named landscape whose settings the other flags change: "
                                                       "bundled (the shipped one: code,books,wikipedia at "
                                                       "125k,500k,2M, step 1/3, seeds 0,1) or smoke")
    r.add_argument("--domains", default=None, help="2 to 4 comma-separated domains")
    r.add_argument("--scales", default=None, help="budgets in tokens, comma-separated, e.g. 250k,1M,4M")
    r.add_argument("--step", type=_fraction, default=None, help="grid step on the simplex: 0.5, 0.3333 (1/3), 0.25, "
                                                            "0.125, …")
    r.add_argument("--seeds", default=None, help="seeds per design point, e.g. 0,1")
    r.add_argument("--random-points", type=int, default=None, help="extra Dirichlet(1) mixtures")
    r.add_argument("--model", default=None, help=f"the proxy model of a study scale ({', '.join(SCALES)}) instead "
                                                 f"of the preset's")
    r.add_argument("--corpus", default=None, help="corpus source (default: the bundled corpus)")
    r.add_argument("--store", default="runs", help="run store folder (default: runs)")
    r.add_argument("--out", default="reports/landscape", help="folder for runs.csv, curves.csv, landscape.json "
                                                             "(default: reports/landscape)")
    r.add_argument("--workers", type=int, default=2, help="local worker processes (default 2)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    f = ls.add_parser("fit", help="fit a landscape from any runs table (ours, a sweep, RegMix's released runs)")
    f.add_argument("runs", help="a runs table CSV (tokens:<d>, loss:<d>, optional scale), a `landscape run` folder, "
                                "or RegMix's mixture file with --losses")
    f.add_argument("--losses", default=None, help="RegMix's loss file, when RUNS is its mixture file")
    f.add_argument("--objective", default="mean-loss", help="mean-loss (default), mean-ppl, loss:<d> or ppl:<d>")
    f.add_argument("--target", type=_tokens_arg, default=None, help="predict the optimum at this budget (tokens)")
    f.add_argument("--query", default=None, help="MIX.csv of weight:<d> or tokens:<d> columns: predict each row's "
                                                 "objective at --target")
    f.add_argument("--bootstrap", type=int, default=100, help="bootstrap draws for the intervals (default 100)")
    f.add_argument("--level", type=float, default=0.9, help="interval level (default 0.9)")
    f.add_argument("--forms", default=None, help="surface forms to choose from by held-out error (default: all of "
                                                 "scheffe-quadratic, scheffe-cubic, mixing-law, transfer-law)")
    f.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(command="landscape")


def _fraction(text: str) -> float:
    """0.25 or 1/4."""
    try:
        if "/" in text:
            a, b = text.split("/", 1)
            return float(a) / float(b)
        return float(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"cannot read {text!r} as a step; write e.g. 0.25 or 1/3") from None


def _int_list(text: str, flag: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in str(text).split(","))
    except ValueError:
        raise UserError(f"{flag} must be integers separated by commas, got {text!r}") from None
    return values


def _run_landscape(args: argparse.Namespace) -> int:
    from pathlib import Path

    from autoscale_kit.landscape import measure as ls
    from autoscale_kit.study.landscapes import landscape_config

    if args.landscape_command == "run":
        from autoscale_kit.study.config import study_config

        changes = {"corpus": args.corpus, "workers": args.workers}
        if args.domains is not None:
            changes["domains"] = _domain_list(args.domains, "--domains")
        if args.scales is not None:
            changes["budgets"] = tuple(int(round(parse_tokens(t))) for t in args.scales.split(","))
        if args.step is not None:
            changes["step"] = args.step
        if args.seeds is not None:
            changes["seeds"] = _int_list(args.seeds, "--seeds")
        if args.random_points is not None:
            if args.random_points < 0:
                raise UserError(f"--random-points must be >= 0, got {args.random_points}")
            changes["random_points"] = args.random_points
        if args.model is not None:
            changes["proxy"] = study_config(args.model).proxy
        config = landscape_config(args.preset, **changes)
        check_output_folder(args.out, "--out")
        records = ls.train_landscape(config, args.store, progress=not args.quiet)
        how = (f"autoscale-kit landscape run --domains {','.join(config.domains)} --scales "
               f"{','.join(str(b) for b in config.budgets)} --step {config.step:.6g} --seeds "
               f"{','.join(str(s) for s in config.seeds)} --random-points {config.random_points}"
               + (f" --model {args.model}" if args.model else f" (proxy of the {args.preset} preset)"))
        out = ls.write_landscape_folder(config, records, args.out, how=how)
        print(f"{len(records)} runs ({len(config.points)} mixtures × {len(config.budgets)} budgets × "
              f"{len(config.seeds)} seeds); runs table: {out / 'runs.csv'}")
        print(f"next: autoscale-kit landscape fit {out} --target {4 * config.budgets[-1]:,}".replace(",", ""))
        return 0
    source = Path(args.runs)
    if source.is_dir() and (source / "runs.csv").is_file():
        source = source / "runs.csv"
    if args.bootstrap < 2:
        raise UserError(f"--bootstrap must be at least 2, got {args.bootstrap}")
    if not 0 < args.level < 1:
        raise UserError(f"--level must be in (0, 1), got {args.level}")
    forms = None
    if args.forms:
        from autoscale_kit.fit.surrogates import SURFACE_FORMS

        forms = tuple(x.strip() for x in args.forms.split(",") if x.strip())
        unknown = [x for x in forms if x not in SURFACE_FORMS]
        if unknown or not forms:
            raise UserError(f"--forms: unknown form(s) {', '.join(unknown) or '(none given)'}; choose from "
                            f"{', '.join(SURFACE_FORMS)}")
    runs = ls.read_landscape(source, losses=args.losses)
    query = ls.read_query(args.query, runs.domains) if args.query else None
    fit = ls.fit_landscape(runs, args.objective, target=args.target, query=query, forms=forms,
                           n_boot=args.bootstrap, level=args.level)
    if args.json:
        _print_json(_json_safe(fit.to_dict()))
        return 0
    print(ls.describe(fit))
    _print_warnings(fit.warnings)
    return 0


# --- export ----------------------------------------------------------------------------------

def _add_export(sub) -> None:
    from autoscale_kit.present.export import FORMATS

    p = sub.add_parser("export", help="write a mixture for a trainer (Megatron, OLMo-core, NeMo, litgpt, HF datasets, "
                                      "JSON, CSV) after checking what the data can serve",
                       description="Write a mixture in a trainer's format. Weights are token fractions; for "
                                   "document-sampling trainers (hf-datasets) they are converted with each domain's mean "
                                   "document length. At a total, each domain's epochs are checked first.")
    p.add_argument("source", help="a report folder of demo/compare, a ddo/predict/landscape-fit JSON, or "
                                  "domain=weight pairs (e.g. code=0.4,books=0.6)")
    p.add_argument("--format", required=True, help=f"one of {', '.join(FORMATS)}, or 'all' (with --out FOLDER)")
    p.add_argument("--mixture", default="autoscale", help="with a report folder: which of its mixtures "
                                                          "(default autoscale, the prediction at its target)")
    p.add_argument("--total", type=_tokens_arg, default=None,
                   help="training tokens (default: the source's, if it has one), e.g. 2B")
    p.add_argument("--paths", default=None, help="domain=data prefix pairs (default: each domain's name)")
    p.add_argument("--doc-tokens", default=None, help="domain=mean document length in tokens (default: measured "
                                                      "from the corpus)")
    p.add_argument("--corpus", default=None, help="the corpus the domains come from, for their sizes and document "
                                                  "lengths (default: the report's, or the bundled corpus when it "
                                                  "holds every domain)")
    p.add_argument("--max-epochs", type=float, default=1.0, help="warn past this many reads of a domain (default 1)")
    p.add_argument("--cap", action="store_true", help="cap domains at --max-epochs and redistribute the rest")
    p.add_argument("--no-repetition", action="store_true",
                   help="refuse a total that would read any domain more than once (after --cap, if given)")
    p.add_argument("--out", default=None, help="output file (default: print); a folder with --format all")
    p.set_defaults(command="export")


def _run_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from autoscale_kit.present import export as ex

    formats = ex.FORMATS if args.format == "all" else (args.format,)
    if args.format != "all" and args.format not in ex.FORMATS:
        raise UserError(f"unknown export format {args.format!r}; choose one of {', '.join(ex.FORMATS)}, or all")
    if args.format == "all" and not args.out:
        raise UserError("--format all writes one file per format: give --out FOLDER")
    weights, ctx = ex.read_source(args.source, args.mixture)
    total = int(round(args.total)) if args.total is not None else (int(ctx["total"]) if ctx.get("total") else None)
    if total is not None and total <= 0:
        raise UserError(f"--total must be a positive number of tokens, got {total}")
    paths = {}
    if args.paths:
        paths = ex.parse_assignments(args.paths, "--paths")   # a path per domain, none empty
        unknown = [d for d in paths if d not in weights]
        if unknown:
            raise UserError(f"--paths names {', '.join(unknown)}, not in the mixture ({', '.join(weights)})")
        missing = [d for d, w in weights.items() if d not in paths]
        if missing:
            raise UserError(f"--paths gives no path for {', '.join(missing)}; give one for every domain of the mixture")
    available, lengths = _export_corpus_facts(args, ctx, weights)
    if args.doc_tokens:
        given = ex.parse_assignments(args.doc_tokens, "--doc-tokens")
        for d, v in given.items():
            if d not in weights:
                raise UserError(f"--doc-tokens names {d!r}, not in the mixture ({', '.join(weights)})")
            try:
                n = float(parse_tokens(v))
            except UserError:
                raise UserError(f"--doc-tokens: the length of {d!r} must be a positive number, got {v!r}") from None
            if not n > 0:
                raise UserError(f"--doc-tokens: the length of {d!r} must be positive, got {v!r}")
            lengths[d] = n
    feas = None
    if total is not None and available is not None:
        feas = ex.feasibility(weights, total, available, max_epochs=args.max_epochs, cap=args.cap)
        final = feas.capped or weights
        if args.no_repetition:
            after = {d: final[d] * total / available[d] for d in final if available[d]}
            over = {d: e for d, e in after.items() if e > 1 + 1e-9}
            if over:
                raise UserError(f"at {fmt.tokens(total)} tokens {', '.join(f'{d} would be read {e:.2f} times' for d, e in over.items())}"
                                f" and --no-repetition refuses it; lower --total, or --cap with --max-epochs 1")
        for w in feas.warnings():
            print(f"warning: {w}" + (" (capped: see --cap)" if feas.capped is None else " (capped)"), file=sys.stderr)
    elif args.no_repetition or args.cap:
        raise UserError("--cap and --no-repetition need a total and the domains' sizes: give --total (and --corpus)")
    export = ex.Export(weights, ctx["source"], total, paths, {d: lengths[d] for d in weights if d in lengths}, feas)
    if args.format == "all":
        written = ex.write_all(export, args.out)
        for p in written:
            print(p)
        return 0
    text = ex.write(export, formats[0])
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        print(args.out)
    else:
        sys.stdout.write(text)
    return 0


def _export_corpus_facts(args, ctx, weights):
    """(available tokens, mean document lengths) per domain from the corpus the mixture is about, or
    (None, {}) when no corpus holds its domains."""
    from autoscale_kit.data import corpus as corpus_mod
    from autoscale_kit.present.export import corpus_facts

    source = args.corpus if args.corpus is not None else ctx.get("corpus")
    explicit = args.corpus is not None or ctx.get("corpus_known", False)
    if not explicit:
        bundled = corpus_mod.load(None).domains
        if not set(weights) <= set(bundled):
            return None, {}
    corpus = corpus_mod.load(source)
    missing = [d for d in weights if d not in corpus.domains]
    if missing:
        raise UserError(f"the corpus has no domain {', '.join(missing)} (it has {', '.join(corpus.domains)})")
    available, lengths = corpus_facts(corpus.select(list(weights)))
    return {d: available[d] for d in weights}, {d: lengths[d] for d in weights}


COMMANDS.update({"train": _run_train, "runs": _run_runs, "demo": _run_demo, "compare": _run_compare,
                 "landscape": _run_landscape, "export": _run_export})

# Registration order is the order in `autoscale-kit --help`.
_ADDERS = [_add_demo, _add_compare, _add_landscape, _add_corpus, _add_train, _add_runs, _add_ddo, _add_predict,
           _add_export]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="autoscale-kit",
                     description="Choose the data mixture of a pre-training run for its scale (AutoScale: DDO at small "
                                 "scales, then the predictor). Start with `autoscale-kit demo`.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in _ADDERS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UserError as exc:
        msg = " ".join(str(exc).split())  # one line, whatever the message held
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `autoscale-kit runs | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
