"""BERT masked LM, the paper's second setting: `transformers.BertForMaskedLM` from a `BertConfig`.

Design choices:
- Special ids are appended after the tokenizer's vocabulary V: [MASK] = V, [CLS] = V + 1,
  [PAD] = V + 2 (the embedding is padded to a multiple of 8). Every window reads
  `[CLS] t_1 … t_n [PAD]…`: [CLS] at position 0 so that a classifier can be fine-tuned on the
  proxy downstream; [PAD] fills a domain's partial last window and is masked out of attention.
  There is no [SEP] and no next-sentence task: windows are cut from a packed stream (RoBERTa's
  full-sentence packing), so there is no sentence pair to separate; where a tokenizer has an
  end-of-text id it separates documents and, as a special token, is never masked.
- Masking is BERT's: each text position is chosen with probability 15 %; a chosen position is
  replaced by [MASK] (80 %), by a random id of the tokenizer's vocabulary (10 %) or kept (10 %),
  and is the only kind of position with a target. Training masks are dynamic (drawn per step
  from (seed, step)); validation masks are fixed per (domain, window) and independent of the
  run's seed, so every run of a study is judged on the same masked positions.
- A token budget counts *input text tokens seen* — the same t_1 … t_n a GPT-2 window predicts,
  so the two families train on exactly the same tokens for the same mixture; only ~15 % of them
  carry a loss. Validation loss = mean cross-entropy over the masked positions, nats per token.
- Dropout 0 and BERT's exact GELU, as for GPT-2: proxies are short, deterministic runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoscale_kit.data.tokendata import domain_seed
from autoscale_kit.proxy.families.base import IGNORE, padded_vocab

MASK_PROB = 0.15
MASK_SPLIT = (0.8, 0.1, 0.1)      # [MASK], random id, unchanged
VALIDATION_MASK_SEED = 20250      # fixed: the validation masks never depend on a run's seed
_TRAIN_STREAM = 7                 # separates training-mask draws from any other use of the seed


def mask_tokens(tokens: np.ndarray, maskable: np.ndarray, vocab_size: int, mask_id: int,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """BERT's masking of `tokens` (B, T) at `maskable` positions: (inputs, targets), targets IGNORE
    where nothing is predicted. One draw of three uniforms per position, so the masks of a row
    depend only on the generator's state."""
    u_pick, u_kind, u_tok = rng.random(tokens.shape), rng.random(tokens.shape), rng.random(tokens.shape)
    picked = maskable & (u_pick < MASK_PROB)
    inputs = tokens.copy()
    to_mask = picked & (u_kind < MASK_SPLIT[0])
    to_random = picked & (u_kind >= MASK_SPLIT[0]) & (u_kind < MASK_SPLIT[0] + MASK_SPLIT[1])
    inputs[to_mask] = mask_id
    inputs[to_random] = np.minimum((u_tok[to_random] * vocab_size).astype(np.int64), vocab_size - 1)
    targets = np.where(picked, tokens, IGNORE)
    return inputs, targets


@dataclass(frozen=True)
class BertFamily:
    vocab_size: int | None = None
    eos_id: int | None = None
    # the family's traits (see proxy.families.register_family)
    name = "bert"
    display = "BERT masked LM (loss: nats per masked token; budgets count input tokens)"
    # BERT (post-LN) at GPT-2's learning rates stalls at the unigram loss: the `mini` size on the
    # bundled corpus at 250k tokens reached a mean MLM loss of 3.58 (the unigram level) at lr 3e-3
    # to 1e-2, 3.32 at 2e-3, 3.24 at 1.5e-3, 3.23 at 1e-3 and 3.33 at 5e-4 (measured)
    lr_factor = 1 / 3
    ddo_ratios = (1 / 3, 2.0)        # the paper's DDO perturbations for BERT
    loss_targets = "masked "         # only the masked positions carry the loss

    @property
    def mask_id(self) -> int:
        return self.vocab_size

    @property
    def cls_id(self) -> int:
        return self.vocab_size + 1

    @property
    def pad_id(self) -> int:
        return self.vocab_size + 2

    def build(self, config):
        import transformers
        from transformers import BertConfig, BertForMaskedLM

        transformers.utils.logging.set_verbosity_error()
        cfg = BertConfig(
            vocab_size=padded_vocab(self.vocab_size + 3), hidden_size=config.n_embd,
            num_hidden_layers=config.n_layer, num_attention_heads=config.n_head,
            intermediate_size=4 * config.n_embd, max_position_embeddings=config.seq_len + 1,
            type_vocab_size=1, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
            pad_token_id=self.pad_id, hidden_act="gelu",
        )
        return BertForMaskedLM(cfg)

    def _text(self, segments: np.ndarray, n_tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`[CLS] t_1 … t_n [PAD]…` (B, T + 1) from raw segments (B, T + 1), and where masking may fall."""
        tokens = segments.copy()
        tokens[:, 0] = self.cls_id
        pos = np.arange(tokens.shape[1])[None, :]
        text = (pos >= 1) & (pos <= n_tokens[:, None])
        tokens[~text & (pos >= 1)] = self.pad_id
        maskable = text if self.eos_id is None else text & (tokens != self.eos_id)
        return tokens, maskable

    def train_batch(self, segments: np.ndarray, n_targets: np.ndarray, step: int, seed: int):
        tokens, maskable = self._text(segments, n_targets)
        rng = np.random.default_rng([int(seed), _TRAIN_STREAM, int(step)])
        return mask_tokens(tokens, maskable, self.vocab_size, self.mask_id, rng)

    def eval_batch(self, windows: np.ndarray, domain: str, first: int):
        full = np.full(len(windows), windows.shape[1] - 1, dtype=np.int64)
        tokens, maskable = self._text(windows, full)
        inputs, targets = np.empty_like(tokens), np.empty_like(tokens)
        for i in range(len(tokens)):   # one generator per window: its mask is the same in every batch layout
            rng = np.random.default_rng(domain_seed(VALIDATION_MASK_SEED, domain, first + i))
            inputs[i], targets[i] = mask_tokens(tokens[i: i + 1], maskable[i: i + 1], self.vocab_size,
                                                self.mask_id, rng)
        return inputs, targets

    def logits(self, model, inputs):
        pad = model.config.pad_token_id
        padded = inputs == pad
        attention = (~padded).long() if bool(padded.any()) else None
        return model(input_ids=inputs, attention_mask=attention).logits
