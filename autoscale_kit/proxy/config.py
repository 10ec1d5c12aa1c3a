"""`ProxyConfig` (everything that decides a proxy run: size, schedule, seed, tokenizer, family,
device), the named size presets, a size as another family, and where a config trains
(`resolve_device`: cuda when found, else cpu; bfloat16 on CUDA)."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields, replace
from typing import Mapping

from autoscale_kit.core.errors import UserError
from autoscale_kit.proxy.families import FAMILIES, family_class


SCHEDULES = ("cosine", "wsd")
COOLDOWN_SHAPES = ("1-sqrt", "linear")
WSD_FIELDS = ("schedule", "cooldown_frac", "cooldown_shape", "warmup_tokens")


@dataclass(frozen=True)
class ProxyConfig:
    """Everything that decides the numbers of one proxy run (the mixture aside)."""

    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 64
    seq_len: int = 128
    batch_size: int = 16
    lr: float = 3e-3
    min_lr_ratio: float = 0.1        # cosine decays to lr × this
    warmup_frac: float = 0.05        # of the run's own steps
    weight_decay: float = 0.1        # on matrices only (nanoGPT)
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    seed: int = 0
    device: str = "auto"             # auto | cpu | cuda | cuda:N
    dtype: str = "auto"              # auto (bf16 autocast on GPU, fp32 on CPU) | float32 | bfloat16
    eval_points: int = 8             # validation evaluations along the run (plus the final one)
    val_tokens: int = 65_536         # validation targets per domain for the final losses (fixed windows)
    curve_val_tokens: int = 8_192    # per domain for the loss curve (the first windows of the same set)
    eval_batch_size: int = 32
    tokenizer: str = "bytes"
    repetition: str = "refuse"       # refuse | repeat: what to do when a domain has too few tokens
    threads: int | None = None       # torch CPU threads (None: torch's default); fixing it makes the
    #                                  numbers independent of where the run executes
    compile: bool = False            # torch.compile the model (pays on GPU for long runs)
    family: str = "gpt2"             # model family (proxy.families.FAMILIES)
    schedule: str = "cosine"         # cosine (warm-up, cosine decay: the paper's) | wsd (warm-up, stable, decay)
    cooldown_frac: float = 0.2       # wsd: the share of the run's steps spent decaying to zero
    cooldown_shape: str = "1-sqrt"   # wsd: 1-sqrt (Hägele et al. 2024) | linear
    warmup_tokens: int | None = None  # wsd: warm-up length in tokens (fixed, so that runs of any length share
    #                                   it); None: warmup_frac of the run's own steps

    def __post_init__(self):
        def integer(name: str, low: int) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                what = "a positive integer" if low == 1 else f"an integer >= {low}"
                raise UserError(f"ProxyConfig.{name} must be {what}, got {v!r}")

        def number(name: str, low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> None:
            v = getattr(self, name)
            ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
            ok = ok and (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
            if not ok:
                lo, hi = ("(" if low_open else "[") + f"{low:g}", f"{high:g}" + (")" if high_open else "]")
                raise UserError(f"ProxyConfig.{name} must be a number in {lo}, {hi}, got {v!r}")

        for name in ("n_layer", "n_head", "n_embd", "seq_len", "batch_size", "eval_batch_size", "val_tokens",
                     "curve_val_tokens"):
            integer(name, 1)
        integer("seed", 0)
        integer("eval_points", 0)
        if self.n_embd % self.n_head:
            raise UserError(f"ProxyConfig.n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not (self.lr > 0 and math.isfinite(self.lr)):
            raise UserError(f"ProxyConfig.lr must be a positive number, got {self.lr!r}")
        number("warmup_frac", 0, 1, high_open=True)
        number("min_lr_ratio", 0, 1)
        number("weight_decay", 0, math.inf, high_open=True)
        number("beta1", 0, 1, high_open=True)
        number("beta2", 0, 1, high_open=True)
        number("grad_clip", 0, math.inf, high_open=True)   # 0 turns clipping off
        if self.threads is not None:
            integer("threads", 1)
        if not isinstance(self.compile, bool):
            raise UserError(f"ProxyConfig.compile must be true or false, got {self.compile!r}")
        if not isinstance(self.device, str) or not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", self.device):
            raise UserError(f"ProxyConfig.device must be auto, cpu, cuda, cuda:N or mps, got {self.device!r}")
        if not isinstance(self.tokenizer, str) or not self.tokenizer:
            raise UserError(f"ProxyConfig.tokenizer must be 'bytes' or the path of a local tokenizer, got {self.tokenizer!r}")
        if self.repetition not in ("refuse", "repeat"):
            raise UserError(f"ProxyConfig.repetition must be 'refuse' or 'repeat', got {self.repetition!r}")
        if self.dtype not in ("auto", "float32", "bfloat16"):
            raise UserError(f"ProxyConfig.dtype must be auto, float32 or bfloat16, got {self.dtype!r}")
        if self.schedule not in SCHEDULES:
            raise UserError(f"ProxyConfig.schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        number("cooldown_frac", 0, 1, low_open=True)
        if self.cooldown_shape not in COOLDOWN_SHAPES:
            raise UserError(f"ProxyConfig.cooldown_shape must be one of {', '.join(COOLDOWN_SHAPES)}, "
                            f"got {self.cooldown_shape!r}")
        if self.warmup_tokens is not None:
            integer("warmup_tokens", 0)
        if self.schedule == "cosine" and (self.cooldown_frac, self.cooldown_shape, self.warmup_tokens) != \
                (0.2, "1-sqrt", None):
            raise UserError("ProxyConfig.cooldown_frac, cooldown_shape and warmup_tokens are the wsd schedule's; "
                            "set schedule='wsd' to use them")
        if self.family not in FAMILIES:
            raise UserError(f"ProxyConfig.family must be one of {', '.join(FAMILIES)}, got {self.family!r}")

    @property
    def branchable(self) -> bool:
        """The wsd schedule with its warm-up fixed in tokens: runs of every length pass through the
        same states, so a shorter run is a prefix of a longer one (stops and branches need it)."""
        return self.schedule == "wsd" and self.warmup_tokens is not None

    def to_dict(self) -> dict:
        """Every field; the wsd schedule's only under schedule='wsd', so that a cosine config reads
        (and keys, and compares with shipped records) as it did before the schedule existed."""
        out = asdict(self)
        if self.schedule == "cosine":
            for name in WSD_FIELDS:
                del out[name]
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> "ProxyConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise UserError(f"unknown proxy config field(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        try:
            return cls(**data)
        except TypeError as exc:  # a value of the wrong type met a comparison
            raise UserError(f"proxy config: {' '.join(str(exc).split())}") from None

    def with_(self, **changes) -> "ProxyConfig":
        return replace(self, **changes)


# Named sizes, from seconds on a laptop CPU to GPT-2 small on a GPU.
PRESETS: dict[str, ProxyConfig] = {
    "tiny": ProxyConfig(n_layer=2, n_head=2, n_embd=64, seq_len=128, batch_size=16, lr=3e-3),
    "mini": ProxyConfig(n_layer=3, n_head=3, n_embd=96, seq_len=128, batch_size=16, lr=3e-3),
    "small": ProxyConfig(n_layer=4, n_head=4, n_embd=128, seq_len=256, batch_size=16, lr=2e-3),
    "medium": ProxyConfig(n_layer=6, n_head=6, n_embd=384, seq_len=256, batch_size=32, lr=1e-3),
    # About 19M parameters, GPT-2 shape: the size from which proxies are known to rank mixtures as
    # their targets do (published: 15M+ parameters, Spearman > 0.89 against 1B targets); a GPU size.
    "proxy-20m": ProxyConfig(n_layer=6, n_head=8, n_embd=512, seq_len=512, batch_size=32, lr=1e-3,
                             val_tokens=262_144, eval_batch_size=16),
    "gpt2-small": ProxyConfig(n_layer=12, n_head=12, n_embd=768, seq_len=1024, batch_size=16, lr=6e-4,
                              val_tokens=262_144, eval_batch_size=16),
}


def for_family(config: ProxyConfig, family: str) -> ProxyConfig:
    """`config`'s size as a model of `family`, with that family's learning rate (a no-op for its own)."""
    new = family_class(family)
    if family == config.family:
        return config
    lr = config.lr / family_class(config.family).lr_factor * new.lr_factor
    return config.with_(family=family, lr=float(f"{lr:.3g}"))


def preset(name: str, family: str = "gpt2", **overrides) -> ProxyConfig:
    """A named size (`PRESETS`) as a model of `family` (gpt2 or bert), then `overrides`."""
    if name not in PRESETS:
        raise UserError(f"unknown proxy preset {name!r}; choose one of {', '.join(PRESETS)}")
    return for_family(PRESETS[name], family).with_(**overrides)


def wsd_config(config: ProxyConfig, smallest: int, cooldown_frac: float = 0.2) -> ProxyConfig:
    """`config` on the wsd schedule, its warm-up fixed (unless it is already) at the tokens a cosine
    run of the `smallest` budget warms up over (warmup_frac of it), so that every budget shares it."""
    warmup = config.warmup_tokens if config.warmup_tokens is not None else int(config.warmup_frac * smallest)
    return config.with_(schedule="wsd", cooldown_frac=cooldown_frac, warmup_tokens=warmup)


def resolve_device(config: ProxyConfig, *, check: bool = True) -> tuple[str, str]:
    """(device, dtype) a run of `config` trains on here: "auto" resolved, and (with `check`) a
    device that does not exist refused before anything is trained."""
    import torch

    device = config.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif not check:
        pass
    elif device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"device {device!r} was asked for but CUDA is not available; use device='cpu' or 'auto'")
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise UserError(f"device {device!r} does not exist: this machine has {torch.cuda.device_count()} CUDA "
                            f"device(s), cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    elif device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError("device 'mps' was asked for but Apple's MPS is not available here; use device='cpu' or 'auto'")
    dtype = config.dtype
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    return device, dtype
