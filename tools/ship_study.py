"""Ship a finished study with the toolkit: `data/studies/<scale>/` (see autoscale_kit/shipped.py).

    python tools/ship_study.py --store /path/to/runs --scale small \
        --command "autoscale-kit demo && autoscale-kit compare" --wall 5400 --commit 3bef216…
    python tools/ship_study.py --scale small --analysis-only      # after editing the analysis code

1. packs every finished run of `--store` (a store that holds this study's runs and nothing else:
   the demo's and compare's) into `runs.jsonl.xz`, with `study.json` saying how they were made;
2. recomputes the analysis the notebooks draw on the shipped runs (the study, each DDO round with
   its bootstrap, the comparison of methods) with an empty memo, and ships the memo entries in
   `analysis/`. `--analysis-only` redoes step 2 alone (its entries are keyed by the code, so an
   edit of the fitting code needs it; `tests/test_shipped.py` says when).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def analysis(scale: str, dest: Path) -> int:
    """Run what notebooks 00, 03, 04, 05 and 08 compute on the shipped runs, memo into `dest`."""
    cache = Path(tempfile.mkdtemp(prefix="ship-cache-"))
    os.environ["AUTOSCALE_CACHE"] = str(cache)
    from autoscale_kit import memo
    from autoscale_kit.compare import compare_methods
    from autoscale_kit.methods import CompareConfig, ddo_round
    from autoscale_kit.labs import CorpusLab
    from autoscale_kit.pipeline import run_study, study_config
    from autoscale_kit.shipped import shipped_store

    shipped_dirs = memo.shipped_studies()
    old = dest
    if old.exists():   # the memo must not read the old entries: move them away while recomputing
        shutil.rmtree(old)
    config = study_config(scale)
    store = shipped_store(scale)
    t = time.time()
    run_study(config, store)
    compare_methods(config, store, CompareConfig(methods=("natural", "preset", "regmix", "mixing-law", "doremi")))
    for total in config.budgets:   # notebook 03: the round and its transfer-aware verification
        ddo_round(CorpusLab(config, store), total, "transfer", 1)
    made = sorted((cache / "analysis").glob("*.npz"))
    dest.mkdir(parents=True, exist_ok=True)
    for p in made:
        shutil.copy2(p, dest / p.name)
    shutil.rmtree(cache, ignore_errors=True)
    print(f"{len(made)} memo entries in {time.time() - t:.0f} s -> {dest} (shipped studies in {shipped_dirs})")
    return len(made)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="small")
    ap.add_argument("--store", help="the run store holding this study's runs (and nothing else)")
    ap.add_argument("--command", help="the command(s) that trained the runs")
    ap.add_argument("--commit", help="the commit that trained them (default: HEAD)")
    ap.add_argument("--wall", type=float, help="wall time of the training, seconds")
    ap.add_argument("--note", default="", help="a line on the machine's load while it trained")
    ap.add_argument("--analysis-only", action="store_true")
    args = ap.parse_args(argv)

    from autoscale_kit.runs import RunStore
    from autoscale_kit.shipped import git_commit, pack, shipped_root

    folder = shipped_root() / args.scale
    if not args.analysis_only:
        if not args.store or not args.command:
            ap.error("--store and --command are needed (or --analysis-only)")
        pack(args.store, args.scale, command=args.command, commit=args.commit or git_commit(), wall_time_s=args.wall,
             extra={"note": args.note} if args.note else None)
        print(f"packed {len(RunStore(args.store).records())} runs -> {folder}")
    analysis(args.scale, folder / "analysis")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
