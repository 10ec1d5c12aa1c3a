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
    frame = pd.concat([frame, pd.DataFrame({f"loss:{d}": [row[d] for row in losses] for d in domains})], axis=1)
    path = folder / f"k{K}.csv"
    frame.to_csv(path, index=False)
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
    out = {"rows": rows, "wall_time_s": time.time() - t0, "python": sys.version.split()[0]}
    Path(args.json_out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
