"""Ship a finished study with the toolkit: `data/studies/<scale>/` (see autoscale_kit/shipped.py).

    python tools/ship_study.py --store /path/to/runs --scale small \
        --command "autoscale-kit demo && autoscale-kit compare" --wall 5400 --commit 3bef216…
    python tools/ship_study.py --scale small --analysis-only      # after editing the analysis code

1. packs every finished run of `--store` (a store that holds this study's runs and nothing else:
   the demo's and compare's) into `runs.jsonl.xz`, with `study.json` saying how they were made;
2. records what every method of the notebooks chose at the target (`choices.json`: the mixture
   its shipped validation runs trained), so the notebooks open on these runs on any machine,
   whatever float path a fit takes there (`study.shipped.ShippedStore`);
3. executes the notebooks that draw on the shipped runs (00, 03, 04, 05, 08) at that scale with an
   empty memo, checks that none trained a run, and ships the memo entries they made in `analysis/`.
   `--analysis-only` redoes steps 2 and 3 (the memo's entries are keyed by the code, so an edit of
   the fitting code needs it; `tests/test_shipped.py` says when).
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


NOTEBOOKS = ("00_quickstart", "03_ddo", "04_autoscale", "05_validate", "08_compare_methods")


def analysis(scale: str, dest: Path) -> int:
    """Execute the notebooks that draw on the shipped study (NOTEBOOKS) at `scale` with an empty
    memo, and ship the memo entries they made into `dest`."""
    import nbclient
    import nbformat

    from autoscale_kit.core import memo

    cache = Path(tempfile.mkdtemp(prefix="ship-cache-"))
    work = Path(tempfile.mkdtemp(prefix="ship-nb-")) / "notebooks"
    work.mkdir()
    if dest.exists():   # the memo must not read the old entries while recomputing
        shutil.rmtree(dest)
    env = {"AUTOSCALE_CACHE": str(cache), "TQDM_DISABLE": "1", "MPLBACKEND": "Agg"}
    old = {k: os.environ.get(k) for k in [*env, "AUTOSCALE_SCALE"]}
    os.environ.update(env)
    os.environ.pop("AUTOSCALE_SCALE", None)
    t = time.time()
    try:
        for name in NOTEBOOKS:
            nb = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
            for c in nb.cells:
                if "parameters" in c.metadata.get("tags", []):
                    c.source += f"\nscale = {scale!r}\nstore = {str(work.parent / 'runs')!r}"
            nbclient.NotebookClient(nb, timeout=3600, kernel_name="python3",
                                    resources={"metadata": {"path": str(work)}}).execute()
            print(f"  {name}: {len(list((cache / 'analysis').glob('*.npz')))} memo entries so far "
                  f"({time.time() - t:.0f} s)", flush=True)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if (work.parent / "runs").exists():
        raise SystemExit(f"a notebook trained runs into {work.parent / 'runs'}: the shipped study is incomplete")
    made = sorted((cache / "analysis").glob("*.npz"))
    dest.mkdir(parents=True, exist_ok=True)
    for p in made:
        shutil.copy2(p, dest / p.name)
    shutil.rmtree(cache, ignore_errors=True)
    print(f"{len(made)} memo entries in {time.time() - t:.0f} s -> {dest} (studies in {memo.shipped_studies()})")
    return len(made)


# every method the notebooks validate at the target (08's list; the study's own three come with any)
RECORDED_METHODS = ("natural", "preset", "regmix", "mixing-law", "doremi")


def record(scale: str) -> Path:
    """`choices.json` of the shipped study `scale`: each method's mixture at the target as its
    shipped validation runs trained it (computed here, from the shipped runs alone)."""
    from autoscale_kit.study.compare import CompareConfig, compare_methods
    from autoscale_kit.study.pipeline import study_config
    from autoscale_kit.study.shipped import choices_path, record_choices, shipped_store

    choices_path(scale).unlink(missing_ok=True)    # computed afresh, not read back
    options = CompareConfig(methods=RECORDED_METHODS)
    comparison = compare_methods(study_config(scale), shipped_store(scale), options, progress=False)
    path = record_choices(scale, comparison.study, options)
    print(f"recorded {len(comparison.study.validation)} methods' choices -> {path}")
    return path


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

    from autoscale_kit.runs.store import RunStore
    from autoscale_kit.study.shipped import git_commit, pack, shipped_root

    folder = shipped_root() / args.scale
    if not args.analysis_only:
        if not args.store or not args.command:
            ap.error("--store and --command are needed (or --analysis-only)")
        pack(args.store, args.scale, command=args.command, commit=args.commit or git_commit(), wall_time_s=args.wall,
             extra={"note": args.note} if args.note else None)
        print(f"packed {len(RunStore(args.store).records())} runs -> {folder}")
    record(args.scale)
    analysis(args.scale, folder / "analysis")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
