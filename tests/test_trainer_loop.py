"""The plan-and-ingest loop with a real trainer: DDO planned at the smoke study's two budgets, every
planned run trained by Hugging Face `transformers.Trainer` (examples/hf_trainer_proxy.py) from its
written hf-datasets config over JSONL copies of the bundled domains, each domain its own eval set,
logged to TensorBoard; the event files ingested, DDO fitted per budget, the optimum predicted at the
target and exported. Also: TensorBoard event files written by TensorBoard's own writer, read back."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from autoscale_kit.core.errors import UserError
from autoscale_kit.runs.ingest import ingest, read_logs, read_plan

ROOT = Path(__file__).resolve().parents[1]
DOMAINS = ("code", "books", "wikipedia")


def _example():
    spec = importlib.util.spec_from_file_location("hf_trainer_proxy", ROOT / "examples" / "hf_trainer_proxy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The smoke plan (one DDO seed: 14 runs at 30k and 120k tokens) trained by transformers.Trainer."""
    from autoscale_kit.cli.main import main

    root = tmp_path_factory.mktemp("loop")
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HOME", str(root / "hf"))          # datasets' cache of the JSONL files stays in the test
    mp.setenv("HF_DATASETS_OFFLINE", "1")
    try:
        assert main(["corpus", "--domains", ",".join(DOMAINS), "--jsonl", str(root / "jsonl")]) == 0
        paths = ",".join(f"{d}={root / 'jsonl' / f'{d}.train.jsonl'}" for d in DOMAINS)
        assert main(["plan", "--scale", "smoke", "--ddo-seeds", "0", "--format", "hf-datasets", "--paths", paths,
                     "--out", str(root / "plan")]) == 0
        assert _example().main([str(root / "plan"), "--val-dir", str(root / "jsonl"), "--out",
                                str(root / "trained")]) == 0
    finally:
        mp.undo()
    return root


def _logged_by_trainer(folder: Path) -> dict[str, float]:
    """What the Trainer itself logged last for each domain (its trainer_state.json)."""
    history = json.loads((folder / "trainer_state.json").read_text())["log_history"]
    return {d: [e[f"eval_{d}_loss"] for e in history if f"eval_{d}_loss" in e][-1] for d in DOMAINS}


def test_a_plan_trained_by_transformers_trainer_is_ingested_fitted_predicted_and_exported(trained, run_cli):
    root = trained
    plan = read_plan(root / "plan" / "plan.csv")
    assert len(plan) == 2 * (1 + 2 * len(DOMAINS)) and set(plan["scale"]) == {30_000, 120_000}
    folders = sorted((root / "trained").iterdir())
    assert [f.name for f in folders] == sorted(plan["run"])
    assert all(list(f.glob("runs/*/events.out.tfevents.*")) for f in folders)      # TensorBoard wrote them
    r = run_cli("ingest", root / "plan" / "plan.csv", *folders, "--kind", "tensorboard", "--out", root / "ingested")
    assert r.code == 0, r.err
    assert f"{len(plan)} of {len(plan)} planned runs read" in r.out and "warning" not in r.err
    table = pd.read_csv(root / "ingested" / "runs.csv").set_index("run")
    for f in folders:              # the ingested losses are what the trainer logged (float32 in the event files)
        for d, v in _logged_by_trainer(f).items():
            assert table.loc[f.name, f"loss:{d}"] == pytest.approx(v, rel=1e-6)
    # the same runs through the Trainer's own trainer_state.json agree
    via_state = ingest(plan, read_logs(folders, DOMAINS, kind="trainer")).table.set_index("run")
    assert (via_state.loc[table.index, [f"loss:{d}" for d in DOMAINS]] - table[[f"loss:{d}" for d in DOMAINS]]
            ).abs().to_numpy().max() < 1e-6
    fits = []
    for budget in (30_000, 120_000):
        fit = run_cli("ddo", root / "ingested" / f"runs-{budget}.csv", "--objective", "mean-loss", "--json")
        assert fit.code == 0, fit.err
        path = root / f"ddo-{budget}.json"
        path.write_text(fit.out)
        fits.append(path)
        assert math.isclose(json.loads(fit.out)["total"], budget, rel_tol=1e-9)
    pred = run_cli("predict", *fits, "--total", "480k", "--json")
    assert pred.code == 0, pred.err
    (root / "predicted.json").write_text(pred.out)
    weights = json.loads(pred.out)["weights"]
    assert set(weights) == set(DOMAINS) and math.isclose(sum(weights.values()), 1.0, rel_tol=1e-6)
    paths = ",".join(f"{d}={root / 'jsonl' / f'{d}.train.jsonl'}" for d in DOMAINS)
    export = run_cli("export", root / "predicted.json", "--format", "hf-datasets", "--paths", paths)
    assert export.code == 0, export.err
    assert "TOTAL_TOKENS = 480000" in export.out and "interleave_datasets" in export.out


def test_a_rerun_of_the_trainer_loop_skips_finished_runs(trained, capsys):
    root = trained
    _example().main([str(root / "plan"), "--val-dir", str(root / "jsonl"), "--out", str(root / "trained")])
    said = capsys.readouterr().out
    assert said.count("done before, skipped") == len(read_plan(root / "plan" / "plan.csv"))


def test_tensorboard_event_files_from_tensorboards_writer(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    plan = pd.DataFrame([{"run": r, "role": f"ddo/100/{r}/seed0", "scale": 100, "budget": 100, "seed": 0,
                          **{f"tokens:{d}": 33 for d in DOMAINS}} for r in ("a", "b", "c")])

    def write(folder, steps, losses, args=None, tag="eval/{domain}_loss"):
        w = SummaryWriter(log_dir=str(folder))
        if args is not None:
            w.add_text("args", json.dumps(args))
        for step in steps:
            for d, v in losses.items():
                w.add_scalar(tag.format(domain=d), v + 1.0 / step, step)
        w.close()

    write(tmp_path / "a" / "runs" / "x", [10, 50], {d: 3.0 for d in DOMAINS}, {"max_steps": 50})
    write(tmp_path / "b", [10, 40], {d: 3.0 for d in DOMAINS}, {"max_steps": 100})             # stopped at 40
    write(tmp_path / "c", [20], {"code": 3.0}, {"max_steps": 20})                                 # a domain short
    logged = read_logs([tmp_path / "a", tmp_path / "b", tmp_path / "c"], DOMAINS)
    assert [r.run_id for r in logged] == ["a", "b", "c"]
    assert logged[0].losses == {d: pytest.approx(3.02) for d in DOMAINS}       # the last step's value
    result = ingest(plan, logged)
    said = "\n".join(result.warnings)
    assert list(result.table["run"]) == ["a"]
    assert "b (ddo/100/b/seed0) stopped before its budget" in said and "step 40 of 100" in said
    assert "c (ddo/100/c/seed0) has no loss for books, wikipedia" in said
    # a single event file names its folder's run; another tag by --pattern; a wrong pattern named
    event = next((tmp_path / "b").glob("events.out.tfevents.*"))
    assert read_logs([event], DOMAINS)[0].run_id == "b"
    write(tmp_path / "d", [5], {d: 2.0 for d in DOMAINS}, tag="val/{domain}/loss")
    assert read_logs([tmp_path / "d"], DOMAINS, kind="tensorboard", pattern="val/{domain}/loss")[0].losses["code"] == \
        pytest.approx(2.2)
    with pytest.raises(UserError, match="no scalar 'eval/\\{domain\\}_loss'.*tags: val/books/loss"):
        read_logs([tmp_path / "d"], DOMAINS)
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "events.out.tfevents.0.broken").write_bytes(b"\x00\x01not an event file")
    with pytest.raises(UserError, match="events.out.tfevents.0.broken"):
        read_logs([tmp_path / "e"], DOMAINS, kind="tensorboard")
    (tmp_path / "f").mkdir()
    with pytest.raises(UserError, match="no TensorBoard event file"):
        read_logs([tmp_path / "f"], DOMAINS, kind="tensorboard")
