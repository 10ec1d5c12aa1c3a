"""`autoscale-kit tokenize`: build a token store from a corpus source once (or open the one there),
or inspect a store; every later run reads it through memory maps (`--corpus STORE`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from autoscale_kit.cli.common import print_json
from autoscale_kit.core import fmt
from autoscale_kit.core.errors import UserError
from autoscale_kit.data.store import MAX_VAL_TOKENS, build_store, cache_root, cached_store, is_store, open_store

NAME = "tokenize"


def add(sub) -> None:
    p = sub.add_parser("tokenize", help="tokenise a corpus once into a token store that runs memory-map",
                       description="Tokenise SOURCE (a folder of domains with .txt/.jsonl files, plain or .gz/.xz/"
                                   ".zst, Parquet files, a RedPajama-style .jsonl/.parquet file, a Hugging Face "
                                   "save_to_disk folder, hf:<dataset>, or nothing for the bundled corpus) into "
                                   "per-domain token files, in parallel and resumably (a killed build keeps its "
                                   "finished shards). With --inspect, describe an existing store.")
    p.add_argument("source", nargs="?", default=None, help="the corpus source (default: the bundled corpus), or "
                                                           "with --inspect the store folder")
    p.add_argument("--out", default=None, help="the store folder (default: the cache, $AUTOSCALE_STORES or "
                                               "~/.cache/autoscale_kit/stores/<key>)")
    p.add_argument("--tokenizer", default="bytes", help="'bytes' (default) or the path of a local Hugging Face "
                                                        "tokenizer (a folder or tokenizer.json)")
    p.add_argument("--workers", type=int, default=1, help="worker processes, one shard (file) each at a time")
    p.add_argument("--text-field", default="text", help="the text field of JSONL/Parquet records (default: text)")
    p.add_argument("--domain-field", default=None, help="read every file as records naming their domain in this "
                                                        "field (dotted: meta.redpajama_set_name)")
    p.add_argument("--hf-split", default="train", help="the split of a Hugging Face dataset (default: train)")
    p.add_argument("--max-val-tokens", type=int, default=MAX_VAL_TOKENS,
                   help=f"validation tokens kept per domain (default {MAX_VAL_TOKENS:,})")
    p.add_argument("--inspect", action="store_true", help="describe the store at SOURCE instead of building")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(command="tokenize")


def run(args: argparse.Namespace) -> int:
    if args.inspect:
        if args.source is None:
            raise UserError("--inspect needs the store folder: autoscale-kit tokenize --inspect STORE")
        store = open_store(args.source)
    else:
        if args.source is not None and is_store(args.source):
            raise UserError(f"{args.source!r} is already a token store; describe it with --inspect")
        options = dict(workers=args.workers, text_field=args.text_field, domain_field=args.domain_field,
                       hf_split=args.hf_split, max_val_tokens=args.max_val_tokens, progress=not args.quiet)
        if args.out is None:
            store = cached_store(args.source, args.tokenizer, **options)
        else:
            store = build_store(args.source, Path(args.out), tokenizer=args.tokenizer, **options)
    table = store.table()
    m = store.manifest
    if args.json:
        print_json({"store": str(store.path), "source": m["source"]["description"], "tokenizer": m["tokenizer"],
                    "build": m.get("build", {}), "domains": table.to_dict(orient="records")})
        return 0
    build = m.get("build", {})
    print(f"token store: {store.path}")
    print(f"source: {m['source']['description']}  tokenizer: {m['tokenizer']['name']} "
          f"(vocabulary {m['tokenizer']['vocab_size']:,}, {m['tokenizer']['dtype']})")
    if build:
        rate = build["tokenised_bytes"] / build["tokenise_seconds"] / 1e6 if build.get("tokenise_seconds") else 0
        print(f"built in {build['seconds']:.1f} s with {build['workers']} worker(s): {build['shards']} shards, "
              f"{build['resumed_shards']} finished before; {rate:.1f} MB/s")
    print(table.to_string(index=False))
    print(f"total: {fmt.tokens(int(table['train tokens'].sum()))} training tokens; train from it with "
          f"--corpus {store.path}" + ("" if args.out or args.inspect else f"  (cache: {cache_root()})"))
    return 0
