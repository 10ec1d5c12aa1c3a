"""Every method against every other: on synthetic oracles (known optimum) and on the bundled corpus.

1. Oracles (`--oracle-count N` per kind, default 10): excess loss at the target over the true
   optimum for AutoScale, the reused DDO optimum, uniform, RegMix (LightGBM) and Data Mixing Laws,
   with RegMix's proxy tokens matched to DDO's. Power-law oracles are left out: their loss is
   infinite at zero weight, and RegMix's sampler zeroes small weights by design.
2. Corpus (`--scale small`, off with `--scale none`): `compare.compare_methods` at that study
   scale; every method's mixture trained at the target with the study's seeds; final mean
   validation loss, tokens to reach uniform's final loss, proxy runs/tokens/FLOPs per method.
   A shipped study (`data/studies/<scale>/`) is read as it is, training nothing; with `--retrain`
   the runs live in `--store` (default `runs/`, shared with `autoscale-kit demo`), resumable.

Prints both tables and writes JSON (--json-out).
Run: python benchmarks/compare_methods.py [--oracle-count 10] [--scale small|smoke|none] [--store runs] [--retrain]
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

from autoscale_kit.methods.arena import compare_on_oracle  # noqa: E402
from autoscale_kit.study.compare import CompareConfig, compare_methods, peer_methods, regmix_runs_cv  # noqa: E402
from autoscale_kit.methods.oracle import random_oracle  # noqa: E402
from autoscale_kit.study.pipeline import study_config  # noqa: E402
from autoscale_kit.study.shipped import describe, provenance, study_runs  # noqa: E402


def oracle_part(args) -> dict:
    out = {}
    for kind in args.kinds.split(","):
        per: dict[str, list[float]] = {}
        spent: dict[str, float] = {}
        for seed in range(args.oracle_count):
            res = compare_on_oracle(random_oracle(kind, args.domains, seed), args.scales,
                                    args.target_factor * max(args.scales), seed=seed)
            for m, r in res.items():
                per.setdefault(m, []).append(r["excess"])
                spent[m] = r["proxy_tokens"]
        out[kind] = {m: {"mean_excess": float(np.mean(v)), "median_excess": float(np.median(v)),
                         "proxy_tokens": spent[m]} for m, v in per.items()}
        print(f"\noracle {kind}: {args.oracle_count} oracles, {args.domains} domains, scales "
              f"{[f'{s:.3g}' for s in args.scales]}, target {args.target_factor:g}x")
        print(f"{'method':<12} {'mean excess':>12} {'median':>12} {'proxy tokens':>14}")
        for m, r in out[kind].items():
            print(f"{m:<12} {r['mean_excess']:>12.3e} {r['median_excess']:>12.3e} {r['proxy_tokens']:>14.3g}")
    return out


def corpus_part(args) -> dict:
    config = study_config(args.scale)
    cmp = CompareConfig(methods=tuple(args.methods.split(",")))
    t0 = time.time()
    # a shipped study (data/studies/) is read, not retrained, unless --retrain
    store = study_runs(config, args.store, retrain=args.retrain)
    if store.frozen:
        print(describe(config.name))
    result = compare_methods(config, store, cmp, progress=not args.quiet)
    table = result.table
    print(f"\ncorpus, scale {args.scale}: DDO at {list(config.budgets)}, target {config.target:,} tokens, "
          f"seeds {list(config.seeds)} ({time.time() - t0:.0f} s)")
    cols = ["method", "proxy_runs", "proxy_tokens", "proxy_flops", "mean_final_loss", "std_final_loss",
            "mean_saving", "reached"]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    cv = regmix_runs_cv(result) if {"regmix", "mixing-law"} & set(result.study.choices) else {}
    if cv:
        print("\nsurrogates on the RegMix runs, 5-fold out-of-fold Spearman against the objective:")
        print("  " + ", ".join(f"{m} {rho:.3f}" for m, rho in cv.items()))
    made = provenance(config.name) if store.frozen else None     # how the read runs were trained
    return {"scale": args.scale, "shipped": made, "surrogate_cv": cv, "config": config.to_dict(), "table": table.to_dict(orient="records"),
            "weights": {n: m.weights for n, m in result.study.mixtures.items()}, "seconds": time.time() - t0}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--oracle-count", type=int, default=10, help="oracles per kind (0: skip)")
    p.add_argument("--kinds", default="separable,transfer")
    p.add_argument("--domains", type=int, default=5)
    p.add_argument("--scales", type=float, nargs=2, default=[3e8, 1.2e9])
    p.add_argument("--target-factor", type=float, default=16.0)
    p.add_argument("--scale", default="small", help="study scale for the corpus part; 'none' skips it")
    p.add_argument("--methods", default=",".join(peer_methods("corpus", defaults_only=True)), help="peer methods on the corpus")
    p.add_argument("--store", default=str(ROOT / "runs"))
    p.add_argument("--retrain", action="store_true", help="train into --store even when the study is shipped")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--json-out", default=str(ROOT / "benchmarks" / "results" / "compare_methods.json"))
    args = p.parse_args(argv)
    out = {}
    if args.oracle_count > 0:
        out["oracle"] = oracle_part(args)
    if args.scale != "none":
        out["corpus"] = corpus_part(args)
    path = Path(args.json_out)
    old = json.loads(path.read_text()) if path.is_file() else {}
    old.update(out)  # keep the other part's numbers when only one part is rerun
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(old, indent=2, default=float))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
