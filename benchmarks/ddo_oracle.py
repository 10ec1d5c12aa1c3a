"""The whole AutoScale procedure against synthetic oracles whose optimum is known exactly.

For each seeded random oracle (kinds: separable, power, transfer; see autoscale_kit.oracle):
1. DDO at two small scales: a perturbation plan around the uniform mixture, "measured" on the
   oracle (optionally with Gaussian noise on the losses), fitted and solved with min-ratio 0.2;
2. the AutoScale predictor from those two optima to the target scale (default 16x the larger);
3. excess loss at the target, objective(mixture) − objective(true optimum), for
   * autoscale        the predicted mixture,
   * ddo-reused       the larger small-scale DDO optimum's weights reused at the target,
   * uniform          equal weights,
   * oracle-autoscale the predictor fed the true small-scale optima ("oracle DDO": isolates the
                      predictor's error from DDO's),
   * oracle-reused    the true larger small-scale optimum's weights reused.
The true optimum at the target has no lower bound (the best mixture there is); the small-scale
"true optima" carry the same lower bound as DDO (min-ratio × the uniform share).

Prints mean/median excess per kind and method and writes JSON (--json-out).
Run: python benchmarks/ddo_oracle.py [--count 20] [--domains 5] [--ratios 0.2,3] [--noise 0]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from autoscale_kit.arena import ddo_rounds, oracle_arena  # noqa: E402
from autoscale_kit.oracle import KINDS, random_oracle  # noqa: E402

METHODS = ("autoscale", "ddo-reused", "uniform", "oracle-autoscale", "oracle-reused")


def _floats(text: str) -> list[float]:
    """Comma-separated numbers; fractions such as 1/5 allowed."""
    try:
        return [float(Fraction(t.strip())) for t in text.split(",") if t.strip()]
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def run_one(kind: str, seed: int, args) -> dict:
    oracle = random_oracle(kind, args.domains, seed)
    target = args.target_factor * max(args.scales)
    arena = oracle_arena(oracle, args.scales, target, METHODS, ratios=args.ratios, min_ratio=args.min_ratio,
                         noise=args.noise, seed=seed)
    ddo_errors, n_warnings = [], 0
    for rd in ddo_rounds(arena):
        truth_small = arena.lab.truth(rd.total, with_ddo_bounds=True)
        ddo_errors.append(max(abs(rd.ddo.weights[d] - truth_small.weights[d]) for d in oracle.domains))
        n_warnings += len(rd.ddo.warnings)
    return {"kind": kind, "seed": seed, "target": target, "best_objective": arena.best,
            "excess": {m: e.excess for m, e in arena.entries.items()},
            "max_weight_error": {m: e.max_weight_error for m, e in arena.entries.items()},
            "ddo_weight_error": ddo_errors, "n_ddo_warnings": n_warnings}


def summarise(records: list[dict]) -> dict:
    out = {}
    for kind in sorted({r["kind"] for r in records}):
        rows = [r for r in records if r["kind"] == kind]
        out[kind] = {"n": len(rows), "ddo_weight_error_mean": float(np.mean([max(r["ddo_weight_error"]) for r in rows]))}
        for name in METHODS:
            ex = [r["excess"][name] for r in rows if r["excess"][name] is not None]
            we = [r["max_weight_error"][name] for r in rows if r["max_weight_error"][name] is not None]
            out[kind][name] = {"mean_excess": float(np.mean(ex)) if ex else None,
                               "median_excess": float(np.median(ex)) if ex else None,
                               "max_excess": float(np.max(ex)) if ex else None,
                               "mean_max_weight_error": float(np.mean(we)) if we else None,
                               "failures": len(rows) - len(ex)}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kinds", default=",".join(KINDS), help="comma-separated oracle kinds")
    p.add_argument("--count", type=int, default=20, help="oracles per kind (seeds 0..count-1)")
    p.add_argument("--domains", type=int, default=5, help="domains per oracle")
    p.add_argument("--scales", type=_floats, default=[3e8, 1.2e9], help="the two small totals (tokens)")
    p.add_argument("--target-factor", type=float, default=16.0, help="target = this × the larger small total")
    p.add_argument("--ratios", type=_floats, default=[0.2, 3.0], help="perturbation ratios (paper: 0.2,3)")
    p.add_argument("--noise", type=float, default=0.0, help="Gaussian noise on each measured loss (nats)")
    p.add_argument("--min-ratio", type=float, default=0.2, help="DDO lower bound (fraction of the base quantity)")
    p.add_argument("--json-out", default=str(ROOT / "benchmarks" / "results" / "ddo_oracle.json"))
    args = p.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    start = time.time()
    records = [run_one(kind, seed, args) for kind in kinds for seed in range(args.count)]
    summary = summarise(records)
    elapsed = time.time() - start

    print(f"AutoScale on oracles: {args.count} per kind, {args.domains} domains, scales "
          f"{', '.join(f'{s:.3g}' for s in args.scales)} -> target {args.target_factor:g}x, ratios "
          f"{', '.join(f'{r:g}' for r in args.ratios)}, noise {args.noise:g} nats ({elapsed:.1f} s)")
    print("excess loss at the target (nats, objective(mixture) - objective(true optimum)); "
          "max|w - w*| = largest weight error")
    print(f"{'kind':<10} {'method':<17} {'mean':>10} {'median':>10} {'max':>10} {'max|w-w*|':>10} {'fail':>5}")
    for kind, s in summary.items():
        for name in METHODS:
            m = s[name]
            fmt = (lambda v: f"{v:>10.2e}" if v is not None else f"{'-':>10}")
            print(f"{kind:<10} {name:<17} {fmt(m['mean_excess'])} {fmt(m['median_excess'])} "
                  f"{fmt(m['max_excess'])} {fmt(m['mean_max_weight_error'])} {m['failures']:>5}")
        print(f"{kind:<10} {'(DDO vs true small-scale optimum: mean max|w-w*| ' + format(s['ddo_weight_error_mean'], '.2e') + ')'}")
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    config = {k: v for k, v in vars(args).items() if k != "json_out"}
    payload = {"config": config, "elapsed_s": elapsed, "summary": summary, "records": records}
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=lambda v: None if isinstance(v, float) and not math.isfinite(v) else v))
    tmp.replace(out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
