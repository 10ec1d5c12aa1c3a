"""Which DDO surrogate predicts mixtures it was not fitted on: separable (the paper's) or transfer.

Both forms are fitted on the same one-at-a-time plan (base, each domain ×1/5 and ×3) and asked for
the objective (mean validation loss) of mixtures outside it:
1. Oracles (`--count` per kind, 5 domains, 1M tokens, noise 0 and 0.01 nats): 30 Dirichlet(1)
   mixtures at the plan's total, each domain at least 1/5 of its uniform share; error against the
   oracle's exact objective.
2. Our runs, code/books/wikipedia (the bundled landscape's domains): the arena study's DDO plans at
   125k and 500k tokens (seed 0, from the run store) against the landscape's grid runs at the same
   budgets (`data/landscape/bundled/runs.csv`, the mean of seeds 0 and 1), the centroid left out
   (it is the base run). Points with a zero domain are where the separable law is evaluated at
   x = 0; where it is undefined there (a ≤ 0) it is counted as a failure.
3. Our runs, the `small` study (7 domains): the verification candidates trained at 250k and 1M
   (`benchmarks/ddo_transfer_real.py` trains them), against the plan's fits.
Prints RMSE (nats) and rank correlation per form and writes JSON (--json-out).
Run: python benchmarks/ddo_heldout.py [--store runs] [--count 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from autoscale_kit.fit.ddo import fit_ddo
from autoscale_kit.fit.plan import perturbation_plan, uniform_base
from autoscale_kit.core.mixture import Mixture  # noqa: E402
from autoscale_kit.methods.oracle import random_oracle  # noqa: E402

FORMS = ("separable", "transfer")


def _score(pred: list, truth: list) -> dict:
    ok = [i for i, p in enumerate(pred) if p is not None and np.isfinite(p)]
    p, t = np.array([pred[i] for i in ok]), np.array([truth[i] for i in ok])
    return {"n": len(truth), "failures": len(truth) - len(ok),
            "rmse": float(np.sqrt(np.mean((p - t) ** 2))) if ok else None,
            "spearman": float(spearmanr(p, t).statistic) if len(ok) > 2 else None}


def _safe(fit, mix):
    try:
        v = fit.objective_at(mix)
        return v if np.isfinite(v) else None
    except (ValueError, FloatingPointError, ZeroDivisionError):
        return None


def oracles(args) -> dict:
    out = {}
    for noise in (0.0, 0.01):
        for kind in ("separable", "transfer", "substitute"):
            per = {f: [] for f in FORMS}
            for seed in range(args.count):
                o = random_oracle(kind, 5, seed)
                base = uniform_base(o.domains, 1e6)
                runs = o.measure(perturbation_plan(base, (0.2, 3)), noise=noise, seed=seed)
                rng = np.random.default_rng(seed)
                W = 0.2 / 5 + (1 - 0.2) * rng.dirichlet(np.ones(5), 30)
                mixes = [Mixture.from_weights(dict(zip(o.domains, w)), 1e6) for w in W]
                truth = [o.objective(m) for m in mixes]
                for form in FORMS:
                    with np.errstate(all="ignore"):
                        fit = fit_ddo(runs, "mean-loss", surrogate=form, ambiguity=False)
                        per[form].append(_score([_safe(fit, m) for m in mixes], truth))
            out[f"{kind}/noise{noise:g}"] = {f: {"mean_rmse": float(np.mean([s["rmse"] for s in v if s["rmse"] is not None])),
                                                 "mean_spearman": float(np.mean([s["spearman"] for s in v if s["spearman"] is not None])),
                                                 "failures": int(sum(s["failures"] for s in v))}
                                             for f, v in per.items()}
    return out


def landscape_domains(args) -> dict:
    import pandas as pd

    from autoscale_kit.study.lab import CorpusLab
    from autoscale_kit.study.landscapes import landscape_config
    from autoscale_kit.study.landscape_arena import arena_study
    from autoscale_kit.fit.plan import MeasuredPlan
    from autoscale_kit.methods.registry import ddo_plan, run_objective

    config = arena_study(landscape_config("bundled"))
    lab = CorpusLab(config, args.store, progress=False)
    grid = pd.read_csv(ROOT / "data" / "landscape" / "bundled" / "runs.csv")
    out = {}
    for total in config.budgets:
        plan = ddo_plan(lab, total)
        records = lab.measure([p for _, p in plan])
        measured = MeasuredPlan.from_runs([r for r, _ in plan], records)
        g = grid[grid.scale == total]
        cols = [f"tokens:{d}" for d in config.domains]
        pts = g.groupby(cols, as_index=False)["mean_loss"].mean()
        mixes, truth = [], []
        for row in pts.itertuples(index=False):
            q = dict(zip(config.domains, row[:len(cols)]))
            if max(q.values()) - min(q.values()) <= 1:   # the centroid: the base run itself
                continue
            mixes.append(Mixture(q))
            truth.append(float(row[-1]))
        res = {}
        for form in FORMS:
            with np.errstate(all="ignore"):
                fit = fit_ddo(measured, "mean-loss", surrogate=form, ambiguity=False, min_ratio=0.0)
            res[form] = {**_score([_safe(fit, m) for m in mixes], truth), "base_objective": fit.base_objective,
                         "check": run_objective(records[0], "mean-loss")}
        out[str(total)] = res
    return out


def small_candidates(args) -> dict:
    path = ROOT / "benchmarks" / "results" / "ddo_transfer_real.json"
    if not path.exists():
        return {"skipped": "run benchmarks/ddo_transfer_real.py first"}
    from autoscale_kit.study.lab import CorpusLab
    from autoscale_kit.methods.registry import ddo_round
    from autoscale_kit.study.pipeline import study_config

    real = json.loads(path.read_text())["studies"].get("small")
    config = study_config("small", ddo_seeds=(0,))   # as ddo_transfer_real.json was measured
    lab = CorpusLab(config, args.store, progress=False)
    out = {}
    for total in config.budgets:
        cands = real["rounds"][str(total)]["transfer-verified"]["verification"]["candidates"]
        mixes = [Mixture(Mixture.from_weights(c["weights"], total).rounded().tokens) for c in cands]
        truth = [float(np.mean(c["measured"])) for c in cands]
        res = {}
        for form in FORMS:
            fit = ddo_round(lab, total, form, 0).ddo
            pred = [_safe(fit, m) for m in mixes]
            res[form] = {"predicted": pred, "measured": truth, **_score(pred, truth)}
        out[str(total)] = res
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="runs")
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--json-out", default=str(ROOT / "benchmarks" / "results" / "ddo_heldout.json"))
    args = ap.parse_args(argv)
    t0 = time.time()
    out = {"oracles": oracles(args), "landscape_domains": landscape_domains(args), "small": small_candidates(args)}
    out["wall_s"] = time.time() - t0
    for k, v in out["oracles"].items():
        print(f"oracle {k:<22} " + "  ".join(f"{f}: rmse {v[f]['mean_rmse']:.2e} rho {v[f]['mean_spearman']:.3f} "
                                              f"fail {v[f]['failures']}" for f in FORMS))
    for part in ("landscape_domains", "small"):
        for total, v in out[part].items():
            if "skipped" in v:
                print(f"{part} {total}: {v['skipped']}")
                continue
            print(f"{part} {total:>8} " + "  ".join(f"{f}: rmse {v[f]['rmse']} rho {v[f]['spearman']} fail "
                                                  f"{v[f]['failures']}/{v[f]['n']}" for f in FORMS))
    Path(args.json_out).write_text(json.dumps(out, indent=1))
    print(f"wall {out['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
