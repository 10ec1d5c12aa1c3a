"""Tokenizers: bytes by default, a local Hugging Face tokenizer by path."""

from __future__ import annotations

import numpy as np
import pytest

from autoscale_kit.core.errors import UserError
from autoscale_kit.data.tokenize import ByteTokenizer, HFTokenizer, load_tokenizer


def test_bytes_roundtrip_and_counts():
    tok = load_tokenizer("bytes")
    text = "naïve café — ∑ x²"
    ids = tok.encode(text)
    assert ids.dtype == np.int64 and ids.max() < 256
    assert tok.decode(ids) == text
    assert tok.count(text) == len(text.encode("utf-8")) == len(ids)
    assert tok.vocab_size == 257 and tok.eos_id == 256
    assert isinstance(load_tokenizer(None), ByteTokenizer)


def test_local_hf_tokenizer(tmp_path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<eos>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tk.train_from_iterator(["the cat sat on the mat"] * 50 + ["def f(x): return x"] * 50, trainer)
    path = tmp_path / "tokenizer.json"
    tk.save(str(path))
    tok = load_tokenizer(str(path))
    assert isinstance(tok, HFTokenizer)
    ids = tok.encode("the cat sat")
    assert len(ids) < len("the cat sat")  # merges learned
    assert tok.decode(ids) == "the cat sat"
    assert tok.vocab_size == tk.get_vocab_size()


def test_missing_tokenizer_path():
    with pytest.raises(UserError, match="does not exist"):
        load_tokenizer("/no/such/tokenizer")


def test_unreadable_tokenizer_folder(tmp_path):
    (tmp_path / "junk.txt").write_text("nothing")
    with pytest.raises(UserError, match="could not load a tokenizer"):
        load_tokenizer(str(tmp_path))
