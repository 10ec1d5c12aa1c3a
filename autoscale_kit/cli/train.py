"""`autoscale-kit train`: one proxy run, printing its per-domain validation losses."""

from __future__ import annotations

import argparse
import json

from autoscale_kit.cli.common import add_corpus, add_family, corpus_source, domain_list, parse_number_pairs, print_json
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture, parse_tokens
from autoscale_kit.proxy.config import PRESETS, ProxyConfig, preset, resolve_device
from autoscale_kit.proxy.families import family_class
from autoscale_kit.runs.store import CorpusRef, RunSpec, RunStore, run_many

NAME = "train"


def add(sub) -> None:
    p = sub.add_parser("train", help="train one proxy on one mixture and print its per-domain validation loss",
                       description="Train one proxy (GPT-2 causal LM, or BERT masked LM with --family bert) on a "
                                   "mixture (through the run store: a finished run is loaded, not retrained) and "
                                   "print per-domain validation losses.")
    add_corpus(p)
    p.add_argument("--domains", default=None, help="comma-separated domains to load and evaluate (default: all)")
    mix = p.add_mutually_exclusive_group()
    mix.add_argument("--weights", default=None, help="domain=weight pairs, e.g. code=0.5,books=0.5 (with --total)")
    mix.add_argument("--tokens", default=None, help="domain=tokens pairs, e.g. code=200k,books=100k")
    p.add_argument("--total", default=None, help="total tokens for --weights or uniform weights, e.g. 1M")
    p.add_argument("--preset", default="tiny", help=f"proxy size preset: {', '.join(PRESETS)}")
    add_family(p)
    p.add_argument("--config", default=None, help="a JSON file of ProxyConfig fields (over the preset)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", default=None, help="auto, cpu, cuda")
    p.add_argument("--store", default="runs", help="run store folder (default: runs)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(command="train")


def _proxy_config(args):
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


def run(args: argparse.Namespace) -> int:
    domains = domain_list(args.domains, "--domains") if args.domains else None
    config = _proxy_config(args)
    resolve_device(config)            # a device that does not exist: refused before anything else
    store = RunStore(args.store)
    store.check_writable()
    ref = CorpusRef(corpus_source(args, config.tokenizer), domains)
    if args.tokens:
        if args.total:
            raise UserError("give --tokens or --total, not both")
        mixture = Mixture(parse_number_pairs(args.tokens, "--tokens")).rounded()
    else:
        if not args.total:
            raise UserError("give --total (e.g. --total 500k) with --weights, or --tokens")
        total = parse_tokens(args.total)
        weights = parse_number_pairs(args.weights, "--weights") if args.weights else {d: 1.0 for d in ref.domain_names()}
        mixture = Mixture.from_weights(weights, total).rounded()
    spec = RunSpec(mixture, config, ref, label="cli/train")
    rec = run_many([spec], store, progress=not args.quiet)[0]
    if args.json:
        print_json({"run": rec.key, "path": str(rec.path), "family": config.family, "tokens": rec.tokens,
                     "val_loss": rec.val_loss, "mean_val_loss": rec.mean_val_loss, "wall_time": rec.wall_time})
    else:
        print(f"run {rec.key}  ({rec.path})")
        print(f"proxy: {family_class(config.family).display}")
        print(f"{'domain':>14} {'tokens':>12} {'val loss':>9} {'bits/byte':>9}")
        for d, v in rec.val_loss.items():
            print(f"{d:>14} {rec.tokens.get(d, 0):>12,} {v:>9.4f} {v / 0.6931471805599453:>9.4f}")
        print(f"{'mean':>14} {sum(rec.tokens.values()):>12,} {rec.mean_val_loss:>9.4f}")
    return 0
