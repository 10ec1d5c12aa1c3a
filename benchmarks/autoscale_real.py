"""The paper's claim, tested for real on the bundled corpus: does the AutoScale mixture reach a
given loss with fewer tokens at the target scale than uniform weights and than the small-scale
DDO optimum reused?

Runs the study of a scale preset: a shipped study (`data/studies/<scale>/`) is read as it is,
training nothing; otherwise, or with `--retrain`, through the run store (finished runs are read,
not retrained). Prints, per mixture, the final mean validation loss and the token saving against uniform
(mean ± spread over the seeds), plus the AutoScale mixture against the reused optimum.

    python benchmarks/autoscale_real.py [--scale small] [--seeds 0,1] [--store runs] [--retrain] [--json-out PATH]
"""

from __future__ import annotations

import argparse
import json
import time
import math
from pathlib import Path

import numpy as np
import pandas as pd

from autoscale_kit.study.pipeline import run_study, speedup_table, study_config, summarize_speedup
from autoscale_kit.study.shipped import describe, provenance, study_runs


def paired_saving(result, mixture: str, reference: str) -> list[float | None]:
    """Per seed: the saving of `mixture` at reaching `reference`'s final curve loss."""
    table = speedup_table({mixture: result.validation[mixture], reference: result.validation[reference]}, reference)
    return [None if pd.isna(v) else float(v) for v in table[table.mixture == mixture]["saving"]]


def _fmt(values) -> str:
    got = [v for v in values if v is not None]
    if len(got) < len(values):
        return f"not reached in {len(values) - len(got)}/{len(values)} seeds" + (
            f" (reached: {', '.join(f'{100 * v:+.1f}%' for v in got)})" if got else "")
    mean = float(np.mean(got))
    spread = f" ± {100 * float(np.std(got, ddof=1)):.1f}" if len(got) > 1 else ""
    return f"{100 * mean:+.1f}%{spread} (per seed: {', '.join(f'{100 * v:+.1f}%' for v in got)})"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="small")
    ap.add_argument("--seeds", default=None, help="validation seeds, e.g. 0,1,2 (default: the preset's)")
    ap.add_argument("--store", default="runs")
    ap.add_argument("--retrain", action="store_true", help="train into --store even when the study is shipped")
    ap.add_argument("--json-out", default=str(Path(__file__).parent / "results" / "autoscale_real.json"))
    args = ap.parse_args(argv)
    overrides = {}
    if args.seeds:
        overrides["seeds"] = tuple(int(s) for s in args.seeds.split(","))
    config = study_config(args.scale, **overrides)
    t0 = time.time()
    store = study_runs(config, args.store, retrain=args.retrain)   # the shipped runs unless --retrain
    if store.frozen:
        print(describe(config.name))
    result = run_study(config, store, progress=True)
    summary = summarize_speedup(result.speedup)
    print(f"\nstudy {config.name}: DDO at {', '.join(f'{s:,}' for s in config.budgets)} tokens, target "
          f"{config.target:,}, seeds {list(config.seeds)}")
    print(summary.to_string(index=False))
    vs_reused = paired_saving(result, "autoscale", "ddo-reused")
    vs_uniform = paired_saving(result, "autoscale", "uniform")
    reused_vs_uniform = paired_saving(result, "ddo-reused", "uniform")
    print(f"\nAutoScale vs uniform:         {_fmt(vs_uniform)}")
    print(f"AutoScale vs reused optimum:  {_fmt(vs_reused)}")
    print(f"reused optimum vs uniform:    {_fmt(reused_vs_uniform)}")
    for name, m in result.mixtures.items():
        print(f"  {name:>11}: " + "  ".join(f"{d} {w:.3f}" for d, w in m.weights.items()))
    out = {
        "scale": config.name, "shipped": provenance(config.name) if store.frozen else None,   # how the runs were made
        "seeds": list(config.seeds), "scales": list(config.budgets), "target": config.target,
        "summary": summary.to_dict(orient="records"),
        "autoscale_vs_uniform": vs_uniform, "autoscale_vs_reused": vs_reused, "reused_vs_uniform": reused_vs_uniform,
        "weights": {n: m.weights for n, m in result.mixtures.items()},
        "ddo": [{"total": sc.total, "weights": sc.ddo.weights, "warnings": list(sc.ddo.warnings)} for sc in result.rounds],
        "final_mean_loss": {n: [r.mean_val_loss for r in recs] for n, recs in result.validation.items()},
        # the study's uncertainty (intervals on every answer, the verdicts; `uncertainty`)
        "ddo_seeds": list(config.ddo_seeds), "verify": config.verify, "level": config.level,
        "answers": [{"total": sc.total, "weights": sc.answer.weights, "interval": sc.answer_interval,
                     "verdict": sc.verdict.to_dict() if sc.verdict else None,
                     "verification": sc.verification.summary(sc.unit) if sc.verification else None}
                    for sc in result.rounds],
        "prediction": {"weights": result.prediction.weights, "interval": result.prediction.interval,
                       "method": result.prediction.method},
        "against_uniform": result.against_uniform(),
        "wall_seconds": time.time() - t0,
    }
    for sc in result.rounds:
        if sc.verdict is not None:
            print(f"DDO at {sc.total:,}: {sc.verdict.text}" + (f" Then {sc.verdict.measured}." if sc.verdict.measured else ""))
    for name, v in result.against_uniform().items():
        print(f"at the target, {name} {v['text']}")
    Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json_out).write_text(json.dumps(out, indent=2, default=lambda v: None if v is None or (
        isinstance(v, float) and math.isnan(v)) else float(v)))
    return out


if __name__ == "__main__":
    main()
