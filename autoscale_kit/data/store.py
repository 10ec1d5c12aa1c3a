"""A token store: a corpus tokenised once into per-domain token files that every run memory-maps.

Design choices:
- Built by streaming units (`sources`), never a whole domain in memory, one worker process per
  shard of the source; each shard is written under a temporary name and renamed into place, so a
  killed build resumes with the shards it has not finished. `store.json` is written last: a
  folder without it is not a store yet.
- Tokens are `uint16` when the vocabulary fits and `uint32` otherwise (2 or 4 bytes per token,
  against 8 for the int64 arrays of the in-memory path). A domain's training stream is its shards'
  files read one after the other through memory maps (`ConcatTokens`), so a run's memory does not
  grow with the corpus and processes that train from one store share the page cache.
- Validation: a domain's validation units are put in their hash order (the corpus's split rule)
  and written, up to `max_val_tokens`, as one file; runs cut their fixed windows from its start,
  as the in-memory path does.
- The bundled corpus (or any manifest corpus) is stored as it is split, so with the bytes tokenizer
  its streams and windows are those of `tokendata.prepare_tokens` token for token, and its
  fingerprint is the corpus's: every run key and every shipped number stays the same.
- A store is found again by a cache key over the source's fingerprint, the tokenizer and the split
  rule (`cached_store`), so every later run and process reuses it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import mmap
import os
import shutil
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.locks import locked
from autoscale_kit.data.corpus import SPLIT_SEED, UNIT_CHARS, VAL_FRACTION, read_manifest
from autoscale_kit.data.sources import Shard, plan_shards, shard_units, source_fingerprint
from autoscale_kit.data.tokendata import TokenData
from autoscale_kit.data.tokenize import load_tokenizer

STORE_FILE = "store.json"
STORE_VERSION = 1
MAX_VAL_TOKENS = 8_388_608        # validation tokens kept per domain (the largest preset reads 262,144)
BATCH_CHARS = 4_000_000           # characters tokenised in one call (a batch of units)
SEPARATOR = "\n\n"                # between documents, as the in-memory corpus joins its units


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits, else uint32."""
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.uint32)


def is_store(path) -> bool:
    return path is not None and not str(path).startswith("hf:") and (Path(path) / STORE_FILE).is_file()


def cache_root() -> Path:
    """Where stores built on first use live: $AUTOSCALE_STORES, else ~/.cache/autoscale_kit/stores."""
    env = os.environ.get("AUTOSCALE_STORES")
    return Path(env) if env else Path.home() / ".cache" / "autoscale_kit" / "stores"


# --- reading a store ----------------------------------------------------------------------------

def _random_access(mapped: np.memmap) -> None:
    """Tell the kernel a run reads its windows at random (madvise MADV_RANDOM): no read-ahead of
    128 KB around every 258-byte window, which would fill a run's resident memory with pages it
    never reads."""
    raw = getattr(mapped, "_mmap", None)
    if raw is not None and hasattr(raw, "madvise") and hasattr(mmap, "MADV_RANDOM"):
        try:
            raw.madvise(mmap.MADV_RANDOM)
        except OSError:
            pass


class ConcatTokens:
    """Token files read as one stream: slicing returns a numpy array, reading only the files the
    slice touches (memory-mapped)."""

    def __init__(self, parts: Sequence[np.ndarray]):
        self.parts = [p for p in parts if len(p)]
        self.starts = np.cumsum([0] + [len(p) for p in self.parts])
        self.dtype = self.parts[0].dtype if self.parts else np.dtype(np.uint16)

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getitem__(self, key):
        if not isinstance(key, slice):
            raise TypeError("a token stream is read by slices")
        start, stop, step = key.indices(len(self))
        if step != 1:
            raise TypeError("a token stream is read by contiguous slices")
        if start >= stop:
            return np.zeros(0, dtype=self.dtype)
        first = int(np.searchsorted(self.starts, start, side="right")) - 1
        pieces = []
        i = first
        while i < len(self.parts) and self.starts[i] < stop:
            lo = max(start - self.starts[i], 0)
            hi = min(stop - self.starts[i], len(self.parts[i]))
            pieces.append(self.parts[i][lo:hi])
            i += 1
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def __array__(self, dtype=None, copy=None):
        out = self[0: len(self)]
        return out.astype(dtype) if dtype is not None else np.asarray(out)


@dataclass(frozen=True)
class TokenStore:
    """A finished store on disk (read `store.json`; the token files are mapped on demand)."""

    path: Path
    manifest: dict

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(self.manifest["domains"])

    @property
    def tokenizer(self) -> str:
        return self.manifest["tokenizer"]["spec"]

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.manifest["tokenizer"]["dtype"])

    def _map(self, rel: str, n: int, offset: int = 0) -> np.ndarray:
        """`n` tokens of a token file from `offset` on, memory-mapped."""
        if n == 0:
            return np.zeros(0, dtype=self.dtype)
        mapped = np.memmap(self.path / rel, dtype=self.dtype, mode="r", shape=(n,), offset=offset * self.dtype.itemsize)
        _random_access(mapped)
        return mapped

    def _entry(self, domain: str) -> dict:
        if domain not in self.manifest["streams"]:
            raise UserError(f"unknown domain {domain!r}; the store at {str(self.path)!r} has: {', '.join(self.domains)}")
        return self.manifest["streams"][domain]

    def train(self, domain: str) -> ConcatTokens:
        return ConcatTokens([self._map(*part) for part in self._entry(domain)["train"]])

    def val(self, domain: str) -> np.ndarray:
        e = self._entry(domain)["val"]
        return self._map(e["file"], e["tokens"])

    def check_tokenizer(self, tokenizer: str) -> None:
        if tokenizer != self.tokenizer:
            raise UserError(f"the token store at {str(self.path)!r} was built with tokenizer {self.tokenizer!r}, "
                            f"but the run asks for {tokenizer!r}; build a store with that tokenizer "
                            f"(autoscale-kit tokenize SOURCE --tokenizer {tokenizer}) or use the store's")

    def select(self, domains: Sequence[str] | None) -> tuple[str, ...]:
        if domains is None:
            return self.domains
        for d in domains:
            self._entry(d)
        return tuple(domains)

    def fingerprint(self, domains: Sequence[str] | None = None) -> str:
        """The identity of the data: for a store of an already split corpus read with the bytes
        tokenizer, the in-memory corpus's fingerprint (`runs.store.corpus_fingerprint`); else a
        hash of the stored tokens (which the tokenizer decided)."""
        h = hashlib.sha256()
        if self.manifest["digest_kind"] != "text" or self.tokenizer != "bytes":
            h.update(f"token-store:{self.manifest['digest_kind']}:{self.tokenizer}".encode())
        for d in self.select(domains):
            h.update(d.encode())
            for split in ("train", "val"):
                h.update(bytes.fromhex(self._entry(d)["digest"][split]))
        return h.hexdigest()

    def token_data(self, domains: Sequence[str] | None, seq_len: int, val_tokens: int) -> TokenData:
        """The domains' streams as runs read them: training streams mapped, and the fixed validation
        windows (the first `val_tokens` worth, as `prepare_tokens` cuts them)."""
        train, val = {}, {}
        T = seq_len
        for d in self.select(domains):
            train[d] = self.train(d)
            v = self.val(d)
            n = min((len(v) - 1) // T, max(1, math.ceil(val_tokens / T)))
            if n < 1:
                raise UserError(f"domain {d!r} has too little validation text for one window of {T} tokens")
            if self._entry(d)["val"]["capped"] and n < math.ceil(val_tokens / T):
                raise UserError(f"the store at {str(self.path)!r} keeps {len(v):,} validation tokens of {d!r}, fewer "
                                f"than val_tokens={val_tokens:,} needs; rebuild it with a larger --max-val-tokens")
            val[d] = np.stack([np.asarray(v[i * T: i * T + T + 1], dtype=np.int64) for i in range(n)])
        tok = self.manifest["tokenizer"]
        return TokenData(self.select(domains), train, val, int(tok["vocab_size"]), tok["eos_id"])

    def facts(self) -> tuple[dict[str, int], dict[str, float]]:
        """(training tokens, mean training document length in tokens) per domain, as
        `present.export.corpus_facts` gives them for a corpus in memory."""
        available, lengths = {}, {}
        for d in self.domains:
            e = self._entry(d)
            n = sum(part[1] for part in e["train"])
            available[d] = n
            lengths[d] = n / e["train_documents"] if e.get("train_documents") else float(n)
        return available, lengths

    def table(self) -> pd.DataFrame:
        """Documents, units and tokens per domain and split, and the shards that hold them."""
        rows = []
        for d in self.domains:
            e = self._entry(d)
            rows.append({"domain": d, "documents": e["documents"], "train tokens": sum(part[1] for part in e["train"]),
                         "val tokens": e["val"]["tokens"], "val capped": e["val"]["capped"],
                         "shards": len(e["train"])})
        return pd.DataFrame(rows)


def open_store(path) -> TokenStore:
    path = Path(path)
    try:
        manifest = json.loads((path / STORE_FILE).read_text())
    except FileNotFoundError:
        raise UserError(f"{str(path)!r} is not a token store (no {STORE_FILE}); build one with "
                        f"autoscale-kit tokenize SOURCE --out {path}") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"the store manifest {str(path / STORE_FILE)!r} is damaged ({exc.msg}); delete the folder "
                        f"and build it again") from None
    if manifest.get("version") != STORE_VERSION:
        raise UserError(f"the token store at {str(path)!r} has format version {manifest.get('version')}, this "
                        f"toolkit reads {STORE_VERSION}; build it again")
    return TokenStore(path, manifest)


@functools.lru_cache(maxsize=8)
def _opened(path: str, mtime: int) -> TokenStore:
    return open_store(path)


def opened(path) -> TokenStore:
    """`open_store`, once per process (and again if the manifest changed)."""
    p = Path(path)
    return _opened(str(p.resolve()), (p / STORE_FILE).stat().st_mtime_ns)


# --- building one shard -------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _tokenizer(spec: str):
    return load_tokenizer(spec)


class _Stream:
    """One (domain, split) output of a shard: a token file written as it goes, and its unit index."""

    def __init__(self, folder: Path, domain: str, split: str, dtype):
        self.file = f"{_safe(domain)}.{split}.bin"
        self.fh = open(folder / self.file, "wb")
        self.dtype = dtype
        self.tokens = 0
        self.starts: list[int] = []
        self.hashes: list[float] = []
        self.split_keys: list[float] = []
        self.documents = 0
        self.last: tuple[str, int] | None = None
        self.sha = hashlib.sha256()

    def write(self, unit, ids: np.ndarray, separator: np.ndarray) -> None:
        continues = self.last is not None and self.last == (unit.doc, unit.offset)
        if not continues:
            self.documents += 1
        self.starts.append(self.tokens)
        self.hashes.append(unit.hash)
        self.split_keys.append(unit.split_key)
        if self.last is not None and not continues:
            ids = np.concatenate([separator, ids])
        data = np.ascontiguousarray(ids, dtype=self.dtype).tobytes()
        self.fh.write(data)
        self.sha.update(data)
        self.tokens += len(ids)
        self.last = (unit.doc, unit.offset + len(unit.text))


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) + "-" + \
        hashlib.sha256(name.encode()).hexdigest()[:6]


def tokenise_shard(shard: Shard, shards_dir: str, tokenizer: str, seed: str = SPLIT_SEED,
                   val_fraction: float = VAL_FRACTION) -> dict:
    """Tokenise one shard into `<shards_dir>/<id>/` (atomically); returns its meta."""
    tok = _tokenizer(tokenizer)
    dtype = token_dtype(tok.vocab_size)
    final = Path(shards_dir) / shard.id
    tmp = Path(shards_dir) / f".tmp-{shard.id}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    tmp.mkdir(parents=True)
    use_eos = tokenizer != "bytes" and tok.eos_id is not None
    separator = np.asarray([tok.eos_id] if use_eos else tok.encode(SEPARATOR), dtype=np.int64)
    streams: dict[tuple[str, str], _Stream] = {}
    chars = 0
    documents: dict[str, int] = {}        # per domain: a document's units come one after another
    last_doc: dict[str, str] = {}
    batch, batch_chars = [], 0

    def flush():
        nonlocal batch, batch_chars
        if not batch:
            return
        for u, ids in zip(batch, tok.encode_batch([u.text for u in batch])):
            key = (u.domain, u.split)
            if key not in streams:
                streams[key] = _Stream(tmp, u.domain, u.split, dtype)
            streams[key].write(u, ids, separator)
        batch, batch_chars = [], 0

    try:
        for unit in shard_units(shard, seed, val_fraction):
            batch.append(unit)
            batch_chars += len(unit.text)
            chars += len(unit.text)
            if last_doc.get(unit.domain) != unit.doc:
                documents[unit.domain] = documents.get(unit.domain, 0) + 1
                last_doc[unit.domain] = unit.doc
            if batch_chars >= BATCH_CHARS:
                flush()
        flush()
        meta = {"shard": shard.id, "source": shard.path, "bytes": shard.size(), "chars": chars, "streams": [],
                "documents": {} if shard.kind == "split-text" else documents}
        for (domain, split), s in streams.items():
            if shard.kind == "split-text" and shard.documents:
                s.documents = shard.documents   # one text of many documents: its manifest counted them
            s.fh.close()
            np.save(tmp / f"{_safe(domain)}.{split}.starts.npy", np.asarray(s.starts, dtype=np.int64))
            np.save(tmp / f"{_safe(domain)}.{split}.hashes.npy", np.asarray(s.hashes, dtype=np.float64))
            np.save(tmp / f"{_safe(domain)}.{split}.splits.npy", np.asarray(s.split_keys, dtype=np.float64))
            meta["streams"].append({"domain": domain, "split": split, "file": s.file, "tokens": s.tokens,
                                    "units": len(s.starts), "documents": s.documents, "sha256": s.sha.hexdigest()})
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        os.rename(tmp, final)
    except BaseException:
        for s in streams.values():
            s.fh.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta


def _worker_init() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# --- building a store ---------------------------------------------------------------------------

def _tokenizer_identity(spec: str) -> dict:
    """The tokenizer as the cache key sees it: its spec and, for a local one, its files' hashes."""
    if spec == "bytes":
        return {"spec": spec}
    p = Path(spec)
    files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else []
    return {"spec": spec, "files": {f.name: hashlib.sha256(f.read_bytes()).hexdigest()[:16] for f in files}}


def store_key(shards: list[Shard], tokenizer: str, *, seed: str = SPLIT_SEED, val_fraction: float = VAL_FRACTION,
              max_val_tokens: int = MAX_VAL_TOKENS) -> str:
    blob = json.dumps({"version": STORE_VERSION, "source": source_fingerprint(shards),
                       "tokenizer": _tokenizer_identity(tokenizer), "seed": seed, "val_fraction": val_fraction,
                       "unit_chars": UNIT_CHARS, "max_val_tokens": max_val_tokens}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def build_store(source: str | None, out, *, tokenizer: str = "bytes", workers: int = 1, text_field: str = "text",
                domain_field: str | None = None, hf_split: str = "train", max_val_tokens: int = MAX_VAL_TOKENS,
                progress: bool = True) -> TokenStore:
    """Tokenise `source` (see `sources.plan_shards`) into a store at `out`, or open the store already
    there; a build that was killed resumes with the shards it had not finished."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UserError(f"workers must be a positive integer, got {workers!r}")
    if isinstance(max_val_tokens, bool) or not isinstance(max_val_tokens, int) or max_val_tokens < 1:
        raise UserError(f"max_val_tokens must be a positive integer, got {max_val_tokens!r}")
    out = Path(out)
    shards, described = plan_shards(source, text_field=text_field, domain_field=domain_field, hf_split=hf_split)
    key = store_key(shards, tokenizer, max_val_tokens=max_val_tokens)
    _tokenizer(tokenizer)      # a tokenizer that cannot load: refused before anything is written
    if out.exists() and not out.is_dir():
        raise UserError(f"store path {str(out)!r} is a file; give a folder")
    with locked(out.parent / f".{out.name}.lock"):
        if is_store(out):
            store = open_store(out)
            if store.manifest["key"] != key:
                raise UserError(f"the folder {str(out)!r} holds a store of another source or tokenizer "
                                f"({store.manifest['source']['description']}, {store.tokenizer}); give another "
                                f"folder or delete it")
            return store
        out.mkdir(parents=True, exist_ok=True)
        began = out / "building.json"
        if began.exists() and json.loads(began.read_text()).get("key") != key:
            raise UserError(f"the folder {str(out)!r} holds a half-built store of another source or tokenizer; "
                            f"give another folder or delete it")
        began.write_text(json.dumps({"key": key, "source": described, "tokenizer": tokenizer}))
        shards_dir = out / "shards"
        shards_dir.mkdir(exist_ok=True)
        for stale in shards_dir.glob(".tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        done = {s.id for s in shards if (shards_dir / s.id / "meta.json").is_file()}
        todo = [s for s in shards if s.id not in done]
        t0 = time.perf_counter()
        stats = _tokenise(todo, shards_dir, tokenizer, workers, progress, resumed=len(done), total=len(shards))
        manifest = _finish(out, shards, described, tokenizer, key, max_val_tokens)
        manifest["build"] = {**stats, "seconds": time.perf_counter() - t0, "shards": len(shards),
                             "resumed_shards": len(done), "workers": workers}
        tmp = out / f".{STORE_FILE}.tmp"
        tmp.write_text(json.dumps(manifest, indent=1))
        os.rename(tmp, out / STORE_FILE)
        began.unlink(missing_ok=True)
    return open_store(out)


def _tokenise(todo: list[Shard], shards_dir: Path, tokenizer: str, workers: int, progress: bool, *, resumed: int,
              total: int) -> dict:
    from tqdm.auto import tqdm

    size = sum(s.size() for s in todo)
    bar = tqdm(total=size, unit="B", unit_scale=True, desc="tokenize", disable=not progress or not todo)
    if resumed and progress:     # to stderr: stdout may be carrying JSON (tokenize --json)
        bar.write(f"resuming: {resumed} of {total} shards were finished before", file=sys.stderr)
    t0 = time.perf_counter()
    tokens = nbytes = 0

    def advance(meta):
        nonlocal tokens, nbytes
        tokens += sum(s["tokens"] for s in meta["streams"])
        nbytes += meta["bytes"]
        bar.update(meta["bytes"])
        wall = max(time.perf_counter() - t0, 1e-9)
        bar.set_postfix_str(f"{tokens / wall / 1e6:.2f}M tokens/s", refresh=False)

    try:
        if workers == 1 or len(todo) <= 1:
            for s in todo:
                advance(tokenise_shard(s, str(shards_dir), tokenizer))
        else:
            import multiprocessing

            with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                     initializer=_worker_init) as ex:
                futures = [ex.submit(tokenise_shard, s, str(shards_dir), tokenizer) for s in todo]
                for f in as_completed(futures):
                    advance(f.result())
    finally:
        bar.close()
    wall = time.perf_counter() - t0
    return {"tokenised_bytes": nbytes, "tokenised_tokens": tokens, "tokenise_seconds": wall}


def _finish(out: Path, shards: list[Shard], described: str, tokenizer: str, key: str, max_val_tokens: int) -> dict:
    """Put the finished shards together: per domain, its training files in shard order and its
    validation units in hash order (one file, up to max_val_tokens)."""
    tok = _tokenizer(tokenizer)
    dtype = token_dtype(tok.vocab_size)
    streams: dict[str, dict] = {}
    val_units: dict[str, list] = {}
    sha_train: dict[str, list[str]] = {}
    for s in shards:
        folder = out / "shards" / s.id
        meta = json.loads((folder / "meta.json").read_text())
        for d, n in meta.get("documents", {}).items():
            streams.setdefault(d, {"train": [], "documents": 0, "train_documents": 0})["documents"] += n
        for st in meta["streams"]:
            d = st["domain"]
            entry = streams.setdefault(d, {"train": [], "documents": 0, "train_documents": 0})
            if d not in meta.get("documents", {}):    # a split text: its manifest's count per split
                entry["documents"] += st["documents"]
            if st["split"] == "train":
                entry["train_documents"] += st["documents"]
            rel = f"shards/{s.id}/{st['file']}"
            if st["split"] == "train":
                entry["train"].append([rel, st["tokens"]])
                sha_train.setdefault(d, []).append(st["sha256"])
            else:
                stem = st["file"][: -len(".bin")]
                starts = np.load(folder / f"{stem}.starts.npy")
                hashes = np.load(folder / f"{stem}.hashes.npy")
                ends = np.append(starts[1:], st["tokens"])
                val_units.setdefault(d, []).extend(
                    (float(h), s.index, int(a), int(b), rel) for h, a, b in zip(hashes, starts, ends))
    if not streams:
        raise UserError(f"the source {described} holds no text")
    text_digests = _manifest_digests(shards)
    (out / "val").mkdir(exist_ok=True)
    for d, entry in streams.items():
        units = sorted(val_units.get(d, []))
        if text_digests is None:
            units = _balance(out, d, entry, units)
        name = f"val/{_safe(d)}.bin"
        written, capped, sha = 0, False, hashlib.sha256()
        with open(out / name, "wb") as fh:
            for _, _, a, b, rel in units:
                if written >= max_val_tokens:
                    capped = True
                    break
                b = min(b, a + max_val_tokens - written)
                part = np.memmap(out / rel, dtype=dtype, mode="r")[a:b]
                data = np.ascontiguousarray(part).tobytes()
                fh.write(data)
                sha.update(data)
                written += b - a
        if not entry["train"] or written == 0:
            raise UserError(f"domain {d!r} of {described} has no {'training' if not entry['train'] else 'validation'} "
                            f"text after the split; give it more text or drop it")
        entry["val"] = {"file": name, "tokens": written, "capped": capped or written < sum(b - a for _, _, a, b, _ in units)}
        if text_digests is not None:
            entry["digest"] = text_digests[d]
        else:
            ranges = json.dumps(entry["train"])     # the files' digests and the ranges read from them
            entry["digest"] = {"train": hashlib.sha256(("".join(sha_train.get(d, [])) + ranges).encode()).hexdigest(),
                               "val": sha.hexdigest()}
    return {"version": STORE_VERSION, "key": key, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "source": {"description": described, "fingerprint": source_fingerprint(shards)},
            "tokenizer": {"spec": tokenizer, "name": tok.name, "vocab_size": int(tok.vocab_size),
                          "eos_id": None if tok.eos_id is None else int(tok.eos_id), "dtype": dtype.name},
            "split": {"seed": SPLIT_SEED, "val_fraction": VAL_FRACTION, "unit_chars": UNIT_CHARS,
                      "separator": "eos" if tokenizer != "bytes" and tok.eos_id is not None else SEPARATOR,
                      "max_val_tokens": max_val_tokens},
            "digest_kind": "text" if text_digests is not None else "tokens",
            "domains": list(streams), "streams": streams}


def _unit_table(out: Path, rel: str, tokens: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, ends, split keys) of the units of one stored stream file."""
    stem = str(out / rel)[: -len(".bin")]
    starts = np.load(f"{stem}.starts.npy")
    return starts, np.append(starts[1:], tokens), np.load(f"{stem}.splits.npy")


def _balance(out: Path, domain: str, entry: dict, val: list) -> list:
    """The corpus's rule for tiny domains (`corpus.split_documents`): with no validation unit and two
    or more training units, the training unit with the lowest split hash moves to validation; with
    no training unit and two or more validation units, the last in validation order moves to training.
    Training files are then listed by ranges ([file, tokens, offset]) that leave the moved unit out."""
    units = [(float(k), rel, int(a), int(b)) for rel, n, *_ in entry["train"]
             for a, b, k in zip(*_unit_table(out, rel, n))]
    if not val and len(units) >= 2:
        key, rel, a, b = min(units)
        parts = []
        for part in entry["train"]:
            if part[0] != rel:
                parts.append(part)
                continue
            parts += [p for p in ([rel, a, 0], [rel, part[1] - b, b]) if p[1] > 0]
        entry["train"] = parts
        return [(key, -1, a, b, rel)]
    if not entry["train"] and len(val) >= 2:
        _, _, a, b, rel = val[-1]
        entry["train"] = [[rel, b - a, a]]
        return val[:-1]
    return val


def _manifest_digests(shards: list[Shard]) -> dict | None:
    """For an already split corpus: each domain's text sha256 per split, from its own manifest."""
    if not shards or any(s.kind != "split-text" for s in shards):
        return None
    manifest = read_manifest(Path(shards[0].path).parent)
    out: dict[str, dict] = {}
    for e in manifest["files"]:
        out.setdefault(e["domain"], {})[e["split"]] = e["sha256"]
    return out


def cached_store(source: str | None, tokenizer: str = "bytes", *, root=None, workers: int = 1,
                 progress: bool = False, **options) -> TokenStore:
    """The store of `source` read with `tokenizer`, built on first use under `root`
    (default `cache_root()`) and found again by its key afterwards."""
    shards, _ = plan_shards(source, text_field=options.get("text_field", "text"),
                            domain_field=options.get("domain_field"), hf_split=options.get("hf_split", "train"))
    key = store_key(shards, tokenizer, max_val_tokens=options.get("max_val_tokens", MAX_VAL_TOKENS))
    folder = Path(root or cache_root()) / key
    if is_store(folder):
        return opened(folder)
    build_store(source, folder, tokenizer=tokenizer, workers=workers, progress=progress, **options)
    return opened(folder)
