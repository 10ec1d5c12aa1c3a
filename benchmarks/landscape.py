"""The measured landscape of the bundled corpus and every method judged against it.

Trains (or loads, from --store) the named landscape (`study.landscapes.landscape_config`, default
`bundled`: code, books, wikipedia; a grid of step 1/3 plus nothing else; 125k, 500k and 2M tokens;
seeds 0 and 1), fits it, and runs the arena: every method computes its mixture from the two
smaller budgets, and each mixture (and the landscape's fitted optimum, and a second-round optimum
refitted on every run at 2M) is trained at 2M with both seeds and scored by regret against the
best mixture measured there. Prints per budget the optimum with its interval, whether it moved
beyond the intervals between budgets, the backtest and the arena's table; writes the results
(--json-out) and ships the landscape as data (--ship, default data/landscape/<name>: runs.csv,
curves.csv, landscape.json, fit.json, arena.json, arena_runs.csv, arena_curves.csv) so that
notebook 09 draws it on a fresh clone without training.

Run: python benchmarks/landscape.py [--name bundled|smoke] [--store runs] [--bootstrap 100]
About 75 minutes on 2 cores for `bundled` from an empty store (the landscape 45, the arena 30).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from autoscale_kit.core.jsonio import dumps  # noqa: E402
from autoscale_kit.landscape.design import landscape_specs  # noqa: E402
from autoscale_kit.landscape.fit import describe  # noqa: E402
from autoscale_kit.landscape.folder import write_arena_folder  # noqa: E402
from autoscale_kit.runs.store import RunStore  # noqa: E402
from autoscale_kit.study.landscape_arena import ARENA_METHODS, landscape_arena  # noqa: E402
from autoscale_kit.study.landscapes import landscape_config  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--name", default="bundled", help="named landscape: bundled (default) or smoke")
    p.add_argument("--store", default="runs")
    p.add_argument("--bootstrap", type=int, default=100)
    p.add_argument("--methods", default=",".join(ARENA_METHODS))
    p.add_argument("--ship", default=None, help="data folder to ship (default data/landscape/<name>; 'none': skip)")
    p.add_argument("--json-out", default=None, help="default benchmarks/results/landscape[_<name>].json")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    config = landscape_config(args.name)
    t0 = time.time()
    arena = landscape_arena(config, args.store, methods=tuple(args.methods.split(",")), n_boot=args.bootstrap,
                            progress=not args.quiet)
    wall = time.time() - t0
    store = RunStore(args.store)
    records = [store.load(s.key) for s in landscape_specs(config)]
    print(describe(arena.fit))
    for w in arena.fit.warnings:
        print(f"warning: {w}")
    cols = ["method", *[f"w:{d}" for d in config.domains], "proxy_runs", "objective", "regret", "regret_lo",
            "regret_hi", "vs_fitted_optimum", "tokens_to_uniform", "reached"]
    print(f"\narena at {config.budgets[-1]:,} tokens, seeds {list(config.seeds)} (regret: objective minus the best "
          f"mixture measured there, paired by seed; interval over the seeds; vs_fitted_optimum: minus the grid's fitted "
          f"optimum)")
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(arena.table[cols].sort_values("regret").to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"best mixture measured at the target: {arena.best_measured}")
    print(f"wall time {wall:.0f} s (training included when the store lacked the runs)")
    how = f"python benchmarks/landscape.py --name {args.name} --bootstrap {args.bootstrap}"
    if args.ship != "none":
        write_arena_folder(arena, records, Path(args.ship or ROOT / "data" / "landscape" / args.name), how)
    out = {"name": args.name, "config": config.to_dict(), "wall_time_s": wall,
           # worker-seconds of training: a branch's wall time runs from its trunk's start and the trunk's
           # includes it, so only runs not branched off another count (each run once)
           "training_wall_time_s": float(sum(r.wall_time for r in {r.key: r for r in [
               *records, *(r for rs in arena.records.values() for r in rs)]}.values() if r.parent is None)),
           "fit": arena.fit.to_dict(), "arena": arena.to_dict()}
    path = Path(args.json_out or ROOT / "benchmarks" / "results" /
                ("landscape.json" if args.name == "bundled" else f"landscape_{args.name}.json"))
    path.write_text(dumps(out))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
