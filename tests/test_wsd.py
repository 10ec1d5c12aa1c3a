"""Warmup-stable-decay proxies: the schedule, the nested data plan, and branches that are the same
computation as dedicated runs at their budgets."""

from __future__ import annotations

import math

import pytest

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.data import corpus as corpus_mod
from autoscale_kit.data.tokendata import plan_windows, prepare_tokens
from autoscale_kit.proxy.config import ProxyConfig
from autoscale_kit.proxy.train import cooldown_start, lr_at, train_proxy

BASE = ProxyConfig(n_layer=1, n_head=2, n_embd=32, seq_len=64, batch_size=8, eval_points=2, val_tokens=2048,
                   curve_val_tokens=1024, threads=1)
WSD = BASE.with_(schedule="wsd", warmup_tokens=2048)


@pytest.fixture(scope="module")
def data():
    return prepare_tokens(corpus_mod.load(None, domains=["code", "books", "wikipedia"]), BASE)


def test_the_wsd_schedule():
    total = 100
    lrs = [lr_at(s, total, WSD) for s in range(total)]
    warm = math.ceil(2048 / (8 * 64))
    assert lrs[:warm] == pytest.approx([WSD.lr * (s + 1) / warm for s in range(warm)])
    start = cooldown_start(total, WSD)
    assert start == 80
    assert all(lr == WSD.lr for lr in lrs[warm:start])                      # stable
    assert lrs[-1] == 0 and all(a > b for a, b in zip(lrs[start - 1:], lrs[start:]))   # decays to zero
    assert lrs[start] == pytest.approx(WSD.lr * (1 - math.sqrt(1 / 20)))    # 1 - sqrt shape
    linear = WSD.with_(cooldown_shape="linear")
    assert lr_at(start, total, linear) == pytest.approx(WSD.lr * (1 - 1 / 20))
    # before its cooldown a run's rate does not depend on its length
    assert [lr_at(s, 50, WSD) for s in range(cooldown_start(50, WSD))] == lrs[:cooldown_start(50, WSD)]


def test_cosine_configs_read_as_before():
    assert "schedule" not in BASE.to_dict() and "cooldown_frac" not in BASE.to_dict()
    assert WSD.to_dict()["schedule"] == "wsd" and WSD.to_dict()["warmup_tokens"] == 2048
    assert ProxyConfig.from_dict(WSD.to_dict()) == WSD and ProxyConfig.from_dict(BASE.to_dict()) == BASE
    with pytest.raises(UserError, match="set schedule='wsd'"):
        BASE.with_(cooldown_frac=0.1)
    with pytest.raises(UserError, match="schedule must be one of"):
        BASE.with_(schedule="step")
    with pytest.raises(UserError, match="cooldown_frac must be a number in"):
        WSD.with_(cooldown_frac=0)


def test_the_nested_plan_keeps_every_prefix_at_the_mixtures_shares(data):
    tokens = {"code": 64 * 300, "books": 64 * 150, "wikipedia": 64 * 75}
    plan = plan_windows(tokens, data, 64, seed=2, nested=True)
    share = {d: n / sum(tokens.values()) for d, n in tokens.items()}
    counts = dict.fromkeys(tokens, 0)
    for k, w in enumerate(plan, start=1):
        counts[data.domains[w.domain]] += 1
        for d in tokens:
            assert abs(counts[d] - share[d] * k) <= 1.0 + 1e-9, (k, d, counts)
    random = plan_windows(tokens, data, 64, seed=2)
    # the same windows of each domain; only their times differ
    for di in range(3):
        assert sorted(w.start for w in plan if w.domain == di) == sorted(w.start for w in random if w.domain == di)


def test_a_branch_is_the_same_computation_as_a_dedicated_run(data):
    plan = Mixture({"code": 24000, "books": 12000, "wikipedia": 12000})
    runs = train_proxy(data, plan, WSD, progress=False, branches=(12000, 24000))
    assert list(runs) == [12000, 24000, 48000]
    for budget in (12000, 24000):
        alone = train_proxy(data, plan, WSD, progress=False, stop=budget)
        assert runs[budget].val_loss == alone.val_loss          # identical, not close
        assert runs[budget].curve == alone.curve
        assert runs[budget].tokens == alone.tokens and sum(alone.tokens.values()) == budget
        for d, n in alone.tokens.items():                         # each domain's share, to within a window
            assert abs(n - plan[d] * budget / plan.total) <= 64
    whole = train_proxy(data, plan, WSD, progress=False)
    assert runs[48000].val_loss == whole.val_loss and runs[48000].curve == whole.curve


def test_stops_and_branches_are_refused_where_they_cannot_hold(data):
    plan = Mixture({"code": 6000, "books": 6000})
    with pytest.raises(UserError, match="needs schedule='wsd' with warmup_tokens"):
        train_proxy(data, plan, BASE, progress=False, stop=3000)
    with pytest.raises(UserError, match="needs schedule='wsd' with warmup_tokens"):
        train_proxy(data, plan, BASE.with_(schedule="wsd"), progress=False, branches=(3000,))
    with pytest.raises(UserError, match="must be a whole number of tokens in"):
        train_proxy(data, plan, WSD, progress=False, stop=20000)
    with pytest.raises(UserError, match="not both"):
        train_proxy(data, plan, WSD, progress=False, stop=3000, branches=(2000,))


def test_runs_of_one_plan_are_trained_in_one_pass_and_stored_as_ordinary_runs(data, tmp_path):
    import json

    from autoscale_kit.runs.store import CorpusRef, RunSpec, RunStore, run_many

    ref = CorpusRef(None, ("code", "books", "wikipedia"))
    plan = Mixture({"code": 24000, "books": 12000, "wikipedia": 12000})
    specs = [RunSpec(plan, WSD, ref, label=f"b{b}", stop=b) for b in (12000, 24000)] + [RunSpec(plan, WSD, ref)]
    assert len({s.key for s in specs}) == 3 and specs[0].plan.key == specs[2].key
    store = RunStore(tmp_path / "runs")
    records = run_many(specs, store, progress=False)
    assert sorted(store.trained) == sorted(s.key for s in specs)
    assert [r.total_tokens for r in records] == [12000, 24000, 48000]
    parents = [json.loads((r.path / "config.json").read_text()).get("parent") for r in records]
    assert parents == [specs[2].key, specs[2].key, None]
    alone = train_proxy(data, plan, WSD.with_(threads=1), progress=False, stop=24000)
    assert records[1].val_loss == alone.val_loss
    again = RunStore(tmp_path / "runs")
    assert [r.key for r in run_many(specs, again, progress=False)] == [s.key for s in specs] and not again.trained
    pooled = RunStore(tmp_path / "pooled")
    assert [r.val_loss for r in run_many(specs, pooled, workers=2, progress=False)] == [r.val_loss for r in records]
    with pytest.raises(UserError, match="RunSpec.stop must be a positive"):
        RunSpec(plan, WSD, ref, stop=0)


def test_a_wsd_landscape_branches_its_budgets(run_cli, tmp_path):
    import json

    out = tmp_path / "landscape"
    r = run_cli("landscape", "run", "--preset", "smoke", "--seeds", "0", "--schedule", "wsd", "--store",
                tmp_path / "runs", "--out", out, "--quiet")
    assert r.code == 0, r.err
    assert "21 runs (7 mixtures × 3 budgets × 1 seeds)" in r.out and "branching:" in r.out
    trained, separate = r.out.split("branching: ")[1].split(" proxy tokens trained where separate runs would train ")
    ratio = int(trained.replace(",", "")) / int(separate.split(" ")[0].replace(",", ""))
    assert 0.62 < ratio < 0.70       # 3 budgets at 2x spacing, 20% cooldowns: (1 + 0.2/2 + 0.2/4) / 1.75 = 0.657
    configs = [json.loads(p.read_text()) for p in (tmp_path / "runs").glob("*/config.json")]
    assert len(configs) == 21 and sum("parent" in c for c in configs) == 14
    assert all(c["proxy"]["schedule"] == "wsd" for c in configs)
    runs = (out / "runs.csv").read_text().splitlines()
    assert len(runs) == 22
    import pandas as pd

    frame = pd.read_csv(out / "runs.csv")        # a branch belongs to its own budget, not its plan's
    assert frame["scale"].value_counts().to_dict() == {30000: 7, 60000: 7, 120000: 7}
    assert (frame["scale"] == frame["total_tokens"]).all()
    curves = pd.read_csv(out / "curves.csv")
    assert sorted(curves["scale"].unique()) == [30000, 60000, 120000]
    listed = run_cli("runs", "--store", tmp_path / "runs")
    assert listed.code == 0 and f"branching: {trained.strip()} proxy tokens trained" in listed.out
    r = run_cli("landscape", "run", "--preset", "smoke", "--schedule", "wsd", "--cooldown", "1.5", "--out", out)
    assert r.code == 2 and "--cooldown must be in (0, 1)" in r.err


def test_a_killed_trunk_keeps_its_branches_and_resumes_from_its_last_branch_point(data, tmp_path, monkeypatch):
    from autoscale_kit.proxy import train as train_mod
    from autoscale_kit.runs.store import CorpusRef, RunSpec, RunStore, run_many

    ref = CorpusRef(None, ("code", "books", "wikipedia"))
    plan = Mixture({"code": 24000, "books": 12000, "wikipedia": 12000})
    specs = [RunSpec(plan, WSD, ref, stop=b) for b in (12000, 24000)] + [RunSpec(plan, WSD, ref)]
    real = train_mod._Engine.finish
    calls = []

    def killed_after_the_first_branch(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(train_mod._Engine, "finish", killed_after_the_first_branch)
    store = RunStore(tmp_path / "runs")
    with pytest.raises(KeyboardInterrupt):
        run_many(specs, store, progress=False)
    assert store.is_done(specs[0].key) and not store.is_done(specs[1].key) and not store.is_done(specs[2].key)
    monkeypatch.setattr(train_mod._Engine, "finish", real)
    checkpoint = tmp_path / "runs" / ".trunks" / f"{specs[2].key}.pt"
    assert checkpoint.is_file()                       # the trunk's state at its first branch point
    steps = []
    real_advance = train_mod._advance

    def counted(engine, track, step, bar):
        steps.append(step)
        return real_advance(engine, track, step, bar)

    monkeypatch.setattr(train_mod, "_advance", counted)
    again = RunStore(tmp_path / "runs")
    run_many(specs, again, progress=False)
    assert sorted(again.trained) == sorted([specs[1].key, specs[2].key])
    first_branch = cooldown_start(math.ceil(12000 / (8 * 64)), WSD)
    assert min(steps) == first_branch and not checkpoint.exists()    # resumed there, not from step 0
    # and the resumed pass gives the numbers of an uninterrupted one
    monkeypatch.setattr(train_mod, "_advance", real_advance)
    whole = RunStore(tmp_path / "whole")
    fresh = run_many(specs, whole, progress=False)
    resumed = [again.load(s.key) for s in specs]
    assert [r.val_loss for r in resumed] == [r.val_loss for r in fresh]
    assert [r.tokens for r in resumed] == [r.tokens for r in fresh]
    assert [r.curve.to_dict() for r in resumed] == [r.curve.to_dict() for r in fresh]


def test_a_wsd_study_trains_each_ddo_mixture_once_with_its_budgets_branched(tmp_path):
    from autoscale_kit.methods.rounds import ddo_round
    from autoscale_kit.runs.store import RunStore
    from autoscale_kit.study.config import StudyConfig
    from autoscale_kit.study.lab import CorpusLab

    proxy = WSD.with_(eval_points=0)
    study = StudyConfig(name="wsd", domains=("code", "books"), budgets=(12_000, 24_000), target=48_000,
                        proxy=proxy, ratios=(0.5, 2.0))
    store = RunStore(tmp_path / "runs")
    lab = CorpusLab(study, store, progress=False)
    assert lab.branching and lab.horizon == 24_000
    small, large = ddo_round(lab, 12_000), ddo_round(lab, 24_000)
    # five mixtures: five plans to 24k, each with its 12k run branched off, nothing trained twice
    assert len(store.trained) == 10 == len(set(store.trained))
    assert all(r.stop == round(r.mixture.total / 2) and r.parent is not None for r in small.records)
    assert all(r.stop is None for r in large.records)
    assert [r.parent for r in small.records] == [r.key for r in large.records]
    data = prepare_tokens(corpus_mod.load(None, domains=["code", "books"]), proxy)
    for run, record in zip(small.plan, small.records):      # each branch: the wsd run at its own budget
        assert record.budget == int(round(run.mixture.total)) == record.total_tokens
        for d in ("code", "books"):
            assert abs(record.tokens[d] - run.mixture[d]) <= proxy.seq_len
    alone = train_proxy(data, large.records[1].mixture, proxy, progress=False, stop=small.records[1].stop)
    assert alone.val_loss == small.records[1].val_loss
    # cosine studies train every budget on its own, as before
    cosine = CorpusLab(StudyConfig(name="c", domains=("code", "books"), budgets=(12_000, 24_000), target=48_000,
                                   proxy=BASE, ratios=(0.5, 2.0)), store, progress=False)
    assert not cosine.branching
    assert all(cosine.spec(p).stop is None for p in __import__("autoscale_kit.methods.rounds",
                                                                 fromlist=["x"]).all_ddo_probes(cosine))


def test_the_arena_on_a_wsd_landscape_reads_the_landscapes_own_branches(tmp_path):
    from dataclasses import replace

    from autoscale_kit.landscape.design import landscape_specs
    from autoscale_kit.methods.registry import CompareConfig, landscape_probes
    from autoscale_kit.proxy.config import wsd_config
    from autoscale_kit.study.landscape_arena import arena_study
    from autoscale_kit.study.landscapes import landscape_config
    from autoscale_kit.study.lab import CorpusLab

    smoke = landscape_config("smoke")
    config = replace(smoke, budgets=(30_000, 60_000, 120_000, 240_000),
                     proxy=wsd_config(smoke.proxy, 30_000))
    lab = CorpusLab(arena_study(config), tmp_path / "runs", CompareConfig(landscape_step=config.step), progress=False,
                    horizon=config.budgets[-1])
    wanted = {lab.spec(p).key for p in landscape_probes(lab)}
    landscape = {s.key for s in landscape_specs(config)}
    assert len(wanted) == len(config.points) * 3 * len(config.seeds) and wanted <= landscape


def test_a_wsd_study_says_what_branching_saved(tmp_path):
    from autoscale_kit.present.report import write_report
    from autoscale_kit.study.config import StudyConfig
    from autoscale_kit.study.pipeline import run_study

    study = StudyConfig(name="wsd", domains=("code", "books"), budgets=(12_000, 24_000), target=48_000,
                        proxy=WSD, ratios=(0.5, 2.0), seeds=(0,))
    result = run_study(study, tmp_path / "runs", progress=False)
    summary = result.summary()
    b = summary["branching"]
    assert b["trained_tokens"] < b["separate_runs_tokens"] <= summary["training_tokens"]
    page = write_report(result, tmp_path / "report").read_text()
    assert "Branched off wsd trunks" in page
    cosine = run_study(study.__class__(**{**study.__dict__, "proxy": BASE}), tmp_path / "runs", progress=False)
    assert "branching" not in cosine.summary()
