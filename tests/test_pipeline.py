"""The study pipeline: speed-up arithmetic, the smoke study end to end, resume, the report."""

from __future__ import annotations

import re

import json
from pathlib import Path

import pandas as pd
import pytest

from autoscale_kit.study import pipeline
from autoscale_kit.core.errors import UserError
from autoscale_kit.study.pipeline import StudyConfig, speedup_table, study_config, tokens_to_reach
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.proxy.config import ProxyConfig
from autoscale_kit.runs.store import RunRecord


def _curve(tokens, losses):
    return pd.DataFrame({"tokens_seen": tokens, "val_mean": losses})


def test_tokens_to_reach_interpolates_linearly():
    c = _curve([100, 200, 300, 400], [3.0, 2.5, 2.0, 1.8])
    assert tokens_to_reach(c, 2.25) == pytest.approx(250.0)
    assert tokens_to_reach(c, 2.0) == pytest.approx(300.0)
    assert tokens_to_reach(c, 3.5) == pytest.approx(100.0)   # already below at the first point
    assert tokens_to_reach(c, 1.0) is None                   # never reached


def _record(name, seed, tokens, losses, final):
    return RunRecord(key=f"{name}{seed}", path=Path("."), label=name, mixture=Mixture({"a": tokens[-1] / 2,
                     "b": tokens[-1] / 2}), proxy=ProxyConfig(seed=seed), corpus_source=None,
                     val_loss={"a": final, "b": final}, tokens={"a": tokens[-1] // 2, "b": tokens[-1] // 2},
                     total_tokens=tokens[-1], steps=1, n_params=1, wall_time=0.0, device="cpu",
                     tokens_per_second=0.0, finished_at=0.0, curve=_curve(tokens, losses))


def test_speedup_against_uniform_per_seed():
    recs = {
        "uniform": [_record("uniform", 0, [100, 200, 300, 400], [3.0, 2.6, 2.3, 2.0], 2.0)],
        "better": [_record("better", 0, [100, 200, 300, 400], [2.8, 2.4, 2.0, 1.9], 1.9)],
        "worse": [_record("worse", 0, [100, 200, 300, 400], [3.1, 2.8, 2.5, 2.2], 2.2)],
    }
    table = speedup_table(recs).set_index("mixture")
    assert table.loc["uniform", "saving"] == pytest.approx(0.0)
    assert table.loc["better", "tokens_to_reference"] == pytest.approx(300.0)
    assert table.loc["better", "saving"] == pytest.approx(0.25)
    assert pd.isna(table.loc["worse", "saving"])
    summary = pipeline.summarize_speedup(speedup_table(recs)).set_index("mixture")
    assert summary.loc["better", "reached"] == "1/1" and summary.loc["worse", "reached"] == "0/1"


def _result(finals):
    """A StudyResult with only its validation runs: {mixture: final loss per seed}, mixtures named
    'a' and 'b' with the same weights."""
    steps = [100, 200, 300, 400]
    validation = {n: tuple(_record(n, seed, steps, [3.0, 2.6, 2.3, f], f) for seed, f in enumerate(fs))
                  for n, fs in finals.items()}
    mixtures = {n: Mixture({"a": 200, "b": 200} if n in ("a", "b") else {"a": 100, "b": 300}) for n in finals}
    return pipeline.StudyResult(study_config("smoke"), (), None, mixtures, validation,
                                speedup_table(validation))


def test_the_verdict_names_the_closest_mixture_and_its_twin():
    """When none beats uniform, the sentence names the closest mixture (and any mixture with the
    same weights: one mixture under two names), its loss against uniform with an interval, in the
    objective's unit; when one does, it says how many fewer tokens it needed."""
    lost = _result({"uniform": [2.0, 2.1], "a": [2.1, 2.2], "b": [2.1, 2.2], "c": [2.3, 2.4]}).verdict()
    assert lost.startswith("At 480k tokens, no mixture reached uniform's final loss (2.050 nats/byte)")  # smoke target
    assert "the closest, a (the same mixture as b), ends 0.100 nats/byte above uniform's loss (gain -0.100 [" in lost
    assert "over 2 seeds, paired by seed" in lost
    # the per-mixture verdicts use the same sign (gain: uniform's loss − the mixture's) and unit
    against = _result({"uniform": [2.0, 2.1], "a": [2.1, 2.2]}).against_uniform()["a"]["text"]
    assert against.startswith("loses to uniform: gain -0.100 nats/byte [")
    won = _result({"uniform": [2.0, 2.1], "c": [1.9, 2.0]}).verdict()
    assert "c reached uniform's final loss (2.050 nats/byte) with" in won and "fewer tokens" in won


def test_speedup_needs_the_reference():
    with pytest.raises(UserError, match="reference mixture 'uniform'"):
        speedup_table({"x": [_record("x", 0, [1, 2], [2.0, 1.0], 1.0)]})


@pytest.mark.parametrize("changes, pattern", [
    ({"budgets": (100_000,)}, "two or more budgets"),
    ({"budgets": (200_000, 100_000)}, "increasing"),
    ({"target": 0}, "positive"),
    ({"seeds": ()}, "at least one seed"),
])
def test_bad_study_config(changes, pattern):
    with pytest.raises(UserError, match=pattern):
        StudyConfig(**changes)


def test_unknown_scale_preset():
    with pytest.raises(UserError, match="unknown scale 'huge'"):
        study_config("huge")


@pytest.mark.parametrize("scale", ["smoke", "small", "medium"])
def test_ddo_plan_has_a_base_run_down_to_the_token(scale, tmp_path):
    """Totals that do not divide evenly between the domains must still give runs that each differ
    from the base in exactly one domain (found as such by DDO), in whole tokens."""
    from autoscale_kit.study.lab import CorpusLab
    from autoscale_kit.methods.registry import ddo_plan
    from autoscale_kit.core.tables import find_base_run, read_runs_table

    config = study_config(scale)
    lab = CorpusLab(config, tmp_path / "store")
    for total in config.budgets:
        specs = [lab.spec(probe) for _, probe in ddo_plan(lab, total)]
        domains = specs[0].mixture.domains
        frame = pd.DataFrame([{f"tokens:{d}": s.mixture[d] for d in domains} | {f"loss:{d}": 1.0 for d in domains}
                              for s in specs])
        found = find_base_run(read_runs_table(frame))
        n_seeds = len(config.ddo_seeds)   # the plan once per DDO seed: equal runs are replicates
        assert found.row == 0 and len(found.replicates) == n_seeds
        assert all(len(found.perturbed[d]) == len(config.ratios) * n_seeds for d in domains)
        assert all(v == int(v) for s in specs for v in s.mixture.tokens.values())
        assert abs(specs[0].mixture.total - total) < 1


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    result = pipeline.run_study(study_config("smoke"), store, progress=False)
    return store, result


def test_smoke_study_runs_and_reports(smoke, tmp_path):
    from autoscale_kit.present.report import write_report

    store, result = smoke
    cfg = result.config
    n_dom = len(cfg.domains)
    assert len(result.rounds) == 2
    n_plan = len(cfg.ddo_seeds) * (2 * n_dom + 1)
    for sc in result.rounds:
        assert len(sc.records) == n_plan
        assert sum(sc.ddo.weights.values()) == pytest.approx(1.0)
        # the plan runs on 2 seeds at smoke too: every answer has an interval holding it, and a verdict
        iv = sc.answer_interval
        assert set(iv) == set(cfg.domains)
        assert all(lo - 1e-9 <= hi for lo, hi in iv.values())
        assert sc.verdict.against_uniform in ("beats", "loses", "cannot tell") and "Noise:" in sc.verdict.text
    assert set(result.mixtures) == {"autoscale", "uniform", "ddo-reused"}
    for m in result.mixtures.values():
        assert abs(m.total - cfg.target) <= n_dom
    # the reused mixture is the larger scale's DDO optimum carried to the target
    for d, w in result.rounds[-1].ddo.weights.items():
        assert result.mixtures["ddo-reused"].weights[d] == pytest.approx(w, abs=1e-5)
    assert result.prediction.optimum.total == pytest.approx(cfg.target)
    page = write_report(result, tmp_path / "report")
    out = page.parent
    for f in ["runs.csv", "optima.csv", "speedup.csv", "summary.json", "figures/loss_vs_tokens.png",
              "figures/weights_trajectory.png", "figures/weights_by_scale.png", "figures/loss_change_vs_uniform.png",
              f"figures/ddo_fits_{cfg.budgets[0]}.png"]:
        assert (out / f).is_file(), f
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 2 * n_plan + 3 * len(cfg.seeds)
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["prediction"]["interval"]) == set(cfg.domains)
    assert all(row["interval"] and row["verdict"]["text"] for row in summary["ddo"])
    assert set(summary["against_uniform"]) == {"autoscale", "ddo-reused"}
    text = page.read_text()
    assert "Verdict:" in text and "Against uniform" in text and re.search(r"\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]", text)
    # the verdict sentence, drawn from the runs, heads the page: the first paragraph under the title
    first = next(line for line in text.splitlines()[1:] if line.strip())
    assert first == f"**Verdict.** {result.verdict()}" and "480k" in first
    assert "nan" not in text.lower().replace("nanmean", "")
    assert {row["mixture"] for row in summary["speedup"]} == {"autoscale", "uniform", "ddo-reused"}
    from autoscale_kit.core.tables import read_optima_table

    optima, labels = read_optima_table(out / "optima.csv")
    assert len(optima) == 3 and optima[0].domains == tuple(cfg.domains)
    assert labels[-1] == f"predicted-{cfg.target}"
    assert "AutoScale study" in page.read_text()


def test_second_invocation_trains_nothing(smoke, monkeypatch):
    store, first = smoke

    def refuse(*a, **k):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr("autoscale_kit.runs.store.train_proxy", refuse)
    again = pipeline.run_study(study_config("smoke"), store, progress=False)
    assert again.prediction.weights == first.prediction.weights
    assert again.speedup.equals(first.speedup)


def test_autoscale_answer_is_the_studys_own_prediction(smoke):
    """What notebook 04 draws (`autoscale_answer`) is the prediction the study validates, fed only the
    answers that stand; a round that fell back to its base is not fed."""
    store, result = smoke
    answer = pipeline.autoscale_answer(study_config("smoke"), store, progress=False)
    assert answer.prediction.weights == result.prediction.weights
    assert [rd.total for rd in answer.rounds] == [rd.total for rd in result.rounds]
    assert answer.optima == [rd.answer for rd in result.rounds if not rd.fell_back]


def test_a_fallen_back_round_is_not_fed_to_the_prediction(smoke):
    from dataclasses import replace
    from types import SimpleNamespace

    _, result = smoke
    rounds = list(result.rounds)
    fell = replace(rounds[0], verification=SimpleNamespace(accepted=None, answer=rounds[0].ddo.base_tokens))
    answer = pipeline.AutoScaleAnswer((fell, *rounds[1:]), result.prediction)
    assert fell.fell_back and not answer.supported and answer.fed == tuple(rounds[1:])
