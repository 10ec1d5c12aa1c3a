"""Train one proxy model on one Mixture and measure its validation loss on every domain.

Design choices:
- The model family (GPT-2 causal LM by default) sits behind `families.ModelFamily`: this module
  holds the training loop and the evaluator (the config is `proxy.config`), and calls only the
  family's batch/build/logits and the one loss definition in `families`.
- A plain ~100-line loop rather than HF `Trainer`: DDO needs exact per-domain token budgets,
  per-domain evaluation and a deterministic run, and those are easier to see in a loop.
- Token accounting and common random numbers across runs: see `tokendata`. The initialisation
  depends on the seed only; the validation windows are fixed.
- Each run has its own warm-up + cosine schedule over its own number of steps (as in the paper).
- One callback protocol, `Callbacks`: `on_batch` (sees each batch with its per-token losses and
  may reweight the windows: DoReMi), `on_step` and `on_eval` (live plots).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.data.corpus import Corpus
from autoscale_kit.data.tokendata import TokenData, Window, check_mixture, plan_windows, prepare_tokens, segments
from autoscale_kit.proxy.config import ProxyConfig, resolve_device
from autoscale_kit.proxy.families import get_family
from autoscale_kit.proxy.families.base import IGNORE, mean_loss, summed_loss, token_losses


class TrainingDiverged(UserError):
    """The loss became NaN or exploded; the message says what to change."""


def build_model(config: ProxyConfig, vocab_size: int, eos_id: int | None):
    """The config's family's model, fresh (no download)."""
    return get_family(config.family, vocab_size, eos_id).build(config)


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _device_and_dtype(config: ProxyConfig):
    import torch

    device, dtype = resolve_device(config)
    return device, (torch.bfloat16 if dtype == "bfloat16" else None)


def _prepare_device(device: str) -> None:
    """On CUDA, TensorFloat-32 matmuls (the float32 parts of a bfloat16-autocast step)."""
    import torch

    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def _to_device(array: np.ndarray, device: str):
    """A batch on the training device: through pinned memory and an asynchronous copy on CUDA."""
    import torch

    t = torch.from_numpy(array)
    if device.startswith("cuda"):
        return t.pin_memory().to(device, non_blocking=True)
    return t if device == "cpu" else t.to(device)


def _lr_at(step: int, total: int, config: ProxyConfig) -> float:
    warm = int(config.warmup_frac * total)
    if step < warm:
        return config.lr * (step + 1) / warm
    progress = (step - warm) / max(1, total - warm)
    ratio = config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return config.lr * ratio


def _make_optimizer(model, config: ProxyConfig, device: str):
    import torch

    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": other, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(config.beta1, config.beta2), fused=True)


def evaluate(model, data: TokenData, config: ProxyConfig, device: str, amp, max_tokens: int | None = None,
             family=None) -> dict[str, float]:
    """Mean loss (nats per predicted token) on each domain's fixed validation windows (the first
    `max_tokens` worth of them, if given)."""
    import torch

    family = family or get_family(config.family, data.vocab_size, data.eos_id)
    model.eval()
    losses = {}
    with torch.no_grad():
        for d in data.domains:
            windows = data.val[d]
            if max_tokens is not None:
                windows = windows[: max(1, math.ceil(max_tokens / config.seq_len))]
            total, count = 0.0, 0
            for i in range(0, len(windows), config.eval_batch_size):
                x, y = family.eval_batch(windows[i: i + config.eval_batch_size], d, i)
                x, y = _to_device(x, device), _to_device(y, device)
                with torch.autocast(device_type=device.split(":")[0], dtype=amp, enabled=amp is not None):
                    logits = family.logits(model, x)
                loss, n = summed_loss(logits, y)
                total += float(loss)
                count += n
            losses[d] = total / count
    model.train()
    return losses


@dataclass(frozen=True)
class StepBatch:
    """One training step as `Callbacks.on_batch` sees it (tensors on the training device)."""

    step: int                 # 0-based
    windows: Sequence[Window]
    domains: tuple[str, ...]  # names; Window.domain indexes this
    inputs: object            # LongTensor (B, T): what the model reads
    targets: object           # LongTensor (B, T): the predicted tokens, IGNORE where masked
    token_loss: object        # FloatTensor (B, T): the model's per-token loss (detached), 0 where masked

    @property
    def window_domains(self) -> list[str]:
        return [self.domains[w.domain] for w in self.windows]


@dataclass(frozen=True)
class Callbacks:
    """The one callback protocol of `train_proxy`; every field is optional.

    - on_batch(StepBatch) -> window weights or None: sees each batch with its per-token losses
      before the update; weights (one per window, summing to one) replace the token-weighted mean
      of the window losses for that step (online reweighting: DoReMi). None keeps the plain mean.
    - on_step(step, loss): after each update (1-based step, the batch's training loss).
    - on_eval(curve_row): after each validation along the run (the row added to the curve).
    - on_end(model) -> {metric: value} or None: once, with the trained model (in eval mode), after
      the final validation: the hook for a downstream evaluation a user has the data for (GLUE,
      SQuAD, a probe); what it returns is kept in `TrainResult.downstream`.
    """

    on_batch: Callable[[StepBatch], object] | None = None
    on_step: Callable[[int, float], None] | None = None
    on_eval: Callable[[dict], None] | None = None
    on_end: Callable[[object], Mapping[str, float] | None] | None = None


@dataclass(frozen=True)
class TrainResult:
    """What one proxy run measured."""

    val_loss: dict[str, float]           # per domain, nats per token, at the end (all val_tokens)
    tokens: dict[str, int]               # training targets consumed per domain
    curve: list[dict] = field(default_factory=list)  # tokens_seen, step, lr, train_loss, val:<d>, val_mean
    #                                                  (validation on the first curve_val_tokens per domain)
    steps: int = 0
    n_params: int = 0
    wall_time: float = 0.0
    device: str = "cpu"
    tokens_per_second: float = 0.0
    downstream: dict[str, float] = field(default_factory=dict)   # what Callbacks.on_end returned

    @property
    def mean_val_loss(self) -> float:
        return float(np.mean(list(self.val_loss.values())))


def train_proxy(
    corpus: Corpus | TokenData,
    mixture: Mixture,
    config: ProxyConfig = ProxyConfig(),
    *,
    progress: bool = True,
    callbacks: Callbacks = Callbacks(),
    return_model: bool = False,
):
    """Train a fresh model of `config.family` on exactly `mixture`'s tokens; evaluate every
    domain of the corpus. Returns a TrainResult (and the model if asked)."""
    import torch

    if not isinstance(callbacks, Callbacks):
        raise UserError(f"callbacks must be a proxy.Callbacks, got {type(callbacks).__name__}")
    if not isinstance(corpus, (Corpus, TokenData)):
        raise UserError(f"train_proxy's corpus must be a Corpus (data.corpus.load(...)) or TokenData, got "
                        f"{type(corpus).__name__} {corpus!r:.60}" + ("; load a folder with data.corpus.load(path) first"
                                                                   if isinstance(corpus, (str, Path)) else ""))
    if not isinstance(mixture, Mixture):
        raise UserError(f"train_proxy's mixture must be a Mixture, got {type(mixture).__name__}")
    if not isinstance(config, ProxyConfig):
        raise UserError(f"train_proxy's config must be a ProxyConfig, got {type(config).__name__}")
    data = corpus if isinstance(corpus, TokenData) else prepare_tokens(corpus, config)
    tokens = check_mixture(mixture, data, config)
    threads_before = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        return _train(data, tokens, mixture, config, progress, callbacks, return_model)
    finally:
        torch.set_num_threads(threads_before)


def _train(data, tokens, mixture, config, progress, callbacks: Callbacks, return_model):
    import torch
    from tqdm.auto import tqdm

    family = get_family(config.family, data.vocab_size, data.eos_id)
    device, amp = _device_and_dtype(config)
    _prepare_device(device)
    windows = plan_windows(tokens, data, config.seq_len, config.seed)
    B = config.batch_size
    n_steps = math.ceil(len(windows) / B)

    torch.manual_seed(config.seed)
    model = family.build(config).to(device)
    model.train()
    step_model = torch.compile(model) if config.compile else model
    opt = _make_optimizer(model, config, device)
    eval_at = {max(1, round(n_steps * (k + 1) / (config.eval_points + 1))) for k in range(config.eval_points)}
    eval_at.discard(n_steps)

    curve, seen, consumed = [], 0, {d: 0 for d in data.domains}
    run_loss, run_count = 0.0, 0
    t0 = time.perf_counter()
    bar = tqdm(total=n_steps, desc="proxy", unit="step", disable=not progress, leave=False)

    def record(step: int) -> None:
        nonlocal run_loss, run_count
        val = evaluate(step_model, data, config, device, amp, max_tokens=config.curve_val_tokens, family=family)
        row = {"tokens_seen": seen, "step": step, "lr": _lr_at(step - 1, n_steps, config),
               "train_loss": run_loss / run_count if run_count else float("nan"),
               **{f"val:{d}": v for d, v in val.items()}, "val_mean": float(np.mean(list(val.values())))}
        curve.append(row)
        run_loss, run_count = 0.0, 0
        if callbacks.on_eval:
            callbacks.on_eval(row)

    first_loss = None
    for step in range(n_steps):
        batch = windows[step * B: (step + 1) * B]
        x, y = family.train_batch(*segments(batch, data, config.seq_len), step, config.seed)
        x, y = _to_device(x, device), _to_device(y, device)
        lr = _lr_at(step, n_steps, config)
        for g in opt.param_groups:
            g["lr"] = lr
        with torch.autocast(device_type=device.split(":")[0], dtype=amp, enabled=amp is not None):
            logits = family.logits(step_model, x)
        if callbacks.on_batch is None:
            loss = mean_loss(logits, y)
        else:
            per_tok = token_losses(logits, y)
            counts = (y != IGNORE).sum(dim=1).clamp(min=1)
            per_window = per_tok.sum(dim=1) / counts
            weights = callbacks.on_batch(StepBatch(step, batch, data.domains, x, y, per_tok.detach()))
            if weights is None:
                loss = per_tok.sum() / counts.sum()
            else:
                loss = (torch.as_tensor(weights, dtype=per_window.dtype, device=device) * per_window).sum()
        value = float(loss.detach())
        if first_loss is None:
            first_loss = value
        if not math.isfinite(value) or value > max(2.0 * first_loss, first_loss + 5.0):
            bar.close()
            raise TrainingDiverged(
                f"training diverged at step {step + 1} of {n_steps} (loss {value:.4g}, first loss {first_loss:.4g}); "
                f"lower the learning rate (now {config.lr:g}), lengthen warm-up (warmup_frac {config.warmup_frac:g}) "
                f"or keep gradient clipping on (grad_clip {config.grad_clip:g})")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        opt.step()
        for w in batch:
            consumed[data.domains[w.domain]] += w.targets
        seen += sum(w.targets for w in batch)
        run_loss, run_count = run_loss + value, run_count + 1
        if callbacks.on_step:
            callbacks.on_step(step + 1, value)
        bar.update(1)
        bar.set_postfix(loss=f"{value:.3f}", refresh=False)
        if step + 1 in eval_at:
            record(step + 1)
    record(n_steps)
    if config.curve_val_tokens >= config.val_tokens:  # the curve's last point already saw every window
        final = {d: curve[-1][f"val:{d}"] for d in data.domains}
    else:
        final = evaluate(step_model, data, config, device, amp, family=family)
    bar.close()
    wall = time.perf_counter() - t0
    downstream = {}
    if callbacks.on_end:
        model.eval()
        metrics = callbacks.on_end(model)
        model.train()
        if metrics is not None and not isinstance(metrics, Mapping):
            raise UserError(f"Callbacks.on_end must return a mapping of metric names to numbers or None, "
                            f"got {type(metrics).__name__}")
        downstream = {str(k): float(v) for k, v in (metrics or {}).items()}
    result = TrainResult(
        val_loss=final, tokens={d: consumed[d] for d in mixture.domains}, curve=curve, steps=n_steps,
        n_params=count_parameters(model), wall_time=wall, device=device,
        tokens_per_second=seen / wall if wall > 0 else 0.0, downstream=downstream,
    )
    return (result, model) if return_model else result
