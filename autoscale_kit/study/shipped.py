"""Finished studies shipped with the toolkit, so notebooks open on real results in seconds.

A shipped study is `data/studies/<name>/`:
- `runs.jsonl.xz`: one line per run of the run store that made it (its `config.json`,
  `metrics.json` and `curve.csv`, verbatim): per-run metrics and curves, no model weights;
- `study.json`: how it was made (command, commit, machine, wall time, when) and what it holds;
- `analysis/`: the memoised bootstrap refits of the analysis (`memo.py`), current for the code
  that shipped them.

`study_runs(config, store, retrain=False)` is the one switch: the shipped runs, unpacked once
into the user's cache as an ordinary run store that refuses to train (a run it lacks is an error
that says to retrain), or with `retrain=True` the user's own store, trained as usual.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import platform
import subprocess
import time
from pathlib import Path

from autoscale_kit.core import memo
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.runs.store import MARKER, RunStore, write_folder


def shipped_root() -> Path:
    return memo.shipped_studies()


def shipped_names() -> list[str]:
    root = shipped_root()
    return sorted(p.name for p in root.iterdir() if (p / "runs.jsonl.xz").is_file()) if root.is_dir() else []


def provenance(name: str) -> dict:
    """`study.json` of a shipped study: how it was made."""
    path = shipped_root() / name / "study.json"
    if not path.is_file():
        raise UserError(f"no shipped study {name!r} (shipped: {', '.join(shipped_names()) or 'none'})")
    return json.loads(path.read_text())


def _archive(name: str) -> Path:
    path = shipped_root() / name / "runs.jsonl.xz"
    if not path.is_file():
        raise UserError(f"no shipped study {name!r} (shipped: {', '.join(shipped_names()) or 'none'}); "
                        f"train it with `autoscale-kit demo --scale {name}`")
    return path


def read_lines(name: str) -> list[dict]:
    with lzma.open(_archive(name), "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def unpack(name: str, cache: Path | None = None) -> Path:
    """The shipped runs as run folders in the user's cache (unpacked once per archive content)."""
    archive = _archive(name)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:12]
    base = cache if cache is not None else (memo.cache_root() or Path(_tmp_base()))
    root = Path(base) / "studies" / f"{name}-{digest}"
    if (root / MARKER).is_file():
        return root
    root.mkdir(parents=True, exist_ok=True)
    for line in read_lines(name):
        if not (root / line["key"] / line["marker"]).is_file():
            write_folder(root / line["key"], line["files"], complete=line["marker"])
    (root / MARKER).write_text(f"unpacked from {archive}\n")
    return root


def _tmp_base() -> str:
    import tempfile

    return str(Path(tempfile.gettempdir()) / "autoscale_kit")


# A proxy run the shipped study holds answers a request for a mixture within this share of its
# tokens in every domain: what a fit recomputed on another CPU moves (tens of tokens in millions),
# far below any mixture a method or a person would choose on purpose.
NEAR = 1e-3


class ShippedStore(RunStore):
    """The shipped runs of a study, read-only, made to open on any machine.

    A fit recomputed here can take another floating-point path than on the machine that made the
    study (another CPU's kernels, BLAS, thread count) and land a few tokens away from the mixture
    that was trained. So (1) what each method chose at the target is recorded with the study
    (`choices.json`) and `run_study` validates the recorded mixture, saying how far this machine's
    answer is from it; (2) any other run asked for (a verification candidate, a proxy run of a
    method) is answered by the shipped run of the same config whose mixture is within `NEAR` of
    its tokens in every domain, and `notes()` says so. Anything further off is refused with the
    run named."""

    def __init__(self, name: str, root: Path, why: str, choices: dict | None):
        super().__init__(root, frozen=why)
        self.study = name
        self.choices = choices or {}
        self.substituted: dict[str, tuple[str, str, int]] = {}   # asked key -> (shipped key, label, max diff)
        self._index: dict[str, list[tuple[dict, str]]] | None = None

    def _rest(self, identity: dict) -> str:
        """A run's identity without its mixture: which shipped runs could stand in for it."""
        rest = {k: v for k, v in identity.items() if k not in ("mixture", "key", "label", "corpus_source")}
        return json.dumps(rest, sort_keys=True, separators=(",", ":"))

    def index(self) -> dict[str, list[tuple[dict, str]]]:
        if self._index is None:
            self._index = {}
            for p in sorted(self.root.iterdir()):
                if (p / MARKER).is_file():
                    config = json.loads((p / "config.json").read_text())
                    self._index.setdefault(self._rest(config), []).append((config["mixture"], p.name))
        return self._index

    def find(self, spec) -> str | None:
        found = super().find(spec)
        if found is not None or spec.key in self.substituted:
            return found or self.substituted[spec.key][0]
        asked = {d: int(round(n)) for d, n in spec.mixture.items()}
        tolerance = max(2, NEAR * sum(asked.values()))
        best = None
        for mixture, key in self.index().get(self._rest(spec.identity()), []):
            if set(mixture) != set(asked):
                continue
            off = max(abs(int(mixture[d]) - asked[d]) for d in asked)
            if off <= tolerance and (best is None or off < best[1]):
                best = (key, off)
        if best is None:
            return None
        self.substituted[spec.key] = (best[0], spec.label or "a run", best[1])
        return best[0]

    def recorded(self, config, options) -> dict:
        """Mixture name -> the mixture (whole tokens at the target) the shipped study recorded for
        it, when the study and the methods' options are the ones it was made with (else none)."""
        made = self.choices
        if not made or made.get("study") != _canonical(config.to_dict()) or \
                made.get("options") != _canonical(options_dict(options)):
            return {}
        return {name: Mixture(c["tokens"]) for name, c in made.get("choices", {}).items()}

    def notes(self) -> list[str]:
        """One sentence on the runs answered by a shipped run a few tokens away from what was asked
        (none when every run matched exactly)."""
        subs = list(self.substituted.values())
        if not subs:
            return []
        labels = [label for _, label, _ in subs]
        named = ", ".join(labels[:3]) + (f" and {len(labels) - 3} more" if len(labels) > 3 else "")
        off = max(o for _, _, o in subs)
        runs = "1 run" if len(subs) == 1 else f"{len(subs)} runs"
        return [f"{runs} this machine asked for ({named}) came out at most {off:,} token{'s' if off != 1 else ''} per "
                f"domain from the shipped run{'s' if len(subs) > 1 else ''} shown instead; retraining would train "
                f"this machine's mixtures"]


def shipped_notes(store) -> list[str]:
    """What a shipped store said about the runs it answered with a neighbour (nothing for any other store)."""
    return store.notes() if isinstance(store, ShippedStore) else []


def options_dict(options) -> dict:
    """A CompareConfig as the record compares it: every option but the list of methods."""
    from dataclasses import asdict

    return {k: v for k, v in asdict(options).items() if k != "methods"} if options is not None else {}


def _canonical(obj):
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def choices_path(name: str) -> Path:
    return shipped_root() / name / "choices.json"


def shipped_store(name: str) -> ShippedStore:
    """The shipped runs of `name` as a run store that refuses to train."""
    info = provenance(name)
    why = (f"The shipped results of the {name!r} study (made by `{info.get('command')}` at commit "
           f"{str(info.get('commit'))[:7]}) do not hold it: another method, other options or budgets than the "
           f"study was made with. Set retrain = True (or run `autoscale-kit demo`) to train it in your own run store")
    path = choices_path(name)
    choices = json.loads(path.read_text()) if path.is_file() else None
    return ShippedStore(name, unpack(name), why, choices)


def has_shipped(name: str) -> bool:
    return (shipped_root() / name / "runs.jsonl.xz").is_file()


def study_runs(config, store: RunStore | str | Path = "runs", *, retrain: bool = False) -> RunStore:
    """Where a study's runs come from: the shipped ones when `config`'s study is shipped and
    `retrain` is False, else `store` (training what it lacks)."""
    if not retrain and has_shipped(config.name):
        return shipped_store(config.name)
    return store if isinstance(store, RunStore) else RunStore(store)


def describe(name: str) -> str:
    """One line for a notebook: what is shown and where it came from."""
    info = provenance(name)
    wall = info.get("wall_time_s")
    return (f"Shipped results of the {name!r} study: {info.get('runs')} runs made by `{info.get('command')}` at "
            f"commit {str(info.get('commit'))[:7]} on {info.get('machine')}"
            + (f" in {wall / 60:.0f} min" if wall else "") + f" ({info.get('made')}). Nothing is trained here; "
            f"set retrain = True (or press the button) to train the study in your own run store.")


# --- making one (tools/ship_study.py) ---------------------------------------------------------

def record_choices(name: str, study, options, dest: Path | None = None) -> Path:
    """Write what each method chose at the target in the study `name` (`choices.json`): the mixture
    its validation runs trained (read from the runs themselves) and the weights it came from, with
    the study and options they belong to and the machine that computed them."""
    choices = {}
    for mixture_name, recs in study.validation.items():
        trained = {d: int(round(n)) for d, n in recs[0].mixture.items()}
        choice = study.choices.get(mixture_name)
        choices[mixture_name] = {"tokens": trained, "weights": dict(choice.weights) if choice is not None else None,
                                 "runs": [r.key for r in recs]}
    out = {"study": _canonical(study.config.to_dict()), "options": _canonical(options_dict(options)),
           "target": int(study.config.target), "computed_on": platform_fingerprint(), "choices": choices}
    path = Path(dest) if dest is not None else choices_path(name)
    path.write_text(json.dumps(out, indent=1) + "\n")
    return path


def git_commit(repo: Path | None = None) -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo or memo.PACKAGE.parent, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def platform_fingerprint() -> dict:
    """What decides a run's numbers to the last bit besides its config: the CPU (its kernels'
    instruction set) and the versions of torch and transformers. Runs retrained where this matches
    reproduce exactly; elsewhere float rounding differs in the last digits."""
    import torch
    import transformers

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    return {"cpu": model, "cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
            "transformers": transformers.__version__}


def machine() -> str:
    import os

    return f"{platform.machine()} {platform.processor() or platform.system()}, {os.cpu_count()} cores, " \
           f"Python {platform.python_version()}"


def finished_folders(store: RunStore | str | Path) -> list[tuple[Path, str]]:
    """Every finished folder of a store with the file that marks it finished: run folders
    (`COMPLETE`) and DoReMi results (`result.json`), oldest first."""
    root = Path(store.root if isinstance(store, RunStore) else store)
    out = []
    for p in sorted(root.iterdir()) if root.is_dir() else []:
        if p.is_dir() and not p.name.startswith("."):
            marker = MARKER if (p / MARKER).is_file() else "result.json" if (p / "result.json").is_file() else None
            if marker:
                out.append((p, marker))
    return sorted(out, key=lambda pm: ((pm[0] / pm[1]).stat().st_mtime, pm[0].name))


def pack(store: RunStore | str | Path, name: str, *, command: str, commit: str, wall_time_s: float | None,
         dest: Path | None = None, extra: dict | None = None) -> Path:
    """Write every finished folder of `store` (this study's runs and nothing else) as the shipped study `name`."""
    folders = finished_folders(store)
    if not folders:
        raise UserError(f"no finished runs in {str(store)!r} to ship")
    folder = Path(dest) if dest is not None else shipped_root() / name
    folder.mkdir(parents=True, exist_ok=True)
    runs = 0
    with lzma.open(folder / "runs.jsonl.xz", "wt", encoding="utf-8", preset=9) as f:
        for path, marker in folders:
            files = {p.name: p.read_text() for p in sorted(path.iterdir()) if p.is_file() and p.name != marker}
            files[marker] = (path / marker).read_text()      # last: write_folder writes in order
            f.write(json.dumps({"key": path.name, "marker": marker, "files": files}) + "\n")
            runs += marker == MARKER
    records = RunStore(store).records()
    info = {"name": name, "runs": runs, "other_results": len(folders) - runs, "command": command, "commit": commit,
            "machine": machine(), "platform": platform_fingerprint(), "wall_time_s": wall_time_s,
            "training_wall_time_s": round(sum(r.wall_time for r in records), 1),
            "made": time.strftime("%Y-%m-%d", time.gmtime(max(r.finished_at for r in records))), **(extra or {})}
    (folder / "study.json").write_text(json.dumps(info, indent=2) + "\n")
    return folder
