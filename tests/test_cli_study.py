"""CLI commands over training and the study: train, runs, demo."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest


def test_train_then_runs(run_cli, domain_folder: Path, tmp_path: Path):
    store = tmp_path / "store"
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"n_layer": 1, "n_embd": 32, "n_head": 2, "seq_len": 64, "eval_points": 1,
                                  "val_tokens": 1024, "curve_val_tokens": 1024}))
    r = run_cli("train", "--corpus", domain_folder, "--weights", "code=1,prose=3", "--total", "8k",
                "--config", config, "--store", store, "--quiet", "--json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["tokens"] == {"code": 2000, "prose": 6000}
    assert set(out["val_loss"]) == {"code", "maths", "prose"}
    # the same command again loads the finished run
    again = run_cli("train", "--corpus", domain_folder, "--weights", "code=1,prose=3", "--total", "8k",
                    "--config", config, "--store", store, "--quiet", "--json")
    assert json.loads(again.out)["run"] == out["run"]
    r = run_cli("runs", "--store", store, "--csv", tmp_path / "runs.csv")
    assert r.code == 0, r.err
    table = pd.read_csv(tmp_path / "runs.csv")
    assert table["tokens:prose"].tolist() == [6000] and "loss:maths" in table.columns


@pytest.mark.parametrize("args, pattern", [
    (["train", "--weights", "code=1"], "give --total"),
    (["train", "--tokens", "code=abc", "--corpus", "FOLDER"], "--tokens for 'code' must be a non-negative number"),
    (["train", "--tokens", "web=100", "--corpus", "FOLDER"], "unknown domain 'web'"),
    (["train", "--total", "10k", "--preset", "huge", "--corpus", "FOLDER"], "unknown proxy preset"),
    (["train", "--total", "10k", "--config", "/no/such.json", "--corpus", "FOLDER"], "cannot read config file"),
    (["train", "--tokens", "code=99999999", "--corpus", "FOLDER"], "repetition='repeat'"),
    (["runs", "--store", "/no/such/store"], "does not exist"),
    (["demo", "--scale", "huge"], "unknown scale 'huge'"),
    (["demo", "--scale", "smoke", "--seeds", "x"], "--seeds must be integers"),
])
def test_bad_input_is_one_line(run_cli, domain_folder, args, pattern):
    r = run_cli(*[str(domain_folder) if a == "FOLDER" else a for a in args])
    assert r.code == 2, (r.out, r.err)
    assert len(r.err.strip().splitlines()) == 1 and pattern in r.err and "Traceback" not in r.err


def test_demo_smoke_writes_a_report(run_cli, tmp_path: Path):
    out = tmp_path / "report"
    r = run_cli("demo", "--scale", "smoke", "--domains", "code,books", "--store", tmp_path / "store", "--out", out,
                "--quiet")
    assert r.code == 0, r.err
    assert "report:" in r.out and (out / "report.md").is_file() and (out / "summary.json").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["domains"] == ["code", "books"]
    # the report's export/ folder holds every mixture in every format, and the export command reads the report
    from autoscale_kit.present.export import FORMATS, export_filename

    names = {p.name for p in (out / "export").iterdir()}
    assert {export_filename(m, f) for m in summary["mixtures"] for f in FORMATS} <= names
    assert "README.md" in names
    again = run_cli("export", out, "--format", "json")
    assert again.code == 0, again.err
    exported = json.loads(again.out)
    assert exported["total"] == summary["config"]["target"]
    for d, w in summary["mixtures"]["autoscale"].items():
        assert abs(exported["weights"][d] - w) < 1e-6
    assert json.loads((out / "export" / "autoscale.json").read_text())["weights"] == exported["weights"]


def test_train_with_the_bert_family(run_cli, domain_folder: Path, tmp_path: Path):
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"n_layer": 1, "n_embd": 32, "n_head": 2, "seq_len": 64, "eval_points": 1,
                                  "val_tokens": 1024, "curve_val_tokens": 1024}))
    args = ["train", "--corpus", domain_folder, "--weights", "code=1,prose=3", "--total", "8k", "--config", config,
            "--store", tmp_path / "store", "--quiet", "--json"]
    bert = run_cli(*args, "--family", "bert")
    assert bert.code == 0, bert.err
    out = json.loads(bert.out)
    assert out["family"] == "bert" and out["tokens"] == {"code": 2000, "prose": 6000}   # input tokens, exactly
    gpt = json.loads(run_cli(*args).out)
    assert gpt["family"] == "gpt2" and gpt["run"] != out["run"]                          # separate store entries
    bad = run_cli(*args, "--family", "t5")
    assert bad.code == 2 and "invalid choice" in bad.err


def test_demo_smoke_with_bert_proxies(run_cli, tmp_path: Path):
    """The paper's second setting end to end: BERT proxies, DDO with ratios 1/3 and 2, the prediction
    and validation at the target."""
    out = tmp_path / "report"
    r = run_cli("demo", "--scale", "smoke", "--family", "bert", "--store", tmp_path / "store", "--out", out, "--quiet")
    assert r.code == 0, r.err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["proxy"]["family"] == "bert" and summary["study"] == "smoke-bert"
    assert summary["config"]["ratios"] == [1 / 3, 2.0]
    report = (out / "report.md").read_text()
    assert "BERT masked LM" in report and "ratios ×0.333, ×2" in report
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == summary["training_runs"]
    assert "predicted at 480k" in r.out
