"""Where a token store's text comes from, as shards a worker process can stream on its own.

Design choices:
- A source is cut into shards (one per file, or one per dataset) in a fixed order, so a build that
  was killed knows which shards it finished, and the store's streams do not depend on how many
  workers built them.
- A shard yields units, never a whole domain: (domain, split, unit hash, document id, offset, text)
  with text at most `UNIT_CHARS` characters. The split of a unit is the corpus's own rule
  (`corpus.unit_hash` of seed, domain, document id and offset), so a unit goes to the same side
  whether the corpus is loaded in memory or streamed into a store.
- A source that is already split (a manifest corpus: the bundled one) yields its train and
  validation files as they are: one unit each, read in chunks, so the store's streams are those of
  the in-memory corpus byte for byte.
- Readers: `.txt` and `.jsonl` (plain, `.gz`, `.xz`, `.zst`), Parquet, RedPajama-format JSONL,
  Hugging Face datasets (a `save_to_disk` folder or local Parquet offline, `hf:<name>` streamed).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import lzma
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from autoscale_kit.core.errors import UserError
from autoscale_kit.data.corpus import (
    SPLIT_SEED, UNIT_CHARS, VAL_FRACTION, bundled_dir, check_hub_reachable, jsonl_objects, lookup_field,
    read_manifest, record_text, redpajama_domain_name, unit_hash,
)

TEXT_KINDS = (".txt", ".jsonl", ".parquet")
COMPRESSIONS = ("", ".gz", ".xz", ".zst")
READ_CHARS = 1 << 20     # an already split file is read (and tokenised) a mebi-character at a time


@dataclass(frozen=True)
class Unit:
    """A piece of at most UNIT_CHARS characters of one document, with the side it belongs to."""

    domain: str
    split: str           # "train" or "val"
    hash: float          # its order key within the split (the split rule's "order" hash)
    doc: str             # document id
    offset: int          # character offset in the document
    text: str
    split_key: float = 0.0   # the split rule's "split" hash (validation below val_fraction)


@dataclass(frozen=True)
class Shard:
    """One piece of a source that one worker tokenises: a file, or a dataset read in one go."""

    index: int
    kind: str                     # split-text | documents | records | hf-disk | hf-hub
    path: str                     # a file or folder; for hf-hub the dataset name
    domain: str | None = None     # split-text and documents: the one domain
    split: str | None = None      # split-text: train or val
    doc_id: str = ""              # documents: the id prefix (the file's path in its domain folder)
    text_field: str = "text"
    domain_field: str = "meta.redpajama_set_name"
    options: tuple = field(default=())   # hf-hub: (split, ((key, value), ...))
    sha256: str = ""              # split-text: the text's digest in its corpus manifest (checked)
    documents: int = 0            # split-text: the documents its manifest says the text holds

    @property
    def id(self) -> str:
        return f"{self.index:05d}"

    def size(self) -> int:
        """Bytes on disk (what the progress bar counts); 0 where unknown (a hub dataset)."""
        p = Path(self.path)
        if p.is_file():
            return p.stat().st_size
        if p.is_dir():
            return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        return 0


# --- opening files --------------------------------------------------------------------------

def split_name(name: str) -> tuple[str, str, str] | None:
    """'code.jsonl.zst' → ('code', '.jsonl', '.zst'); None if not a readable text file."""
    for comp in COMPRESSIONS:
        for kind in TEXT_KINDS:
            suffix = kind + comp
            if kind == ".parquet" and comp:
                continue
            if name.endswith(suffix) and len(name) > len(suffix):
                return name[: -len(suffix)], kind, comp
    return None


def open_text(path: Path):
    """A text stream (UTF-8) over a plain, .gz, .xz or .zst file; errors name the file."""
    path = Path(path)
    try:
        if path.suffix == ".zst":
            try:
                import zstandard
            except ImportError:
                raise UserError(f"{path} is zstd-compressed; reading it needs the 'zstandard' package: "
                                f"pip install zstandard") from None
            raw = zstandard.ZstdDecompressor().stream_reader(open(path, "rb"))
            return io.TextIOWrapper(raw, encoding="utf-8")
        opener = {".xz": lzma.open, ".gz": gzip.open}.get(path.suffix, open)
        return opener(path, "rt", encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"data file {str(path)!r} is missing") from None


def _reading(path: Path, lines):
    """Iterate `lines`, turning decoding and decompression errors into one line naming the file."""
    try:
        yield from lines
    except UnicodeDecodeError as exc:
        raise UserError(f"data file {str(path)!r} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except (lzma.LZMAError, gzip.BadGzipFile, EOFError, OSError) as exc:
        raise UserError(f"data file {str(path)!r} is corrupt or unreadable ({exc})") from None
    except Exception as exc:
        if type(exc).__module__.startswith("zstd"):
            raise UserError(f"data file {str(path)!r} is corrupt or unreadable ({exc})") from None
        raise


# --- documents → units ------------------------------------------------------------------------

def _units(domain: str, doc: str, chunks: Iterator[str], seed: str, val_fraction: float) -> Iterator[Unit]:
    """Cut a document (given as chunks of any length) into units of UNIT_CHARS characters."""
    buf, offset = "", 0
    for chunk in chunks:
        buf += chunk
        while len(buf) >= UNIT_CHARS:
            yield _unit(domain, doc, offset, buf[:UNIT_CHARS], seed, val_fraction)
            buf, offset = buf[UNIT_CHARS:], offset + UNIT_CHARS
    if buf:
        yield _unit(domain, doc, offset, buf, seed, val_fraction)


def _unit(domain, doc, offset, text, seed, val_fraction) -> Unit:
    key = unit_hash(seed, "split", domain, doc, offset)
    split = "val" if key < val_fraction else "train"
    return Unit(domain, split, unit_hash(seed, "order", domain, doc, offset), doc, offset, text, key)


def _file_chunks(path: Path) -> Iterator[str]:
    with open_text(path) as f:
        yield from _reading(path, iter(lambda: f.read(READ_CHARS), ""))


def _jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    with open_text(path) as f:
        yield from jsonl_objects(path, _reading(path, f))


def _parquet(path: Path, columns: list[str]) -> Iterator[tuple[int, dict]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UserError("reading Parquet needs the 'pyarrow' package: pip install pyarrow") from None
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        raise UserError(f"{path} is not a readable Parquet file ({exc})") from None
    names = pf.schema_arrow.names
    top = [c.split(".")[0] for c in columns]
    for c in top:
        if c not in names:
            raise UserError(f"{path} has no {c!r} column (columns: {', '.join(names)}); name the text column "
                            f"with --text-field and the domain column with --domain-field")
    row = 0
    for batch in pf.iter_batches(batch_size=1024, columns=sorted(set(top))):
        for record in batch.to_pylist():
            row += 1
            yield row, record


def shard_units(shard: Shard, seed: str = SPLIT_SEED, val_fraction: float = VAL_FRACTION) -> Iterator[Unit]:
    """The units of one shard, in the shard's own order."""
    path = Path(shard.path)
    if shard.kind == "split-text":
        digest = hashlib.sha256()
        for i, chunk in enumerate(_file_chunks(path)):
            digest.update(chunk.encode("utf-8"))
            yield Unit(shard.domain, shard.split, 0.0, shard.doc_id, i * READ_CHARS, chunk)
        if shard.sha256 and digest.hexdigest() != shard.sha256:
            raise UserError(f"data file {str(path)!r} does not match its manifest sha256 (expected "
                            f"{shard.sha256[:12]}…, got {digest.hexdigest()[:12]}…); restore it from git")
        return
    if shard.kind == "documents":
        _, kind, _ = split_name(path.name)
        if kind == ".txt":
            yield from _units(shard.domain, shard.doc_id, _file_chunks(path), seed, val_fraction)
            return
        rows = _jsonl(path) if kind == ".jsonl" else _parquet(path, [shard.text_field])
        for n, record in rows:
            doc = f"{shard.doc_id}:{n}"
            text = record_text(record, f"{path}:{n}", shard.text_field)
            yield from _units(shard.domain, doc, iter((text,)), seed, val_fraction)
        return
    if shard.kind == "records":
        _, kind, _ = split_name(path.name)
        rows = _jsonl(path) if kind == ".jsonl" else _parquet(path, [shard.text_field, shard.domain_field])
        yield from _record_units(((f"{path.name}:{n}", r) for n, r in rows), shard, seed, val_fraction)
        return
    if shard.kind in ("hf-disk", "hf-hub"):
        yield from _record_units(_hf_rows(shard), shard, seed, val_fraction)
        return
    raise UserError(f"unknown shard kind {shard.kind!r}")


def _record_units(rows, shard: Shard, seed, val_fraction) -> Iterator[Unit]:
    for where, record in rows:
        text = record_text(record, where, shard.text_field)
        domain = redpajama_domain_name(lookup_field(record, shard.domain_field, where))
        yield from _units(domain, where, iter((text,)), seed, val_fraction)


def _hf_rows(shard: Shard) -> Iterator[tuple[str, dict]]:
    try:
        import datasets
    except ImportError:
        raise UserError("reading a Hugging Face dataset needs the 'datasets' package: pip install datasets") from None
    if shard.kind == "hf-disk":
        try:
            ds = datasets.load_from_disk(shard.path)
        except Exception as exc:
            raise UserError(f"could not open the saved dataset {shard.path!r}: {exc}") from None
        if isinstance(ds, datasets.DatasetDict):
            split = dict(shard.options).get("split", "train")
            if split not in ds:
                raise UserError(f"the saved dataset {shard.path!r} has no split {split!r} (it has {', '.join(ds)})")
            ds = ds[split]
        name = Path(shard.path).name
    else:
        options = dict(shard.options)
        split = options.pop("split", "train")
        check_hub_reachable(shard.path)
        try:
            ds = datasets.load_dataset(shard.path, split=split, streaming=True, **options)
        except Exception as exc:
            raise UserError(f"could not open Hugging Face dataset {shard.path!r}: {exc}") from None
        name = shard.path
    for i, record in enumerate(ds):
        yield f"{name}:{i}", record


# --- a source → its shards ---------------------------------------------------------------------

def _files(folder: Path) -> list[Path]:
    out = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and split_name(name):
                out.append(Path(root) / name)
    return sorted(out)


def plan_shards(source: str | None, *, text_field: str = "text", domain_field: str | None = None,
                hf_split: str = "train") -> tuple[list[Shard], str]:
    """The shards of `source` in their fixed order, and a description of the source for the manifest.

    source: None (the bundled corpus); a folder with a corpus `manifest.json`; a folder of domains
    (one subfolder, or one `<domain>.<ext>` file, per domain); a Hugging Face `save_to_disk` folder;
    a `.jsonl`/`.parquet` file of RedPajama-style records (domain in `domain_field`); `hf:<name>`.
    With `domain_field`, every file of a folder is read as records carrying their domain.
    """
    records_field = domain_field or "meta.redpajama_set_name"
    if source is not None and str(source).startswith("hf:"):
        name = str(source)[3:]
        return [Shard(0, "hf-hub", name, text_field=text_field, domain_field=records_field,
                      options=(("split", hf_split),))], f"hf:{name} ({hf_split})"
    folder = bundled_dir() if source is None else Path(source)
    if not folder.exists():
        raise UserError(f"corpus source {str(source)!r} does not exist; give a folder, a .jsonl or .parquet file, "
                        f"or hf:<dataset>")
    if folder.is_file():
        parsed = split_name(folder.name)
        if not parsed or parsed[1] == ".txt":
            raise UserError(f"cannot read {str(source)!r}: a file source is a .jsonl(.gz/.xz/.zst) or .parquet file "
                            f"of records that name their domain; a folder of .txt files is a folder source")
        return [Shard(0, "records", str(folder), text_field=text_field, domain_field=records_field)], str(folder)
    if (folder / "manifest.json").exists():
        manifest = read_manifest(folder)
        shards = []
        for d in manifest["domains"]:
            for split in ("train", "val"):
                entries = [e for e in manifest["files"] if e["domain"] == d and e["split"] == split]
                if len(entries) != 1:
                    raise UserError(f"corpus manifest lists {len(entries)} {split} files for domain {d!r}; expected 1")
                shards.append(Shard(len(shards), "split-text", str(folder / entries[0]["file"]), domain=d,
                                    split=split, doc_id=entries[0]["file"], sha256=entries[0].get("sha256", ""),
                                    documents=int(entries[0].get("n_documents", 0))))
        return shards, "bundled" if source is None else str(folder)
    if (folder / "dataset_info.json").exists() or (folder / "dataset_dict.json").exists():
        return [Shard(0, "hf-disk", str(folder), text_field=text_field, domain_field=records_field,
                      options=(("split", hf_split),))], str(folder)
    shards = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            for p in _files(entry):
                shards.append(_file_shard(len(shards), p, entry.name, p.relative_to(entry).as_posix(),
                                          text_field, domain_field))
        elif entry.is_file() and (parsed := split_name(entry.name)):
            shards.append(_file_shard(len(shards), entry, parsed[0], entry.name, text_field, domain_field))
    if not shards:
        raise UserError(f"folder {str(folder)!r} holds no domains: put one subfolder per domain, or files named "
                        f"<domain>.txt / <domain>.jsonl / <domain>.parquet (text optionally .gz, .xz or .zst)")
    return shards, str(folder)


def _file_shard(index, path: Path, domain, doc_id, text_field, domain_field) -> Shard:
    if domain_field:
        return Shard(index, "records", str(path), text_field=text_field, domain_field=domain_field)
    return Shard(index, "documents", str(path), domain=domain, doc_id=doc_id, text_field=text_field)


def source_fingerprint(shards: list[Shard]) -> str:
    """What the store is built from: each shard's kind, path, size and modification time (a
    changed file makes a new store); a hub dataset by its name and options."""
    h = hashlib.sha256()
    for s in shards:
        p = Path(s.path)
        if s.kind == "split-text":   # a manifest corpus: its manifest holds the texts' sha256
            h.update(json.dumps([s.kind, p.name, s.domain, s.split]).encode())
            h.update((p.parent / "manifest.json").read_bytes())
            continue
        stat = p.stat() if p.exists() else None
        h.update(json.dumps([s.kind, s.path, s.domain, s.split, s.doc_id, s.text_field, s.domain_field,
                             list(s.options), stat.st_size if stat else None,
                             stat.st_mtime_ns if stat and p.is_file() else None]).encode())
    return h.hexdigest()
