"""Runs placed on every accelerator of a node: one slot per worker process, each pinned to its
device; where a run lands changes where it trains, never its key."""

from __future__ import annotations

import pytest

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.proxy.config import ProxyConfig
from autoscale_kit.runs import store as runs_store
from autoscale_kit.runs.store import (CorpusRef, RunSpec, RunStore, device_slots, placed, placement, process_pool,
                                      run_many)

TINY = ProxyConfig(n_layer=1, n_head=2, n_embd=32, seq_len=64, batch_size=8, eval_points=0, val_tokens=1024,
                   curve_val_tokens=1024, threads=1)
REF = CorpusRef(None, ("code", "books"))
EIGHT = [f"cuda:{i}" for i in range(8)]


def test_slots_spread_over_every_device():
    slots = device_slots(EIGHT, 2)
    assert len(slots) == 16 and slots[:8] == EIGHT and sorted(set(slots)) == sorted(EIGHT)
    assert all(slots.count(d) == 2 for d in EIGHT)
    with pytest.raises(UserError, match="per_device must be a positive integer"):
        device_slots(EIGHT, 0)
    with pytest.raises(UserError, match="non-empty list"):
        device_slots([], 1)


def test_a_run_trains_on_its_workers_device_with_the_same_key():
    spec = RunSpec(Mixture({"code": 1000, "books": 1000}), TINY.with_(device="cuda"), REF)
    key = spec.key
    assert spec.train_config.device == "cuda"
    for slot in EIGHT:
        assert placed(spec.train_config, slot).device == slot
        assert spec.key == key                       # the key is the spec's, wherever it trains
    named = RunSpec(spec.mixture, TINY.with_(device="cuda:1"), REF)
    assert placed(named.train_config, "cuda:5").device == "cuda:1"     # a named device is kept
    cpu = RunSpec(spec.mixture, TINY.with_(device="cpu"), REF)
    assert placed(cpu.train_config, "cuda:5").device == "cpu"          # a CPU run is not moved
    assert placed(spec.train_config, None) == spec.train_config


def test_auto_placement_uses_every_visible_gpu(monkeypatch):
    cuda = [RunSpec(Mixture({"code": 1000, "books": 1000}), TINY.with_(device="cuda"), REF)]
    cpu = [RunSpec(Mixture({"code": 1000, "books": 1000}), TINY.with_(device="cpu"), REF)]
    monkeypatch.setattr(runs_store, "visible_devices", lambda: EIGHT)
    assert placement(cuda, "auto") == EIGHT
    assert placement(cuda, "auto", per_device=4) == device_slots(EIGHT, 4)
    assert placement(cpu, "auto") is None                     # CPU runs share cores by threads instead
    monkeypatch.setattr(runs_store, "visible_devices", lambda: ["cuda:0"])
    assert placement(cuda, "auto") is None                    # one slot: nothing to place
    assert placement(cuda, "auto", per_device=2) == ["cuda:0", "cuda:0"]
    monkeypatch.setattr(runs_store, "visible_devices", lambda: [])
    assert placement(cuda, "auto") is None
    assert placement(cuda, ["cuda:2", "cuda:3"]) == ["cuda:2", "cuda:3"]
    assert placement(cuda, None) is None
    with pytest.raises(UserError, match="devices must be 'auto'"):
        placement(cuda, "everywhere")


def test_a_pool_pins_one_slot_per_worker():
    """Each worker of a placed pool takes one slot of the queue: with two slots and two workers, the
    two workers report the two slots (a fake device list: the CPU takes any name here)."""
    with process_pool(2, ["cuda:6", "cuda:7"]) as pool:
        futures = [pool.submit(_slot_after_a_while) for _ in range(6)]
        seen = {f.result() for f in futures}
    assert seen == {"cuda:6", "cuda:7"}
    with pytest.raises(UserError, match="one slot per worker"):
        process_pool(2, ["cuda:0"])


def _slot_after_a_while():
    import time

    time.sleep(0.3)
    return runs_store._SLOT


def test_placed_runs_on_cpu_slots_train_the_same_runs(tmp_path):
    specs = [RunSpec(Mixture({"code": 1000 + 500 * i, "books": 1000}), TINY, REF) for i in range(3)]
    placed_runs = run_many(specs, RunStore(tmp_path / "placed"), devices=["cpu", "cpu"], progress=False)
    serial = run_many(specs, RunStore(tmp_path / "serial"), progress=False)
    assert [r.key for r in placed_runs] == [s.key for s in specs]
    assert [r.val_loss for r in placed_runs] == [r.val_loss for r in serial]
    assert {r.device for r in placed_runs} == {"cpu"}
