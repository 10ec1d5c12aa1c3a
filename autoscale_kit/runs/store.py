"""The run store: one folder per trained run, keyed by a hash of everything that decides it.

Design choices:
- `<store>/<key>/` holds `config.json`, `metrics.json`, `curve.csv` and a `COMPLETE` marker. The
  folder is written under a temporary name, the marker written last, then renamed into place, so
  a killed run leaves nothing that looks finished and is simply trained again on the next call.
- The key hashes the corpus content (not its path), the mixture in whole tokens, the proxy config
  and a training-code version: the same run asked for by two studies is trained once.
- Shared by many processes: a run is claimed (`fcntl.flock` on `.locks/<key>.lock`) while it
  trains, so a second process asking for it waits and loads it; temporary folders are removed only
  when their run is not claimed. A store that cannot be written is refused before training.
- `run_many(specs, store, executor, workers)` is the one route by which any run is trained, whoever
  asks (a method's probes, a study's validation runs, a landscape's grid, `autoscale-kit train`):
  finished runs are loaded, every missing one is checked against the data before any trains, and
  the rest trained — in this process, in a local process pool (`executor="process"`, or "auto"
  with more than one worker, or any `concurrent.futures` executor), or on SLURM through a
  submitit executor. Workers receive small picklable specs and load the corpus themselves.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import time
import uuid
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from autoscale_kit.core import fmt
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.locks import locked
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.core.tables import RunsTable, runs_frame
from autoscale_kit.data import corpus as corpus_mod
from autoscale_kit.data.store import TokenStore, is_store, opened
from autoscale_kit.data.tokendata import TokenData, check_mixture, prepare_tokens, window_sampler
from autoscale_kit.proxy.config import ProxyConfig, resolve_device
from autoscale_kit.proxy.train import cooldown_start, train_proxy

TRAINING_VERSION = 1  # bump when a change to training changes the numbers of a stored run
MARKER = "COMPLETE"


@dataclass(frozen=True)
class CorpusRef:
    """Where a run's corpus comes from, small enough to send to a worker process."""

    source: str | None = None                 # None: the bundled corpus; else a folder, a .jsonl path or
    #                                           a token store (`data.store`: read through memory maps)
    domains: tuple[str, ...] | None = None    # the domains loaded (and evaluated); None: all

    @property
    def is_store(self) -> bool:
        return is_store(self.source)

    def load(self) -> corpus_mod.Corpus:
        if self.is_store:
            raise UserError(f"{self.source!r} is a token store: it holds tokens, not text; use the source it was "
                            f"built from where text is needed")
        return _load_corpus(self)

    def token_store(self) -> TokenStore:
        if not self.is_store:
            raise UserError(f"{self.source!r} is not a token store; build one with autoscale-kit tokenize")
        return opened(self.source)

    def domain_names(self) -> tuple[str, ...]:
        """The domains a run of this corpus trains on and evaluates, in order."""
        return self.token_store().select(self.domains) if self.is_store else self.load().domains


@functools.lru_cache(maxsize=4)
def _load_corpus(ref: CorpusRef) -> corpus_mod.Corpus:
    return corpus_mod.load(ref.source, domains=ref.domains)


@functools.lru_cache(maxsize=16)
def corpus_fingerprint(ref: CorpusRef) -> str:
    """sha256 over the domains' names and texts: the identity of the data, wherever it lives. A
    token store of the same text (the bundled corpus stored with the bytes tokenizer) has the same
    fingerprint, so its runs have the same keys."""
    if ref.is_store:
        return ref.token_store().fingerprint(ref.domains)
    h = hashlib.sha256()
    for d in ref.load():
        h.update(d.name.encode())
        for split in ("train", "val"):
            h.update(hashlib.sha256(d.text(split).encode("utf-8")).digest())
    return h.hexdigest()


@functools.lru_cache(maxsize=4)
def _token_data(ref: CorpusRef, tokenizer: str, seq_len: int, val_tokens: int) -> TokenData:
    if ref.is_store:
        store = ref.token_store()
        store.check_tokenizer(tokenizer)
        return store.token_data(ref.domains, seq_len, val_tokens)
    cfg = ProxyConfig(tokenizer=tokenizer, seq_len=seq_len, val_tokens=val_tokens)
    return prepare_tokens(ref.load(), cfg)


def token_data(ref: CorpusRef, config: ProxyConfig) -> TokenData:
    """The corpus's token streams as runs of `config` read them (cached per process; from a token
    store, the training streams are memory-mapped, not read)."""
    return _token_data(ref, config.tokenizer, config.seq_len, config.val_tokens)


@dataclass(frozen=True)
class RunSpec:
    """One run to train: a mixture (whole tokens), a proxy config, a corpus; the label is a name
    for people and not part of the key.

    Settings that resolve differently on different machines are resolved when the spec is made,
    and the run trains with what they resolved to: `threads=None` becomes this process's torch
    thread count, `device="auto"` the device found here (cuda, else cpu), `dtype="auto"` bfloat16
    on CUDA and float32 elsewhere. An explicit device is taken as given (a SLURM login node
    without a GPU can specify runs for GPU nodes) and checked where the run trains."""

    mixture: Mixture
    config: ProxyConfig = ProxyConfig()
    corpus: CorpusRef = CorpusRef()
    label: str = ""
    stop: int | None = None          # wsd: train the first `stop` tokens of the mixture's plan (a branch's budget)
    resolved: tuple = field(init=False, compare=False, repr=False)   # (device, dtype, threads)

    def __post_init__(self):
        if not isinstance(self.mixture, Mixture):
            raise UserError(f"RunSpec.mixture must be a Mixture, got {type(self.mixture).__name__}")
        if not isinstance(self.config, ProxyConfig):
            raise UserError(f"RunSpec.config must be a ProxyConfig, got {type(self.config).__name__}")
        if self.stop is not None and (isinstance(self.stop, bool) or not isinstance(self.stop, int) or self.stop < 1):
            raise UserError(f"RunSpec.stop must be a positive whole number of tokens or None, got {self.stop!r}")
        import torch

        device, dtype = resolve_device(self.config, check=False)
        threads = self.config.threads or torch.get_num_threads()
        object.__setattr__(self, "resolved", (device, dtype, int(threads)))

    @property
    def train_config(self) -> ProxyConfig:
        """The config the run trains with: the resolved device, dtype and thread count."""
        device, dtype, threads = self.resolved
        return self.config.with_(device=device, dtype=dtype, threads=threads)

    def identity(self) -> dict:
        """Everything the key covers: the training-code version, the corpus content and its
        domains, the mixture in whole tokens, every ProxyConfig field (seed, size, schedule,
        device, dtype, threads, …) and what the machine-dependent ones resolved to. So that keys
        made before families and resolution existed still name the same runs, the default GPT-2
        family is left out, and so are resolved values equal to what those runs used (a CPU in
        float32; an explicitly fixed thread count)."""
        proxy = self.config.to_dict()
        if proxy.get("family") == "gpt2":
            del proxy["family"]
        device, dtype, threads = self.resolved
        resolved = {}
        if (device, dtype) != ("cpu", "float32"):
            resolved.update(device=device, dtype=dtype)
        if self.config.threads is None:
            resolved["threads"] = threads
        out = {
            "training_version": TRAINING_VERSION,
            "corpus": {"fingerprint": corpus_fingerprint(self.corpus),
                       "domains": list(self.corpus.domain_names())},
            "mixture": {d: int(round(v)) for d, v in self.mixture.items()},
            "proxy": proxy,
        }
        if resolved:
            out["resolved"] = resolved
        if self._streamed_domains():    # drawn by `tokendata.stream_draw`: other windows than a permutation's
            out["window_sampler"] = "stream"
        if self.stop is not None:
            out["stop"] = int(self.stop)
        return out

    @property
    def plan(self) -> "RunSpec":
        """The whole plan this run is a prefix of (itself when it has no stop): its trunk."""
        return self if self.stop is None else replace(self, stop=None)

    def _streamed_domains(self) -> list[str]:
        """The mixture's domains with more than `PERMUTED_WINDOWS` windows, which are sampled as a
        stream (none in any run made before the stream sampler, so their keys stay as they were)."""
        data = token_data(self.corpus, self.config)
        return [d for d, n in self.mixture.items() if n > 0 and d in data.domains
                and window_sampler(data.train_windows(d, self.config.seq_len)) == "stream"]

    @property
    def key(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def describe_spec(spec: RunSpec) -> str:
    """A run for a person: its label (who asked for it), budget, seed and mixture in tokens."""
    total = spec.mixture.total
    parts = ", ".join(f"{d} {int(round(n)):,}" for d, n in spec.mixture.items())
    return f"{spec.label or 'an unlabelled run'} ({fmt.tokens(total)} tokens, seed {spec.config.seed}: {parts})"


@dataclass(frozen=True)
class RunRecord:
    """A finished run: what was asked (mixture, proxy config, corpus) and what was measured."""

    key: str
    path: Path
    label: str
    mixture: Mixture                 # tokens asked per domain (whole tokens)
    proxy: ProxyConfig
    corpus_source: str | None
    val_loss: dict[str, float]       # per validation domain, nats per token
    tokens: dict[str, int]           # training targets consumed per domain
    total_tokens: int
    steps: int
    n_params: int
    wall_time: float
    device: str
    tokens_per_second: float
    finished_at: float
    curve: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    stop: int | None = None          # a wsd run's budget within its plan (`mixture` is then the plan)
    parent: str | None = None        # the key of the plan's run it was branched off, if it was

    @property
    def seed(self) -> int:
        return self.proxy.seed

    @property
    def budget(self) -> int:
        """The budget this run was asked for: its stop within a wsd plan, else its mixture's total
        (a branch's `mixture` is its whole plan)."""
        return int(self.stop) if self.stop is not None and self.stop < self.mixture.total else int(round(self.mixture.total))

    @property
    def mean_val_loss(self) -> float:
        v = self.val_loss
        return sum(v.values()) / len(v)

    @property
    def flops(self) -> float:
        """Training compute, 6 × parameters × tokens."""
        return 6.0 * self.n_params * self.total_tokens

    @classmethod
    def from_folder(cls, path: Path, key: str) -> "RunRecord":
        """Read a finished run folder; a damaged one (unreadable, keys missing) is a UserError
        naming the folder and the fix."""
        try:
            config = json.loads((path / "config.json").read_text())
            metrics = json.loads((path / "metrics.json").read_text())
            curve = pd.read_csv(path / "curve.csv")
            return cls(key=key, path=path, label=str(config.get("label", "")), mixture=Mixture(config["mixture"]),
                       proxy=ProxyConfig.from_dict(config["proxy"]), corpus_source=config.get("corpus_source"),
                       val_loss={str(d): float(v) for d, v in metrics["val_loss"].items()},
                       tokens={str(d): int(v) for d, v in metrics["tokens"].items()},
                       total_tokens=int(metrics["total_tokens"]), steps=int(metrics["steps"]),
                       n_params=int(metrics["n_params"]), wall_time=float(metrics["wall_time"]),
                       device=str(metrics["device"]), tokens_per_second=float(metrics["tokens_per_second"]),
                       finished_at=float(metrics.get("finished_at", 0.0)), curve=curve,
                       stop=None if config.get("stop") is None else int(config["stop"]), parent=config.get("parent"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError,
                KeyError, TypeError, ValueError, AttributeError) as exc:
            what = f"missing {exc}" if isinstance(exc, KeyError) else " ".join(str(exc).split())
            raise UserError(f"run folder {str(path)!r} is damaged ({what}); delete it to train the run again") from None


def _tmp_name(name: str) -> str:
    return f".tmp-{name}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def _tmp_owner(tmp: Path) -> str:
    """The folder name a temporary folder was being written for (".tmp-<name>-<pid>-<rand>")."""
    return tmp.name[len(".tmp-"):].rsplit("-", 2)[0]


def write_folder(path: Path, files: dict[str, str], complete: str = MARKER) -> None:
    """Write `files` (name → text, in order) into the folder `path` atomically: under a temporary
    name beside it, then renamed into place. If another process finished the same folder first
    (its `complete` file exists), theirs is kept; a stale unfinished folder is replaced. On any
    failure (a full disk) the temporary folder is removed and what was there before is kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / _tmp_name(path.name)
    try:
        tmp.mkdir()
        for name, text in files.items():
            (tmp / name).write_text(text)
        try:
            os.rename(tmp, path)
        except OSError:
            if (path / complete).is_file():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                shutil.rmtree(path, ignore_errors=True)
                os.rename(tmp, path)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(f"cannot write {str(path)!r}: {exc.strerror or exc}; free some space or choose a "
                        f"writable folder") from None


def check_writable_folder(path: Path, what: str, *, room: int = 1 << 20) -> None:
    """Refuse, before any work, a folder that is a file, could not be created or written, or has
    less than `room` bytes free (enough for the metadata of a run or a report). Creates nothing:
    for a folder yet to be made, its nearest existing parent is checked."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{what} {str(path)!r} is a file, not a folder; give a folder path")
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{what} {str(path)!r} cannot be made: {str(existing)!r} is a file")
    probe = existing / _tmp_name("write-check")
    try:
        probe.write_text("ok")
    except OSError as exc:
        raise UserError(f"{what} {str(path)!r} is not writable ({exc.strerror or exc}); choose another folder "
                        f"or fix its permissions") from None
    finally:
        probe.unlink(missing_ok=True)
    free = shutil.disk_usage(existing).free
    if free < room:
        raise UserError(f"{what} {str(path)!r} has only {free:,} bytes free; free some space first")


class RunStore:
    """A folder of run folders that many processes can share.

    Each run is claimed (a lock file in `.locks/`) while it trains: a process that asks for a run
    another one is training waits for it and loads the result instead of training it again.
    Finished folders are renamed into place, so nothing half-written ever looks finished.
    `trained` lists the keys this object trained (the rest it loaded). A `frozen` store (the
    shipped results, `shipped.py`) only reads: asking it for a run it lacks is a UserError saying
    `frozen`, before anything trains."""

    def __init__(self, root: str | Path = "runs", *, frozen: str | None = None):
        if isinstance(root, RunStore):
            frozen = frozen or root.frozen
            root = root.root
        if not isinstance(root, (str, os.PathLike)):
            raise UserError(f"a run store is a folder path, got {type(root).__name__}")
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise UserError(f"run store {str(root)!r} is a file, not a folder; give the folder of a run store "
                            f"(default runs/)")
        self.frozen = frozen
        self.trained: list[str] = []

    def path(self, key: str) -> Path:
        return self.root / key

    def lock_path(self, key: str) -> Path:
        return self.root / ".locks" / f"{key}.lock"

    def is_done(self, key: str) -> bool:
        return (self.path(key) / MARKER).is_file()

    def check_writable(self) -> None:
        if self.frozen:
            raise UserError(self.frozen)
        check_writable_folder(self.root, "run store")

    def find(self, spec: "RunSpec") -> str | None:
        """The key of the finished run that answers `spec`: its own key when it is finished here,
        else None (a read-only store of shipped results may answer with a run it holds instead)."""
        return spec.key if self.is_done(spec.key) else None

    def refuse(self, missing: Sequence["RunSpec"]) -> None:
        """A frozen store asked for runs it lacks: a UserError naming each run (its label, budget,
        seed and mixture) and then the store's reason, which says what to do."""
        if not self.frozen:
            return
        missing = list(missing)
        named = "; ".join(describe_spec(s) for s in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        runs = "this run is" if len(missing) == 1 else f"these {len(missing)} runs are"
        raise UserError(f"{runs} not here: {named}{more}. {self.frozen}")

    def load(self, key: str) -> RunRecord:
        if not self.is_done(key):
            raise UserError(f"run {key} in {str(self.root)!r} is not finished")
        return RunRecord.from_folder(self.path(key), key)

    def records(self) -> list[RunRecord]:
        """Every finished run in the store, oldest first."""
        if not self.root.is_dir():
            return []
        keys = [p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        recs = [self.load(k) for k in keys if self.is_done(k)]
        return sorted(recs, key=lambda r: (r.finished_at, r.key))

    def clean(self, key: str | None = None) -> int:
        """Remove temporary folders of interrupted runs (of one key, or all) whose run nobody is
        training now (its claim can be taken); a live process's folder is left alone. Returns how
        many were removed."""
        if not self.root.is_dir():
            return 0
        pattern = f".tmp-{key}-*" if key else ".tmp-*"
        n = 0
        for p in sorted(self.root.glob(pattern)):
            owner = _tmp_owner(p)
            if key is not None and owner != key:
                continue
            with locked(self.lock_path(owner), blocking=False) as free:
                if free and p.exists():
                    shutil.rmtree(p, ignore_errors=True)
                    n += 1
        return n

    def _remove_stale(self, key: str) -> None:
        """Called with the key's claim held: every temporary folder of this key is stale."""
        for p in self.root.glob(f".tmp-{key}-*"):
            if _tmp_owner(p) == key:
                shutil.rmtree(p, ignore_errors=True)

    def run(self, spec: RunSpec, *, progress: bool = True, checked: bool = False, slot: str | None = None) -> RunRecord:
        """The stored run for `spec`, training it first if needed (once, whoever else asks);
        `checked`: its mixture was checked against the data already (by `run_many`); `slot`: the
        device this process is pinned to (`placed`), which changes where the run trains, not its key."""
        found = self.find(spec)
        if found is not None:
            return self.load(found)
        key = spec.key
        self.refuse([spec])
        self.check_writable()
        ref = spec.corpus
        data = token_data(ref, spec.config)
        if not checked:
            check_mixture(spec.mixture, data, spec.config)    # refused before anything is claimed or written
        with locked(self.lock_path(key)):
            if self.is_done(key):   # another process finished it while this one waited
                return self.load(key)
            self._remove_stale(key)
            result = train_proxy(data, spec.mixture, placed(spec.train_config, slot), progress=progress,
                                 stop=spec.stop)
            self._write(spec, result)
        return self.load(key)

    def _write(self, spec: RunSpec, result, parent: str | None = None) -> None:
        key = spec.key
        config = {"key": key, "label": spec.label, **spec.identity(), "corpus_source": spec.corpus.source}
        if parent is not None:
            config["parent"] = parent     # branched off this run's trunk at the start of its cooldown
        metrics = {
            "val_loss": result.val_loss, "mean_val_loss": result.mean_val_loss, "tokens": result.tokens,
            "total_tokens": int(sum(result.tokens.values())), "steps": result.steps,
            "n_params": result.n_params, "wall_time": result.wall_time, "device": result.device,
            "tokens_per_second": result.tokens_per_second, "finished_at": time.time(),
        }
        write_folder(self.path(key), {
            "config.json": json.dumps(config, indent=2),
            "metrics.json": json.dumps(metrics, indent=2),
            "curve.csv": pd.DataFrame(result.curve).to_csv(index=False),
            MARKER: time.strftime("%Y-%m-%dT%H:%M:%S") + "\n",  # written last
        })
        self.trained.append(key)

    def run_branched(self, specs: Sequence[RunSpec], *, progress: bool = True, slot: str | None = None) -> None:
        """Runs of one wsd plan at several budgets (`RunSpec.stop`), trained in one pass: the plan to
        its end, each smaller budget branched off at the start of its cooldown. Every run is stored
        as an ordinary finished run under its own key, the branches naming the plan's run as parent;
        the plan's own run is stored too (it was trained anyway)."""
        trunk = specs[0].plan
        if any(s.plan.key != trunk.key for s in specs):
            raise UserError("run_branched takes runs of one plan (the same mixture, config and corpus)")
        data = token_data(trunk.corpus, trunk.config)
        total = int(sum(check_mixture(trunk.mixture, data, trunk.config).values()))
        with locked(self.lock_path(trunk.key)):
            wanted = [s for s in specs if not self.is_done(s.key)]
            if not wanted:
                return
            for s in wanted:
                self._remove_stale(s.key)
            by_budget = {s.stop if s.stop is not None and s.stop < total else total: s for s in wanted}
            if total not in by_budget and not self.is_done(trunk.key):
                by_budget[total] = trunk

            def store(budget: int, result) -> None:   # each branch as soon as it is finished: a killed
                spec = by_budget.get(budget)           # trunk keeps the branches it had made
                if spec is not None and not self.is_done(spec.key):
                    self._write(spec, result, parent=None if budget == total else trunk.key)

            stops = sorted(b for b in by_budget if b < total)
            config = placed(trunk.train_config, slot)
            if stops:
                # the trunk's state at each branch point: a killed trunk resumes from its last one
                results = train_proxy(data, trunk.mixture, config, progress=progress, branches=stops, on_branch=store,
                                      checkpoint=self.root / ".trunks" / f"{trunk.key}.pt")
            else:
                results = {total: train_proxy(data, trunk.mixture, config, progress=progress)}
            store(total, results[total])

    def table(self, records: Iterable[RunRecord] | None = None) -> pd.DataFrame:
        return runs_table(self.records() if records is None else records)


def branching_tokens(records: Iterable[RunRecord]) -> tuple[int, int]:
    """(proxy tokens the wsd runs trained, tokens separate runs at the same budgets would train): a
    plan's whole run counts in full, a branch only from the start of its cooldown."""
    records = list(records)
    separate = sum(r.total_tokens for r in records)
    trained = 0
    for r in records:
        if r.budget >= r.mixture.total:
            trained += r.total_tokens
        else:
            per_step = r.proxy.batch_size * r.proxy.seq_len
            trained += min(r.total_tokens, (r.steps - cooldown_start(r.steps, r.proxy)) * per_step)
    return int(trained), int(separate)


def runs_table(records: Iterable[RunRecord]) -> pd.DataFrame:
    """Runs in the public runs-table format (`tables.runs_frame`): run, label, seed, tokens:<d>,
    loss:<d>, then mean_loss, total_tokens, wall_time and device."""
    records = list(records)
    if not records:
        return pd.DataFrame(columns=["run", "label", "seed", "mean_loss", "total_tokens", "wall_time", "device"])
    frame = runs_frame(RunsTable.from_records(records), extra={"label": [r.label for r in records]})
    return frame.assign(mean_loss=[r.mean_val_loss for r in records],
                        total_tokens=[r.total_tokens for r in records],
                        wall_time=[r.wall_time for r in records], device=[r.device for r in records])


# --- many runs -----------------------------------------------------------------------------

_SLOT: str | None = None   # the device this worker process is pinned to (set by _worker_init)


def visible_devices() -> list[str]:
    """The accelerators runs are placed on: every visible CUDA device (cuda:0, cuda:1, …); none
    elsewhere (CPU runs share the cores through threads instead)."""
    import torch

    return [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []


def device_slots(devices: Sequence[str], per_device: int = 1) -> list[str]:
    """One device per worker process: every device `per_device` times, interleaved, so that the
    first workers to start spread over all devices."""
    if isinstance(per_device, bool) or not isinstance(per_device, int) or per_device < 1:
        raise UserError(f"per_device must be a positive integer (worker processes per device), got {per_device!r}")
    devices = list(devices)
    if not devices or any(not isinstance(d, str) or not d for d in devices):
        raise UserError(f"devices must be a non-empty list of device names (cuda:0, …), got {devices!r}")
    return [d for _ in range(per_device) for d in devices]


def placed(config: ProxyConfig, slot: str | None) -> ProxyConfig:
    """The config a run trains with in a process pinned to `slot`: a run that resolved to the
    slot's kind of device without naming one (`cuda`) trains on the slot (`cuda:3`); a run that
    names its device (`cuda:1`), or of another kind, trains as it is. The run's key is made from
    the spec before placement, so it does not depend on which device the run landed on."""
    if slot is None or config.device != slot.split(":")[0]:
        return config
    return config.with_(device=slot)


def _worker_init(threads: int, slots=None) -> None:
    """A pool worker: its torch threads and, when runs are placed, the one device it trains on
    (taken from the shared queue of slots, one per worker)."""
    global _SLOT
    import torch

    torch.set_num_threads(threads)
    if slots is not None:
        _SLOT = slots.get()
        if _SLOT.startswith("cuda") and torch.cuda.is_available():
            torch.cuda.set_device(_SLOT)


def _train_in_worker(root: str, spec: RunSpec) -> bool:
    """Train (or load) one run in a worker; True when this worker trained it."""
    store = RunStore(root)
    store.run(spec, progress=False, checked=True, slot=_SLOT)
    return bool(store.trained)


def _train_plan_in_worker(root: str, specs: list[RunSpec]) -> list[str]:
    """Train one wsd plan's runs in one pass in a worker; the keys it trained."""
    store = RunStore(root)
    store.run_branched(specs, progress=False, slot=_SLOT)
    return list(store.trained)


def branch_groups(specs: Sequence[RunSpec]) -> tuple[list[list[RunSpec]], list[RunSpec]]:
    """The runs that share a wsd plan (warm-up fixed in tokens), grouped to train in one pass, and
    the rest, each trained on its own."""
    groups: dict[str, list[RunSpec]] = {}
    alone = []
    for s in specs:
        if s.config.branchable:
            groups.setdefault(s.plan.key, []).append(s)
        else:
            alone.append(s)
    return list(groups.values()), alone


def process_pool(workers: int = 2, slots: Sequence[str] | None = None) -> ProcessPoolExecutor:
    """A local pool of `workers` processes sharing the CPU cores (spawned: safe with torch); with
    `slots` (one device per worker, `device_slots`), each worker is pinned to its device."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    queue = None
    if slots is not None:
        slots = list(slots)
        if len(slots) != workers:
            raise UserError(f"{len(slots)} device slots for {workers} workers; give one slot per worker")
        queue = ctx.Queue()
        for s in slots:
            queue.put(s)
    threads = max(1, (os.cpu_count() or 1) // workers)
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                               initargs=(threads, queue))


def placement(specs: Sequence[RunSpec], devices, per_device: int = 1) -> list[str] | None:
    """The device slots `run_many` pins its workers to, or None to train as before: `devices`
    None or [] places nothing; "auto" places runs that resolved to `cuda` on every visible CUDA
    device when there is more than one slot to fill; a list (["cuda:0", "cuda:1"]) is taken as given."""
    if devices is None or (not isinstance(devices, str) and not list(devices)):
        return None
    if devices == "auto":
        found = visible_devices()
        if not found or not any(s.resolved[0] == "cuda" for s in specs):
            return None
        slots = device_slots(found, per_device)
        return slots if len(slots) > 1 else None
    if isinstance(devices, str):
        raise UserError(f"devices must be 'auto', None or a list of device names, got {devices!r}")
    return device_slots(devices, per_device)


def run_many(specs: Sequence[RunSpec], store: RunStore | str | Path = "runs", *,
             executor: Executor | str | None = "auto", workers: int = 1, progress: bool = True,
             devices="auto", per_device: int = 1) -> list[RunRecord]:
    """Every spec's run, in order: loaded when finished, trained otherwise (the one route; see the
    module docstring).

    executor: None trains here one after another; "process" uses a local pool of `workers`
    processes; "auto" (the default) is a pool when `workers` > 1, else here; any object with
    `submit(fn, *args)` returning a future (concurrent.futures, submitit) runs them there.
    devices, per_device: on a machine with several accelerators, a local pool of `per_device`
    workers per device, each pinned to its device (`placement`); each run's `device` says where it
    trained. Not used with an executor of your own (a SLURM job gets its GPU from SLURM).
    """
    if executor == "auto":
        executor = "process" if workers > 1 else None
    from tqdm.auto import tqdm

    store = store if isinstance(store, RunStore) else RunStore(store)
    todo: dict[str, RunSpec] = {}
    for s in specs:
        if not isinstance(s, RunSpec):
            raise UserError(f"run_many takes RunSpecs, got {type(s).__name__}")
        if store.find(s) is None:
            todo.setdefault(s.key, s)
    if todo:
        store.refuse(list(todo.values()))
        store.check_writable()
        for s in todo.values():   # a run that cannot train is refused before any of them trains
            check_mixture(s.mixture, token_data(s.corpus, s.config), s.config)
        slots = placement(list(todo.values()), devices, per_device) if executor in (None, "process") else None
        if slots is not None:
            executor, workers = "process", len(slots)
        plans, alone = branch_groups(list(todo.values()))
        if executor is None:
            for group in plans:
                store.run_branched(group, progress=progress)
            bar = tqdm(alone, desc="runs", unit="run", disable=not progress)
            for s in bar:
                bar.set_postfix_str(s.label or s.key, refresh=False)
                store.run(s, progress=progress, checked=True)
        else:
            own = executor == "process"
            ex = process_pool(workers, slots) if own else executor
            try:
                batch = getattr(ex, "batch", None)  # submitit: submit as one job array
                def submit_all():
                    return ([ex.submit(_train_plan_in_worker, str(store.root), g) for g in plans],
                            [ex.submit(_train_in_worker, str(store.root), s) for s in alone])
                if callable(batch):
                    with batch():
                        plan_futures, futures = submit_all()
                else:
                    plan_futures, futures = submit_all()
                for f in plan_futures:
                    store.trained.extend(f.result())
                for s, f in zip(alone, tqdm(futures, desc="runs", unit="run", disable=not progress)):
                    if f.result():
                        store.trained.append(s.key)
            finally:
                if own:
                    ex.shutdown()
    return [store.load(store.find(s) or s.key) for s in specs]
