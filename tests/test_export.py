"""Export: every format parsed back, document-sampling conversion checked with HF datasets on local
data, the feasibility check and capping, sample plans on the bundled corpus, and bad input."""

from __future__ import annotations

import ast
import csv
import io
import json
import math
import shlex
from pathlib import Path

import numpy as np
import pytest
import yaml

from autoscale_kit.data import corpus as corpus_mod
from autoscale_kit.present import export as ex
from autoscale_kit.core.errors import UserError
from autoscale_kit.study.pipeline import capped_mixture

W = {"code": 0.5, "books": 0.3, "wikipedia": 0.2}
PATHS = {"code": "/data/code_text_document", "books": "/data/books_text_document",
         "wikipedia": "/data/wiki_text_document"}


def _pairs(items):
    """A strict reading of Megatron's and NeMo's flat lists: weight, prefix, weight, prefix, …"""
    assert len(items) % 2 == 0, items
    out = {}
    for w, p in zip(items[::2], items[1::2]):
        out[str(p)] = float(w)
    return out


def parse_back(fmt: str, text: str) -> tuple[dict[str, float], list[str]]:
    """(path -> weight, header lines) from an exported text, with the format's own rules."""
    header = [ln for ln in text.splitlines() if ln.startswith("#")]
    if fmt == "megatron":
        line = next(ln for ln in text.splitlines() if ln.startswith("DATA_PATH="))
        return _pairs(shlex.split(line.split("=", 1)[1])[0].split()), header
    if fmt == "megatron-bridge":
        data = json.loads(text)
        prefixes, weights = data["blend"]
        assert len(prefixes) == len(weights)
        return dict(zip(prefixes, map(float, weights))), data["_comment"].splitlines()
    if fmt == "olmo-core":
        cfg = yaml.safe_load(text)["source_mixture_config"]
        out = {}
        for s in cfg["source_configs"]:
            assert set(s) == {"source_name", "paths", "target_ratio", "max_repetition_ratio"}
            assert len(s["paths"]) == 1 and s["max_repetition_ratio"] >= 1
            out[s["paths"][0]] = float(s["target_ratio"])
        return out, header
    if fmt == "nemo":
        return _pairs(yaml.safe_load(text)["model"]["data"]["data_prefix"]), header
    if fmt in ("litgpt", "hf-datasets"):
        tree = ast.parse(text)
        values = {t.id: ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                  for t in n.targets if isinstance(t, ast.Name) and t.id.isupper()}
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
        if fmt == "litgpt":
            combined = next(c for c in calls if getattr(c.func, "id", None) == "CombinedStreamingDataset")
            assert {k.arg for k in combined.keywords} >= {"datasets", "weights"}
            return dict(zip(values["PATHS"], values["WEIGHTS"])), header
        inter = next(c for c in calls if getattr(c.func, "id", None) == "interleave_datasets")
        assert {k.arg for k in inter.keywords} >= {"probabilities", "stopping_strategy", "seed"}
        return dict(zip(values["PATHS"], values["TOKEN_FRACTIONS"])), header
    if fmt == "json":
        data = json.loads(text)
        return {data["paths"][d]: w for d, w in data["weights"].items()}, []
    rows = list(csv.DictReader(io.StringIO("\n".join(ln for ln in text.splitlines() if not ln.startswith("#")))))
    return {r["path"]: float(r["weight"]) for r in rows}, header


@pytest.mark.parametrize("fmt", ex.FORMATS)
def test_every_format_round_trips(fmt):
    e = ex.Export(ex.check_weights(W), "a test", 1_000_000, PATHS, {"code": 800.0, "books": 5000.0, "wikipedia": 2000.0})
    weights, header = parse_back(fmt, ex.write(e, fmt))
    assert weights == pytest.approx({PATHS[d]: w for d, w in W.items()}, abs=1e-6)
    if fmt != "json":
        text = " ".join(header)
        assert "a test" in text and ("document sampling" in text if fmt == "hf-datasets" else "token fractions" in text)


def test_weights_are_normalised_and_bad_weights_refused():
    assert ex.check_weights({"a": 2, "b": 6}) == {"a": 0.25, "b": 0.75}
    for bad, msg in [({"a": 0, "b": 0}, "sum to a positive"), ({"a": -1, "b": 2}, "non-negative"),
                     ({"a": float("nan")}, "non-negative"), ({}, "names no domain")]:
        with pytest.raises(UserError, match=msg):
            ex.check_weights(bad)


def test_hf_probabilities_as_written_sum_to_one_for_numpy():
    """interleave_datasets hands PROBABILITIES to numpy's choice, which refuses a sum off 1 by more
    than ~1e-8 (a plan's run with 6-digit probabilities failed that way)."""
    import ast

    rng = np.random.default_rng(1)
    for _ in range(200):
        w = dict(zip(("code", "books", "wikipedia"), rng.dirichlet(np.full(3, 0.5))))
        e = ex.Export(ex.check_weights(w), "t", 1000, PATHS, {"code": 817.3, "books": 5011.9, "wikipedia": 1999.1})
        tree = ast.parse(ex.write(e, "hf-datasets"))
        probs = next(ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                     and getattr(n.targets[0], "id", "") == "PROBABILITIES")
        assert abs(sum(probs) - 1.0) < 1e-9
        np.random.default_rng(0).choice(3, size=1, p=probs)     # what datasets does with them


def test_document_probabilities_give_the_token_fractions():
    e = ex.Export({"a": 0.5, "b": 0.5}, "t", doc_tokens={"a": 100.0, "b": 400.0})
    p = e.document_probabilities
    assert p == pytest.approx({"a": 0.8, "b": 0.2})
    tokens = {d: p[d] * e.doc_tokens[d] for d in p}
    assert tokens["a"] / sum(tokens.values()) == pytest.approx(0.5)
    with pytest.raises(UserError, match="mean document length"):
        ex.Export({"a": 1.0}, "t").document_probabilities


def test_hf_interleave_achieves_the_token_fractions_on_local_data(tmp_path):
    """The hf-datasets export, run as written with `datasets` on local JSON files of documents whose
    lengths differ 8× between domains: the token fractions it samples match the mixture within
    sampling error, which feeding the token fractions as probabilities would not."""
    pytest.importorskip("datasets")
    rng = np.random.default_rng(0)
    lengths = {"short": 50, "long": 400}
    paths = {}
    for d, L in lengths.items():
        p = tmp_path / f"{d}.jsonl"
        with p.open("w") as f:
            for i in range(3000):
                n = int(rng.integers(L // 2, 3 * L // 2))
                f.write(json.dumps({"text": "x" * n, "domain": d}) + "\n")
        paths[d] = str(p)
    measured = {d: float(np.mean([len(json.loads(ln)["text"]) for ln in open(paths[d])])) for d in lengths}
    weights = {"short": 0.4, "long": 0.6}
    code = ex.write(ex.Export(weights, "t", paths=paths, doc_tokens=measured), "hf-datasets")
    code = code.replace('stopping_strategy="all_exhausted"', 'stopping_strategy="first_exhausted"')
    scope: dict = {}
    exec(compile(code, "export.py", "exec"), scope)
    mixed = scope["mixed"].select(range(2000))
    tok = {d: 0 for d in lengths}
    for row in mixed:
        tok[row["domain"]] += len(row["text"])
    share = tok["short"] / sum(tok.values())
    # the sampling error of a token fraction over 2000 documents, by the delta method, is under 0.02
    assert abs(share - 0.4) < 0.04
    naive = 0.4 * measured["short"] / (0.4 * measured["short"] + 0.6 * measured["long"])
    assert naive < 0.15          # token fractions used as document probabilities: far off


def test_cap_and_redistribute_iterates_until_nothing_is_over():
    # a asks 40 of its 10; one pass gives b 0.3/0.6 · 90 = 45 > its 25: b must be capped too
    counts = ex.cap_and_redistribute({"a": 0.4, "b": 0.3, "c": 0.3}, 100, {"a": 10, "b": 25, "c": 1000})
    assert counts["a"] == 10 and counts["b"] == 25 and counts["c"] == pytest.approx(65)
    assert sum(counts.values()) == pytest.approx(100)
    with pytest.raises(UserError, match="less than the total"):
        ex.cap_and_redistribute({"a": 0.5, "b": 0.5}, 100, {"a": 10, "b": 10})
    # the study's validation capping is the same function
    mix, note = capped_mixture("m", {"a": 0.4, "b": 0.3, "c": 0.3}, 100, {"a": 10, "b": 25, "c": 1000})
    assert dict(mix.items()) == {"a": 10, "b": 25, "c": 65} and "a, b capped" in note


def test_feasibility_counts_epochs_and_warns_past_the_threshold():
    f = ex.feasibility({"a": 0.5, "b": 0.5}, 1000, {"a": 250, "b": 5000}, max_epochs=1.5)
    assert f.epochs == {"a": 2.0, "b": 0.1} and f.repeated == {"a": 2.0} and list(f.over) == ["a"]
    assert "a would be read 2.00 times" in f.warnings()[0] and f.capped is None
    assert "(500 of its 250 tokens); past 1.5 epochs repetition" in f.warnings()[0]
    big = ex.feasibility({"a": 0.5, "b": 0.5}, 4e7, {"a": 5e6, "b": 5e7}, max_epochs=1.0)
    assert "(20M of its 5M tokens); past 1 epoch repetition" in big.warnings()[0]
    c = ex.feasibility({"a": 0.5, "b": 0.5}, 1000, {"a": 250, "b": 5000}, max_epochs=1.0, cap=True)
    assert c.capped == pytest.approx({"a": 0.25, "b": 0.75})
    with pytest.raises(UserError, match="no data for"):
        ex.feasibility({"web": 1.0}, 10, {"a": 5})


def test_sample_plan_realises_the_mixture_on_the_bundled_corpus():
    corpus = corpus_mod.load(None)
    available, _ = ex.corpus_facts(corpus)
    chunk = 1024
    chunks = {d: n // chunk for d, n in available.items()}
    weights = ex.check_weights({d: i + 1 for i, d in enumerate(corpus.domains)})
    total = 4_000_000
    plan = ex.sample_plan(weights, total, chunks, chunk, seed=3)
    assert plan == ex.sample_plan(weights, total, chunks, chunk, seed=3)          # reproducible
    assert plan != ex.sample_plan(weights, total, chunks, chunk, seed=4)
    assert len(plan) == total // chunk
    for d in weights:                                                           # no chunk twice in an epoch
        picked = [(x.chunk, x.epoch) for x in plan if x.domain == d]
        assert len(picked) == len(set(picked)) and all(x.chunk < chunks[d] for x in plan if x.domain == d)
    check = ex.fraction_check(weights, ex.achieved_fractions(plan), len(plan))
    assert all(v["ok"] for v in check.values()), check
    # the first N draws are a random sample of the mixture: their fractions are within sampling error
    head = plan[:500]
    check = ex.fraction_check(weights, ex.achieved_fractions(head), len(head))
    assert all(v["ok"] for v in check.values()), check
    # a domain with too little data is repeated, in later epochs
    small = ex.sample_plan({"a": 0.5, "b": 0.5}, 100 * chunk, {"a": 20, "b": 1000}, chunk)
    assert max(x.epoch for x in small if x.domain == "a") == 2 and max(x.epoch for x in small if x.domain == "b") == 0


def test_read_source_reads_every_kind(tmp_path):
    w, ctx = ex.read_source("code=1,books=3")
    assert w == {"code": 0.25, "books": 0.75} and ctx["source"] == "given on the command line"
    (tmp_path / "ddo.json").write_text(json.dumps({"weights": {"a": 0.2, "b": 0.8}, "total": 1e6}))
    w, ctx = ex.read_source(str(tmp_path / "ddo.json"))
    assert w == {"a": 0.2, "b": 0.8} and ctx["total"] == 1e6
    repo = Path(__file__).resolve().parents[1]
    w, ctx = ex.read_source(str(repo / "data/landscape/bundled/fit.json"))
    assert set(w) == {"code", "books", "wikipedia"} and math.isclose(sum(w.values()), 1) and ctx["total"] == 2e6
    report = tmp_path / "report"
    report.mkdir()
    (report / "summary.json").write_text(json.dumps({"config": {"target": 480000, "corpus": None},
                                                     "mixtures": {"autoscale": {"a": 1, "b": 1}, "uniform": {"a": 1}}}))
    w, ctx = ex.read_source(str(report), "autoscale")
    assert w == {"a": 0.5, "b": 0.5} and ctx["total"] == 480000
    with pytest.raises(UserError, match="has no mixture 'best'"):
        ex.read_source(str(report), "best")
    (tmp_path / "other.json").write_text(json.dumps({"x": 1}))
    with pytest.raises(UserError, match="holds no mixture"):
        ex.read_source(str(tmp_path / "other.json"))
    with pytest.raises(UserError, match="neither a file"):
        ex.read_source("nothing-here")


def test_cli_export_writes_and_checks(run_cli, tmp_path):
    r = run_cli("export", "code=0.5,books=0.3,wikipedia=0.2", "--format", "megatron", "--total", "2M",
                "--paths", ",".join(f"{d}={p}" for d, p in PATHS.items()))
    assert r.code == 0, r.err
    assert parse_back("megatron", r.out)[0] == pytest.approx({PATHS[d]: w for d, w in W.items()})
    r = run_cli("export", "code=0.5,books=0.3,wikipedia=0.2", "--format", "all", "--total", "2M", "--out", tmp_path / "x")
    assert r.code == 0, r.err
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == sorted(
        ex.export_filename("mixture", f) for f in ex.FORMATS)
    # past one epoch: a warning, or with --cap the weights moved to the domains that have room
    big = run_cli("export", "code=0.9,books=0.1", "--format", "json", "--total", "8M")
    assert big.code == 0 and "warning: code would be read" in big.err
    capped = json.loads(run_cli("export", "code=0.9,books=0.1", "--format", "json", "--total", "8M", "--cap").out)
    assert capped["weights"]["code"] < 0.9 and capped["epochs"]["code"] > 1


@pytest.mark.parametrize("args, pattern", [
    (["code=1", "--format", "yaml"], "unknown export format 'yaml'"),
    (["code=0,books=0", "--format", "json"], "sum to a positive number"),
    (["code=1,books=1", "--format", "megatron", "--paths", "code=/d/code"], "no path for books"),
    (["code=1,books=1", "--format", "megatron", "--paths", "code=/a,books=/b,web=/c"], "--paths names web"),
    (["code=0.9,books=0.1", "--format", "json", "--total", "8M", "--no-repetition"], "--no-repetition refuses it"),
    (["code=1,books=1", "--format", "all"], "give --out FOLDER"),
    (["code=1,web=1", "--format", "json", "--total", "1M", "--cap"], "need a total and the domains' sizes"),
])
def test_cli_export_bad_input_is_one_line(run_cli, args, pattern):
    r = run_cli("export", *args)
    assert r.code == 2, (r.out, r.err)
    assert len(r.err.strip().splitlines()) == 1 and pattern in r.err and "Traceback" not in r.err
