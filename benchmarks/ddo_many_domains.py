"""How long DDO takes on a runs table with many domains (`autoscale-kit ddo RUNS.csv` as a user runs it).

For each K, writes the paper's plan (a uniform base, each domain at 1/5 and 3 times) measured on a
seeded separable oracle with K training and K validation domains (2K+1 runs, 2K+1 columns of
tokens and losses), then times the whole command in a fresh process, with and without the
ambiguity check (the multi-start refits of every interpolating domain's law), and checks that the
optimum lies close to the oracle's own (its weight error, so speed is not bought with answers).

Run: python benchmarks/ddo_many_domains.py [--domains 50,100,200] [--json-out F]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from autoscale_kit.fit.plan import perturbation_plan, plan_table, uniform_base  # noqa: E402
from autoscale_kit.methods.oracle import random_oracle  # noqa: E402


def table(K: int, folder: Path):
    domains = [f"d{i:03d}" for i in range(K)]
    oracle = random_oracle("separable", domains, seed=0)
    base = uniform_base(domains, 1e9)
    plan = perturbation_plan(base, (0.2, 3.0))
    frame = plan_table(plan)
    losses = [oracle.losses(p.mixture) for p in plan]
    frame = pd.concat([frame, pd.DataFrame({f"loss:{d}": [row[d] for row in losses] for d in domains})], axis=1).copy()
    path = folder / f"k{K}.csv"
    frame.to_csv(path, index=False)
    # the plan on a second seed (its losses moved by 0.002 nats of noise): replicates, so `ddo` bootstraps
    noisy = frame.copy()
    noise = np.random.default_rng(1).normal(0, 0.002, (len(frame), K))
    noisy[[f"loss:{d}" for d in domains]] = frame[[f"loss:{d}" for d in domains]].to_numpy() + noise
    pd.concat([frame.assign(seed=0), noisy.assign(seed=1)]).to_csv(folder / f"k{K}_2seeds.csv", index=False)
    return path, oracle, base.total


def run(path: Path, *flags: str) -> tuple[float, dict]:
    t = time.time()
    done = subprocess.run([sys.executable, "-m", "autoscale_kit", "ddo", str(path), "--objective", "mean-loss",
                           "--json", *flags], capture_output=True, text=True, cwd=ROOT)
    wall = time.time() - t
    if done.returncode:
        raise SystemExit(done.stderr)
    return wall, json.loads(done.stdout)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--domains", default="50,100,200")
    p.add_argument("--json-out", default=str(ROOT / "benchmarks" / "results" / "ddo_many_domains.json"))
    args = p.parse_args(argv)
    rows = []
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for K in [int(k) for k in args.domains.split(",")]:
            path, oracle, total = table(K, Path(tmp))
            truth = oracle.optimum(total, lower=0.2 * total / K)      # with DDO's lower bound (min-ratio 0.2)
            true_w = np.array([truth.weights[d] for d in truth.domains])
            for label, flags in (("ddo", ()), ("ddo --no-ambiguity", ("--no-ambiguity",))):
                wall, out = run(path, *flags)
                w = np.array([out["weights"][d] for d in truth.domains])
                rows.append({"domains": K, "runs": 2 * K + 1, "command": label, "wall_s": round(wall, 2),
                             "max_weight_error": float(np.abs(w - true_w).max())})
                print(f"K={K:4d} ({2 * K + 1} runs)  {label:<20} {wall:7.1f} s   max |w - w*| {rows[-1]['max_weight_error']:.2e}",
                      flush=True)
            # with replicates `ddo` draws 200 bootstrap refits by default: the cost of one, from 4 and 12 draws
            two = path.with_name(f"k{K}_2seeds.csv")
            walls = {n: run(two, "--no-ambiguity", "--draws", str(n))[0] for n in (4, 12)}
            per_draw = (walls[12] - walls[4]) / 8
            rows.append({"domains": K, "runs": 2 * (2 * K + 1), "command": "ddo (2 seeds) --no-ambiguity --draws 4/12",
                         "wall_s": round(walls[12], 2), "per_draw_s": round(per_draw, 3),
                         "default_200_draws_s_estimate": round(walls[4] + 196 * per_draw, 1)})
            print(f"K={K:4d} (2 seeds)   one bootstrap draw {per_draw:.2f} s; the default 200 draws about "
                  f"{rows[-1]['default_200_draws_s_estimate']:.0f} s", flush=True)
    out = {"rows": rows, "wall_time_s": time.time() - t0, "python": sys.version.split()[0]}
    Path(args.json_out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
