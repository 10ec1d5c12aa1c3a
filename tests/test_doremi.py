"""DoReMi: the Group-DRO update by hand, the excess loss against a reference, and a known answer."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from autoscale_kit.data import corpus as corpus_mod
from autoscale_kit.methods import doremi as doremi_mod
from autoscale_kit.methods.doremi import DoReMiConfig, GroupDRO, run_doremi
from autoscale_kit.core.errors import UserError
from autoscale_kit.proxy.families.base import IGNORE
from autoscale_kit.proxy.train import StepBatch
from autoscale_kit.data.tokendata import Window, prepare_tokens
from autoscale_kit.proxy.config import preset

FAST = preset("tiny", n_layer=1, n_embd=32, n_head=2, seq_len=64, batch_size=8, eval_points=0,
              val_tokens=2048, curve_val_tokens=2048)


class FixedLogits(torch.nn.Module):
    """A 'reference model' whose next-token distribution is the same everywhere."""

    def __init__(self, logits):
        super().__init__()
        self.row = torch.tensor(logits, dtype=torch.float32)

    def forward(self, input_ids):
        class Out:
            pass

        out = Out()
        out.logits = self.row.expand(*input_ids.shape, -1).clone()
        return out


def test_update_is_the_papers_exponentiated_gradient_with_smoothing():
    dro = GroupDRO(FixedLogits([0.0, 0.0]), ("a", "b", "c"), DoReMiConfig(eta=1.0, smoothing=0.1))
    a = dro.update({0: 0.5, 2: 0.1})
    raw = np.array([1 / 3 * np.exp(0.5), 1 / 3, 1 / 3 * np.exp(0.1)])
    expect = 0.9 * raw / raw.sum() + 0.1 / 3
    assert np.allclose(a, expect)
    b = dro.update({1: 0.2})  # a and c absent: they keep their previous scores
    raw = expect * np.exp([0.5, 0.2, 0.1])
    assert np.allclose(b, 0.9 * raw / raw.sum() + 0.1 / 3)
    assert dro.average == pytest.approx(dict(zip("abc", (expect + b) / 2)))


def test_excess_is_clipped_per_token_and_averaged_per_domain():
    ref = FixedLogits([0.0, 0.0])  # reference loss ln 2 on every token
    dro = GroupDRO(ref, ("a", "b"))
    ln2 = float(np.log(2))
    targets = torch.tensor([[0, 1, IGNORE], [1, 0, 1]])
    token_loss = torch.tensor([[ln2 + 0.3, ln2 - 0.5, 0.0], [ln2 + 0.1, ln2 + 0.2, ln2]])
    batch = StepBatch(0, [Window(0.0, 0, 0, 2), Window(0.1, 1, 0, 3)], ("a", "b"), torch.zeros_like(targets),
                      targets, token_loss)
    ex = dro.excess(batch)
    assert ex[0] == pytest.approx(0.3 / 2, abs=1e-6)  # the −0.5 token is clipped to 0, the masked one ignored
    assert ex[1] == pytest.approx(0.3 / 3, abs=1e-6)
    w = dro(batch)  # window weights: α of the domain × its tokens, normalised
    alpha = dro.alpha
    assert np.allclose(w, np.array([alpha[0] * 2, alpha[1] * 3]) / (alpha[0] * 2 + alpha[1] * 3))


@pytest.fixture(scope="module")
def three_domains():
    """noise: irreducible (uniform over 16 letters); pattern: learnt at once; words: learnable, slowly."""
    rng = random.Random(0)
    vocab = ("alpha beta gamma delta epsilon zeta theta kappa lambda sigma omega river stone cloud light "
             "winter summer north south ").split()
    words = " ".join(rng.choice(vocab) for _ in range(30_000))
    return corpus_mod.from_documents("three", {
        "pattern": [("p", "abcd" * 40_000)],
        "noise": [("n", "".join(rng.choice("abcdefghijklmnop") for _ in range(160_000)))],
        "words": [("w", words)]})


def test_doremi_downweights_the_irreducible_domain_and_caches(three_domains, tmp_path, monkeypatch):
    data = prepare_tokens(three_domains, FAST)
    res = run_doremi(data, 40_000, {"pattern": 1, "noise": 1, "words": 1}, FAST, store=tmp_path, fingerprint="t",
                     progress=False)
    assert set(res.weights) == {"pattern", "noise", "words"} and sum(res.weights.values()) == pytest.approx(1)
    assert res.weights["noise"] == min(res.weights.values())
    assert res.weights["noise"] < 1 / 3  # little excess loss to chase there
    assert len(res.trajectory) > 10 and res.tokens == 40_000 and res.flops > 0
    assert np.allclose(np.mean(res.trajectory, axis=0), [res.weights[d] for d in res.domains])

    def no_training(*a, **k):
        raise AssertionError("trained again")

    monkeypatch.setattr(doremi_mod, "train_proxy", no_training)
    again = run_doremi(data, 40_000, {"pattern": 1, "noise": 1, "words": 1}, FAST, store=tmp_path, fingerprint="t")
    assert again.weights == res.weights and again.domains == res.domains


def test_doremi_bad_input(three_domains):
    data = prepare_tokens(three_domains, FAST)
    with pytest.raises(UserError, match="unknown domain"):
        run_doremi(data, 10_000, {"web": 1.0}, FAST, progress=False)
    with pytest.raises(UserError, match="eta > 0"):
        DoReMiConfig(eta=0)


def test_doremi_runs_with_bert_proxies(three_domains, tmp_path):
    """The masked LM behind the same seam: DoReMi's excess loss is taken on the masked positions."""
    cfg = FAST.with_(family="bert", lr=1e-3)
    data = prepare_tokens(three_domains, cfg)
    res = run_doremi(data, 40_000, {"pattern": 1, "noise": 1, "words": 1}, cfg, store=tmp_path, fingerprint="b",
                     progress=False)
    assert sum(res.weights.values()) == pytest.approx(1) and res.tokens == 40_000
    assert res.weights["noise"] == min(res.weights.values())
