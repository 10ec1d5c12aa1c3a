"""Transfer-aware and verified DDO on the bundled corpus: every DDO variant trained at the target.

Two studies, both resumable through the run store (`--store`, shared with `autoscale-kit demo`):
1. `small` (7 domains; DDO at 250k and 1M, target 4M, validation seeds 0 and 1): the study's own
   mixtures (uniform, the separable DDO optimum reused, the AutoScale prediction from separable
   optima) next to transfer-aware DDO reused, the prediction from transfer optima, verified
   transfer DDO reused, the prediction from verified optima, and the transfer law solved at the
   target from the runs of both budgets; and the study's own mixtures again with the separable
   surrogate verified (`StudyConfig.verify`).
2. `landscape` (code, books, wikipedia: the bundled landscape's arena study, DDO at 125k and 500k,
   target 2M, seeds 0 and 1), where `data/landscape/bundled` holds the measured best mixture.

Per mixture: final mean validation loss at the target per seed, mean and spread, the paired
difference from uniform, tokens to reach uniform's final loss; per budget, the verification's
candidates and extra runs; the fitted transfer matrices. Writes JSON (--json-out) with wall time.
Run: python benchmarks/ddo_transfer_real.py [--store runs] [--studies small,landscape]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from autoscale_kit.methods.registry import CompareConfig, ddo_round  # noqa: E402
from autoscale_kit.study.pipeline import run_study, study_config, summarize_speedup  # noqa: E402

METHODS = ("ddo-transfer", "autoscale-transfer", "ddo-verified", "autoscale-verified", "transfer-target")


def study(name: str):
    if name == "small":   # the paper's procedure (unverified) as the reference rows; verified below. The
        # committed JSON was measured with the plan on seed 0 alone (the preset now runs it on 2 seeds)
        return study_config("small", verify=0, ddo_seeds=(0,))
    if name == "landscape":
        from autoscale_kit.study.landscapes import landscape_config
        from autoscale_kit.study.landscape_arena import arena_study

        return arena_study(landscape_config("bundled"))
    raise SystemExit(f"unknown study {name!r}")


def _row(g, uniform, mixture) -> dict:
    """One mixture's validation runs (rows of a speed-up table): losses per seed, paired with uniform's."""
    diffs = [float(r.final_mean_loss - uniform[r.seed]) for r in g.itertuples()]
    return {"weights": mixture.weights,
            "final_loss": {int(r.seed): float(r.final_mean_loss) for r in g.itertuples()},
            "mean_final_loss": float(g.final_mean_loss.mean()),
            "std_final_loss": float(g.final_mean_loss.std(ddof=1)) if len(g) > 1 else None,
            "vs_uniform": diffs, "mean_vs_uniform": float(np.mean(diffs)),
            "tokens_to_uniform": [None if v is None or v != v else float(v) for v in g.tokens_to_reference]}


def measure(name: str, args) -> dict:
    config = study(name)
    t0 = time.time()
    options = CompareConfig(methods=(), verify_runs=args.verify)
    res = run_study(config, args.store, methods=METHODS, options=options, progress=not args.quiet)
    table = res.speedup
    uniform = table[table.mixture == "uniform"].set_index("seed")["final_mean_loss"]
    mixtures = {m: _row(g, uniform, res.mixtures[m]) for m, g in table.groupby("mixture", sort=False)}
    # the study's own methods with the separable surrogate verified (what `--verify N` does to a study)
    from dataclasses import replace

    verified = run_study(replace(config, verify=args.verify), args.store, progress=not args.quiet)
    vt = verified.speedup
    for m in ("autoscale", "ddo-reused"):
        mixtures[f"{m} (separable, verified)"] = _row(vt[vt.mixture == m], uniform, verified.mixtures[m])
    lab_rounds = {}
    from autoscale_kit.study.lab import CorpusLab

    lab = CorpusLab(config, args.store, options, progress=False)
    for total in config.budgets:
        entry = {}
        for form, verify in (("separable", 0), ("separable", args.verify), ("transfer", 0), ("transfer", args.verify)):
            rd = ddo_round(lab, total, form, verify)
            key = f"{form}-verified" if verify else form
            entry[key] = {"weights": rd.answer.weights, "surrogate": rd.ddo.surrogate,
                          "predicted_objective": rd.ddo.predicted_objective, "base_objective": rd.ddo.base_objective,
                          "warnings": list(rd.ddo.warnings)}
            if rd.ddo.transfer is not None:
                entry[key]["transfer_matrix"] = rd.ddo.transfer.matrix().round(4).to_dict(orient="index")
            if rd.verification is not None:
                entry[key]["verification"] = rd.verification.to_dict()
        lab_rounds[f"{total}"] = entry
    return {"config": config.to_dict(), "mixtures": mixtures, "rounds": lab_rounds,
            "summary": summarize_speedup(table).to_dict(orient="records"),
            "warnings": list(res.warnings), "trained_here": len(res.trained), "wall_s": time.time() - t0}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="runs")
    ap.add_argument("--studies", default="small,landscape")
    ap.add_argument("--verify", type=int, default=3, help="verification candidates per budget")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--json-out", default=str(ROOT / "benchmarks" / "results" / "ddo_transfer_real.json"))
    args = ap.parse_args(argv)
    t0 = time.time()
    out = {"studies": {}}
    for name in args.studies.split(","):
        out["studies"][name] = measure(name, args)
        for m, v in out["studies"][name]["mixtures"].items():
            print(f"{name:<10} {m:<20} {v['mean_final_loss']:.4f} ± {v['std_final_loss'] or 0:.4f}  "
                  f"vs uniform {v['mean_vs_uniform']:+.4f}")
        Path(args.json_out).write_text(json.dumps({**out, "wall_s": time.time() - t0}, indent=1))
    out["wall_s"] = time.time() - t0
    Path(args.json_out).write_text(json.dumps(out, indent=1))
    print(f"wall {out['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
