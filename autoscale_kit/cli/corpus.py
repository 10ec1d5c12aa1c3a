"""`autoscale-kit corpus`: documents, blocks, characters and tokens per domain of a corpus."""

from __future__ import annotations

import argparse
import sys

from autoscale_kit.cli.common import print_json
from autoscale_kit.core.errors import UserError
from autoscale_kit.data import corpus as corpus_mod
from autoscale_kit.data.store import cached_store, is_store, open_store
from autoscale_kit.data.tokenize import load_tokenizer

NAME = "corpus"


def add(sub) -> None:
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
    p.add_argument("--token-store", action="store_true", help="count from the source's token store (built now if "
                                                              "the cache has none): streams, never the whole text")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--jsonl", default=None, metavar="FOLDER",
                   help="also write each domain's train and val split as FOLDER/<domain>.<split>.jsonl ({\"text\": …} "
                        "per line), for another trainer (autoscale-kit plan --format hf-datasets --paths …)")
    p.set_defaults(command="corpus")


def run(args: argparse.Namespace) -> int:
    domains = [d.strip() for d in args.domains.split(",")] if args.domains else None
    if args.jsonl and (is_store(args.source) or args.token_store):
        raise UserError("--jsonl writes the corpus's text; a token store holds only token ids: give the text source")
    if is_store(args.source) or args.token_store:
        store = open_store(args.source) if is_store(args.source) else cached_store(args.source, args.tokenizer)
        table = store.table()
        if domains:
            store.select(domains)
            table = table[table["domain"].isin(domains)]
        if args.json:
            print_json({"name": str(store.path), "domains": table.to_dict(orient="records")})
        else:
            print(f"token store: {store.path} ({store.manifest['source']['description']}, {store.manifest['tokenizer']['name']})")
            print(table.to_string(index=False))
        return 0
    corpus = corpus_mod.load(args.source, domains=domains)
    if args.jsonl:
        written = corpus_mod.write_jsonl(corpus, args.jsonl)
        print(f"wrote {2 * len(written)} JSONL files to {args.jsonl} (<domain>.train.jsonl, <domain>.val.jsonl)",
              file=sys.stderr if args.json else sys.stdout)
    stats = corpus_mod.statistics(corpus, tokenizer=load_tokenizer(args.tokenizer))
    if args.json:
        print_json({"name": corpus.name, "domains": stats.to_dict(orient="records")})
    else:
        print(f"corpus: {corpus.name}")
        print(stats.to_string(index=False))
    return 0
