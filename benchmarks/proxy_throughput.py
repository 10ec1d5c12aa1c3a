"""Proxy training throughput against a minimal plain-PyTorch model of identical shape, per family.

For each family and preset: tokens/s of (a) the proxy's real training loop (`train_proxy`, data
pipeline and masking included, timed between steps so that model building and evaluation are left
out) and (b) a plain-PyTorch model of the same shape trained on batches of the same shape — for
gpt2 a GPT-2 (pre-LN, causal sdpa attention, tanh GELU, tied embeddings), for bert a BERT encoder
(post-LN, bidirectional sdpa attention, exact GELU, BERT's MLM head with tied decoder, loss on
the 15 % masked positions, a [CLS] slot in front of each window) — with AdamW and gradient
clipping; the ratio a/b; and model FLOPs utilisation of both against a matmul peak measured in
this run. Tokens are what a budget counts: predicted targets for gpt2, input text tokens for bert.

    python benchmarks/proxy_throughput.py [--families gpt2,bert] [--presets tiny,small] [--steps 40]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from autoscale_kit.data import corpus as corpus_mod
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.proxy.families.base import IGNORE
from autoscale_kit.proxy.families.bert import BertFamily, mask_tokens
from autoscale_kit.proxy.train import Callbacks, build_model, train_proxy
from autoscale_kit.proxy.config import ProxyConfig, preset
from autoscale_kit.data.tokendata import prepare_tokens


class PlainBlock(nn.Module):
    def __init__(self, d: int, h: int):
        super().__init__()
        self.h = h
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.h, C // self.h).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
        x = x + self.proj(y)
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class PlainGPT(nn.Module):
    """GPT-2 in ~30 lines: the reference for what the hardware does without framework overhead."""

    def __init__(self, vocab: int, cfg: ProxyConfig):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, cfg.n_embd), nn.Embedding(cfg.seq_len, cfg.n_embd)
        self.blocks = nn.ModuleList(PlainBlock(cfg.n_embd, cfg.n_head) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, vocab, bias=False)
        self.head.weight = self.wte.weight
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.size(1), device=idx.device))
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln_f(x))


class PlainEncoderBlock(nn.Module):
    """BERT's layer: post-LN, bidirectional attention, exact GELU."""

    def __init__(self, d: int, h: int):
        super().__init__()
        self.h = h
        self.ln1, self.ln2 = nn.LayerNorm(d, eps=1e-12), nn.LayerNorm(d, eps=1e-12)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.h, C // self.h).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, T, C)
        x = self.ln1(x + self.proj(y))
        return self.ln2(x + self.out(F.gelu(self.fc(x))))


class PlainBERT(nn.Module):
    """A BERT masked LM in ~30 lines (embeddings + LN, post-LN blocks, MLM head with tied decoder)."""

    def __init__(self, vocab: int, cfg: ProxyConfig):
        super().__init__()
        d = cfg.n_embd
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(cfg.seq_len + 1, d)
        self.ln_e = nn.LayerNorm(d, eps=1e-12)
        self.blocks = nn.ModuleList(PlainEncoderBlock(d, cfg.n_head) for _ in range(cfg.n_layer))
        self.transform, self.ln_h = nn.Linear(d, d), nn.LayerNorm(d, eps=1e-12)
        self.head = nn.Linear(d, vocab)
        self.head.weight = self.wte.weight
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)

    def forward(self, idx):
        x = self.ln_e(self.wte(idx) + self.wpe(torch.arange(idx.size(1), device=idx.device)))
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln_h(F.gelu(self.transform(x))))


PLAIN = {"gpt2": PlainGPT, "bert": PlainBERT}


def plain_batches(family: str, cfg: ProxyConfig, vocab_size: int, steps: int, device: str):
    """Random batches of the shape the family's proxy trains on (inputs, targets)."""
    g = torch.Generator().manual_seed(0)
    rng = __import__("numpy").random.default_rng(0)
    fam = BertFamily(vocab_size, None)
    out = []
    for _ in range(steps):
        x = torch.randint(0, 256, (cfg.batch_size, cfg.seq_len + 1), generator=g)
        if family == "gpt2":
            out.append((x[:, :-1].to(device), x[:, 1:].to(device)))
            continue
        tokens = x.numpy().copy()
        tokens[:, 0] = fam.cls_id
        maskable = tokens != fam.cls_id
        inputs, targets = mask_tokens(tokens, maskable, vocab_size, fam.mask_id, rng)
        out.append((torch.from_numpy(inputs).to(device), torch.from_numpy(targets).to(device)))
    return out


def matmul_peak_gflops(device: str, dtype=torch.float32, n: int = 1024, seconds: float = 2.0) -> float:
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    best = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(10):
            a @ b
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = max(best, 10 * 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def flops_per_token(n_params_matmul: int, cfg: ProxyConfig) -> float:
    """6N + 12·L·d·T (PaLM appendix B, as in nanoGPT's estimate_mfu)."""
    return 6 * n_params_matmul + 12 * cfg.n_layer * cfg.n_embd * cfg.seq_len


def plain_tokens_per_second(family: str, cfg: ProxyConfig, vocab: int, batches, device: str, amp,
                            warmup: int = 3) -> float:
    torch.manual_seed(cfg.seed)
    model = PLAIN[family](vocab, cfg).to(device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay}, {"params": other, "weight_decay": 0}],
                            lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=True)

    def step(x, y):
        with torch.autocast(device_type=device.split(":")[0], dtype=amp, enabled=amp is not None):
            logits = model(x)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1), ignore_index=IGNORE)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        return float(loss.detach())

    for x, y in batches[:warmup]:
        step(x, y)
    t = time.perf_counter()
    for x, y in batches[warmup:]:
        step(x, y)
    per_batch = cfg.batch_size * cfg.seq_len   # what a budget counts, for either family
    return (len(batches) - warmup) * per_batch / (time.perf_counter() - t)


def proxy_tokens_per_second(cfg: ProxyConfig, data, steps: int, warmup: int = 3) -> float:
    """The real loop (`train_proxy`, data pipeline included) on `steps` full batches, timed from the
    end of step `warmup` to the end of the last step (model building and evaluation excluded)."""
    n_windows = steps * cfg.batch_size
    per = n_windows // len(data.domains)
    windows = {d: per for d in data.domains}
    windows[data.domains[0]] += n_windows - per * len(data.domains)
    marks = {}

    def on_step(step, loss):
        if step == warmup or step == steps:
            if device_is_cuda:
                torch.cuda.synchronize()
            marks[step] = time.perf_counter()

    device_is_cuda = str(cfg.device).startswith("cuda") or (cfg.device == "auto" and torch.cuda.is_available())
    train_proxy(data, Mixture({d: n * cfg.seq_len for d, n in windows.items()}), cfg, progress=False,
                callbacks=Callbacks(on_step=on_step))
    return (steps - warmup) * cfg.batch_size * cfg.seq_len / (marks[steps] - marks[warmup])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", default="gpt2,bert")
    ap.add_argument("--presets", default="tiny,small")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--corpus", default=None, help="corpus source (default: the bundled corpus)")
    ap.add_argument("--json-out", default=str(Path(__file__).parent / "results" / "proxy_throughput.json"))
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    corpus = corpus_mod.load(args.corpus)
    start = time.time()
    rows = []
    for family, name in [(f, n) for f in args.families.split(",") for n in args.presets.split(",")]:
        cfg = preset(name, family=family, eval_points=0, val_tokens=512, curve_val_tokens=512, device=args.device)
        from autoscale_kit.proxy.train import _device_and_dtype

        device, amp = _device_and_dtype(cfg)
        data = prepare_tokens(corpus, cfg)
        peak = matmul_peak_gflops(device, torch.bfloat16 if amp is not None else torch.float32)
        vocab = build_model(cfg, data.vocab_size, data.eos_id).config.vocab_size
        batches = plain_batches(family, cfg, data.vocab_size, args.steps, device)
        proxy, plain = 0.0, 0.0
        for _ in range(args.repeats):  # interleaved, best of each: the machine may be shared
            plain = max(plain, plain_tokens_per_second(family, cfg, vocab, batches, device, amp))
            proxy = max(proxy, proxy_tokens_per_second(cfg, data, args.steps))
        model = build_model(cfg, data.vocab_size, data.eos_id)
        positions = (model.transformer.wpe if family == "gpt2" else model.bert.embeddings.position_embeddings)
        n_matmul = sum(p.numel() for p in model.parameters()) - positions.weight.numel()
        fpt = flops_per_token(n_matmul, cfg)
        rows.append({
            "family": family, "preset": name, "params": sum(p.numel() for p in model.parameters()), "device": device,
            "threads": torch.get_num_threads(), "matmul_peak_gflops": peak,
            "proxy_tokens_per_s": proxy, "plain_tokens_per_s": plain, "ratio": proxy / plain,
            "proxy_mfu": proxy * fpt / (peak * 1e9), "plain_mfu": plain * fpt / (peak * 1e9),
        })
        r = rows[-1]
        print(f"{family:>5} {name:>10}  params {r['params']:>10,}  proxy {proxy:>10,.0f} tok/s  plain {plain:>10,.0f} tok/s  "
              f"ratio {r['ratio']:.3f}  MFU proxy {r['proxy_mfu']:.1%} plain {r['plain_mfu']:.1%}  "
              f"(peak {peak:,.0f} GFLOP/s, {device}, {r['threads']} threads)", flush=True)
    out = {"machine": platform.platform(), "torch": torch.__version__, "steps": args.steps,
           "repeats": args.repeats, "elapsed_s": time.time() - start, "results": rows}
    Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json_out).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
