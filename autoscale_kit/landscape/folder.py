"""The landscape's on-disk form: a folder of runs.csv, curves.csv, landscape.json (how it was made),
fit.json (the fit with each budget's bootstrap optima) and, from the arena, arena.json and its runs;
the shipped landscapes (`data/landscape/<name>`). Written here and read here, nowhere else."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.jsonio import dumps
from autoscale_kit.core.tables import write_text_atomically
from autoscale_kit.landscape.design import LandscapeConfig
from autoscale_kit.landscape.runs import LandscapeRuns, curves_frame, landscape_frame, read_landscape
from autoscale_kit.runs.store import RunRecord, branching_tokens


def write_landscape_folder(config: LandscapeConfig, records: Sequence[RunRecord], out: str | Path,
                           *, how: str = "") -> Path:
    """runs.csv, curves.csv and landscape.json (the config and how it was made) in `out`, each
    written atomically."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomically(out / "runs.csv", landscape_frame(records).to_csv(index=False), "the landscape runs table")
    write_text_atomically(out / "curves.csv", curves_frame(records).to_csv(index=False), "the landscape curves")
    # a branch's wall time runs from its trunk's start, and the trunk's includes its branches: the
    # compute spent is the runs that were not branched off another
    meta = {"config": config.to_dict(), "runs": len(records), "how": how,
            "wall_time_s": float(sum(r.wall_time for r in records if r.parent is None)),
            "keys": [r.key for r in records]}
    if any(r.stop is not None for r in records):
        trained, separate = branching_tokens(records)
        meta["proxy_tokens"] = {"trained": trained, "separate_runs": separate, "ratio": trained / separate}
    write_text_atomically(out / "landscape.json", json.dumps(meta, indent=2) + "\n", "the landscape description")
    return out


SHIPPED = Path(__file__).resolve().parents[2] / "data" / "landscape"


def shipped_landscape(name: str = "bundled") -> Path:
    """The folder of a landscape shipped with the toolkit (runs.csv, curves.csv, fit.json, …)."""
    path = SHIPPED / name
    if not (path / "runs.csv").is_file():
        raise UserError(f"no shipped landscape {name!r} in {SHIPPED}; train it with "
                        f"`python benchmarks/landscape.py --name {name}`")
    return path


def fit_json(fit) -> dict:
    """What fit.json holds: `LandscapeFit.to_dict()` plus each budget's bootstrap optima (the
    notebook draws them)."""
    out = fit.to_dict()
    for s, d in zip(fit.scales, out["scales"]):
        d["bootstrap_optima"] = np.round(s.samples, 5).tolist()
    return out


def write_arena_folder(arena, records: Sequence[RunRecord], folder: str | Path, how: str) -> Path:
    """A landscape and its arena as shipped data: the landscape folder (`records` are its grid runs),
    fit.json, arena.json, and the arena's runs and curves (`arena` is a `study.landscape_arena`
    result)."""
    folder = Path(folder)
    write_landscape_folder(arena.config, records, folder, how=how)
    write_text_atomically(folder / "fit.json", dumps(fit_json(arena.fit)), "fit")
    write_text_atomically(folder / "arena.json", dumps(arena.to_dict()), "arena")
    runs = [r for rs in arena.records.values() for r in rs]
    names = [n for n, rs in arena.records.items() for _ in rs]
    frame = landscape_frame(runs)
    frame.insert(1, "mixture", names)
    write_text_atomically(folder / "arena_runs.csv", frame.to_csv(index=False), "arena runs")
    curves = curves_frame(runs)
    curves.insert(1, "mixture", [n for n, r in zip(names, runs) for _ in range(len(r.curve))])
    write_text_atomically(folder / "arena_curves.csv", curves.to_csv(index=False), "arena curves")
    return folder


@dataclass(frozen=True)
class LandscapeFolder:
    """A landscape folder as read back: its runs, fit.json, arena.json (None when absent) and
    landscape.json (how it was made)."""

    path: Path
    runs: LandscapeRuns
    fit: dict | None
    arena: dict | None
    made: dict


def read_landscape_folder(folder: str | Path) -> LandscapeFolder:
    """Read a landscape folder written by `write_landscape_folder` / `write_arena_folder`."""
    folder = Path(folder)
    if not (folder / "runs.csv").is_file():
        raise UserError(f"{folder} is not a landscape folder (it has no runs.csv)")
    if not (folder / "landscape.json").is_file():
        raise UserError(f"{folder} has no landscape.json saying how its runs were made")

    def document(name: str) -> dict | None:
        path = folder / f"{name}.json"
        return json.loads(path.read_text()) if path.is_file() else None

    return LandscapeFolder(folder, read_landscape(folder / "runs.csv"), document("fit"), document("arena"),
                           document("landscape"))

