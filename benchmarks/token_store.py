"""The token store at real size: build time, throughput and memory at 1 GB and 5 GB of text, and
what a training run from a warm store costs (time to its first step, resident memory).

What it does, on this machine, with nothing downloaded:
1. Writes a corpus of `--sizes` GB (default 1 and 5) of JSONL documents made from the bundled
   domains: each document is a 4k-32k character piece of a domain's training text starting at a
   random offset, so the documents differ, lengths vary and the domains keep their statistics.
   The 1 GB corpus is the first files of the 5 GB one (links), so the growth is the size alone.
2. Trains a byte-level BPE tokenizer (vocabulary 8,192, `tokenizers`) on 20 MB of the bundled
   corpus and saves it to `data/tokenizers/bpe-8k/tokenizer.json` (shipped: a user can rebuild it
   with `--train-tokenizer`).
3. Builds a store of each corpus with the bytes tokenizer and the BPE tokenizer, in a fresh
   process each (`autoscale-kit tokenize`), and records wall time, MB/s, tokens/s and the peak
   resident memory of the build's whole process tree (sampled every 0.1 s); then kills one build
   half-way and resumes it, counting the shards it did not redo.
4. From each warm bytes store, in a fresh process: the time from process start to the first
   training step and the peak resident memory of a `tiny` proxy run of 1M tokens over all the
   domains (beside the memory after `import torch`, and the model's own size); and two such runs
   at once from one store, with their unique (USS) and proportional (PSS) memory, which shows the
   mapped token files shared between them.
5. At the smaller size, the in-memory path (`data.corpus.load` + `prepare_tokens`) for contrast.

    python benchmarks/token_store.py [--sizes 1,5] [--work /tmp/token_store_bench] [--skip-bpe-at 5]

Writes benchmarks/results/token_store.json (with the wall time of the whole benchmark).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "token_store.json"
TOKENIZER = ROOT / "data" / "tokenizers" / "bpe-8k" / "tokenizer.json"
FILE_CHARS = 32_000_000     # characters per JSONL file (about 32 MB)
PY = sys.executable


def write_corpus(folder: Path, gigabytes: float, seed: int = 0) -> dict:
    """Domain folders of JSONL files, `gigabytes` of text in all, from the bundled domains."""
    from autoscale_kit.data.corpus import load_bundled

    corpus = load_bundled()
    per_domain = int(gigabytes * 1e9 / len(corpus))
    rng = random.Random(seed)
    t0 = time.perf_counter()
    written = 0
    for d in corpus:
        text = d.train
        out = folder / d.name
        out.mkdir(parents=True, exist_ok=True)
        chars, index = 0, 0
        while chars < per_domain:
            path = out / f"part-{index:04d}.jsonl"
            file_chars = 0
            with open(path, "w", encoding="utf-8") as fh:
                while file_chars < FILE_CHARS and chars < per_domain:
                    n = rng.randint(4_000, 32_000)
                    start = rng.randrange(0, max(1, len(text) - n))
                    piece = text[start: start + n]
                    fh.write(json.dumps({"text": piece}, ensure_ascii=False) + "\n")
                    file_chars += len(piece)
                    chars += len(piece)
            index += 1
        written += chars
    size = sum(f.stat().st_size for f in folder.rglob("*.jsonl"))
    return {"folder": str(folder), "characters": written, "bytes_on_disk": size, "files": len(list(folder.rglob("*.jsonl"))),
            "seconds": time.perf_counter() - t0}


def link_subset(big: Path, small: Path, fraction: float) -> None:
    """The first `fraction` of each domain's files of `big`, linked into `small`."""
    for dom in sorted(p for p in big.iterdir() if p.is_dir()):
        files = sorted(dom.glob("*.jsonl"))
        keep = files[: max(1, round(len(files) * fraction))]
        (small / dom.name).mkdir(parents=True, exist_ok=True)
        for f in keep:
            target = small / dom.name / f.name
            if not target.exists():
                target.symlink_to(f)


def train_tokenizer(path: Path) -> dict:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from autoscale_kit.data.corpus import load_bundled

    t0 = time.perf_counter()
    corpus = load_bundled()
    sample = [d.train[i: i + 100_000] for d in corpus for i in range(0, min(len(d.train), 3_000_000), 100_000)]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=8192, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(sample, trainer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
    (path.parent / "README.md").write_text(
        "# bpe-8k\n\nA byte-level BPE tokenizer (vocabulary 8,192, `<|endoftext|>` = id 0) trained with the "
        "`tokenizers` library on the first 3 MB of each bundled domain's training text, by "
        "`benchmarks/token_store.py --train-tokenizer`. Use it with `--tokenizer data/tokenizers/bpe-8k/tokenizer.json`.\n")
    return {"vocab_size": tok.get_vocab_size(), "trained_on_chars": sum(map(len, sample)),
            "seconds": time.perf_counter() - t0}


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def watched(cmd: list[str], *, kill_when=None, env=None) -> dict:
    """Run `cmd`, sampling the resident memory of its process tree; optionally kill it (SIGKILL to
    the whole group) as soon as `kill_when()` is true."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    ps = psutil.Process(proc.pid)
    peak = 0
    killed = False
    while proc.poll() is None:
        peak = max(peak, tree_rss(ps))
        if kill_when is not None and kill_when():
            os.killpg(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.1)
    out, err = proc.communicate()
    if proc.returncode != 0 and not killed:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    return {"seconds": time.perf_counter() - t0, "peak_rss_mb": peak / 2**20, "stdout": out, "killed": killed}


def build(source: Path, out: Path, tokenizer: str, workers: int) -> dict:
    cmd = [PY, "-m", "autoscale_kit", "tokenize", str(source), "--out", str(out), "--tokenizer", tokenizer,
           "--workers", str(workers), "--quiet", "--json"]
    r = watched(cmd)
    info = json.loads(r["stdout"])
    b = info["build"]
    tokens = sum(d["train tokens"] + d["val tokens"] for d in info["domains"])
    return {"tokenizer": tokenizer if tokenizer == "bytes" else "bpe-8k", "workers": workers,
            "wall_seconds": r["seconds"], "build_seconds": b["seconds"], "source_bytes": b["tokenised_bytes"],
            "MB_per_s": b["tokenised_bytes"] / b["tokenise_seconds"] / 1e6,
            "M_tokens_per_s": b["tokenised_tokens"] / b["tokenise_seconds"] / 1e6, "tokens": tokens,
            "shards": b["shards"], "peak_rss_mb": r["peak_rss_mb"],
            "store_bytes": sum(f.stat().st_size for f in out.rglob("*.bin"))}


def resume(source: Path, out: Path, workers: int, shards: int) -> dict:
    """Kill a build (SIGKILL to its process tree) once a third of its shards are finished, then
    start it again and count the shards it did not redo."""
    cmd = [PY, "-m", "autoscale_kit", "tokenize", str(source), "--out", str(out), "--workers", str(workers),
           "--quiet", "--json"]

    def finished() -> int:
        return len(list((out / "shards").glob("[0-9]*"))) if (out / "shards").is_dir() else 0

    first = watched(cmd, kill_when=lambda: finished() >= max(1, shards // 3))
    done_before = finished()
    second = watched(cmd)
    b = json.loads(second["stdout"])["build"]
    return {"killed_after_s": first["seconds"], "killed": first["killed"], "shards_finished_before_kill": done_before,
            "resumed_shards": b["resumed_shards"], "shards": b["shards"], "resume_seconds": second["seconds"],
            "redone_shards": b["shards"] - b["resumed_shards"]}


TRAIN_SCRIPT = r"""
import json, resource, sys, time
import psutil
me = psutil.Process()
started = me.create_time()
import torch
after_torch = me.memory_info().rss
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.proxy.config import preset
from autoscale_kit.proxy.train import Callbacks, count_parameters, build_model
from autoscale_kit.runs.store import CorpusRef, token_data
source, total, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
cfg = preset("tiny", threads=1, eval_points=0, val_tokens=8192, curve_val_tokens=8192)
if mode == "store":
    ref = CorpusRef(source)
    data = token_data(ref, cfg)
else:
    from autoscale_kit.data import corpus as corpus_mod
    from autoscale_kit.data.tokendata import prepare_tokens
    data = prepare_tokens(corpus_mod.load(source), cfg)
ready = time.time()
first = {}
def on_step(step, loss):
    if step == 1:
        first["t"] = time.time(); first["rss"] = me.memory_info().rss
mix = Mixture.from_weights({d: 1.0 for d in data.domains}, total).rounded()
from autoscale_kit.proxy.train import train_proxy
res = train_proxy(data, mix, cfg, progress=False, callbacks=Callbacks(on_step=on_step))
m = build_model(cfg, data.vocab_size, data.eos_id)
model_mb = sum(p.numel() * p.element_size() for p in m.parameters()) / 2**20
full = me.memory_full_info()
print(json.dumps({"first_step_s": first["t"] - started, "data_ready_s": ready - started,
                  "rss_after_torch_mb": after_torch / 2**20, "rss_first_step_mb": first["rss"] / 2**20,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "end_uss_mb": full.uss / 2**20, "end_pss_mb": getattr(full, "pss", 0) / 2**20,
                  "model_params_mb": model_mb, "n_params": count_parameters(m), "steps": res.steps,
                  "train_tokens": sum(res.tokens.values()), "run_seconds": res.wall_time}))
"""


def training_run(source: str, total: int, mode: str = "store") -> dict:
    r = subprocess.run([PY, "-c", TRAIN_SCRIPT, source, str(total), mode], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def two_runs(source: str, total: int) -> list[dict]:
    procs = [subprocess.Popen([PY, "-c", TRAIN_SCRIPT, source, str(total), "store"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    out = []
    for p in procs:
        o, e = p.communicate()
        if p.returncode:
            raise RuntimeError(e[-3000:])
        out.append(json.loads(o.strip().splitlines()[-1]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1,5", help="corpus sizes in GB; the largest is written, the others linked")
    ap.add_argument("--work", default="/tmp/token_store_bench")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--train-tokens", type=int, default=1_000_000)
    ap.add_argument("--skip-bpe-at", default="", help="sizes (GB) at which the BPE build is skipped")
    ap.add_argument("--no-memory-path", action="store_true", help="skip the in-memory contrast at the smallest size")
    ap.add_argument("--train-tokenizer", action="store_true", help="train data/tokenizers/bpe-8k again")
    ap.add_argument("--runs-only", action="store_true",
                    help="measure the training runs again on the stores already built (the previous numbers are "
                         "kept under 'previous_runs' with the note given by --note)")
    ap.add_argument("--note", default="", help="with --runs-only: what changed since the previous runs")
    ap.add_argument("--skip-builds", action="store_true",
                    help="keep the builds recorded in the JSON (their stores must still be in --work) and measure "
                         "everything else again")
    args = ap.parse_args()
    if args.runs_only:
        return runs_again(args)
    t_all = time.perf_counter()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    sizes = sorted(float(s) for s in args.sizes.split(","))
    skip_bpe = {float(s) for s in args.skip_bpe_at.split(",") if s}
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(), "memory_gb": psutil.virtual_memory().total / 1e9}
    result = {"benchmark": "token_store", "machine": machine, "workers": args.workers, "sizes": {}}
    if args.skip_builds:
        result = {**json.loads(RESULTS.read_text()), "machine": machine}
    if args.train_tokenizer or not TOKENIZER.exists():
        result["bpe_tokenizer"] = train_tokenizer(TOKENIZER)
    big = work / f"corpus-{sizes[-1]:g}gb"
    if not (big / "DONE").exists():
        result["corpus_written"] = write_corpus(big, sizes[-1])
        (big / "DONE").write_text("ok")
    for size in sizes:
        src = big if size == sizes[-1] else work / f"corpus-{size:g}gb"
        if src != big:
            link_subset(big, src, size / sizes[-1])
        text_bytes = sum(f.stat().st_size for f in src.rglob("*.jsonl"))
        entry = result["sizes"].get(f"{size:g}GB") if args.skip_builds else None
        entry = entry or {"source_bytes": text_bytes, "builds": []}
        print(f"== {size:g} GB ({text_bytes / 1e9:.2f} GB of JSONL)", flush=True)
        for tok in ("bytes", str(TOKENIZER)):
            if args.skip_builds or (tok != "bytes" and size in skip_bpe):
                continue
            out = work / f"store-{size:g}gb-{'bytes' if tok == 'bytes' else 'bpe'}"
            if out.exists():
                subprocess.run(["rm", "-rf", str(out)], check=True)
            b = build(src, out, tok, args.workers)
            print(json.dumps(b), flush=True)
            entry["builds"].append(b)
        store = str(work / f"store-{size:g}gb-bytes")
        entry["warm_store_run"] = training_run(store, args.train_tokens)
        print("run", json.dumps(entry["warm_store_run"]), flush=True)
        result["sizes"][f"{size:g}GB"] = entry
        entry["two_runs_one_store"] = two_runs(store, args.train_tokens)
        print("two", json.dumps(entry["two_runs_one_store"]), flush=True)
        result["sizes"][f"{size:g}GB"] = entry
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")      # so far, in case a later stage fails
    smallest = work / f"corpus-{sizes[0]:g}gb" if len(sizes) > 1 else big
    out = work / "store-resume"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    full = next(b for b in result["sizes"][f"{sizes[0]:g}GB"]["builds"] if b["tokenizer"] == "bytes")
    result["resume"] = resume(smallest, out, args.workers, full["shards"])
    print("resume", json.dumps(result["resume"]), flush=True)
    subprocess.run(["rm", "-rf", str(out)], check=True)
    if not args.no_memory_path:
        try:
            result["in_memory_path"] = {"size": f"{sizes[0]:g}GB",
                                        **training_run(str(smallest), args.train_tokens, mode="memory")}
        except RuntimeError as exc:
            result["in_memory_path"] = {"size": f"{sizes[0]:g}GB", "failed": str(exc)[-500:]}
        print("memory", json.dumps(result["in_memory_path"]), flush=True)
    result["wall_seconds"] = time.perf_counter() - t_all
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS} ({result['wall_seconds']:.0f} s)")


def runs_again(args) -> None:
    t0 = time.perf_counter()
    result = json.loads(RESULTS.read_text())
    work = Path(args.work)
    for size, entry in result["sizes"].items():
        store = str(work / f"store-{size[:-2]}gb-bytes")
        entry.setdefault("previous_runs", []).append({"note": args.note, "warm_store_run": entry["warm_store_run"],
                                                       "two_runs_one_store": entry["two_runs_one_store"]})
        entry["warm_store_run"] = training_run(store, args.train_tokens)
        print(size, "run", json.dumps(entry["warm_store_run"]), flush=True)
        entry["two_runs_one_store"] = two_runs(store, args.train_tokens)
        print(size, "two", json.dumps(entry["two_runs_one_store"]), flush=True)
    result["runs_again_wall_seconds"] = time.perf_counter() - t0
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS} ({result['runs_again_wall_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
