#!/usr/bin/env python3
"""Cut the extracted documents into fixed-width train/val block files (§6.3).

Usage: blocks.py DOCS OUT [--max-train-mb 5]

Reads DOCS/<domain>.jsonl and writes, per domain and split,
  OUT/<domain>.<split>.txt    n_blocks * 1000 characters; block k is
                              text[k*1000:(k+1)*1000]
  OUT/<domain>.<split>.units  one `doc_id<TAB>offset<TAB>src` line per unit used

Why this design: documents are cut into 16,000-char units and every unit is
assigned to a split and a position by a sha256 hash of (SEED, domain, doc id,
offset), never by an RNG, so the output depends only on the documents and
the constants below.  Whole units go to one split, which limits leakage
between neighbouring train and val text.  SEED and the caps are part of the
dataset identity: changing either makes a new corpus version.
"""

import json
import sys
from pathlib import Path

# The split rule lives in the package, so that the bundled corpus and a user's own folder of
# domains are cut by the same code.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from autoscale_kit.data.corpus import BLOCK_CHARS, SPLIT_SEED, split_documents  # noqa: E402

DEFAULT_MAX_TRAIN_MB = 5


def read_documents(path):
    """(doc id, text) pairs and each document's source package, from DOCS/<domain>.jsonl."""
    docs, src = [], {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            docs.append((doc["id"], doc["text"]))
            src[doc["id"]] = doc["src"]
    return docs, src


def build_domain(docs, out, domain, max_train_chars):
    """Write <domain>.<split>.txt and .units; return (blocks, documents) per split."""
    documents, src = read_documents(docs / f"{domain}.jsonl")
    result = split_documents(domain, documents, seed=SPLIT_SEED, max_train_chars=max_train_chars)
    summary = {}
    for split in ("train", "val"):
        text, used = getattr(result, split), getattr(result, f"{split}_units")
        assert len(text) % BLOCK_CHARS == 0
        (out / f"{domain}.{split}.txt").write_bytes(text.encode("utf-8"))
        with open(out / f"{domain}.{split}.units", "w", encoding="utf-8", newline="\n") as f:
            for doc_id, u in used:
                f.write(f"{doc_id}\t{u}\t{src[doc_id]}\n")
        summary[split] = (len(text) // BLOCK_CHARS, len({d for d, _ in used}))
    return summary


def main(argv):
    args = list(argv[1:])
    max_mb = DEFAULT_MAX_TRAIN_MB
    if "--max-train-mb" in args:
        i = args.index("--max-train-mb")
        max_mb = float(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    docs, out = Path(args[0]), Path(args[1])
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(docs.glob("*.jsonl")):
        domain = path.stem
        s = build_domain(docs, out, domain, int(max_mb * 10**6))
        print(f"{domain:10s} train {s['train'][0]:5d} blocks / {s['train'][1]:4d} docs"
              f"   val {s['val'][0]:4d} blocks / {s['val'][1]:4d} docs", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
