"""Train a plan's proxy runs with Hugging Face `transformers.Trainer`: the loop's "your trainer".

    autoscale-kit corpus --jsonl data-jsonl                     # the bundled domains as JSONL
    autoscale-kit plan --scale smoke --format hf-datasets --out plan \\
        --paths code=data-jsonl/code.train.jsonl,books=data-jsonl/books.train.jsonl,wikipedia=data-jsonl/wikipedia.train.jsonl
    python examples/hf_trainer_proxy.py plan --val-dir data-jsonl --out trained
    autoscale-kit ingest plan/plan.csv trained/* --kind tensorboard --out ingested

It stands in for the trainer a user already runs and uses only transformers, datasets and torch
(nothing of autoscale_kit): for each run of plan.csv it executes the run's written hf-datasets
config (which builds `mixed` with `datasets.interleave_datasets` and states TOTAL_TOKENS), packs
the tokens into blocks, trains a tiny GPT-2 for TOTAL_TOKENS / (batch × block) steps with a cosine
schedule, evaluates every validation domain as its own eval set (so the Trainer logs
`eval_<domain>_loss`), logs to TensorBoard under `OUT/<run id>/runs/`, and saves
`trainer_state.json` there. The run folder is named by the run id, which is how `ingest` joins it
to the plan. A run whose folder already holds a finished trainer_state.json is skipped, so a killed
loop resumes where it stopped.

Tokens are UTF-8 bytes by default (the smoke and small studies count tokens that way), or a
tokenizer.json (--tokenizer) — use the tokenizer the study counted the plan's tokens with.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path


def tokenizer_of(spec: str):
    """(encode, vocab size, end-of-text id)."""
    if spec == "bytes":
        return (lambda text: list(text.encode("utf-8"))), 257, 256
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(tokenizer_file=spec)
    eos = next((t for t in ("<|endoftext|>", "</s>", "<eos>") if t in tok.get_vocab()), None)
    return (lambda text: tok(text, add_special_tokens=False)["input_ids"]), len(tok), tok.get_vocab().get(eos, 0)


def blocks_of(texts, encode, eos: int, block: int, limit: int | None = None) -> list[list[int]]:
    """Texts tokenized, each ended by `eos`, concatenated and cut into blocks of `block` tokens
    (at most `limit` blocks; the tail shorter than a block is dropped)."""
    out, buf = [], []
    for text in texts:
        buf += list(encode(text)) + [eos]
        while len(buf) >= block:
            out.append(buf[:block])
            buf = buf[block:]
            if limit is not None and len(out) >= limit:
                return out
    return out


class Blocks:
    """A torch-style dataset of token blocks, each its own labels (the model shifts them)."""

    def __init__(self, blocks):
        import torch

        self.ids = torch.tensor(blocks, dtype=torch.long)

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def finished(folder: Path) -> bool:
    state = folder / "trainer_state.json"
    if not state.is_file():
        return False
    s = json.loads(state.read_text())
    return s.get("max_steps", 0) > 0 and s.get("global_step") == s.get("max_steps")


def train_run(config: Path, out: Path, *, seed: int, val: dict[str, Path], tokenizer: str = "bytes",
              block: int = 64, batch: int = 16, lr: float = 5e-3, n_layer: int = 1, n_embd: int = 32,
              n_head: int = 2, val_tokens: int = 8192) -> Path:
    """One planned run trained and evaluated; returns its folder."""
    import os

    from transformers import GPT2Config, GPT2LMHeadModel, PrinterCallback, Trainer, TrainingArguments

    scope: dict = {}
    exec(compile(config.read_text(), str(config), "exec"), scope)    # the plan's config builds `mixed`
    total = int(scope["TOTAL_TOKENS"])
    encode, vocab, eos = tokenizer_of(tokenizer)
    steps = max(1, math.ceil(total / (batch * block)))
    train = blocks_of((row["text"] for row in scope["mixed"]), encode, eos, block, limit=steps * batch)
    if len(train) < steps * batch:
        raise SystemExit(f"{config}: the mixture ran out after {len(train)} blocks; {steps * batch} needed")
    evals = {}
    for domain, path in val.items():
        texts = (json.loads(line)["text"] for line in path.open(encoding="utf-8"))
        evals[domain] = Blocks(blocks_of(texts, encode, eos, block, limit=max(1, val_tokens // block)))
    model = GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_positions=block, n_embd=n_embd, n_layer=n_layer,
                                       n_head=n_head, bos_token_id=eos, eos_token_id=eos))
    os.environ.pop("TENSORBOARD_LOGGING_DIR", None)    # one shared log folder would lose which run is which
    args = TrainingArguments(
        output_dir=str(out), max_steps=steps, per_device_train_batch_size=batch, per_device_eval_batch_size=batch,
        learning_rate=lr, lr_scheduler_type="cosine", warmup_steps=max(1, steps // 10), weight_decay=0.0,
        eval_strategy="steps", eval_steps=steps, logging_steps=max(1, steps // 4), save_strategy="no",
        report_to=["tensorboard"], seed=seed, data_seed=seed, use_cpu=True, dataloader_num_workers=0,
        disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=Blocks(train), eval_dataset=evals)
    trainer.remove_callback(PrinterCallback)       # the logs go to TensorBoard, not the terminal
    trainer.train()                      # evaluates every domain at the last step (eval_steps = max_steps)
    trainer.save_state()                 # trainer_state.json: log_history with eval_<domain>_loss
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("plan", help="the folder autoscale-kit plan wrote (plan.csv, runs/*.hf-datasets.py)")
    p.add_argument("--val-dir", required=True, help="folder of <domain>.val.jsonl (autoscale-kit corpus --jsonl)")
    p.add_argument("--out", required=True, help="one folder per run, named by its run id")
    p.add_argument("--run", action="append", default=None, help="only this run id (repeatable)")
    p.add_argument("--eval-domains", default=None, help="validation domains (default: the plan's)")
    p.add_argument("--tokenizer", default="bytes", help="'bytes' (default) or a tokenizer.json")
    p.add_argument("--val-tokens", type=int, default=8192, help="validation tokens per domain (default 8192)")
    args = p.parse_args(argv)
    plan_dir = Path(args.plan)
    rows = list(csv.DictReader((plan_dir / "plan.csv").open()))
    domains = [c[len("tokens:"):] for c in rows[0] if c.startswith("tokens:")]
    evals = args.eval_domains.split(",") if args.eval_domains else domains
    val = {d: Path(args.val_dir) / f"{d}.val.jsonl" for d in evals}
    for d, path in val.items():
        if not path.is_file():
            raise SystemExit(f"no validation file for {d}: {path}")
    for row in rows:
        if args.run and row["run"] not in args.run:
            continue
        out = Path(args.out) / row["run"]
        if finished(out):
            print(f"{row['run']}: done before, skipped")
            continue
        config = plan_dir / "runs" / f"{row['run']}.hf-datasets.py"
        train_run(config, out, seed=int(row["seed"]), val=val, tokenizer=args.tokenizer, val_tokens=args.val_tokens)
        print(f"{row['run']} ({row['role']}): trained {row['budget']} tokens -> {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
