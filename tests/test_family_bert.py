"""The BERT masked-LM family: BERT's masking, fixed validation masks, exact token accounting,
learning, its own run-store entries, its presets and study plan, the downstream hook."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autoscale_kit.core.errors import UserError
from autoscale_kit.proxy.families import get_family
from autoscale_kit.proxy.families.base import IGNORE
from autoscale_kit.proxy.families.bert import MASK_PROB
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.proxy.train import Callbacks, evaluate, train_proxy
from autoscale_kit.proxy.config import for_family, preset
from autoscale_kit.data.tokendata import prepare_tokens
from autoscale_kit.runs.store import CorpusRef, RunSpec
from autoscale_kit.study.config import study_config

FAST = preset("tiny", family="bert", n_layer=1, n_embd=32, n_head=2, seq_len=64, batch_size=8, eval_points=2,
              val_tokens=2048, curve_val_tokens=1024)
V = 257  # the byte tokenizer's vocabulary


def _segments(rows: int, T: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(rows, T + 1))


def test_masking_is_bert_15_percent_with_the_80_10_10_split():
    fam = get_family("bert", V, 256)
    seg = _segments(2000)
    n = np.full(len(seg), 64)
    n[:100] = 10                                       # partial windows: only 10 text tokens
    x, y = fam.train_batch(seg, n, step=3, seed=0)
    assert x.shape == y.shape == (2000, 65)
    assert (x[:, 0] == fam.cls_id).all() and (y[:, 0] == IGNORE).all()   # [CLS] is never masked
    text = np.arange(65)[None, :] <= n[:, None]
    text[:, 0] = False
    assert (x[~text & (np.arange(65)[None, :] > 0)] == fam.pad_id).all()  # [PAD] after a partial window
    assert (y[~text] == IGNORE).all()
    picked = y != IGNORE
    n_text = int(text.sum())
    share = picked.sum() / n_text
    assert abs(share - MASK_PROB) < 4 * math.sqrt(MASK_PROB * (1 - MASK_PROB) / n_text)
    assert (y[picked] == seg[:, :][picked]).all()      # a target is the original token
    k = int(picked.sum())
    masked = (x[picked] == fam.mask_id).mean()
    kept = (x[picked] == y[picked]).mean()
    random_other = 1 - masked - kept
    sd = lambda p: 4 * math.sqrt(p * (1 - p) / k)      # noqa: E731
    assert abs(masked - 0.8) < sd(0.8)
    assert abs(kept - (0.1 + 0.1 / V)) < sd(0.1)       # a random id equals the original 1 time in V
    assert abs(random_other - 0.1 * (1 - 1 / V)) < sd(0.1)
    assert x[picked].max() <= fam.mask_id and (x[picked & (x != fam.mask_id)] < V).all()
    assert (x[~picked] == np.where(text, seg, x)[~picked]).all()          # unpicked text is untouched


def test_training_masks_are_dynamic_and_reproducible():
    fam = get_family("bert", V, 256)
    seg, n = _segments(32), np.full(32, 64)
    a = fam.train_batch(seg, n, step=0, seed=0)
    assert all((u == v).all() for u, v in zip(a, fam.train_batch(seg, n, step=0, seed=0)))
    assert not (a[1] == fam.train_batch(seg, n, step=1, seed=0)[1]).all()    # a new mask every step
    assert not (a[1] == fam.train_batch(seg, n, step=0, seed=1)[1]).all()    # and every seed


def test_end_of_text_ids_are_never_masked():
    fam = get_family("bert", V, 256)
    seg = _segments(400)
    seg[:, 1::3] = 256
    _, y = fam.train_batch(seg, np.full(400, 64), step=0, seed=0)
    assert not (y[seg == 256] != IGNORE).any()


def test_validation_masks_are_fixed_per_window_whatever_the_batching_or_the_run():
    fam = get_family("bert", V, 256)
    windows = _segments(40, seed=5)
    whole = fam.eval_batch(windows, "code", 0)
    parts = [fam.eval_batch(windows[i: i + 7], "code", i) for i in range(0, 40, 7)]
    for k in (0, 1):
        assert (np.concatenate([p[k] for p in parts]) == whole[k]).all()
    assert not (fam.eval_batch(windows, "books", 0)[1] == whole[1]).all()  # each domain has its own
    # a family bound again (another run, another seed) masks the same positions
    again = get_family("bert", V, 256).eval_batch(windows, "code", 0)
    assert (again[0] == whole[0]).all() and (again[1] == whole[1]).all()


def test_runs_of_different_seeds_are_judged_on_the_same_masked_positions(known_corpus):
    """The evaluation of a model does not depend on the training seed: two runs evaluating the
    same model agree exactly, and the number of masked targets is the same."""
    import torch

    data = prepare_tokens(known_corpus, FAST)
    _, model = train_proxy(data, Mixture({"pattern": 2000, "noise": 2000}), FAST, progress=False, return_model=True)
    a = evaluate(model, data, FAST, "cpu", None)
    b = evaluate(model, data, FAST.with_(seed=7), "cpu", None)
    assert a == b
    torch.manual_seed(0)


def test_bert_token_accounting_is_exact(known_corpus):
    mix = Mixture({"pattern": 1000, "noise": 777})
    r = train_proxy(known_corpus, mix, FAST, progress=False)
    assert r.tokens == {"pattern": 1000, "noise": 777}
    assert r.curve[-1]["tokens_seen"] == 1777
    assert r.steps == math.ceil((math.ceil(1000 / 64) + math.ceil(777 / 64)) / 8)


def test_bert_learns_a_repetitive_domain_and_not_noise(known_corpus):
    cfg = FAST.with_(lr=3e-3, val_tokens=4096)
    r = train_proxy(known_corpus, Mixture({"pattern": 100_000, "noise": 20_000}), cfg, progress=False)
    # well below ln of the vocabulary (5.55), and below the pattern's letter entropy ln 4 (1.39):
    # the masked letter is read from its neighbours, not guessed from frequencies (0.57 measured)
    assert r.val_loss["pattern"] < math.log(4) - 0.5
    assert r.val_loss["noise"] > math.log(16) - 0.1                # the entropy is a floor


def test_families_never_share_a_run_store_entry():
    mix = Mixture({"code": 1000, "books": 1000})
    ref = CorpusRef(None, ("code", "books"))
    gpt = preset("tiny", threads=1)
    bert = for_family(gpt, "bert")
    assert RunSpec(mix, gpt, ref).key != RunSpec(mix, bert, ref).key
    assert RunSpec(mix, bert, ref).key != RunSpec(mix, bert.with_(lr=gpt.lr), ref).key
    assert RunSpec(mix, bert.with_(family="gpt2", lr=gpt.lr), ref).key == RunSpec(mix, gpt, ref).key


def test_presets_and_studies_per_family():
    for name in ("tiny", "mini", "small"):
        g, b = preset(name), preset(name, family="bert")
        assert b.family == "bert" and (b.n_layer, b.n_embd, b.seq_len) == (g.n_layer, g.n_embd, g.seq_len)
        assert b.lr == pytest.approx(g.lr / 3, rel=1e-2)
    s = study_config("smoke", family="bert")
    assert s.proxy.family == "bert" and s.ratios == (1 / 3, 2.0)
    assert s.name == "smoke-bert" and study_config("smoke").name == "smoke"
    assert study_config("smoke", family="bert", ratios=(0.5, 2.0)).ratios == (0.5, 2.0)
    with pytest.raises(UserError, match="unknown model family"):
        study_config("smoke", family="roberta")
    with pytest.raises(UserError, match="unknown model family"):
        preset("tiny", family="t5")


def test_downstream_hook_sees_the_trained_model(known_corpus):
    data = prepare_tokens(known_corpus, FAST)
    seen = {}

    def downstream(model):
        seen["loss"] = evaluate(model, data, FAST, "cpu", None)
        return {"probe": 0.5, "pattern_loss": seen["loss"]["pattern"]}

    r = train_proxy(data, Mixture({"pattern": 3000, "noise": 3000}), FAST, progress=False,
                    callbacks=Callbacks(on_end=downstream))
    assert seen["loss"] == r.val_loss                 # the trained model, as the final evaluation saw it
    assert r.downstream == {"probe": 0.5, "pattern_loss": r.val_loss["pattern"]}
    assert train_proxy(data, Mixture({"pattern": 3000}), FAST, progress=False).downstream == {}
    with pytest.raises(UserError, match="on_end must return a mapping"):
        train_proxy(data, Mixture({"pattern": 3000}), FAST, progress=False,
                    callbacks=Callbacks(on_end=lambda m: 0.5))
