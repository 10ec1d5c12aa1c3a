"""Proxy training: exact token accounting, per-domain evaluation, determinism, clear failures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.proxy.train import Callbacks, TrainingDiverged, build_model, evaluate, train_proxy
from autoscale_kit.proxy.config import ProxyConfig, preset
from autoscale_kit.data.tokendata import plan_windows, prepare_tokens

FAST = preset("tiny", n_layer=1, n_embd=32, n_head=2, seq_len=64, batch_size=8, eval_points=2,
              val_tokens=2048, curve_val_tokens=1024)


def test_token_accounting_is_exact(known_corpus):
    mix = Mixture({"pattern": 1000, "noise": 777})  # 777 is not a multiple of seq_len
    r = train_proxy(known_corpus, mix, FAST, progress=False)
    assert r.tokens == {"pattern": 1000, "noise": 777}
    assert r.curve[-1]["tokens_seen"] == 1777
    assert r.steps == math.ceil((math.ceil(1000 / 64) + math.ceil(777 / 64)) / 8)


def test_windows_are_drawn_without_replacement_with_common_random_numbers(known_corpus):
    data = prepare_tokens(known_corpus, FAST)
    small = plan_windows({"pattern": 64 * 50, "noise": 64 * 40}, data, 64, seed=3)
    big = plan_windows({"pattern": 64 * 200, "noise": 64 * 40}, data, 64, seed=3)
    for plan in (small, big):
        for di in (0, 1):
            starts = [w.start for w in plan if w.domain == di]
            assert len(starts) == len(set(starts))
    pi, ni = data.domains.index("pattern"), data.domains.index("noise")
    # the unchanged domain sees the same windows in the same order
    noise_small = [w.start for w in small if w.domain == ni]
    noise_big = [w.start for w in big if w.domain == ni]
    assert noise_small == noise_big
    # and the grown domain keeps its first windows
    assert {w.start for w in small if w.domain == pi} <= {w.start for w in big if w.domain == pi}
    # the training order interleaves domains
    firsts = [w.domain for w in big[:40]]
    assert 0 in firsts and 1 in firsts


def test_per_domain_evaluation_on_known_data(known_corpus):
    cfg = FAST.with_(lr=1e-2, val_tokens=4096)
    r = train_proxy(known_corpus, Mixture({"pattern": 20_000, "noise": 60_000}), cfg, progress=False)
    assert r.val_loss["pattern"] < 0.3                      # learnable: near zero
    assert math.log(16) - 0.05 < r.val_loss["noise"] < math.log(16) + 0.6  # at best the entropy
    data = prepare_tokens(known_corpus, cfg)
    import torch

    torch.manual_seed(0)
    untrained = evaluate(build_model(cfg, data.vocab_size, data.eos_id), data, cfg, "cpu", None)
    for v in untrained.values():
        assert abs(v - math.log(264)) < 0.3                 # uniform over the padded vocabulary


def test_same_config_gives_identical_numbers(known_corpus):
    mix = Mixture({"pattern": 3000, "noise": 3000})
    a = train_proxy(known_corpus, mix, FAST, progress=False)
    b = train_proxy(known_corpus, mix, FAST, progress=False)
    assert a.val_loss == b.val_loss
    assert [row["train_loss"] for row in a.curve] == [row["train_loss"] for row in b.curve]
    c = train_proxy(known_corpus, mix, FAST.with_(seed=1), progress=False)
    assert c.val_loss != a.val_loss


def test_curve_records_periodic_validation(known_corpus):
    seen = []
    r = train_proxy(known_corpus, Mixture({"pattern": 8000, "noise": 8000}), FAST.with_(eval_points=3),
                    progress=False, callbacks=Callbacks(on_eval=seen.append))
    assert len(r.curve) == 4 and seen == r.curve
    tokens = [row["tokens_seen"] for row in r.curve]
    assert tokens == sorted(tokens) and tokens[-1] == 16_000
    assert {"val:pattern", "val:noise", "val_mean", "train_loss", "lr"} <= set(r.curve[0])


def test_unknown_domain_in_mixture(known_corpus):
    with pytest.raises(UserError, match="unknown domain 'web'"):
        train_proxy(known_corpus, Mixture({"web": 100}), FAST, progress=False)


def test_too_many_tokens_refused_unless_repetition(known_corpus):
    data = prepare_tokens(known_corpus, FAST)
    have = data.available_tokens("noise", FAST.seq_len)
    mix = Mixture({"noise": have + 500, "pattern": 100})
    with pytest.raises(UserError, match=r"asks for .* tokens but holds .*repetition='repeat'"):
        train_proxy(known_corpus, mix, FAST, progress=False)
    plan = plan_windows({"noise": have + 500}, data, FAST.seq_len, seed=0)
    assert sum(w.targets for w in plan) == have + 500
    assert all(0 <= w.key < 1 for w in plan)
    # the second epoch starts after the first one is used up
    ordered_starts = [w.start for w in plan]
    n_first = data.train_windows("noise", FAST.seq_len)
    assert len(set(ordered_starts[:n_first])) == n_first


def test_fractional_tokens_are_refused(known_corpus):
    with pytest.raises(UserError, match="whole tokens"):
        train_proxy(known_corpus, Mixture({"noise": 100.5}), FAST, progress=False)


@pytest.mark.parametrize("field, value, pattern", [
    ("n_embd", 63, "divisible by n_head"),
    ("lr", -1.0, "lr must be a positive"),
    ("repetition", "sometimes", "repetition must be"),
    ("seq_len", 0, "seq_len must be a positive integer"),
    ("dtype", "float16", "dtype must be"),
])
def test_bad_config(field, value, pattern):
    with pytest.raises(UserError, match=pattern):
        ProxyConfig(**{field: value})


def test_unknown_config_field_and_preset():
    with pytest.raises(UserError, match="unknown proxy config field"):
        ProxyConfig.from_dict({"n_layers": 3})
    with pytest.raises(UserError, match="unknown proxy preset"):
        preset("huge")


def test_cuda_requested_without_gpu(known_corpus):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(UserError, match="CUDA is not available"):
        train_proxy(known_corpus, Mixture({"noise": 640}), FAST.with_(device="cuda"), progress=False)


def test_divergence_is_reported_with_what_to_change(known_corpus):
    cfg = FAST.with_(lr=50.0, warmup_frac=0.0, grad_clip=0.0)
    with pytest.raises(TrainingDiverged, match="lower the learning rate"):
        train_proxy(known_corpus, Mixture({"noise": 64 * 8 * 30}), cfg, progress=False)


def test_on_batch_callback_can_reweight_the_loss(known_corpus):
    calls = []

    def hook(batch):
        masked = batch.targets == -100
        calls.append((batch.step, len(batch.windows), batch.token_loss.shape[0],
                      bool((batch.token_loss[masked] == 0).all()), bool((batch.token_loss[~masked] > 0).all())))
        w = np.array([1.0 if d == "pattern" else 0.0 for d in batch.window_domains])  # train on one domain only
        return w / w.sum() if w.sum() else None

    plain = train_proxy(known_corpus, Mixture({"pattern": 2000, "noise": 2000}), FAST, progress=False)
    r = train_proxy(known_corpus, Mixture({"pattern": 2000, "noise": 2000}), FAST, progress=False,
                    callbacks=Callbacks(on_batch=hook))
    assert [c[0] for c in calls] == list(range(r.steps))
    assert all(n == m and zero_masked and positive for _, n, m, zero_masked, positive in calls)
    assert r.tokens == {"pattern": 2000, "noise": 2000}
    # trained on the pattern domain only: better there, worse on noise than the plain run
    assert r.val_loss["pattern"] < plain.val_loss["pattern"]
    assert r.val_loss["noise"] > plain.val_loss["noise"]


def test_a_batch_of_one_partial_window_keeps_its_inputs():
    """A batch of one window: its slices are contiguous already, so masking the targets of a view
    wrote IGNORE into the inputs and the embedding failed (seen as 'index out of range' in a RegMix
    run of the small comparison)."""
    import numpy as np

    from autoscale_kit.proxy.families.base import IGNORE
    from autoscale_kit.proxy.families.gpt2 import GPT2Family

    seg = np.arange(1, 10, dtype=np.int64)[None, :]          # seq_len 8, one window
    x, y = GPT2Family(256, 255).train_batch(seg, np.array([3]), step=0, seed=0)
    assert (x >= 0).all() and x.tolist() == [list(range(1, 9))]
    assert y.tolist() == [[2, 3, 4] + [IGNORE] * 5]
    assert seg.tolist() == [list(range(1, 10))]               # the segments themselves untouched


@pytest.mark.slow
def test_torch_compile_trains_on_the_cpu_too():
    """The opt-in torch.compile (for long GPU runs) works on the CPU and gives the same losses."""
    from autoscale_kit.data import corpus as corpus_mod

    cfg = ProxyConfig(n_layer=1, n_head=2, n_embd=32, seq_len=64, batch_size=8, eval_points=1, val_tokens=1024,
                      curve_val_tokens=1024, threads=1)
    data = prepare_tokens(corpus_mod.load(None, domains=["code", "books"]), cfg)
    mix = Mixture({"code": 3000, "books": 2000})
    plain = train_proxy(data, mix, cfg, progress=False)
    compiled = train_proxy(data, mix, cfg.with_(compile=True), progress=False)
    assert compiled.tokens == plain.tokens
    for d in plain.val_loss:
        assert compiled.val_loss[d] == pytest.approx(plain.val_loss[d], abs=1e-3)
