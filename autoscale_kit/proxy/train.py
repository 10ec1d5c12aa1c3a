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
import os
import time
from dataclasses import dataclass, field, replace
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


def warmup_steps(total: int, config: ProxyConfig) -> int:
    """Warm-up steps of a run of `total` steps: warmup_frac of them, or (wsd) a fixed number of tokens."""
    if config.schedule == "wsd" and config.warmup_tokens is not None:
        return math.ceil(config.warmup_tokens / (config.batch_size * config.seq_len))
    return int(config.warmup_frac * total)


def cooldown_start(total: int, config: ProxyConfig) -> int:
    """The first step of a wsd run's decay (its last cooldown_frac of steps), after any warm-up."""
    return max(warmup_steps(total, config), total - math.ceil(config.cooldown_frac * total))


def lr_at(step: int, total: int, config: ProxyConfig) -> float:
    """The learning rate of 0-based `step` of a run of `total` steps: linear warm-up, then cosine
    decay to lr × min_lr_ratio (cosine), or constant then a decay to zero over the last
    cooldown_frac of the steps (wsd: 1 − sqrt or linear in the decay's progress). A wsd run's rate
    before its cooldown does not depend on its length: a longer run passes through the same states."""
    warm = warmup_steps(total, config)
    if step < warm:
        return config.lr * (step + 1) / warm
    if config.schedule == "wsd":
        start = cooldown_start(total, config)
        if step < start:
            return config.lr
        progress = (step - start + 1) / max(1, total - start)      # the last step decays to zero
        shape = 1 - math.sqrt(progress) if config.cooldown_shape == "1-sqrt" else 1 - progress
        return config.lr * max(shape, 0.0)
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
    stop: int | None = None,
    branches: Sequence[int] = (),
    on_branch: Callable[[int, "TrainResult"], None] | None = None,
    checkpoint: str | Path | None = None,
):
    """Train a fresh model of `config.family` on exactly `mixture`'s tokens; evaluate every
    domain of the corpus. Returns a TrainResult (and the model if asked).

    With the wsd schedule (and its warm-up fixed in tokens), `mixture` is a plan that smaller
    budgets share: `stop=B` trains only its first B tokens, decaying to B (a dedicated run at B), and
    `branches=(B1, B2, …)` trains the whole plan once and, at the start of each B's cooldown, copies
    the state and decays the copy to B — the same computation as `stop=B`, for the price of its
    cooldown. Then the result is {budget: TrainResult} for every branch and the whole plan, and
    `on_branch(budget, result)` sees each branch as soon as it is finished (to store it). With
    `checkpoint` (a file path), the trunk's state is saved there at each branch point, and a pass
    that finds a checkpoint of the same plan resumes from it: a killed trunk redoes only the steps
    after its last branch point (the same numbers as an uninterrupted pass)."""
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
    check_stops(config, sum(tokens.values()), stop, branches)
    if branches and (callbacks.on_batch or callbacks.on_end or return_model):
        raise UserError("branches train several runs in one pass: give no on_batch or on_end callback and no "
                        "return_model with them")
    threads_before = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        return _train(data, tokens, mixture, config, progress, callbacks, return_model, tuple(branches), stop,
                      on_branch, None if checkpoint is None else Path(checkpoint))
    finally:
        torch.set_num_threads(threads_before)


def check_stops(config: ProxyConfig, total: int, stop, branches) -> None:
    """A stop or branch budgets need the wsd schedule with its warm-up in fixed tokens (else a run's
    rate before its cooldown would depend on its length) and budgets within the plan."""
    budgets = list(branches) + ([stop] if stop is not None else [])
    if not budgets:
        return
    if not config.branchable:
        raise UserError("stopping a plan early or branching it needs schedule='wsd' with warmup_tokens set (a "
                        "fixed warm-up, so that runs of every length pass through the same states)")
    for b in budgets:
        if isinstance(b, bool) or not isinstance(b, int) or not 0 < b <= total:
            raise UserError(f"a stop or branch budget must be a whole number of tokens in (0, {total:,}] (the "
                            f"plan's total), got {b!r}")
    if stop is not None and branches:
        raise UserError("give stop (one run at a budget) or branches (several from one pass), not both")


def eval_steps(n_steps: int, config: ProxyConfig) -> set[int]:
    """The 1-based steps after which a run of `n_steps` validates along the way (the last one apart)."""
    out = {max(1, round(n_steps * (k + 1) / (config.eval_points + 1))) for k in range(config.eval_points)}
    out.discard(n_steps)
    return out


@dataclass
class _Track:
    """One run's bookkeeping in a training pass: its windows, its schedule's length, its curve and
    counts (a trunk and each of its branches has one)."""

    windows: list
    n_steps: int
    eval_at: set
    domains: tuple
    curve: list = field(default_factory=list)
    seen: int = 0
    run_loss: float = 0.0
    run_count: int = 0
    consumed: dict = field(default_factory=dict)

    def __post_init__(self):
        self.consumed = {d: 0 for d in self.domains}

    def batch(self, step: int, size: int):
        return self.windows[step * size: (step + 1) * size]

    def count(self, batch, value: float) -> None:
        for w in batch:
            self.consumed[self.domains[w.domain]] += w.targets
        self.seen += sum(w.targets for w in batch)
        self.run_loss, self.run_count = self.run_loss + value, self.run_count + 1


class _Engine:
    """A model, its optimizer and the step both runs and branches take (the same code, so that a
    branch and a dedicated run at its budget compute the same numbers)."""

    def __init__(self, data, config: ProxyConfig, callbacks: Callbacks, *, model=None, opt=None, first_loss=None):
        import torch

        self.data, self.config, self.callbacks = data, config, callbacks
        self.family = get_family(config.family, data.vocab_size, data.eos_id)
        self.device, self.amp = _device_and_dtype(config)
        _prepare_device(self.device)
        if model is None:
            torch.manual_seed(config.seed)
            model = self.family.build(config).to(self.device)
            model.train()
            opt = _make_optimizer(model, config, self.device)
        self.model, self.opt = model, opt
        self.step_model = torch.compile(model) if config.compile else model
        self.first_loss = first_loss

    def fork(self) -> "_Engine":
        """A copy of this model and optimizer state, to train on without touching this one."""
        import copy

        model = copy.deepcopy(self.model)
        opt = _make_optimizer(model, self.config, self.device)
        opt.load_state_dict(copy.deepcopy(self.opt.state_dict()))   # its own moments, not the trunk's tensors
        return _Engine(self.data, self.config, self.callbacks, model=model, opt=opt, first_loss=self.first_loss)

    def step(self, batch, step: int, lr: float, n_steps: int) -> float:
        """One update on `batch` (0-based `step`) at learning rate `lr`; returns the batch's loss."""
        import torch

        data, config, device, amp, family = self.data, self.config, self.device, self.amp, self.family
        callbacks = self.callbacks
        x, y = family.train_batch(*segments(batch, data, config.seq_len), step, config.seed)
        x, y = _to_device(x, device), _to_device(y, device)
        for g in self.opt.param_groups:
            g["lr"] = lr
        with torch.autocast(device_type=device.split(":")[0], dtype=amp, enabled=amp is not None):
            logits = family.logits(self.step_model, x)
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
        if self.first_loss is None:
            self.first_loss = value
        first = self.first_loss
        if not math.isfinite(value) or value > max(2.0 * first, first + 5.0):
            raise TrainingDiverged(
                f"training diverged at step {step + 1} of {n_steps} (loss {value:.4g}, first loss {first:.4g}); "
                f"lower the learning rate (now {config.lr:g}), lengthen warm-up (warmup_frac {config.warmup_frac:g}) "
                f"or keep gradient clipping on (grad_clip {config.grad_clip:g})")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
        self.opt.step()
        return value

    def validate(self, max_tokens: int | None = None) -> dict[str, float]:
        return evaluate(self.step_model, self.data, self.config, self.device, self.amp, max_tokens=max_tokens,
                        family=self.family)

    def record(self, track: _Track, step: int) -> None:
        """A point of `track`'s loss curve after 1-based `step`."""
        val = self.validate(self.config.curve_val_tokens)
        row = {"tokens_seen": track.seen, "step": step, "lr": lr_at(step - 1, track.n_steps, self.config),
               "train_loss": track.run_loss / track.run_count if track.run_count else float("nan"),
               **{f"val:{d}": v for d, v in val.items()}, "val_mean": float(np.mean(list(val.values())))}
        track.curve.append(row)
        track.run_loss, track.run_count = 0.0, 0
        if self.callbacks.on_eval:
            self.callbacks.on_eval(row)

    def finish(self, track: _Track, mixture_domains, t0: float) -> TrainResult:
        """The last curve point, the final validation and the run's result."""
        config = self.config
        self.record(track, track.n_steps)
        if config.curve_val_tokens >= config.val_tokens:  # the curve's last point already saw every window
            final = {d: track.curve[-1][f"val:{d}"] for d in self.data.domains}
        else:
            final = self.validate()
        wall = time.perf_counter() - t0
        downstream = {}
        if self.callbacks.on_end:
            self.model.eval()
            metrics = self.callbacks.on_end(self.model)
            self.model.train()
            if metrics is not None and not isinstance(metrics, Mapping):
                raise UserError(f"Callbacks.on_end must return a mapping of metric names to numbers or None, "
                                f"got {type(metrics).__name__}")
            downstream = {str(k): float(v) for k, v in (metrics or {}).items()}
        return TrainResult(
            val_loss=final, tokens={d: track.consumed[d] for d in mixture_domains}, curve=track.curve,
            steps=track.n_steps, n_params=count_parameters(self.model), wall_time=wall, device=self.device,
            tokens_per_second=track.seen / wall if wall > 0 else 0.0, downstream=downstream,
        )


def prefix_windows(windows: Sequence[Window], total: int) -> list[Window]:
    """The first `total` training tokens of a plan: whole windows, the last one cut short."""
    out, seen = [], 0
    for w in windows:
        if seen >= total:
            break
        take = min(w.targets, total - seen)
        out.append(w if take == w.targets else replace(w, targets=take))
        seen += take
    return out


def _train(data, tokens, mixture, config, progress, callbacks: Callbacks, return_model, stops=(), stop=None,
           on_branch=None, checkpoint: Path | None = None):
    from tqdm.auto import tqdm

    B = config.batch_size
    windows = plan_windows(tokens, data, config.seq_len, config.seed, nested=config.schedule == "wsd")
    if stop is not None:
        windows = prefix_windows(windows, stop)
    total = sum(w.targets for w in windows)
    engine = _Engine(data, config, callbacks)
    n_steps = math.ceil(len(windows) / B)
    trunk = _Track(windows, n_steps, eval_steps(n_steps, config), data.domains)
    # branches: each smaller budget's run, followed in the trunk until its cooldown starts
    branches = []
    for b in sorted(set(stops)):
        if b >= total:
            continue
        w = prefix_windows(windows, b)
        n = math.ceil(len(w) / B)
        branches.append((cooldown_start(n, config), b, _Track(w, n, eval_steps(n, config), data.domains)))
    identity = {"config": config.to_dict(), "tokens": dict(tokens), "n_steps": n_steps}
    first, elapsed = 0, 0.0
    if checkpoint is not None and stops:
        first, elapsed = _resume(checkpoint, identity, engine, trunk, branches)
        branches = [b for b in branches if b[0] >= first]      # those before it were stored when made
    t0 = time.perf_counter() - elapsed
    bar = tqdm(total=n_steps - first + sum(t.n_steps - max(s, first) for s, _, t in branches), desc="proxy",
               unit="step", disable=not progress, leave=False)
    results = {}
    try:
        for step in range(first, n_steps):
            forked = False
            for start, budget, track in branches:
                if start == step:          # the branch leaves the trunk here and decays to its budget
                    results[budget] = _branch(engine.fork(), track, start, mixture.domains, t0, bar)
                    forked = True
                    if on_branch is not None:
                        on_branch(budget, results[budget])
            if forked and checkpoint is not None:
                _save_trunk(checkpoint, identity, step, engine, trunk,
                            {b: t for s, b, t in branches if s > step}, time.perf_counter() - t0)
            value = _advance(engine, trunk, step, bar)
            for start, _, track in branches:  # the branches still on the trunk see the same step
                if step < start:
                    track.count(track.batch(step, B), value)
                    if step + 1 in track.eval_at:
                        engine.record(track, step + 1)
            if callbacks.on_step:
                callbacks.on_step(step + 1, value)
            bar.set_postfix(loss=f"{value:.3f}", refresh=False)
            if step + 1 in trunk.eval_at:
                engine.record(trunk, step + 1)
        result = engine.finish(trunk, mixture.domains, t0)
    finally:
        bar.close()
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)      # the pass is whole: nothing to resume
    if not stops:
        return (result, engine.model) if return_model else result
    results[total] = result
    return dict(sorted(results.items()))


_TRACK_STATE = ("curve", "seen", "run_loss", "run_count", "consumed")


def _save_trunk(path: Path, identity: dict, step: int, engine: _Engine, trunk: _Track, waiting: dict,
                elapsed: float) -> None:
    """The trunk's state before its 0-based `step` (model, optimizer, RNG, its and the waiting
    branches' bookkeeping), written atomically."""
    import torch

    state = {"identity": identity, "step": step, "elapsed": elapsed, "model": engine.model.state_dict(),
             "opt": engine.opt.state_dict(), "rng": torch.get_rng_state(), "first_loss": engine.first_loss,
             "trunk": {k: getattr(trunk, k) for k in _TRACK_STATE},
             "waiting": {b: {k: getattr(t, k) for k in _TRACK_STATE} for b, t in waiting.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _resume(path: Path, identity: dict, engine: _Engine, trunk: _Track, branches: list) -> tuple[int, float]:
    """Load a trunk checkpoint into `engine` and the tracks: (the step to go on from, the wall time
    spent before it). (0, 0.0) when there is none, it is of another plan, or a branch still wanted
    left the trunk before it (that branch needs the pass from its start)."""
    import torch

    if not path.is_file():
        return 0, 0.0
    try:
        state = torch.load(path, map_location=engine.device, weights_only=False)
    except Exception:          # a damaged checkpoint only costs the steps it would have saved
        return 0, 0.0
    step = int(state.get("step", 0))
    wanted_before = [b for s, b, _ in branches if s <= step]   # their bookkeeping is not in the checkpoint
    waiting = {b: t for s, b, t in branches if s > step}
    if state.get("identity") != identity or wanted_before or set(waiting) - set(state["waiting"]):
        return 0, 0.0
    engine.model.load_state_dict(state["model"])
    engine.opt.load_state_dict(state["opt"])
    torch.set_rng_state(state["rng"])
    engine.first_loss = state["first_loss"]
    for k in _TRACK_STATE:
        setattr(trunk, k, state["trunk"][k])
    for b, t in waiting.items():
        for k in _TRACK_STATE:
            setattr(t, k, state["waiting"][b][k])
    return step, float(state["elapsed"])


def _advance(engine: _Engine, track: _Track, step: int, bar) -> float:
    """`track`'s 0-based `step` on `engine`, at the rate of `track`'s own schedule; its loss."""
    batch = track.batch(step, engine.config.batch_size)
    value = engine.step(batch, step, lr_at(step, track.n_steps, engine.config), track.n_steps)
    track.count(batch, value)
    bar.update(1)
    return value


def _branch(engine: _Engine, track: _Track, start: int, domains, t0: float, bar) -> TrainResult:
    for step in range(start, track.n_steps):
        _advance(engine, track, step, bar)
        if step + 1 in track.eval_at:
            engine.record(track, step + 1)
    return engine.finish(track, domains, t0)
