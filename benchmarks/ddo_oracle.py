"""The whole AutoScale procedure against synthetic oracles whose optimum is known exactly.

For each seeded random oracle (kinds: separable, power, transfer, substitute; see
autoscale_kit.methods.oracle):
1. DDO at two small scales: a perturbation plan around the uniform mixture, "measured" on the
   oracle (optionally with Gaussian noise on the losses), fitted and solved with min-ratio 0.2 —
   with the paper's separable surrogate, with the transfer-aware one, and transfer-aware and
   verified (the recommendation measured, accepted only if it beats the base by more than the
   noise, else a line search towards the base; `--verify` candidates at most);
2. the AutoScale predictor from each variant's two optima to the target (default 16x the larger),
   and the transfer law fitted on both budgets' runs solved at the target directly;
3. excess loss, objective(mixture) − objective(true optimum), at the target for every method
   below, and at the DDO budgets for each DDO variant (against the true optimum there, with DDO's
   lower bounds):
   * autoscale / autoscale-transfer / autoscale-verified   the predictions,
   * ddo-reused / ddo-transfer / ddo-verified              the larger budget's answer reused,
   * transfer-target   the transfer law of both budgets minimised at the target,
   * uniform           equal weights,
   * oracle-autoscale  the predictor fed the true small-scale optima (the predictor's own error),
   * oracle-reused     the true larger small-scale optimum's weights reused.
The true optimum at the target has no lower bound (the best mixture there is); the small-scale
"true optima" carry the same lower bound as DDO (min-ratio × the uniform share).

Prints mean/median excess per kind and method and writes JSON (--json-out); several noise levels
(--noise 0,0.005,0.02) give one block each.
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

from autoscale_kit.methods.arena import ddo_rounds, oracle_arena  # noqa: E402
from autoscale_kit.methods.registry import CompareConfig, ddo_round  # noqa: E402
from autoscale_kit.core.mixture import Mixture  # noqa: E402
from autoscale_kit.methods.oracle import KINDS, random_oracle  # noqa: E402

METHODS = ("autoscale", "autoscale-transfer", "autoscale-verified", "transfer-target", "ddo-reused", "ddo-transfer",
           "ddo-verified", "uniform", "oracle-autoscale", "oracle-reused")
VARIANTS = {"separable": ("separable", 0), "transfer": ("transfer", 0), "verified": ("transfer", None)}


def _floats(text: str) -> list[float]:
    """Comma-separated numbers; fractions such as 1/5 allowed."""
    try:
        return [float(Fraction(t.strip())) for t in text.split(",") if t.strip()]
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def run_one(kind: str, seed: int, args, noise: float) -> dict:
    oracle = random_oracle(kind, args.domains, seed)
    target = args.target_factor * max(args.scales)
    arena = oracle_arena(oracle, args.scales, target, METHODS, ratios=args.ratios, min_ratio=args.min_ratio,
                         noise=noise, seed=seed, options=CompareConfig(methods=(), verify_runs=args.verify))
    ddo_errors, n_warnings = [], 0
    for rd in ddo_rounds(arena):
        truth_small = arena.lab.truth(rd.total, with_ddo_bounds=True)
        ddo_errors.append(max(abs(rd.ddo.weights[d] - truth_small.weights[d]) for d in oracle.domains))
        n_warnings += len(rd.ddo.warnings)
    at_budget, extra_runs = {}, 0
    for name, (form, verify) in VARIANTS.items():
        verify = args.verify if verify is None else verify
        ex = []
        for total in arena.lab.budgets:
            rd = ddo_round(arena.lab, total, form, verify)
            truth_small = arena.lab.truth(total, with_ddo_bounds=True)
            ex.append(oracle.objective(Mixture.from_weights(rd.answer.weights, total)) - oracle.objective(truth_small))
            if rd.verification is not None:
                extra_runs += rd.verification.extra_runs
        at_budget[name] = ex
    return {"kind": kind, "seed": seed, "noise": noise, "target": target, "best_objective": arena.best,
            "excess": {m: e.excess for m, e in arena.entries.items()},
            "errors": {m: e.error for m, e in arena.entries.items() if e.error},
            "max_weight_error": {m: e.max_weight_error for m, e in arena.entries.items()},
            "excess_at_budgets": at_budget, "verification_runs": extra_runs,
            "ddo_weight_error": ddo_errors, "n_ddo_warnings": n_warnings}


def summarise(records: list[dict]) -> dict:
    out = {}
    for kind in sorted({r["kind"] for r in records}):
        rows = [r for r in records if r["kind"] == kind]
        n_budgets = len(rows[0]["excess_at_budgets"]["separable"])
        out[kind] = {"n": len(rows),
                     "ddo_weight_error_mean": float(np.mean([max(r["ddo_weight_error"]) for r in rows])),
                     "excess_at_budgets": {v: [float(np.mean([r["excess_at_budgets"][v][i] for r in rows]))
                                               for i in range(n_budgets)] for v in VARIANTS},
                     "verification_runs_mean": float(np.mean([r["verification_runs"] for r in rows]))}
        for name in METHODS:
            ex = [r["excess"][name] for r in rows if r["excess"][name] is not None]
            we = [r["max_weight_error"][name] for r in rows if r["max_weight_error"][name] is not None]
            out[kind][name] = {"mean_excess": float(np.mean(ex)) if ex else None,
                               "median_excess": float(np.median(ex)) if ex else None,
                               "max_excess": float(np.max(ex)) if ex else None,
                               "mean_max_weight_error": float(np.mean(we)) if we else None,
                               "failures": len(rows) - len(ex)}
    return out


def print_block(block: dict, args, noise: float) -> None:
    summary = block["summary"]
    print(f"AutoScale on oracles: {args.count} per kind, {args.domains} domains, scales "
          f"{', '.join(f'{s:.3g}' for s in args.scales)} -> target {args.target_factor:g}x, ratios "
          f"{', '.join(f'{r:g}' for r in args.ratios)}, noise {noise:g} nats ({block['elapsed_s']:.1f} s)")
    print("excess loss at the target (nats, objective(mixture) - objective(true optimum)); "
          "max|w - w*| = largest weight error")
    print(f"{'kind':<10} {'method':<19} {'mean':>10} {'median':>10} {'max':>10} {'max|w-w*|':>10} {'fail':>5}")
    fmt = (lambda v: f"{v:>10.2e}" if v is not None else f"{'-':>10}")
    for kind, s in summary.items():
        for name in METHODS:
            m = s[name]
            print(f"{kind:<10} {name:<19} {fmt(m['mean_excess'])} {fmt(m['median_excess'])} "
                  f"{fmt(m['max_excess'])} {fmt(m['mean_max_weight_error'])} {m['failures']:>5}")
        at = ", ".join(f"{v} " + "/".join(f"{e:.2e}" for e in s["excess_at_budgets"][v]) for v in VARIANTS)
        print(f"{kind:<10} at the DDO budgets (mean excess, small/large): {at}; "
              f"verification runs per oracle {s['verification_runs_mean']:.1f}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kinds", default=",".join(KINDS), help="comma-separated oracle kinds")
    p.add_argument("--count", type=int, default=20, help="oracles per kind (seeds 0..count-1)")
    p.add_argument("--domains", type=int, default=5, help="domains per oracle")
    p.add_argument("--scales", type=_floats, default=[3e8, 1.2e9], help="the two small totals (tokens)")
    p.add_argument("--target-factor", type=float, default=16.0, help="target = this × the larger small total")
    p.add_argument("--ratios", type=_floats, default=[0.2, 3.0], help="perturbation ratios (paper: 0.2,3)")
    p.add_argument("--noise", type=_floats, default=[0.0], help="Gaussian noise on each measured loss (nats); "
                                                                "several, comma-separated, give one block each")
    p.add_argument("--verify", type=int, default=3, help="verification candidates per budget (verified variants)")
    p.add_argument("--min-ratio", type=float, default=0.2, help="DDO lower bound (fraction of the base quantity)")
    p.add_argument("--json-out", default=str(ROOT / "benchmarks" / "results" / "ddo_oracle.json"))
    args = p.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    start = time.time()
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    config = {k: v for k, v in vars(args).items() if k != "json_out"}
    blocks = {}
    for noise in args.noise:
        t0 = time.time()
        records = [run_one(kind, seed, args, noise) for kind in kinds for seed in range(args.count)]
        blocks[f"{noise:g}"] = {"summary": summarise(records), "records": records, "elapsed_s": time.time() - t0}
        print_block(blocks[f"{noise:g}"], args, noise)
        _write(out, {"config": config, "elapsed_s": time.time() - start, "blocks": blocks})   # after every block
    print(f"total {time.time() - start:.0f} s")
    print(f"wrote {out}")
    return 0


def _write(out: Path, payload: dict) -> None:
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=lambda v: None if isinstance(v, float) and not math.isfinite(v) else v))
    tmp.replace(out)


if __name__ == "__main__":
    raise SystemExit(main())
