"""The proxy seam: what a model family is, the one definition of the loss, and the registry.

A family, bound to a tokenizer's vocabulary (`get_family(name, vocab_size, eos_id)`), turns token
segments into (inputs, targets), builds its model from a ProxyConfig and returns logits; the training loop (`proxy`), the evaluator and DoReMi's reference scoring call
only this interface and the loss functions below, so adding a family (a masked LM, another
architecture) is one new class registered with `proxy.families.register_family`.

Design choices:
- Targets use `IGNORE` (-100) for positions that are not predicted (a domain's partial last
  window; for a masked LM, every unmasked position). Every loss in the toolkit is the token
  cross-entropy of `token_losses` / `mean_loss` / `summed_loss`: written once, here.
- Families are looked up by name (`ProxyConfig.family`); a family imports its heavy dependencies
  (transformers) inside `build`, so they load only when it is used. A family is bound to the vocabulary because a masked LM
  adds its own special ids after the tokenizer's; `logits` alone works unbound (DoReMi's reference).
- A token budget counts the tokens a run is *charged* for, `Window.targets`: predicted targets
  for the causal LM, input text tokens seen for the masked LM (which predicts ~15 % of them).
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

IGNORE = -100

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
