"""What every command shares: the argparse parser that raises UserError, argument parsers for
token counts and lists, and the printing of JSON, warnings and verdicts."""

from __future__ import annotations

import argparse
import json
import sys

from autoscale_kit.core import fmt
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import parse_pairs, parse_tokens
from autoscale_kit.fit.forms import SURROGATE_FORMS
from autoscale_kit.proxy.families import FAMILIES
from autoscale_kit.data.store import cached_store, is_store
from autoscale_kit.runs.store import check_writable_folder


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as UserError (one line, exit 2) instead of exiting."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse API
        raise UserError(f"{self.prog}: {message}")


def print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def tokens_arg(text: str) -> float:
    """parse_tokens for argparse, keeping its message (argparse would replace a ValueError's)."""
    try:
        return parse_tokens(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def domain_list(text: str, flag: str) -> tuple[str, ...]:
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
    check_writable_folder(path, f"{flag} folder")


def add_corpus(p) -> None:
    """--corpus (any source, or a token store) and --token-store (build the store on first use)."""
    p.add_argument("--corpus", default=None, help="corpus source: a folder of domains, a .jsonl/.parquet file, "
                                                  "hf:<dataset>, or a token store (autoscale-kit tokenize); "
                                                  "default: the bundled corpus")
    p.add_argument("--token-store", action="store_true",
                   help="tokenise the corpus once into a token store (cached in $AUTOSCALE_STORES, default "
                        "~/.cache/autoscale_kit/stores) and train from it through memory maps: for corpora "
                        "larger than memory")
    p.add_argument("--tokenize-workers", type=int, default=1, help="processes that build the token store")


def corpus_source(args, tokenizer: str = "bytes") -> str | None:
    """The corpus source a command trains from: --corpus as given, or with --token-store the store
    of that source (built now if the cache has none)."""
    if not getattr(args, "token_store", False) or is_store(args.corpus):
        return args.corpus
    store = cached_store(args.corpus, tokenizer, workers=args.tokenize_workers,
                         progress=not getattr(args, "quiet", False))
    return str(store.path)


def print_warnings(messages) -> None:
    for m in messages:
        print(f"warning: {m}", file=sys.stderr)


def draws_bar(progress: bool):
    from functools import partial

    from tqdm.auto import tqdm

    return partial(tqdm, desc="interval", unit="draw", disable=not progress, leave=False)


def print_verdict(verdict, interval, level: float) -> None:
    if interval:
        print(f"interval ({100 * level:.0f}%): " + ", ".join(f"{d} [{lo:.3f}, {hi:.3f}]"
                                                            for d, (lo, hi) in interval.items()))
    if verdict is not None:
        print(f"verdict: {verdict.text}" + (f" Then {verdict.measured}." if verdict.measured else ""))


def assigned_number(text: str, what: str) -> float:
    """A weight or token count in a domain=value pair (suffixes as in parse_tokens; 0 allowed)."""
    if str(text).strip() in ("0", "0.0"):
        return 0.0
    try:
        return parse_tokens(text)
    except UserError:
        raise UserError(f"{what} must be a non-negative number (e.g. 0.5, 2e5 or 200k), got {text!r}") from None


def parse_number_pairs(text: str, what: str) -> dict[str, float]:
    """'code=0.5,books=0.5' → {'code': 0.5, 'books': 0.5}."""
    return {k: assigned_number(v, f"{what} for {k!r}") for k, v in parse_pairs(text, what).items()}


def add_family(p) -> None:
    p.add_argument("--family", choices=list(FAMILIES), default="gpt2",
                   help="model family of the proxies: gpt2 (causal LM, the default) or bert (masked LM, the "
                        "paper's second setting, with its DDO ratios 1/3 and 2)")


def add_ddo_options(p) -> None:
    """--surrogate and --verify, for the commands that run a study (demo, compare)."""
    p.add_argument("--surrogate", choices=list(SURROGATE_FORMS), default=None,
                   help="DDO's surrogate: separable (the paper's) or transfer (sees substitute domains); "
                        "default: the preset's")
    p.add_argument("--verify", type=int, default=None, metavar="N",
                   help="verify DDO at every budget: train its recommendation, accept it only if it beats the base "
                        "by more than the noise, else step back (at most N candidates; default: the preset's)")


def ddo_overrides(args: argparse.Namespace) -> dict:
    """--surrogate / --verify as StudyConfig overrides (checked there)."""
    out = {}
    if args.surrogate is not None:
        out["surrogate"] = args.surrogate
    if args.verify is not None:
        out["verify"] = args.verify
    return out


def print_verdicts(result) -> None:
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


def fraction(text: str) -> float:
    """0.25 or 1/4."""
    try:
        if "/" in text:
            a, b = text.split("/", 1)
            return float(a) / float(b)
        return float(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"cannot read {text!r} as a step; write e.g. 0.25 or 1/3") from None


def int_list(text: str, flag: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in str(text).split(","))
    except ValueError:
        raise UserError(f"{flag} must be integers separated by commas, got {text!r}") from None
    return values
