"""The token store: built by streaming, resumable, memory-mapped, and the same data as the
in-memory path where it must be (the bundled corpus: every run key and loss unchanged)."""

from __future__ import annotations

import gzip
import json
import lzma
from pathlib import Path

import numpy as np
import pytest

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.data import corpus as corpus_mod
from autoscale_kit.data import store as store_mod
from autoscale_kit.data.store import ConcatTokens, build_store, cached_store, open_store
from autoscale_kit.data.tokendata import prepare_tokens
from autoscale_kit.proxy.config import ProxyConfig
from autoscale_kit.proxy.train import train_proxy
from autoscale_kit.runs.store import CorpusRef, RunSpec, RunStore, corpus_fingerprint, run_many, token_data

from conftest import REPO, words_text

BPE = REPO / "data" / "tokenizers" / "bpe-8k" / "tokenizer.json"
TINY = ProxyConfig(n_layer=1, n_head=2, n_embd=32, seq_len=64, batch_size=8, eval_points=1, val_tokens=2048,
                   curve_val_tokens=2048, threads=1)


@pytest.fixture(scope="module")
def bundled_store(tmp_path_factory):
    return build_store(None, tmp_path_factory.mktemp("stores") / "bundled", workers=2, progress=False)


def test_bundled_corpus_through_the_store_is_the_same_data(bundled_store):
    """Streams, validation windows and fingerprint equal the in-memory path's, token for token."""
    cfg = ProxyConfig(seq_len=128, val_tokens=65_536)
    mapped = bundled_store.token_data(None, cfg.seq_len, cfg.val_tokens)
    memory = prepare_tokens(corpus_mod.load(), cfg)
    assert mapped.domains == memory.domains
    for d in memory.domains:
        assert isinstance(mapped.train[d], ConcatTokens)
        assert all(isinstance(p, np.memmap) for p in mapped.train[d].parts)
        assert mapped.train[d].dtype == np.uint16
        assert np.array_equal(np.asarray(mapped.train[d]), memory.train[d])
        assert np.array_equal(mapped.val[d], memory.val[d])
    assert bundled_store.fingerprint(None) == corpus_fingerprint(CorpusRef())
    sub = ("books", "code")
    assert bundled_store.fingerprint(sub) == corpus_fingerprint(CorpusRef(None, sub))


def test_run_keys_and_losses_unchanged_through_the_store(bundled_store, tmp_path):
    mix = Mixture({"code": 3000, "books": 2000})
    by_text = RunSpec(mix, TINY, CorpusRef(None, ("code", "books", "wikipedia")))
    by_store = RunSpec(mix, TINY, CorpusRef(str(bundled_store.path), ("code", "books", "wikipedia")))
    assert by_text.key == by_store.key
    a = run_many([by_text], RunStore(tmp_path / "a"), progress=False)[0]
    b = run_many([by_store], RunStore(tmp_path / "b"), progress=False)[0]
    assert a.val_loss == b.val_loss and a.tokens == b.tokens


def test_a_damaged_bundled_file_is_refused_by_the_build(tmp_path):
    import shutil

    folder = tmp_path / "corpus"
    shutil.copytree(REPO / "data" / "corpus", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    entry = next(e for e in manifest["files"] if e["domain"] == "code" and e["split"] == "val")
    with lzma.open(folder / entry["file"], "rt", encoding="utf-8") as f:
        text = f.read()
    with lzma.open(folder / entry["file"], "wt", encoding="utf-8") as f:
        f.write("X" + text[1:])
    with pytest.raises(UserError, match="does not match its manifest sha256"):
        build_store(str(folder), tmp_path / "store", progress=False)
    assert not (tmp_path / "store" / "store.json").exists()


@pytest.fixture
def mixed_formats(tmp_path):
    """One domain per format: .txt files, .jsonl.gz, .jsonl.xz, .jsonl.zst, Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import zstandard

    root = tmp_path / "src"
    (root / "prose").mkdir(parents=True)
    for i in range(3):
        (root / "prose" / f"doc{i}.txt").write_text(words_text(i, 30_000, "the cat sat on a mat"))
    docs = {name: [words_text(50 + k + 10 * j, 9_000, words) for k in range(8)]
            for j, (name, words) in enumerate([("code", "def return if else x = ( )"), ("maths", "let x be prime"),
                                               ("qa", "why how what is the answer"), ("law", "the court held that")])}
    with gzip.open(root / "code.jsonl.gz", "wt") as f:
        f.writelines(json.dumps({"text": t}) + "\n" for t in docs["code"])
    with lzma.open(root / "maths.jsonl.xz", "wt") as f:
        f.writelines(json.dumps({"text": t}) + "\n" for t in docs["maths"])
    (root / "qa.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(
        "".join(json.dumps({"text": t}) + "\n" for t in docs["qa"]).encode()))
    pq.write_table(pa.table({"text": docs["law"]}), root / "law.parquet")
    return root, docs


def test_every_file_format_streams_into_a_store(mixed_formats, tmp_path):
    root, docs = mixed_formats
    store = build_store(str(root), tmp_path / "store", progress=False)
    assert set(store.domains) == {"prose", "code", "maths", "qa", "law"}
    table = store.table().set_index("domain")
    sep = len(store_mod.SEPARATOR.encode())
    for name, texts in docs.items():   # bytes tokenizer: every byte of text, a separator between documents
        text_bytes = sum(len(t.encode()) for t in texts)
        stored = table.loc[name, "train tokens"] + table.loc[name, "val tokens"]
        assert text_bytes <= stored <= text_bytes + sep * len(texts)
        assert table.loc[name, "documents"] == len(texts)
    assert table.loc["prose", "documents"] == 3
    assert (table["val tokens"] > 0).all() and not table["val capped"].any()


def test_the_split_is_the_corpus_rule(mixed_formats, tmp_path):
    """A unit goes to validation in the store exactly when the in-memory corpus puts it there
    (`corpus.split_documents`, tiny domains' rule included)."""
    root, docs = mixed_formats
    store = build_store(str(root), tmp_path / "store", progress=False)
    for name, texts in docs.items():
        file = next(p.name for p in root.iterdir() if p.name.startswith(name + "."))
        pairs = [(f"{file}:{k + 1}", t) for k, t in enumerate(texts)]
        split = corpus_mod.split_documents(name, pairs)
        text_of = dict(pairs)
        expected = [text_of[doc][o: o + corpus_mod.UNIT_CHARS] for doc, o in split.val_units]
        got = bytes(np.asarray(store.val(name)).astype(np.uint8)).decode()
        assert len(got.replace(store_mod.SEPARATOR, "")) == sum(len(u.replace(store_mod.SEPARATOR, "")) for u in expected)
        assert all(u in got for u in expected)


def test_workers_do_not_change_the_store(mixed_formats, tmp_path):
    root, _ = mixed_formats
    one = build_store(str(root), tmp_path / "one", workers=1, progress=False)
    two = build_store(str(root), tmp_path / "two", workers=2, progress=False)
    assert one.manifest["streams"] == two.manifest["streams"]
    assert one.fingerprint() == two.fingerprint()


def test_a_killed_build_resumes_without_redoing_finished_shards(mixed_formats, tmp_path, monkeypatch):
    root, _ = mixed_formats
    real = store_mod.tokenise_shard
    calls = []

    def dies_on_the_third(shard, *args, **kwargs):
        calls.append(shard.id)
        if len(calls) == 3:
            raise KeyboardInterrupt   # the build is killed while the third shard is being written
        return real(shard, *args, **kwargs)

    monkeypatch.setattr(store_mod, "tokenise_shard", dies_on_the_third)
    out = tmp_path / "store"
    with pytest.raises(KeyboardInterrupt):
        build_store(str(root), out, progress=False)
    assert not (out / "store.json").exists()
    assert len(list((out / "shards").glob("[0-9]*"))) == 2
    (out / "shards" / ".tmp-00009-1-abc").mkdir()            # what a killed worker leaves behind
    monkeypatch.setattr(store_mod, "tokenise_shard", real)
    store = build_store(str(root), out, progress=False)
    assert store.manifest["build"]["resumed_shards"] == 2
    assert not list((out / "shards").glob(".tmp-*"))
    fresh = build_store(str(root), tmp_path / "fresh", progress=False)
    assert store.manifest["streams"] == fresh.manifest["streams"]


def test_refusals_name_the_problem(mixed_formats, tmp_path, bundled_store):
    root, _ = mixed_formats
    out = tmp_path / "store"
    build_store(str(root), out, progress=False)
    with pytest.raises(UserError, match="holds a store of another source"):
        build_store(None, out, progress=False)
    with pytest.raises(UserError, match="was built with tokenizer 'bytes'"):
        token_data(CorpusRef(str(bundled_store.path)), TINY.with_(tokenizer=str(BPE)))
    with pytest.raises(UserError, match="unknown domain 'nope'"):
        CorpusRef(str(bundled_store.path), ("code", "nope")).domain_names()
    with pytest.raises(UserError, match="is not a token store"):
        open_store(tmp_path)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "store.json").write_text("{")
    with pytest.raises(UserError, match="damaged"):
        open_store(tmp_path / "bad")
    with pytest.raises(UserError, match="workers must be a positive integer"):
        build_store(str(root), tmp_path / "w", workers=0)
    with pytest.raises(UserError, match="holds tokens, not text"):
        CorpusRef(str(bundled_store.path)).load()


def test_cached_store_is_built_once(mixed_formats, tmp_path):
    root, _ = mixed_formats
    a = cached_store(str(root), root=tmp_path / "cache")
    stamp = (a.path / "store.json").stat().st_mtime_ns
    b = cached_store(str(root), root=tmp_path / "cache")
    assert a.path == b.path and (b.path / "store.json").stat().st_mtime_ns == stamp
    (root / "prose" / "doc0.txt").write_text("changed " * 5000)        # a changed source: a new store
    c = cached_store(str(root), root=tmp_path / "cache")
    assert c.path != a.path


def test_a_bpe_store_trains_with_its_tokenizer(mixed_formats, tmp_path):
    root, docs = mixed_formats
    store = build_store(str(root), tmp_path / "bpe", tokenizer=str(BPE), progress=False)
    assert store.dtype == np.uint16 and store.manifest["tokenizer"]["vocab_size"] == 8192
    eos = store.manifest["tokenizer"]["eos_id"]
    assert eos is not None and store.manifest["split"]["separator"] == "eos"
    code = np.asarray(store.train("code"))
    assert (code == eos).sum() >= 1                                   # documents end with end-of-text
    assert len(code) < sum(len(t) for t in docs["code"]) * 0.9          # BPE: fewer tokens than bytes
    cfg = TINY.with_(tokenizer=str(BPE))
    ref = CorpusRef(str(store.path), ("code", "law"))
    res = train_proxy(token_data(ref, cfg), Mixture({"code": 2000, "law": 1000}), cfg, progress=False)
    assert res.tokens == {"code": 2000, "law": 1000} and all(np.isfinite(list(res.val_loss.values())))


def test_two_workers_train_from_one_store(bundled_store, tmp_path):
    ref = CorpusRef(str(bundled_store.path), ("code", "books"))
    specs = [RunSpec(Mixture({"code": 2000 + 500 * i, "books": 2000}), TINY, ref) for i in range(3)]
    pooled = run_many(specs, RunStore(tmp_path / "pool"), workers=2, progress=False)
    serial = run_many(specs, RunStore(tmp_path / "serial"), progress=False)
    assert [r.val_loss for r in pooled] == [r.val_loss for r in serial]


def test_tokenize_command_builds_inspects_and_trains(run_cli, tmp_path):
    out = tmp_path / "store"
    r = run_cli("tokenize", "--out", out, "--workers", "2", "--quiet")
    assert r.code == 0, r.err
    assert "token store:" in r.out and "wikipedia" in r.out
    r = run_cli("tokenize", out, "--inspect", "--json")
    info = json.loads(r.out)
    assert info["tokenizer"]["dtype"] == "uint16" and len(info["domains"]) == 7
    r = run_cli("corpus", out)
    assert r.code == 0 and "train tokens" in r.out
    args = ("--total", "6k", "--domains", "code,books", "--preset", "tiny", "--quiet", "--json")
    a = json.loads(run_cli("train", "--corpus", out, "--store", tmp_path / "runs", *args).out)
    b = json.loads(run_cli("train", "--store", tmp_path / "runs", *args).out)
    c = json.loads(run_cli("train", "--token-store", "--store", tmp_path / "runs", *args).out)
    assert a["run"] == b["run"] == c["run"]
    r = run_cli("tokenize", tmp_path / "nowhere", "--quiet")
    assert r.code == 2 and "does not exist" in r.err
    r = run_cli("tokenize", out, "--quiet")
    assert r.code == 2 and "already a token store" in r.err


def test_a_saved_hugging_face_dataset_streams_offline(tmp_path):
    datasets = pytest.importorskip("datasets")
    records = [{"text": words_text(i, 6_000, "alpha beta gamma delta"),
                "meta": {"redpajama_set_name": ["RedPajamaArXiv", "RedPajamaGithub"][i % 2]}} for i in range(12)]
    datasets.Dataset.from_list(records).save_to_disk(str(tmp_path / "saved"))
    store = build_store(str(tmp_path / "saved"), tmp_path / "store", progress=False)
    assert set(store.domains) == {"arxiv", "github"}
    assert store.table().set_index("domain").loc["arxiv", "documents"] == 6


def test_redpajama_jsonl_file(tmp_path):
    path = tmp_path / "sample.jsonl"
    with open(path, "w") as f:
        for i in range(10):
            f.write(json.dumps({"text": words_text(i, 5_000, "one two three"),
                                "meta": json.dumps({"redpajama_set_name": "RedPajamaBook" if i % 2 else "RedPajamaC4"})})
                    + "\n")
    store = build_store(str(path), tmp_path / "store", progress=False)
    assert set(store.domains) == {"books", "c4"}


def test_a_large_domain_is_sampled_as_a_stream_with_common_random_numbers():
    """Above PERMUTED_WINDOWS windows a domain is drawn without building a permutation of it: still
    without replacement, still the same windows first when a mixture asks for more of it, the
    other domains untouched; below it, the permutation every run so far used."""
    from autoscale_kit.data import tokendata
    from autoscale_kit.data.tokendata import TokenData, plan_windows, window_sampler

    seq = 4
    big_n = (tokendata.PERMUTED_WINDOWS + 1000) * seq + 1
    data = TokenData(("big", "small"), {"big": np.zeros(big_n, np.uint16), "small": np.zeros(4001, np.uint16)},
                     {}, 257, 256)
    assert window_sampler(data.train_windows("big", seq)) == "stream"
    assert window_sampler(data.train_windows("small", seq)) == "permutation"
    a = plan_windows({"big": 4 * 3000, "small": 4 * 500}, data, seq, seed=1)
    b = plan_windows({"big": 4 * 9000, "small": 4 * 500}, data, seq, seed=1)
    big_a = [w.start for w in a if w.domain == 0]
    big_b = [w.start for w in b if w.domain == 0]
    assert len(set(big_b)) == len(big_b) == 9000 and max(big_b) < big_n - seq
    assert set(big_a) <= set(big_b)
    keyed_a = sorted((w.key, w.start) for w in a if w.domain == 0)
    assert all(k in {(w.key, w.start) for w in b} for k in keyed_a)       # same windows, same time keys
    assert [w.start for w in a if w.domain == 1] == [w.start for w in b if w.domain == 1]
    spread = np.histogram(big_b, bins=4, range=(0, big_n))[0]
    assert spread.min() > 0.2 * len(big_b)                               # drawn over the whole domain


def test_a_run_over_a_streamed_domain_says_so_in_its_key(monkeypatch, bundled_store):
    from autoscale_kit.data import tokendata

    ref = CorpusRef(str(bundled_store.path), ("code", "books"))
    spec = RunSpec(Mixture({"code": 2000, "books": 1000}), TINY, ref)
    assert "window_sampler" not in spec.identity()
    monkeypatch.setattr(tokendata, "PERMUTED_WINDOWS", 1000)      # code and books now count as large
    assert spec.identity()["window_sampler"] == "stream"
