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


def shipped_store(name: str) -> RunStore:
    """The shipped runs of `name` as a run store that refuses to train."""
    info = provenance(name)
    why = (f"this run is not in the shipped results of the {name!r} study (made by `{info.get('command')}` at "
           f"commit {str(info.get('commit'))[:7]}); set retrain=True (or use `autoscale-kit demo`) to train "
           f"it in your own run store")
    return RunStore(unpack(name), frozen=why)


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
