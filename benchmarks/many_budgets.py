"""Many budgets from one run: the wsd landscape against the cosine one, what branching cost, the
cross-budget model backtested at every step, the arena, and whether the optimum moves.

Reads two landscape folders made by `benchmarks/landscape.py` (default: the shipped
data/landscape/bundled-wsd — five budgets 125k…2M, one wsd trunk per point and seed with the smaller
budgets branched off — and data/landscape/bundled — the same grid, proxy and seeds, a cosine run per
budget at 125k, 500k and 2M) and trains nothing. Prints and writes (--json-out, default
benchmarks/results/many_budgets.json):

- per budget both measured: the mean loss gap wsd − cosine, the Spearman of the grid's ranking
  (beside the seed-to-seed Spearman within each schedule), the paired seed noise of a difference
  between two mixtures under each, the pairs of mixtures the two schedules order differently beyond
  that noise, and where each puts the optimum with its interval;
- the proxy tokens and wall time of the branched landscape against separate runs at its budgets;
- the backtest at every budget from the third on (λ, error of reusing against extrapolating);
- whether the optimum moved beyond its intervals, budget to budget and smallest to largest;
- the arena at 2M (every method seeing the four smaller budgets), from the folder's arena.json.

Run: python benchmarks/many_budgets.py [--wsd DIR] [--cosine DIR] [--bootstrap 100]  (a few minutes)
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

from autoscale_kit.core import fmt  # noqa: E402
from autoscale_kit.core.jsonio import dumps  # noqa: E402
from autoscale_kit.landscape.compare import compare_landscapes, describe_comparison  # noqa: E402
from autoscale_kit.landscape.fit import describe, fit_landscape  # noqa: E402
from autoscale_kit.landscape.folder import read_landscape_folder, shipped_landscape  # noqa: E402


def arena_rows(arena: dict, domains) -> list[dict]:
    rows = []
    for r in sorted(arena["table"], key=lambda r: r["regret"]):
        rows.append({"method": r["method"], **{d: r[f"w:{d}"] for d in domains}, "regret": r["regret"],
                     "regret_lo": r["regret_lo"], "regret_hi": r["regret_hi"], "proxy_runs": r["proxy_runs"]})
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--wsd", default=None, help="the branched wsd landscape (default: the shipped bundled-wsd)")
    p.add_argument("--cosine", default=None, help="the cosine landscape (default: the shipped bundled)")
    p.add_argument("--bootstrap", type=int, default=100)
    p.add_argument("--json-out", default=str(ROOT / "benchmarks" / "results" / "many_budgets.json"))
    args = p.parse_args(argv)
    t0 = time.time()
    wsd = read_landscape_folder(args.wsd or shipped_landscape("bundled-wsd"))
    cosine = read_landscape_folder(args.cosine or shipped_landscape("bundled"))
    domains = wsd.runs.domains

    print("== wsd (branched) against cosine (a run per budget): same grid, proxy and seeds")
    schedules = compare_landscapes(wsd.runs, cosine.runs, names=("wsd", "cosine"), n_boot=args.bootstrap)
    print(describe_comparison(schedules, ("wsd", "cosine"), domains))

    made = wsd.made
    tokens = made.get("proxy_tokens")
    cost = {"wsd_wall_time_s": made.get("wall_time_s"), "cosine_wall_time_s": cosine.made.get("wall_time_s"),
            "wsd_budgets": list(wsd.runs.budgets), "cosine_budgets": list(cosine.runs.budgets), "proxy_tokens": tokens}
    if tokens:
        # separate runs at the five budgets, at the throughput the branched landscape had
        cost["separate_runs_wall_time_s_estimated"] = made["wall_time_s"] * tokens["separate_runs"] / tokens["trained"]
        print(f"\n== cost: {tokens['trained']:,} proxy tokens trained where separate runs at the same budgets would "
              f"train {tokens['separate_runs']:,} ({tokens['ratio']:.3f}x); {made['wall_time_s']:.0f} worker-seconds "
              f"(separate runs, at that throughput: about {cost['separate_runs_wall_time_s_estimated']:.0f}); the "
              f"cosine landscape at three budgets: {cosine.made.get('wall_time_s', float('nan')):.0f} worker-seconds")

    print("\n== the wsd landscape fitted at every budget")
    fit = fit_landscape(wsd.runs, n_boot=args.bootstrap)
    print(describe(fit))
    overall = fit.moved_overall()

    arena = None
    if wsd.arena is not None:
        arena = arena_rows(wsd.arena, domains)
        print(f"\n== arena at {fmt.tokens(wsd.arena['target'])} (methods see the smaller budgets; regret against the "
              f"best mixture measured there; interval: the range over seeds {wsd.arena['seeds']})")
        with pd.option_context("display.width", 200):
            print(pd.DataFrame(arena).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    wall = time.time() - t0
    out = {"how": "python benchmarks/many_budgets.py" + (f" --bootstrap {args.bootstrap}" if args.bootstrap != 100 else ""),
           "wall_time_s": wall, "wsd_folder": str(wsd.path.relative_to(ROOT) if wsd.path.is_relative_to(ROOT) else wsd.path),
           "cosine_folder": str(cosine.path.relative_to(ROOT) if cosine.path.is_relative_to(ROOT) else cosine.path),
           "wsd_made_by": made.get("how"), "cosine_made_by": cosine.made.get("how"),
           "schedules": schedules, "cost": cost, "fit": fit.to_dict(), "moved_overall": overall,
           "arena": arena, "arena_best_measured": wsd.arena.get("best_measured") if wsd.arena else None}
    Path(args.json_out).write_text(dumps(out))
    print(f"\nwall time {wall:.0f} s; wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
