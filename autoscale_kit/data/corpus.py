"""Domains of text, cut into fixed train and validation blocks.

Design choices:
- One split rule for every source (the bundled corpus, a folder, a RedPajama-style dataset):
  documents are cut into 16,000-character units and each unit goes to train or validation by a
  seeded sha256 hash of (seed, domain, document id, offset). Neighbouring text stays on one side,
  and the split does not depend on Python, numpy or the order files are listed in.
- A split is the units in hash order joined with blank lines and cut to whole 1000-character
  blocks, so block k is `text[k*1000:(k+1)*1000]` and validation blocks are fixed for a study.
- The bundled corpus is verified against `data/corpus/manifest.json` (sha256 of the decompressed
  text) every time it is loaded; a missing or altered file is an error that names it.
- Sources other than the bundled corpus need no network to test: a Hugging Face dataset is read
  through the same record parser as a local RedPajama-format JSONL file.
"""

from __future__ import annotations

import ast
import functools
import gzip
import hashlib
import json
import lzma
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import pandas as pd

from autoscale_kit.core.errors import UserError
from autoscale_kit.data.tokenize import ByteTokenizer

SPLIT_SEED = "mixcorpus-v1"
BLOCK_CHARS = 1000
UNIT_CHARS = 16_000
VAL_FRACTION = 0.10
SEPARATOR = "\n\n"
TEXT_SUFFIXES = (".txt", ".jsonl")
COMPRESSED_SUFFIXES = ("", ".xz", ".gz")

# RedPajama-Data-1T set names → the short domain names used in the paper's code.
REDPAJAMA_SETS = {
    "redpajamacommoncrawl": "common_crawl",
    "redpajamac4": "c4",
    "redpajamagithub": "github",
    "redpajamabook": "books",
    "redpajamaarxiv": "arxiv",
    "redpajamawikipedia": "wikipedia",
    "redpajamastackexchange": "stackexchange",
}


# --- the split rule -------------------------------------------------------------------------

def unit_hash(*parts: object) -> float:
    """A number in [0, 1) from sha256 of the parts joined by ':' (stable across versions)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


@dataclass(frozen=True)
class SplitText:
    """One domain's text after the split: whole blocks per split, and where they came from."""

    train: str
    val: str
    train_units: tuple[tuple[str, int], ...]
    val_units: tuple[tuple[str, int], ...]


def _join_capped(units: list[tuple[str, int, str]], cap: float | None, block_chars: int) -> tuple[str, list]:
    """Append units (in the given order) while the text is shorter than the cap; cut to blocks."""
    pieces, used, length = [], [], 0
    for doc_id, offset, text in units:
        if cap is not None and length >= cap:
            break
        if pieces:
            length += len(SEPARATOR)
        pieces.append(text)
        used.append((doc_id, offset))
        length += len(text)
    joined = SEPARATOR.join(pieces)
    limit = len(joined) if cap is None else min(len(joined), int(cap))
    n_blocks = limit // block_chars
    return joined[: n_blocks * block_chars], used


def split_documents(
    domain: str,
    documents: Iterable[tuple[str, str]],
    *,
    seed: str = SPLIT_SEED,
    block_chars: int = BLOCK_CHARS,
    unit_chars: int = UNIT_CHARS,
    val_fraction: float = VAL_FRACTION,
    max_train_chars: float | None = None,
) -> SplitText:
    """Split (doc_id, text) pairs of one domain into train and validation blocks.

    `max_train_chars` caps the train text; validation is capped in proportion
    (cap × val_fraction / (1 − val_fraction)), as in the bundled corpus.
    """
    units = []
    for doc_id, text in documents:
        for offset in range(0, max(len(text), 1), unit_chars):
            piece = text[offset: offset + unit_chars]
            if piece:
                units.append((doc_id, offset, piece))
    split_of = {(d, o): unit_hash(seed, "split", domain, d, o) for d, o, _ in units}
    val = [u for u in units if split_of[(u[0], u[1])] < val_fraction]
    train = [u for u in units if split_of[(u[0], u[1])] >= val_fraction]
    # Tiny domains: make sure each side gets at least one unit when there are two or more.
    if not val and len(train) >= 2:
        pick = min(train, key=lambda u: split_of[(u[0], u[1])])
        train.remove(pick)
        val.append(pick)
    if not train and len(val) >= 2:
        pick = max(val, key=lambda u: split_of[(u[0], u[1])])
        val.remove(pick)
        train.append(pick)

    def order(us):
        return sorted(us, key=lambda u: (unit_hash(seed, "order", domain, u[0], u[1]), u[0], u[1]))

    val_cap = None if max_train_chars is None else int(max_train_chars * val_fraction / (1 - val_fraction))
    train_text, train_used = _join_capped(order(train), max_train_chars, block_chars)
    val_text, val_used = _join_capped(order(val), val_cap, block_chars)
    return SplitText(train_text, val_text, tuple(train_used), tuple(val_used))


# --- the corpus ----------------------------------------------------------------------------

@dataclass(frozen=True)
class DomainText:
    """One domain: its train and validation text, each a whole number of blocks."""

    name: str
    train: str
    val: str
    documents: Mapping[str, int] = field(default_factory=dict)  # split -> documents contributing
    block_chars: int = BLOCK_CHARS

    def text(self, split: str) -> str:
        if split not in ("train", "val"):
            raise UserError(f"split must be 'train' or 'val', got {split!r}")
        return self.train if split == "train" else self.val

    def n_blocks(self, split: str) -> int:
        return len(self.text(split)) // self.block_chars

    def blocks(self, split: str) -> list[str]:
        t, b = self.text(split), self.block_chars
        return [t[k * b: (k + 1) * b] for k in range(len(t) // b)]


@dataclass(frozen=True)
class Corpus:
    """Named domains of text with fixed train and validation blocks."""

    name: str
    domain_texts: tuple[DomainText, ...]

    def __post_init__(self):
        if not self.domain_texts:
            raise UserError(f"corpus {self.name!r} has no domains")
        for d in self.domain_texts:
            for split in ("train", "val"):
                if d.n_blocks(split) < 1:
                    raise UserError(
                        f"domain {d.name!r} has no whole {split} block ({len(d.text(split))} characters of "
                        f"{split} text; a block is {d.block_chars}); give it more text or drop it")

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.domain_texts)

    def __getitem__(self, name: str) -> DomainText:
        for d in self.domain_texts:
            if d.name == name:
                return d
        raise UserError(f"unknown domain {name!r}; corpus {self.name!r} has: {', '.join(self.domains)}")

    def __iter__(self) -> Iterator[DomainText]:
        return iter(self.domain_texts)

    def __len__(self) -> int:
        return len(self.domain_texts)

    def select(self, domains: Sequence[str] | None) -> "Corpus":
        """The same corpus restricted to (and ordered as) `domains`."""
        if domains is None:
            return self
        domains = list(domains)
        if not domains:
            raise UserError("no domains selected; name at least one")
        if len(set(domains)) != len(domains):
            raise UserError(f"a domain is named twice in {domains}")
        return Corpus(self.name, tuple(self[d] for d in domains))


def _read_text_file(path: Path) -> str:
    """Read .txt/.jsonl, plain, .xz or .gz, as UTF-8; errors name the file."""
    opener = {".xz": lzma.open, ".gz": gzip.open}.get(path.suffix, open)
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise UserError(f"data file {str(path)!r} is missing") from None
    except (lzma.LZMAError, gzip.BadGzipFile, EOFError, OSError) as exc:
        raise UserError(f"data file {str(path)!r} is corrupt or unreadable ({exc})") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"data file {str(path)!r} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


# --- the bundled corpus --------------------------------------------------------------------

def data_dir() -> Path:
    """Where the bundled data lives: $AUTOSCALE_DATA, else the repository's data/ folder."""
    env = os.environ.get("AUTOSCALE_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "data"


def bundled_dir() -> Path:
    return data_dir() / "corpus"


def read_manifest(folder: Path) -> dict:
    path = folder / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"corpus manifest {str(path)!r} is missing; set AUTOSCALE_DATA to the folder "
                        "that holds corpus/manifest.json, or reinstall from a full clone") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"corpus manifest {str(path)!r} is not valid JSON ({exc})") from None
    for key in ("domains", "files"):
        if key not in manifest:
            raise UserError(f"corpus manifest {str(path)!r} has no {key!r} entry")
    return manifest


def _verified_text(folder: Path, entry: Mapping) -> str:
    path = folder / entry["file"]
    text = _read_text_file(path)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if digest != entry["sha256"]:
        raise UserError(f"data file {str(path)!r} does not match its manifest sha256 "
                        f"(expected {entry['sha256'][:12]}…, got {digest[:12]}…); restore it from git")
    block = int(entry.get("block_chars", BLOCK_CHARS))
    if len(text) != int(entry["n_blocks"]) * block:
        raise UserError(f"data file {str(path)!r} has {len(text)} characters, manifest says "
                        f"{entry['n_blocks']} blocks of {block}")
    return text


def _load_manifest_corpus(folder: Path, domains: Sequence[str] | None) -> Corpus:
    manifest = read_manifest(folder)
    known = list(manifest["domains"])
    wanted = known if domains is None else list(domains)
    for d in wanted:
        if d not in known:
            raise UserError(f"unknown domain {d!r}; the corpus at {str(folder)!r} has: {', '.join(known)}")
    block = int(manifest.get("block_chars", BLOCK_CHARS))
    texts = []
    for d in wanted:
        parts, docs = {}, {}
        for split in ("train", "val"):
            entries = [e for e in manifest["files"] if e["domain"] == d and e["split"] == split]
            if len(entries) != 1:
                raise UserError(f"corpus manifest lists {len(entries)} {split} files for domain {d!r}; expected 1")
            parts[split] = _verified_text(folder, {"block_chars": block, **entries[0]})
            docs[split] = int(entries[0].get("n_documents", 0))
        texts.append(DomainText(d, parts["train"], parts["val"], docs, block))
    return Corpus(str(manifest.get("name", folder.name)), tuple(texts))


@functools.lru_cache(maxsize=8)
def _bundled_cached(folder: str, domains: tuple[str, ...] | None) -> Corpus:
    return _load_manifest_corpus(Path(folder), domains)


def load_bundled(domains: Sequence[str] | None = None) -> Corpus:
    """The 7-domain corpus shipped in data/corpus (verified against its manifest)."""
    return _bundled_cached(str(bundled_dir()), None if domains is None else tuple(domains))


def write_jsonl(corpus: Corpus, folder: str | Path) -> dict[str, dict[str, Path]]:
    """Each domain's train and validation split as JSONL (`{"text": …}` per line) in `folder`:
    `<domain>.train.jsonl`, `<domain>.val.jsonl`. What another trainer reads when it trains on the
    corpus a study planned (`autoscale-kit plan --format hf-datasets`). Each split is cut into as
    many documents as contributed to it, of equal length, so a trainer that samples documents
    (p_d ∝ w_d / L_d) meets the mean document length the plan assumed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, dict[str, Path]] = {}
    for d in corpus:
        out[d.name] = {}
        for split in ("train", "val"):
            text = d.text(split)
            n = max(1, min(int((d.documents or {}).get(split, 0)) or 1, len(text)))
            size = -(-len(text) // n)
            path = folder / f"{d.name}.{split}.jsonl"
            tmp = path.with_name(path.name + ".tmp")
            with tmp.open("w", encoding="utf-8") as f:
                for k in range(0, len(text), size):
                    f.write(json.dumps({"text": text[k: k + size]}, ensure_ascii=False) + "\n")
            os.replace(tmp, path)
            out[d.name][split] = path
    return out


# --- documents from folders and datasets ---------------------------------------------------

def _strip_suffixes(name: str) -> tuple[str, str] | None:
    """'code.jsonl.xz' → ('code', '.jsonl'); None if not a supported text file."""
    for comp in COMPRESSED_SUFFIXES:
        for kind in TEXT_SUFFIXES:
            suffix = kind + comp
            if name.endswith(suffix) and len(name) > len(suffix):
                return name[: -len(suffix)], kind
    return None


def jsonl_objects(path, lines: Iterable[str]) -> Iterator[tuple[int, dict]]:
    """(line number, record) for each non-blank line of a JSONL file; a line that is not a JSON
    object is an error naming the file and line. The one JSONL parser, in memory and streamed."""
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{lineno} is not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise UserError(f"{path}:{lineno} is not a JSON object")
        yield lineno, record


def _jsonl_texts(path: Path) -> Iterator[tuple[int, dict]]:
    return jsonl_objects(path, _read_text_file(path).splitlines())


def record_text(record: Mapping, where: str, text_field: str) -> str:
    if text_field not in record:
        raise UserError(f"{where} has no {text_field!r} field (fields: {', '.join(map(str, record)) or 'none'})")
    text = record[text_field]
    if not isinstance(text, str):
        raise UserError(f"{where}: field {text_field!r} must be a string, got {type(text).__name__}")
    return text


def _file_documents(path: Path, rel_id: str, kind: str, text_field: str) -> Iterator[tuple[str, str]]:
    if kind == ".txt":
        yield rel_id, _read_text_file(path)
    else:
        for lineno, record in _jsonl_texts(path):
            yield f"{rel_id}:{lineno}", record_text(record, f"{path}:{lineno}", text_field)


def _domain_files(folder: Path) -> list[Path]:
    """The text files under a domain's folder, symbolic links followed; a link that points nowhere
    or back to a folder above it is refused, naming the domain."""
    domain = folder.name
    out = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        here = os.path.realpath(root)
        for name in sorted(dirs):
            path = Path(root) / name
            real = os.path.realpath(path)
            if here == real or here.startswith(real + os.sep):
                raise UserError(f"domain {domain!r}: {path.relative_to(folder)} links back to {real} (a symbolic "
                                f"link loop); remove the link")
        for name in files:
            path = Path(root) / name
            if path.is_symlink() and not path.exists():
                raise UserError(f"domain {domain!r}: {path.relative_to(folder)} is a symbolic link that points "
                                f"nowhere (or to itself); remove it or fix its target")
            if path.is_file() and _strip_suffixes(name):
                out.append(path)
    return sorted(out)


def folder_documents(folder: Path, text_field: str = "text") -> dict[str, list[tuple[str, str]]]:
    """Documents per domain from a folder: one subfolder or one file per domain.

    A `.txt` file is one document; a `.jsonl` file holds one document per line in `text_field`.
    Either may be compressed (`.xz`, `.gz`).
    """
    docs: dict[str, list[tuple[str, str]]] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink() and not entry.exists():
            raise UserError(f"{entry} is a symbolic link that points nowhere (or to itself); remove it or fix its target")
        if entry.is_dir():
            files = _domain_files(entry)
            items = []
            for p in files:
                _, kind = _strip_suffixes(p.name)
                items.extend(_file_documents(p, p.relative_to(entry).as_posix(), kind, text_field))
            docs.setdefault(entry.name, []).extend(items)
        elif entry.is_file() and (parsed := _strip_suffixes(entry.name)):
            domain, kind = parsed
            docs.setdefault(domain, []).extend(_file_documents(entry, entry.name, kind, text_field))
    if not docs:
        raise UserError(f"folder {str(folder)!r} holds no domains: put one subfolder per domain, or files "
                        f"named <domain>.txt / <domain>.jsonl (optionally .xz or .gz)")
    return docs


def lookup_field(record: Mapping, dotted: str, where: str):
    value = record
    for i, key in enumerate(dotted.split(".")):
        if isinstance(value, str) and i > 0:
            value = _parse_meta_string(value, where)
        if not isinstance(value, Mapping) or key not in value:
            raise UserError(f"{where} has no {dotted!r} field (the domain of each record); "
                            f"RedPajama records carry it as meta.redpajama_set_name")
        value = value[key]
    return value


def _parse_meta_string(text: str, where: str) -> dict:
    """RedPajama samples store `meta` as a JSON or Python-literal string."""
    for parse in (json.loads, ast.literal_eval):
        try:
            out = parse(text)
        except (ValueError, SyntaxError):
            continue
        if isinstance(out, dict):
            return out
    raise UserError(f"{where}: the 'meta' field is a string that is not a JSON object")


def redpajama_domain_name(set_name: str) -> str:
    """'RedPajamaCommonCrawl' → 'common_crawl'; other names → snake_case without the prefix."""
    key = str(set_name).strip()
    if key.lower() in REDPAJAMA_SETS:
        return REDPAJAMA_SETS[key.lower()]
    key = re.sub(r"^RedPajama", "", key)
    key = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key)
    return re.sub(r"[^0-9a-zA-Z_]+", "_", key).strip("_").lower() or "unknown"


def record_documents(
    records: Iterable[tuple[str, Mapping]],
    *,
    domain_field: str = "meta.redpajama_set_name",
    text_field: str = "text",
    max_chars_per_domain: float | None = None,
) -> dict[str, list[tuple[str, str]]]:
    """Group (where, record) pairs into documents per domain (RedPajama format by default)."""
    docs: dict[str, list[tuple[str, str]]] = {}
    chars: dict[str, int] = {}
    for where, record in records:
        text = record_text(record, where, text_field)
        domain = redpajama_domain_name(lookup_field(record, domain_field, where))
        if max_chars_per_domain is not None and chars.get(domain, 0) >= max_chars_per_domain:
            continue
        docs.setdefault(domain, []).append((where, text))
        chars[domain] = chars.get(domain, 0) + len(text)
    if not docs:
        raise UserError("the dataset holds no records")
    return docs


def jsonl_records(path: Path) -> Iterator[tuple[str, dict]]:
    for lineno, record in _jsonl_texts(path):
        yield f"{path.name}:{lineno}", record


def hf_records(name: str, *, split: str = "train", max_records: int | None = 100_000, **kwargs) -> Iterator[tuple[str, dict]]:
    """Records of a Hugging Face dataset, streamed (needs the `datasets` package and, for a hub
    dataset, the network). `kwargs` go to `datasets.load_dataset` (e.g. data_files=...)."""
    try:
        import datasets
    except ImportError:
        raise UserError("reading a Hugging Face dataset needs the 'datasets' package: pip install datasets") from None
    check_hub_reachable(name)
    try:
        ds = datasets.load_dataset(name, split=split, streaming=True, **kwargs)
    except Exception as exc:  # network, missing dataset, bad files: all user-fixable
        raise UserError(f"could not open Hugging Face dataset {name!r}: {exc}") from None
    for i, record in enumerate(ds):
        if max_records is not None and i >= max_records:
            break
        yield f"{name}[{i}]", record


def check_hub_reachable(name: str) -> None:
    """Fail at once, in one line, when a Hub dataset is asked for and the Hub cannot be reached
    (offline mode, or its host does not resolve), instead of the client's minute of retries."""
    import os
    import socket
    from urllib.parse import urlparse

    if Path(name).exists():
        return  # a local dataset folder or script
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes") or \
            os.environ.get("HF_DATASETS_OFFLINE", "").lower() in ("1", "true", "yes"):
        return  # offline mode: the datasets cache answers (or refuses) at once
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        raise UserError(f"cannot reach the Hugging Face Hub ({host} does not resolve: no network?) to read "
                        f"{name!r}; copy the data to a local folder or .jsonl file, or set HF_HUB_OFFLINE=1 to use "
                        f"the local datasets cache") from None


def from_documents(name: str, documents: Mapping[str, Sequence[tuple[str, str]]], *,
                   domains: Sequence[str] | None = None, max_train_chars: float | None = None,
                   seed: str = SPLIT_SEED) -> Corpus:
    """A Corpus from documents per domain, through the split rule."""
    wanted = sorted(documents) if domains is None else list(domains)
    for d in wanted:
        if d not in documents:
            raise UserError(f"unknown domain {d!r}; {name!r} has: {', '.join(sorted(documents))}")
        if not any(text.strip() for _, text in documents[d]):
            raise UserError(f"domain {d!r} in {name!r} is empty")
    texts = []
    for d in wanted:
        s = split_documents(d, documents[d], seed=seed, max_train_chars=max_train_chars)
        n_docs = {"train": len({u[0] for u in s.train_units}), "val": len({u[0] for u in s.val_units})}
        texts.append(DomainText(d, s.train, s.val, n_docs))
    return Corpus(name, tuple(texts))


def load(source: str | Path | None = None, *, domains: Sequence[str] | None = None,
         max_train_chars: float | None = None, domain_field: str = "meta.redpajama_set_name",
         text_field: str = "text", **hf_kwargs) -> Corpus:
    """Any supported source as a Corpus.

    None → the bundled corpus; a folder with manifest.json → a pre-built corpus; another folder →
    one domain per subfolder or file; a .jsonl(.xz/.gz) file → RedPajama-format records;
    'hf:<name>' → a Hugging Face dataset with the same record format.
    """
    if domains is not None:
        if isinstance(domains, str):
            raise UserError(f"domains must be a list of names, got the string {domains!r}")
        domains = list(domains)
        bad = [d for d in domains if not isinstance(d, str) or not d.strip()]
        if bad:
            raise UserError(f"domain names must be non-empty strings, got {bad[0]!r}")
        twice = sorted({d for d in domains if domains.count(d) > 1})
        if twice:
            raise UserError(f"domain {twice[0]!r} is named twice; name each domain once")
        if not domains:
            raise UserError("no domains selected; name at least one")
    if source is None:
        return load_bundled(domains)
    if not isinstance(source, (str, os.PathLike)):
        raise UserError(f"a corpus source is a folder, a .jsonl file or hf:<dataset>, got {type(source).__name__}")
    src = str(source)
    if not src.strip():
        raise UserError("the corpus source is empty; give a folder, a .jsonl file, hf:<dataset>, or nothing "
                        "for the bundled corpus")
    if src.startswith("hf:"):
        records = hf_records(src[3:], **hf_kwargs)
        docs = record_documents(records, domain_field=domain_field, text_field=text_field,
                                max_chars_per_domain=None if max_train_chars is None else 1.2 * max_train_chars)
        return from_documents(src, docs, domains=domains, max_train_chars=max_train_chars)
    path = Path(src)
    if not path.exists():
        raise UserError(f"corpus source {src!r} does not exist; give a folder, a .jsonl file or hf:<dataset>")
    if path.is_dir():
        if (path / "manifest.json").exists():
            return _load_manifest_corpus(path, domains)
        return from_documents(path.name, folder_documents(path, text_field), domains=domains,
                              max_train_chars=max_train_chars)
    parsed = _strip_suffixes(path.name)
    if parsed and parsed[1] == ".jsonl":
        docs = record_documents(jsonl_records(path), domain_field=domain_field, text_field=text_field)
        return from_documents(path.name, docs, domains=domains, max_train_chars=max_train_chars)
    raise UserError(f"cannot read {src!r}: expected a folder, a .jsonl(.xz/.gz) file or hf:<dataset>")


def statistics(corpus: Corpus, tokenizer=None) -> pd.DataFrame:
    """Documents, blocks, characters and tokens per domain and split."""
    tok = tokenizer or ByteTokenizer()
    rows = []
    for d in corpus:
        for split in ("train", "val"):
            text = d.text(split)
            rows.append({"domain": d.name, "split": split, "documents": int(d.documents.get(split, 0)),
                         "blocks": d.n_blocks(split), "characters": len(text), "tokens": tok.count(text)})
    return pd.DataFrame(rows, columns=["domain", "split", "documents", "blocks", "characters", "tokens"])
