"""Do DDO's intervals mean what they say? Coverage on noisy oracles, and what our own runs give.

1. Oracles (`--count` per setting, separable kind, 1e7 tokens, the paper's lower bound 0.2 × the
   uniform share): the plan measured on 1, 2 and 4 seeds with Gaussian noise (`--noise`, nats per
   loss, like our runs' 0.004–0.02), the 90 % interval of every weight, and whether it holds the
   exact constrained optimum. Two plans: the paper's (ratios 1/5, 3: 3 points per law, which the
   fitted family does not contain exactly, so a bias remains) and an identified one (1/5, 1/2, 2, 3:
   5 points, amplitude free, noise-free DDO is exact). Reported: coverage, mean width, mean
   |estimate − truth|, and how often the verdict said "beats uniform" when the exact optimum does.
2. Our runs, the `small` study (7 domains, 250k and 1M): intervals from seed 0 alone (the transfer
   law's residuals) and from seeds 0 and 1 (replicates), the noise each estimates, and the wall time.
   Needs both seeds' plans in the store (the `small` preset trains them).
Prints a table per part and writes JSON (--json-out) with the wall time.
Run: python benchmarks/ddo_intervals.py [--store runs] [--count 40] [--draws 100]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from autoscale_kit.fit.plan import perturbation_plan, uniform_base
from autoscale_kit.methods.oracle import random_oracle  # noqa: E402
from autoscale_kit.fit.uncertainty import ddo_uncertainty  # noqa: E402

PLANS = {"paper (1/5, 3)": (0.2, 3.0), "identified (1/5, 1/2, 2, 3)": (0.2, 0.5, 2.0, 3.0)}
SEEDS = (1, 2, 4)


def _one_oracle(job) -> dict:
    plan_name, ratios, seeds, r, domains, noise, draws, level = job
    import pandas as pd

    oracle = random_oracle("separable", domains, seed=500 + r)
    total = 1e7
    base = uniform_base(oracle.domains, total)
    truth = oracle.optimum(total, lower=base.scaled(0.2))
    plan = perturbation_plan(base, ratios)
    frames = []
    for s in range(seeds):
        f = oracle.measure(plan, noise=noise, seed=10_000 * r + 100 * seeds + s)
        f["seed"] = s
        frames.append(f)
    unc = ddo_uncertainty(pd.concat(frames, ignore_index=True), "mean-loss", level=level, draws=draws, seed=r)
    t = np.array([truth.weights[d] for d in unc.domains])
    est = np.array([unc.result.weights[d] for d in unc.domains])
    truly_better = oracle.objective(truth) < oracle.objective(base) - 1e-12
    if unc.weights is None:
        return {"plan": plan_name, "seeds": seeds, "interval": False}
    lo, hi = unc.weights.interval(level)
    v = unc.verdict()
    return {"plan": plan_name, "seeds": seeds, "interval": True, "noise_source": unc.noise.source,
            "covered": ((t >= lo - 1e-9) & (t <= hi + 1e-9)).tolist(), "width": (hi - lo).tolist(),
            "error": np.abs(est - t).tolist(), "verdict": v.against_uniform, "truly_better": bool(truly_better),
            "pinned": len(v.pinned), "sigma": unc.noise.sigma}


def oracles(args) -> list[dict]:
    jobs = [(name, ratios, s, r, args.domains, args.noise, args.draws, args.level)
            for name, ratios in PLANS.items() for s in SEEDS for r in range(args.count)]
    with Pool(args.workers) as pool:
        rows = pool.map(_one_oracle, jobs)
    out = []
    for name in PLANS:
        for s in SEEDS:
            got = [x for x in rows if x["plan"] == name and x["seeds"] == s and x["interval"]]
            cov = np.concatenate([x["covered"] for x in got]) if got else np.array([])
            out.append({"plan": name, "seeds": s, "oracles": len(got),
                        "no_interval": sum(1 for x in rows if x["plan"] == name and x["seeds"] == s and not x["interval"]),
                        "coverage": float(cov.mean()) if got else None,
                        "coverage_se": float(np.sqrt(cov.mean() * (1 - cov.mean()) / max(len(cov), 1))) if got else None,
                        "mean_width": float(np.mean([np.mean(x["width"]) for x in got])) if got else None,
                        "mean_error": float(np.mean([np.mean(x["error"]) for x in got])) if got else None,
                        "beats_called": sum(x["verdict"] == "beats" for x in got),
                        "beats_called_wrongly": sum(x["verdict"] == "beats" and not x["truly_better"] for x in got),
                        "noise_estimated": float(np.mean([x["sigma"] for x in got])) if got else None})
    return out


def real(args) -> list[dict]:
    from autoscale_kit.study.lab import CorpusLab
    from autoscale_kit.methods.registry import ddo_round
    from autoscale_kit.study.config import study_config

    out = []
    for seeds in ((0,), (0, 1)):
        lab = CorpusLab(study_config("small", ddo_seeds=seeds, verify=0, interval_draws=0), args.store,
                        progress=False)
        for total in lab.budgets:
            rd = ddo_round(lab, total, verify=0)
            t0 = time.time()
            unc = ddo_uncertainty(rd.measured, lab.objective, level=args.level, draws=args.real_draws,
                                  result=rd.ddo, min_ratio=lab.min_ratio)
            v = unc.verdict()
            out.append({"seeds": list(seeds), "total": total, "weights": rd.ddo.weights, "interval": unc.interval,
                        "noise": unc.noise.to_dict() if unc.noise else None, "verdict": v.to_dict(),
                        "seconds": time.time() - t0})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="runs")
    ap.add_argument("--count", type=int, default=40, help="oracles per plan and seed count")
    ap.add_argument("--domains", type=int, default=3)
    ap.add_argument("--noise", type=float, default=0.01)
    ap.add_argument("--draws", type=int, default=60, help="bootstrap draws per oracle")
    ap.add_argument("--real-draws", type=int, default=200, help="bootstrap draws on our runs")
    ap.add_argument("--level", type=float, default=0.9)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument("--json-out", default=str(ROOT / "benchmarks" / "results" / "ddo_intervals.json"))
    args = ap.parse_args()
    t0 = time.time()
    result = {"settings": {k: v for k, v in vars(args).items() if k != "json_out"}}
    result["oracles"] = oracles(args)
    print(f"Coverage of the exact optimum by the {100 * args.level:.0f}% intervals ({args.count} oracles × "
          f"{args.domains} domains, noise {args.noise} nats, {args.draws} draws):")
    print(f"{'plan':<30} {'seeds':>5} {'coverage':>9} {'± se':>6} {'width':>7} {'|err|':>7} {'beats':>6} {'wrong':>6}")
    for row in result["oracles"]:
        print(f"{row['plan']:<30} {row['seeds']:>5} {row['coverage']:>9.3f} {row['coverage_se']:>6.3f} "
              f"{row['mean_width']:>7.3f} {row['mean_error']:>7.3f} {row['beats_called']:>6} "
              f"{row['beats_called_wrongly']:>6}")
    result["oracle_seconds"] = time.time() - t0
    Path(args.json_out).write_text(json.dumps(result, indent=2))
    if not args.skip_real:
        result["small_study"] = real(args)
        for row in result["small_study"]:
            n = row["noise"]
            print(f"small study, DDO seeds {row['seeds']}, {row['total']:,} tokens: noise "
                  f"{n['sigma'] if n else float('nan'):.4f} ({n['source'] if n else 'none'}); {row['seconds']:.0f} s")
            print("   " + row["verdict"]["text"])
    result["wall_seconds"] = time.time() - t0
    print(f"wall {result['wall_seconds']:.0f} s")
    Path(args.json_out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
