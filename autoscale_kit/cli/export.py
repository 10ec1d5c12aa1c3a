"""`autoscale-kit export`: a mixture written for a trainer, after checking each domain's epochs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autoscale_kit.cli.common import tokens_arg
from autoscale_kit.core.errors import UserError
from autoscale_kit.present import export as ex
from autoscale_kit.present.export import FORMATS

NAME = "export"


def add(sub) -> None:
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
    p.add_argument("--total", type=tokens_arg, default=None,
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


def run(args: argparse.Namespace) -> int:
    if args.format != "all" and args.format not in ex.FORMATS:
        raise UserError(f"unknown export format {args.format!r}; choose one of {', '.join(ex.FORMATS)}, or all")
    if args.format == "all" and not args.out:
        raise UserError("--format all writes one file per format: give --out FOLDER")
    export, warnings = ex.prepare_export(args.source, mixture=args.mixture, total=args.total, paths=args.paths,
                                         doc_tokens=args.doc_tokens, corpus=args.corpus, max_epochs=args.max_epochs,
                                         cap=args.cap, no_repetition=args.no_repetition)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.format == "all":
        for path in ex.write_all(export, args.out):
            print(path)
        return 0
    text = ex.write(export, args.format)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        print(args.out)
    else:
        sys.stdout.write(text)
    return 0
