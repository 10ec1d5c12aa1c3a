"""`autoscale-kit export`: a mixture written for a trainer, after checking each domain's epochs."""

from __future__ import annotations

import argparse
import sys
from autoscale_kit.core import fmt
from autoscale_kit.core.errors import UserError
from autoscale_kit.data import corpus as corpus_mod
from autoscale_kit.present.export import FORMATS
from autoscale_kit.present import export as ex
from autoscale_kit.present.export import corpus_facts
from autoscale_kit.core.mixture import parse_tokens
from autoscale_kit.cli.common import tokens_arg

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
    from pathlib import Path


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
