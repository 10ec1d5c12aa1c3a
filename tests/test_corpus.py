"""The corpus: the bundled data verifies, other sources load, the split rule holds, bad input fails."""

from __future__ import annotations

import json
import lzma
import shutil
from pathlib import Path

import pytest

from autoscale_kit.data import corpus as corpus_mod
from autoscale_kit.core.errors import UserError
from tests.conftest import REPO, words_text

BUNDLED_DOMAINS = ["arxiv", "books", "code", "docs", "qa", "speeches", "wikipedia"]


# --- the bundled corpus --------------------------------------------------------------------

def test_bundled_corpus_has_seven_verified_domains():
    corpus = corpus_mod.load()
    assert sorted(corpus.domains) == BUNDLED_DOMAINS
    manifest = json.loads((REPO / "data" / "corpus" / "manifest.json").read_text())
    assert len(manifest["files"]) == 14
    for d in corpus:
        # about 5 MB train + 0.55 MB val per domain; qa is smaller
        lo = 2_000 if d.name == "qa" else 4_500
        assert d.n_blocks("train") >= lo, d.name
        assert d.n_blocks("val") >= lo // 10, d.name
        assert len(d.train) == d.n_blocks("train") * 1000
        assert all(len(b) == 1000 for b in d.blocks("val"))


def test_bundled_manifest_lists_sources_and_licenses():
    manifest = json.loads((REPO / "data" / "corpus" / "manifest.json").read_text())
    for entry in manifest["files"]:
        assert entry["sources"], entry["file"]
        for src in entry["sources"]:
            assert src["name"] and src["version"] and src["license"], (entry["file"], src)
    assert (REPO / "data" / "corpus" / "LICENSES.md").stat().st_size > 1000


def test_bundled_train_and_val_share_no_block():
    corpus = corpus_mod.load(domains=["speeches", "code"])
    for d in corpus:
        assert not set(d.blocks("train")) & set(d.blocks("val"))


@pytest.fixture
def data_copy(tmp_path: Path, monkeypatch) -> Path:
    """A private copy of data/corpus that a test may damage; AUTOSCALE_DATA points at it."""
    target = tmp_path / "data"
    shutil.copytree(REPO / "data" / "corpus", target / "corpus")
    monkeypatch.setenv("AUTOSCALE_DATA", str(target))
    return target / "corpus"


def test_altered_file_is_named(data_copy: Path):
    path = data_copy / "qa.val.txt.xz"
    text = lzma.open(path, "rt", encoding="utf-8").read()
    with lzma.open(path, "wt", encoding="utf-8") as f:
        f.write(("X" if text[0] != "X" else "Y") + text[1:])
    with pytest.raises(UserError, match=r"qa\.val\.txt\.xz.*sha256"):
        corpus_mod.load(domains=["qa"])


def test_missing_file_is_named(data_copy: Path):
    (data_copy / "books.train.txt.xz").unlink()
    with pytest.raises(UserError, match=r"books\.train\.txt\.xz.*missing"):
        corpus_mod.load(domains=["books"])


def test_corrupt_xz_is_named(data_copy: Path):
    (data_copy / "code.val.txt.xz").write_bytes(b"\xfd7zXZ\x00 not really xz")
    with pytest.raises(UserError, match=r"code\.val\.txt\.xz.*corrupt"):
        corpus_mod.load(domains=["code"])


def test_missing_manifest(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOSCALE_DATA", str(tmp_path))
    with pytest.raises(UserError, match="manifest"):
        corpus_mod.load()


def test_unknown_bundled_domain():
    with pytest.raises(UserError, match=r"unknown domain 'web'.*arxiv"):
        corpus_mod.load(domains=["web"])


# --- the split rule ------------------------------------------------------------------------

def test_split_is_deterministic_and_unit_aligned():
    docs = [(f"d{i}", words_text(i, 70_000, "alpha beta gamma delta epsilon")) for i in range(6)]
    a = corpus_mod.split_documents("x", docs)
    b = corpus_mod.split_documents("x", list(reversed(docs)))  # file order does not matter
    assert a == b
    assert len(a.train) % 1000 == 0 and len(a.val) % 1000 == 0
    assert not set(a.train_units) & set(a.val_units)
    assert all(off % corpus_mod.UNIT_CHARS == 0 for _, off in a.train_units + a.val_units)
    # Roughly 10% of units are validation units.
    n_units = len(a.train_units) + len(a.val_units)
    assert 0 < len(a.val_units) < 0.35 * n_units


def test_split_follows_the_published_hash_rule():
    # The rule of the corpus build: val iff sha256-hash(seed, "split", domain, doc, offset) < 0.1.
    docs = [(f"doc{i}", "z" * 40_000) for i in range(20)]
    s = corpus_mod.split_documents("dom", docs)
    for doc_id, off in s.val_units:
        assert corpus_mod.unit_hash("mixcorpus-v1", "split", "dom", doc_id, off) < 0.1
    for doc_id, off in s.train_units:
        assert corpus_mod.unit_hash("mixcorpus-v1", "split", "dom", doc_id, off) >= 0.1


def test_split_cap_limits_train_and_val():
    docs = [(f"d{i}", words_text(i, 200_000, "one two three four")) for i in range(5)]
    s = corpus_mod.split_documents("x", docs, max_train_chars=90_000)
    assert len(s.train) == 90_000
    assert len(s.val) == 10_000  # 90k × 0.1 / 0.9


def test_tiny_domain_still_gets_a_validation_block():
    docs = [("only", words_text(3, 40_000, "a b c d e f"))]
    s = corpus_mod.split_documents("tiny", docs)
    assert len(s.val) >= 1000 and len(s.train) >= 1000


def test_unit_hash_known_value():
    # Pinned so the split cannot drift between versions: first 8 bytes of sha256("a:b") / 2^64.
    import hashlib

    expected = int.from_bytes(hashlib.sha256(b"a:b").digest()[:8], "big") / 2**64
    assert corpus_mod.unit_hash("a", "b") == expected


# --- folders -------------------------------------------------------------------------------

def test_folder_of_domains(domain_folder: Path):
    corpus = corpus_mod.load(domain_folder)
    assert corpus.domains == ("code", "maths", "prose")
    stats = corpus_mod.statistics(corpus)
    assert set(stats["domain"]) == {"code", "maths", "prose"}
    prose = stats[(stats.domain == "prose") & (stats.split == "train")].iloc[0]
    assert prose["documents"] >= 2 and prose["blocks"] * 1000 == prose["characters"]
    assert prose["tokens"] == prose["characters"]  # ASCII text: one byte per character


def test_folder_domain_subset_and_order(domain_folder: Path):
    corpus = corpus_mod.load(domain_folder, domains=["prose", "code"])
    assert corpus.domains == ("prose", "code")


def test_folder_unknown_domain(domain_folder: Path):
    with pytest.raises(UserError, match=r"unknown domain 'web'.*code, maths, prose"):
        corpus_mod.load(domain_folder, domains=["web"])


def test_folder_empty_domain(domain_folder: Path):
    (domain_folder / "empty.txt").write_text("   \n")
    with pytest.raises(UserError, match=r"domain 'empty'.*empty"):
        corpus_mod.load(domain_folder)


def test_folder_too_small_domain(domain_folder: Path):
    (domain_folder / "small.txt").write_text("short text " * 50)
    with pytest.raises(UserError, match=r"domain 'small' has no whole (train|val) block"):
        corpus_mod.load(domain_folder, domains=["small"])


def test_folder_without_domains(tmp_path: Path):
    (tmp_path / "notes.md").write_text("hello")
    with pytest.raises(UserError, match="holds no domains"):
        corpus_mod.load(tmp_path)


def test_jsonl_without_text_field(domain_folder: Path):
    (domain_folder / "bad.jsonl").write_text(json.dumps({"body": "x" * 5000}) + "\n")
    with pytest.raises(UserError, match=r"bad\.jsonl:1 has no 'text' field"):
        corpus_mod.load(domain_folder)


def test_jsonl_invalid_line(domain_folder: Path):
    (domain_folder / "bad.jsonl").write_text('{"text": "ok"}\n{not json\n')
    with pytest.raises(UserError, match=r"bad\.jsonl:2 is not valid JSON"):
        corpus_mod.load(domain_folder)


def test_corrupt_compressed_user_file(domain_folder: Path):
    (domain_folder / "maths.txt.xz").write_bytes(b"garbage")
    with pytest.raises(UserError, match=r"maths\.txt\.xz.*corrupt"):
        corpus_mod.load(domain_folder)


def test_non_utf8_file_is_named(domain_folder: Path):
    (domain_folder / "latin.txt").write_bytes("caf\xe9 ".encode("latin-1") * 10_000)
    with pytest.raises(UserError, match=r"latin\.txt.*not UTF-8"):
        corpus_mod.load(domain_folder)


# --- RedPajama format ----------------------------------------------------------------------

def _redpajama_file(path: Path, meta_as_string: bool = False) -> Path:
    sets = {"RedPajamaGithub": "def f(x): return x ", "RedPajamaWikipedia": "The river flows north ",
            "RedPajamaArXiv": "We prove the theorem "}
    with open(path, "w") as f:
        for i in range(30):
            name = list(sets)[i % 3]
            meta = {"redpajama_set_name": name, "url": f"u{i}"}
            record = {"text": sets[name] * 300 + str(i), "meta": json.dumps(meta) if meta_as_string else meta}
            f.write(json.dumps(record) + "\n")
    return path


@pytest.mark.parametrize("meta_as_string", [False, True])
def test_redpajama_jsonl(tmp_path: Path, meta_as_string: bool):
    corpus = corpus_mod.load(_redpajama_file(tmp_path / "rp.jsonl", meta_as_string))
    assert set(corpus.domains) == {"github", "wikipedia", "arxiv"}
    assert corpus["github"].blocks("train")[0].startswith("def f(x)")


def test_redpajama_missing_domain_field(tmp_path: Path):
    path = tmp_path / "rp.jsonl"
    path.write_text(json.dumps({"text": "x" * 100, "meta": {"url": "u"}}) + "\n")
    with pytest.raises(UserError, match=r"rp\.jsonl:1 has no 'meta\.redpajama_set_name' field"):
        corpus_mod.load(path)


def test_redpajama_domain_names():
    assert corpus_mod.redpajama_domain_name("RedPajamaCommonCrawl") == "common_crawl"
    assert corpus_mod.redpajama_domain_name("RedPajamaStackExchange") == "stackexchange"
    assert corpus_mod.redpajama_domain_name("RedPajamaPubMedAbstracts") == "pub_med_abstracts"


def test_huggingface_dataset_path_on_local_files(tmp_path: Path):
    """The `hf:` source runs through `datasets.load_dataset`; here on local JSON files."""
    pytest.importorskip("datasets")
    path = _redpajama_file(tmp_path / "rp.jsonl")
    corpus = corpus_mod.load("hf:json", data_files=str(path))
    direct = corpus_mod.load(path)
    assert set(corpus.domains) == set(direct.domains)
    for d in corpus.domains:
        assert corpus[d].train.startswith(direct[d].train[:50])
        assert len(corpus[d].train) + len(corpus[d].val) == len(direct[d].train) + len(direct[d].val)


def test_missing_source():
    with pytest.raises(UserError, match="does not exist"):
        corpus_mod.load("/no/such/folder")


# --- CLI -----------------------------------------------------------------------------------

def test_cli_corpus_lists_bundled_domains(run_cli):
    r = run_cli("corpus")
    assert r.code == 0, r.err
    for d in BUNDLED_DOMAINS:
        assert d in r.out


def test_cli_corpus_json_on_folder(run_cli, domain_folder: Path):
    r = run_cli("corpus", domain_folder, "--domains", "code,prose", "--json")
    assert r.code == 0, r.err
    rows = json.loads(r.out)["domains"]
    assert {row["domain"] for row in rows} == {"code", "prose"}
    assert all(row["tokens"] > 0 for row in rows)


@pytest.mark.parametrize("args, pattern", [
    (["corpus", "--domains", "web"], "unknown domain 'web'"),
    (["corpus", "/no/such/folder"], "does not exist"),
    (["corpus", "--tokenizer", "/no/such/tokenizer"], "tokenizer path"),
    (["frobnicate"], "invalid choice"),
])
def test_cli_corpus_bad_input(run_cli, args, pattern):
    r = run_cli(*args)
    assert r.code == 2
    assert len(r.err.strip().splitlines()) == 1 and pattern in r.err
    assert "Traceback" not in r.err


def test_jsonl_copies_hold_each_split_in_as_many_documents_as_fed_it(tmp_path, run_cli):
    corpus = corpus_mod.load_bundled(["code", "books"])
    written = corpus_mod.write_jsonl(corpus, tmp_path / "j")
    for d in corpus:
        for split in ("train", "val"):
            docs = [json.loads(line)["text"] for line in written[d.name][split].open(encoding="utf-8")]
            assert "".join(docs) == d.text(split)                       # nothing lost, nothing added
            assert len(docs) == d.documents[split]                      # the mean document length is the corpus's
    r = run_cli("corpus", "--domains", "books", "--jsonl", tmp_path / "k")
    assert r.code == 0 and sorted(p.name for p in (tmp_path / "k").iterdir()) == ["books.train.jsonl", "books.val.jsonl"]
    assert run_cli("corpus", "--token-store", "--jsonl", tmp_path / "m").code == 2
