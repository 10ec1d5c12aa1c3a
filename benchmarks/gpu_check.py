"""The prepared device check: one script, one JSON, under 8 minutes on one GPU.

1. What the device is (torch, CUDA, name, memory).
2. Proxy throughput and MFU at the `gpu` scale's preset (`medium`, 10.8M parameters) and at
   `proxy-20m` (19.3M), against plain PyTorch of the same shape (`proxy_throughput.py`'s models), in
   bfloat16 autocast with TF32 and fused AdamW; on CUDA also with the opt-in `torch.compile`.
3. The aggregate throughput of 1, 2, 4 and 8 processes training at once on the one device (each a
   fresh process, as `run_many`'s pinned workers are).
4. A smoke study (`study_config("smoke")`) trained on the device, end to end, in a fresh store.

On a machine without CUDA it runs the same steps at CPU sizes (`tiny`, 1 and 2 processes, the smoke
study on the CPU) and says what it skipped; the tests run that path with --quick.

    python benchmarks/gpu_check.py [--out benchmarks/results/gpu_check.json] [--quick]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from proxy_throughput import (build_model, flops_per_token, matmul_peak_gflops, plain_batches,  # noqa: E402
                              plain_tokens_per_second, proxy_tokens_per_second)

from autoscale_kit.data import corpus as corpus_mod  # noqa: E402
from autoscale_kit.data.tokendata import prepare_tokens  # noqa: E402
from autoscale_kit.proxy.config import preset  # noqa: E402
from autoscale_kit.proxy.train import _device_and_dtype  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "gpu_check.json"

SHARE_SCRIPT = r"""
import json, sys, time, torch
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.data import corpus as corpus_mod
from autoscale_kit.data.tokendata import prepare_tokens
from autoscale_kit.proxy.config import preset
from autoscale_kit.proxy.train import Callbacks, train_proxy
name, steps, device, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
cfg = preset(name, eval_points=0, val_tokens=512, curve_val_tokens=512, device=device, threads=threads)
data = prepare_tokens(corpus_mod.load(None, domains=["code", "books", "wikipedia"]), cfg)
marks = {}
def on_step(step, loss):
    if step in (3, steps):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        marks[step] = time.time()
n = steps * cfg.batch_size * cfg.seq_len
train_proxy(data, Mixture({d: n // 3 for d in data.domains}).rounded(), cfg, progress=False,
            callbacks=Callbacks(on_step=on_step))
print(json.dumps({"start": marks[3], "end": marks[steps], "tokens": (steps - 3) * cfg.batch_size * cfg.seq_len}))
"""


def environment() -> dict:
    env = {"torch": torch.__version__, "python": platform.python_version(), "machine": platform.platform(),
           "cuda": torch.cuda.is_available()}
    if env["cuda"]:
        p = torch.cuda.get_device_properties(0)
        env.update(device=torch.cuda.get_device_name(0), devices=torch.cuda.device_count(),
                   memory_gb=p.total_memory / 1e9, capability=f"{p.major}.{p.minor}", cuda_version=torch.version.cuda)
    return env


def throughput(presets: list[str], steps: int, repeats: int, compile_too: bool) -> list[dict]:
    corpus = corpus_mod.load()
    rows = []
    for name in presets:
        cfg = preset(name, eval_points=0, val_tokens=512, curve_val_tokens=512)
        device, amp = _device_and_dtype(cfg)
        data = prepare_tokens(corpus, cfg)
        peak = matmul_peak_gflops(device, torch.bfloat16 if amp is not None else torch.float32)
        model = build_model(cfg, data.vocab_size, data.eos_id)
        vocab = model.config.vocab_size
        n_matmul = sum(p.numel() for p in model.parameters()) - model.transformer.wpe.weight.numel()
        fpt = flops_per_token(n_matmul, cfg)
        batches = plain_batches("gpt2", cfg, data.vocab_size, steps, device)
        proxy = plain = compiled = 0.0
        for _ in range(repeats):   # interleaved, best of each
            plain = max(plain, plain_tokens_per_second("gpt2", cfg, vocab, batches, device, amp))
            proxy = max(proxy, proxy_tokens_per_second(cfg, data, steps))
        if compile_too:
            compiled = proxy_tokens_per_second(cfg.with_(compile=True), data, steps, warmup=10)
        row = {"preset": name, "params": sum(p.numel() for p in model.parameters()), "device": device,
               "dtype": "bfloat16" if amp is not None else "float32", "matmul_peak_gflops": peak,
               "proxy_tokens_per_s": proxy, "plain_tokens_per_s": plain, "ratio": proxy / plain,
               "proxy_mfu": proxy * fpt / (peak * 1e9), "plain_mfu": plain * fpt / (peak * 1e9)}
        if compile_too:
            row.update(compiled_tokens_per_s=compiled, compiled_mfu=compiled * fpt / (peak * 1e9))
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def sharing(name: str, counts: list[int], steps: int, device: str) -> list[dict]:
    rows = []
    cores = max(1, (__import__("os").cpu_count() or 1))
    for n in counts:
        threads = max(1, cores // n)
        procs = [subprocess.Popen([sys.executable, "-c", SHARE_SCRIPT, name, str(steps), device, str(threads)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]
        outs = []
        for p in procs:
            o, e = p.communicate()
            if p.returncode:
                raise RuntimeError(e[-2000:])
            outs.append(json.loads(o.strip().splitlines()[-1]))
        wall = max(o["end"] for o in outs) - min(o["start"] for o in outs)
        tokens = sum(o["tokens"] for o in outs)
        rows.append({"processes": n, "preset": name, "device": device, "aggregate_tokens_per_s": tokens / wall,
                     "per_process_tokens_per_s": [o["tokens"] / (o["end"] - o["start"]) for o in outs]})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def smoke_study(device: str) -> dict:
    from dataclasses import replace

    from autoscale_kit.runs.store import RunStore
    from autoscale_kit.study.config import study_config
    from autoscale_kit.study.pipeline import run_study

    base = study_config("smoke")
    config = replace(base, proxy=base.proxy.with_(device=device))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        store = RunStore(folder)
        result = run_study(config, store, progress=False)
        devices = sorted({store.load(k).device for k in result.trained})
    return {"device": device, "seconds": time.perf_counter() - t0, "runs_trained": len(result.trained),
            "run_devices": devices, "verdict": result.verdict()}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--quick", action="store_true", help="fewest steps (the CPU test)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    env = environment()
    cuda = env["cuda"]
    out = {"benchmark": "gpu_check", "environment": env, "skipped": []}
    steps = 8 if args.quick else 40
    if cuda:
        out["throughput"] = throughput(["medium", "proxy-20m"], steps, 2, compile_too=True)
        out["sharing"] = sharing("medium", [1, 2, 4, 8], 60, "cuda")
        out["smoke_study"] = smoke_study("cuda")
    else:
        out["skipped"] += ["CUDA: no GPU here; throughput at `tiny` on the CPU instead of medium and proxy-20m",
                           "torch.compile throughput (CUDA only in this check)",
                           "4 and 8 processes sharing a device (CPU: 1 and 2)"]
        out["throughput"] = throughput(["tiny"], steps, 1, compile_too=False)
        out["sharing"] = sharing("tiny", [1, 2], max(steps, 10), "cpu")
        out["smoke_study"] = smoke_study("cpu")
    out["wall_seconds"] = time.perf_counter() - t0
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out} ({out['wall_seconds']:.0f} s)")
    return out


if __name__ == "__main__":
    main()
