"""The proxy seam: what a model family is, the one definition of the loss, and the registry.

A family, bound to a tokenizer's vocabulary (`get_family(name, vocab_size, eos_id)`), turns token
segments into (inputs, targets), builds its model from a ProxyConfig and returns logits; the training loop (`proxy`), the evaluator and DoReMi's reference scoring call
only this interface and the loss functions below, so adding a family (a masked LM, another
architecture) is one new module plus one line in `FAMILIES`.

Design choices:
- Targets use `IGNORE` (-100) for positions that are not predicted (a domain's partial last
  window; for a masked LM, every unmasked position). Every loss in the toolkit is the token
  cross-entropy of `token_losses` / `mean_loss` / `summed_loss`: written once, here.
- Families are looked up by name (`ProxyConfig.family`), lazily imported, so a family's
  dependencies load only when it is used. A family is bound to the vocabulary because a masked LM
  adds its own special ids after the tokenizer's; `logits` alone works unbound (DoReMi's reference).
- A token budget counts the tokens a run is *charged* for, `Window.targets`: predicted targets
  for the causal LM, input text tokens seen for the masked LM (which predicts ~15 % of them).
"""

from __future__ import annotations

import importlib
import math
from typing import Protocol

import numpy as np

from autoscale_kit.core.errors import UserError

IGNORE = -100

# name -> "module:class"; one line per family.
FAMILIES: dict[str, str] = {
    "gpt2": "autoscale_kit.proxy.families.gpt2:GPT2Family",
    "bert": "autoscale_kit.proxy.families.bert:BertFamily",
}

# How reports name a family, and what its loss is.
FAMILY_NAMES: dict[str, str] = {
    "gpt2": "GPT-2 causal LM (loss: nats per predicted token)",
    "bert": "BERT masked LM (loss: nats per masked token; budgets count input tokens)",
}


class ModelFamily(Protocol):
    """What the training loop and the evaluator need from a model family."""

    name: str
    vocab_size: int | None   # the tokenizer's
    eos_id: int | None

    def build(self, config):
        """A fresh torch model for `config` (nothing downloaded)."""

    def train_batch(self, segments: np.ndarray, n_targets: np.ndarray, step: int, seed: int
                    ) -> tuple[np.ndarray, np.ndarray]:
        """(inputs, targets), int64 (B, T), from raw segments (B, T + 1) of which row i predicts
        `n_targets[i]` tokens; `step` and `seed` make any randomness (masking) reproducible."""

    def eval_batch(self, windows: np.ndarray, domain: str, first: int) -> tuple[np.ndarray, np.ndarray]:
        """(inputs, targets) for fixed validation windows (B, T + 1), rows `first`.. of the
        domain's validation set: the same for every run, so runs are judged on the same targets."""

    def logits(self, model, inputs):
        """The model's logits (B, T, V) for `inputs` (a LongTensor on the model's device)."""


def get_family(name: str, vocab_size: int | None = None, eos_id: int | None = None) -> ModelFamily:
    """The family `name` bound to a tokenizer's vocabulary (None: unbound, `logits` only)."""
    if name not in FAMILIES:
        raise UserError(f"unknown model family {name!r}; choose one of {', '.join(FAMILIES)}")
    module, cls = FAMILIES[name].split(":")
    return getattr(importlib.import_module(module), cls)(vocab_size, eos_id)


def padded_vocab(n: int) -> int:
    """A model's embedding rows for `n` ids: a multiple of 8 (faster matmuls)."""
    return int(math.ceil(n / 8) * 8)


# --- the loss, written once ------------------------------------------------------------------

def token_losses(logits, targets):
    """Per-token cross-entropy (B, T), 0 where the target is IGNORE."""
    import torch.nn.functional as F

    return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1),
                           ignore_index=IGNORE, reduction="none").view(targets.shape)


def mean_loss(logits, targets):
    """Mean cross-entropy over the predicted (non-IGNORE) targets: the training loss."""
    import torch.nn.functional as F

    return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=IGNORE)


def summed_loss(logits, targets):
    """(sum of the cross-entropy over predicted targets, how many there are): for evaluation."""
    import torch.nn.functional as F

    total = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1),
                            ignore_index=IGNORE, reduction="sum")
    return total, int((targets != IGNORE).sum())
