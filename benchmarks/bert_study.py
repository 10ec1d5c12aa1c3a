"""The paper's second setting measured on the bundled corpus: BERT masked-LM proxies, DDO with
the ratios 1/3 and 2, and the comparison of paper.md §2.2 / Figure 4b — DDO's optimum against
uniform weights, per domain, at the DDO budget and at 4× it — plus the AutoScale prediction at
the target, all through the run store (finished runs are read, not retrained).

For each DDO budget B the optimum DDO fitted at B (the surrogate's answer, before verification:
the paper's comparison) and uniform are trained at B and at 4B on the study's seeds; the per-domain
MLM loss change (optimum − uniform, nats per masked token) is reported per seed, and a domain
counts as decreased when it decreased on every seed. GLUE and SQuAD are not run: they need
downloads this machine cannot make (see `Callbacks.on_end` for a downstream evaluation hook).

    python benchmarks/bert_study.py [--scale small] [--store runs] [--json-out PATH]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from autoscale_kit.study.lab import CorpusLab
from autoscale_kit.methods.registry import Probe
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.study.pipeline import run_study, study_config, summarize_speedup
from autoscale_kit.present.report import write_report
from autoscale_kit.runs.store import RunSpec


def per_domain_change(lab, config, optimum: Mixture, total: int, seeds, *, curve: bool) -> dict:
    """Train `optimum` (its weights at `total`) and uniform at `total` on `seeds`; the per-domain
    loss change per seed and how many domains decreased on every seed."""
    domains = lab.domains
    mixes = {"optimum": Mixture.from_weights(optimum.weights, total).rounded(),
             "uniform": Mixture.uniform(domains, total).rounded()}
    specs = []
    for name, mix in mixes.items():
        for s in seeds:
            if curve:   # the same spec as the study's validation runs: shared with them at the target
                specs.append(RunSpec(mix, config.proxy.with_(seed=s), config.corpus_ref,
                                     label=f"bert-check/{total}/{name}/seed{s}"))
            else:       # the same spec as DDO's plan and verification runs at their budget
                specs.append(lab.spec(Probe(mix, s, f"bert-check/{total}/{name}/seed{s}")))
    records = iter(lab.train(specs))
    loss = {name: [next(records).val_loss for _ in seeds] for name in mixes}
    change = {d: [loss["optimum"][i][d] - loss["uniform"][i][d] for i in range(len(seeds))] for d in domains}
    mean = {name: [float(np.mean(list(v.values()))) for v in loss[name]] for name in mixes}
    return {
        "total": int(total), "seeds": list(seeds),
        "weights": {d: round(float(w), 4) for d, w in optimum.weights.items()},
        "change": {d: [round(x, 4) for x in v] for d, v in change.items()},
        "mean_change": {d: round(float(np.mean(v)), 4) for d, v in change.items()},
        "decreased_every_seed": [d for d, v in change.items() if all(x < 0 for x in v)],
        "decreased_on_mean": [d for d, v in change.items() if np.mean(v) < 0],
        "mean_loss": {name: [round(x, 4) for x in v] for name, v in mean.items()},
    }


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="small")
    ap.add_argument("--store", default="runs")
    ap.add_argument("--out", default=None, help="report folder (default reports/<scale>-bert)")
    ap.add_argument("--json-out", default=str(Path(__file__).parent / "results" / "bert_study.json"))
    args = ap.parse_args(argv)
    config = study_config(args.scale, family="bert")
    t0 = time.time()
    result = run_study(config, args.store, progress=True)
    write_report(result, args.out or f"reports/{config.name}")
    study_wall = time.time() - t0
    lab = CorpusLab(config, args.store, progress=True)
    checks = []
    for rd in result.rounds:
        optimum = rd.ddo.optimum
        at_budget = per_domain_change(lab, config, optimum, int(rd.total), config.ddo_seeds, curve=False)
        at_4x = per_domain_change(lab, config, optimum, int(4 * rd.total), config.seeds, curve=True)
        checks.append({"budget": int(rd.total), "at_budget": at_budget, "at_4x": at_4x,
                       "verdict": rd.verdict.text if rd.verdict is not None else None,
                       "verified_answer": None if rd.verification is None else
                       {d: round(float(w), 4) for d, w in rd.verification.answer.weights.items()}})
    summary = summarize_speedup(result.speedup)
    out = {
        "benchmark": "bert_study", "scale": args.scale, "family": "bert",
        "config": config.to_dict(),
        "checks": checks,
        "prediction": {d: round(float(w), 4) for d, w in result.prediction.weights.items()},
        "target": [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()}
                   for row in summary.to_dict(orient="records")],
        "against_uniform": result.against_uniform(),   # gain, interval, standing, seeds needed, text
        "training_runs": result.summary()["training_runs"],
        "trained_here": len(result.trained) + len(lab.store.trained),
        "wall_time_s": round(time.time() - t0, 1), "study_wall_time_s": round(study_wall, 1),
    }
    print(f"\nBERT study {config.name}: DDO at {', '.join(f'{s:,}' for s in config.budgets)} (ratios "
          f"{', '.join(f'{r:.3g}' for r in config.ratios)}), target {config.target:,}")
    for c in checks:
        for key in ("at_budget", "at_4x"):
            r = c[key]
            print(f"DDO optimum of {c['budget']:,} vs uniform at {r['total']:,} (seeds {r['seeds']}): decreased on "
                  f"every seed in {len(r['decreased_every_seed'])}/{len(r['change'])} domains "
                  f"({', '.join(r['decreased_every_seed']) or 'none'}); on the mean in "
                  f"{len(r['decreased_on_mean'])}; mean loss {r['mean_loss']['optimum']} vs {r['mean_loss']['uniform']}")
            print("   " + ", ".join(f"{d} {v:+.4f}" for d, v in r["mean_change"].items()))
    print(summary.to_string(index=False))
    for k, v in out["against_uniform"].items():
        print(f"at the target, {k} {v['text']}")
    print(f"wall time {out['wall_time_s']:.0f} s")
    Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json_out).write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
