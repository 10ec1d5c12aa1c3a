"""Fits at the size of real logs: `landscape fit --target … --query …`, `ddo` and `predict` timed on
runs tables of tens to hundreds of runs over many evaluation-only validation domains.

What comes back from a swarm trained elsewhere (`autoscale-kit ingest`) is a table of 26–156 runs,
each with a loss on every validation set the trainer evaluates (22 Pile domains, say) while it
trains on a handful. The tables here are drawn from a known law, not trained: the timing depends
on their shape (rows, training domains, validation domains, budgets, seeds), not on where the
losses came from. Each validation domain e has its own law in the mixture and the budget,

    L_e(w, N) = A_e + B_e (N / 1M)^(-0.2) exp(-0.3 Σ_k C_ek log(w_k + 0.02)) + noise(0.01),

so the domains disagree on the best mixture, as real ones do. Each command runs as a user runs it
(a fresh `python -m autoscale_kit.cli.main` process, imports included); the default grid is the
issue's case (78 rows at three budgets, 4 training domains, 22 evaluation-only domains) and its
neighbours in rows and domains.

Prints a table and writes (--json-out, default benchmarks/results/fit_speed.json) each case's
shape and seconds (the fastest of --repeat runs, each run's too). Run: python benchmarks/fit_speed.py [--quick]   (about 12 minutes on 2 cores: each command three times)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from autoscale_kit.core.mixture import Mixture  # noqa: E402
from autoscale_kit.fit.plan import perturbation_plan  # noqa: E402

BUDGETS = (250_000, 1_000_000, 4_000_000)
TRAIN = ("web", "code", "books", "wiki", "papers", "qa", "math", "news")


class Law:
    """The per-domain laws the tables are drawn from (fixed by `seed`)."""

    def __init__(self, n_train: int, n_eval: int, seed: int = 0):
        r = np.random.default_rng(seed)
        self.A = r.uniform(1.5, 3.0, n_eval)
        self.B = r.uniform(0.5, 2.0, n_eval)
        self.C = r.dirichlet(np.full(n_train, 0.7), size=n_eval)
        self.noise = np.random.default_rng(seed + 1)

    def losses(self, w: np.ndarray, total: float) -> np.ndarray:
        eff = (self.C * np.log(np.asarray(w)[None, :] + 0.02)).sum(axis=1)
        return self.A + self.B * (total / 1e6) ** -0.2 * np.exp(-0.3 * eff) + self.noise.normal(0, 0.01, len(self.A))


def landscape_table(rows: int, n_train: int, n_eval: int, *, seeds: int = 2, seed: int = 0) -> pd.DataFrame:
    """`rows` runs over len(BUDGETS) budgets: the same random mixtures at each, `seeds` seeds each."""
    train = TRAIN[:n_train]
    law = Law(n_train, n_eval, seed)
    n_mix = max(rows // (len(BUDGETS) * seeds), 1)
    W = np.random.default_rng(seed + 2).dirichlet(np.ones(n_train), size=n_mix)
    out = []
    for t in BUDGETS:
        for s in range(seeds):
            for i, w in enumerate(W):
                y = law.losses(w, t)
                out.append({"run": f"{t}-{i}-{s}", "scale": t, "seed": s,
                            **{f"tokens:{d}": int(round(w[k] * t)) for k, d in enumerate(train)},
                            **{f"loss:val{e:02d}": float(v) for e, v in enumerate(y)}})
    return pd.DataFrame(out)


def ddo_table(rows: int, n_train: int, n_eval: int, *, total: int = 1_000_000, seed: int = 0) -> pd.DataFrame:
    """DDO's plan at one budget (base, each domain ×0.2 and ×3), repeated over seeds to `rows` runs."""
    train = TRAIN[:n_train]
    law = Law(n_train, n_eval, seed)
    plan = perturbation_plan(Mixture({d: total / n_train for d in train}), (0.2, 3.0))
    out = []
    for s in range(max(rows // len(plan), 1)):
        for p in plan:
            tokens = np.array([p.mixture[d] for d in train])
            y = law.losses(tokens / tokens.sum(), tokens.sum())
            out.append({"run": f"{p.name}/seed{s}", "label": p.name, "seed": s,
                        **{f"tokens:{d}": int(round(tokens[k])) for k, d in enumerate(train)},
                        **{f"loss:val{e:02d}": float(v) for e, v in enumerate(y)}})
    return pd.DataFrame(out)


REPEAT = 3     # this machine's timings vary by up to 40 % between identical runs: the fastest of three counts


def timed(argv: list[str], repeat: int = REPEAT) -> tuple[float, int, str, list[float]]:
    """(fastest seconds, exit status, the output's tail, every run's seconds)."""
    env = {**os.environ, "TQDM_DISABLE": "1", "MPLBACKEND": "Agg"}
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "autoscale_kit.cli.main", *argv], capture_output=True, text=True,
                           cwd=ROOT, env=env)
        times.append(round(time.perf_counter() - t0, 2))
        if r.returncode:
            break
    return min(times), r.returncode, (r.stdout + r.stderr)[-400:], times


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="only the issue's case (78 rows, 4 + 22 domains)")
    p.add_argument("--cases", default=None, help="ROWSxTRAIN+EVAL[sSEEDS],… e.g. 78x4+22,78x4+22s1 (default: "
                                                 "the grid; seeds per mixture 2 unless given)")
    p.add_argument("--repeat", type=int, default=REPEAT, help=f"runs of each command; the fastest counts "
                                                           f"(default {REPEAT})")
    p.add_argument("--label", default="", help="what code was timed (recorded in the JSON)")
    p.add_argument("--json-out", default=str(ROOT / "benchmarks" / "results" / "fit_speed.json"))
    args = p.parse_args(argv)
    # (rows over the three budgets, training domains, validation domains, seeds per mixture)
    cases = [(78, 4, 22, 2)] if args.quick else [(39, 4, 22, 1), (78, 4, 22, 2), (78, 4, 22, 1), (156, 4, 22, 2),
                                                 (156, 4, 22, 1), (78, 4, 44, 2), (78, 6, 22, 1), (78, 3, 3, 2)]
    if args.cases:
        cases = [tuple(int(v) for v in c.replace("x", " ").replace("+", " ").replace("s", " ").split())
                 for c in args.cases.split(",")]
    t_all = time.time()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        query = tmp / "query.csv"
        for rows, n_train, n_eval, *rest in cases:
            seeds = rest[0] if rest else 2
            name = f"{rows}x{n_train}+{n_eval}s{seeds}"
            train = TRAIN[:n_train]
            pd.DataFrame([np.full(n_train, 1 / n_train), np.r_[0.4, np.full(n_train - 1, 0.6 / (n_train - 1))]],
                         columns=[f"weight:{d}" for d in train]).to_csv(query, index=False)
            land = tmp / f"landscape-{name}.csv"
            landscape_table(rows, n_train, n_eval, seeds=seeds).to_csv(land, index=False)
            ddo = tmp / f"ddo-{name}.csv"
            ddo_table(rows, n_train, n_eval).to_csv(ddo, index=False)
            case = {"rows": rows, "train_domains": n_train, "eval_domains": n_eval, "budgets": len(BUDGETS),
                    "seeds_per_mixture": seeds, "mixtures_per_budget": rows // (len(BUDGETS) * seeds)}
            sec, rc, tail, times = timed(["landscape", "fit", str(land), "--target", "16M", "--query", str(query),
                                          "--json"], args.repeat)
            case["landscape_fit_s"], case["landscape_fit_rc"], case["landscape_fit_runs_s"] = round(sec, 2), rc, times
            if rc:
                print(f"{name}: landscape fit failed: {tail}")
            # ddo at one budget: its 2K+1 runs over as many seeds as fill the rows
            sec, rc, tail, times = timed(["ddo", str(ddo), "--objective", "mean-loss", "--json"], args.repeat)
            case["ddo_rows"], case["ddo_s"], case["ddo_rc"], case["ddo_runs_s"] = len(pd.read_csv(ddo)), round(sec, 2), rc, times
            if rc:
                print(f"{name}: ddo failed: {tail}")
            optima = tmp / f"optima-{name}.csv"
            pd.DataFrame([{"total": t, **{f"tokens:{d}": t / n_train * (1 + 0.1 * k * i) for k, d in enumerate(train)}}
                          for i, t in enumerate(BUDGETS)]).to_csv(optima, index=False)
            sec, rc, tail, times = timed(["predict", str(optima), "--total", "16M", "--json"], args.repeat)
            case["predict_s"], case["predict_rc"], case["predict_runs_s"] = round(sec, 2), rc, times
            if rc:
                print(f"{name}: predict failed: {tail}")
            results.append(case)
            print(f"{name:>10}  landscape fit {case['landscape_fit_s']:6.1f} s   ddo ({case['ddo_rows']} rows) "
                  f"{case['ddo_s']:5.1f} s   predict {case['predict_s']:4.1f} s", flush=True)
    out = {"benchmark": "fit_speed", "cases": results, "wall_s": round(time.time() - t_all, 1),
           "cpu_count": os.cpu_count(), "target_s": 30, "repeat": args.repeat, "label": args.label,
           "note": "tables drawn from a known per-domain law (see the module docstring); seconds per command "
                   "include the process start and imports"}
    Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json_out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.json_out} ({out['wall_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
