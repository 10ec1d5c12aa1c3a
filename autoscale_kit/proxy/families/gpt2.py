"""GPT-2 causal LM, the default proxy family: `transformers.GPT2LMHeadModel` from a `GPT2Config`.

Design choices: nothing downloaded; dropout 0; token ids set for the tokenizer's vocabulary
(padded to a multiple of 8); GPT-2's tanh GELU computed by the fused kernel. A segment of T + 1
tokens gives inputs = its first T and targets = its last T (next-token prediction); a partial
window's missing targets are IGNORE. A token budget counts predicted targets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoscale_kit.proxy.families.base import IGNORE, padded_vocab


@dataclass(frozen=True)
class GPT2Family:
    vocab_size: int | None = None
    eos_id: int | None = None
    # the family's traits (see proxy.families.register_family)
    name = "gpt2"
    display = "GPT-2 causal LM (loss: nats per predicted token)"
    lr_factor = 1.0                  # learning rate relative to GPT-2's at the same preset
    ddo_ratios = (0.2, 3.0)          # the paper's DDO perturbations for GPT-2
    loss_targets = ""                # every predicted token carries the loss

    def build(self, config):
        import transformers
        from transformers import GPT2Config, GPT2LMHeadModel

        transformers.utils.logging.set_verbosity_error()
        padded = padded_vocab(self.vocab_size)
        eos = self.eos_id if self.eos_id is not None else self.vocab_size - 1
        cfg = GPT2Config(
            vocab_size=padded, n_positions=config.seq_len, n_embd=config.n_embd, n_layer=config.n_layer,
            n_head=config.n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
            bos_token_id=eos, eos_token_id=eos, pad_token_id=eos, use_cache=False,
            # GPT-2's tanh GELU, as one fused kernel: "gelu_new" computes the same function in five
            # elementwise ops, which cost ~15% of a small model's step on a CPU.
            activation_function="gelu_pytorch_tanh",
        )
        return GPT2LMHeadModel(cfg)

    def train_batch(self, segments: np.ndarray, n_targets: np.ndarray, step: int, seed: int):
        # copies: for a batch of one window the slices are already contiguous, and masking a view
        # of the targets would write IGNORE into the inputs too
        x = segments[:, :-1].copy()
        y = segments[:, 1:].copy()
        y[np.arange(y.shape[1])[None, :] >= n_targets[:, None]] = IGNORE
        return x, y

    def eval_batch(self, windows: np.ndarray, domain: str, first: int):
        return np.ascontiguousarray(windows[:, :-1]), np.ascontiguousarray(windows[:, 1:])

    def logits(self, model, inputs):
        return model(input_ids=inputs).logits
