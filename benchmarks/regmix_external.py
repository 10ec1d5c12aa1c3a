"""How well each surrogate ranks unseen mixtures, on measured data no one here produced.

Fits `regmix-lightgbm`, `linear`, `ddo-law` and `mixing-law` (autoscale_kit.fit.surrogates) on one set
of mixtures and losses and prints the Spearman rank correlation between predicted and measured
loss on a held-out set, per method. Any files in RegMix's format work (a mixture CSV: `index` +
one weight column per training domain; a loss CSV: `index` + one column per validation loss).
Defaults: RegMix's released 1M-parameter runs in data/external/regmix/ (train 512, test 256) and
the Pile-CC validation loss, as in RegMix's paper (published: LightGBM about 0.99).

Run: python benchmarks/regmix_external.py [--train-mix F --train-loss F --test-mix F --test-loss F]
                                          [--target COLUMN] [--methods a,b] [--json] [--json-out F]
With --json, stdout is one object {"spearman": {method: rho}}; the table goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scipy.stats import spearmanr  # noqa: E402

from autoscale_kit.core.errors import UserError  # noqa: E402
from autoscale_kit.fit.surrogates import SURROGATES, make_surrogate  # noqa: E402
from autoscale_kit.core.tables import loss_column, read_mixture_losses  # noqa: E402

DATA = ROOT / "data" / "external" / "regmix"
DEFAULT_TARGET = "metric/the_pile_pile_cc_val_loss"


def evaluate(train_mix, train_loss, test_mix, test_loss, target: str = DEFAULT_TARGET,
             methods=SURROGATES) -> dict:
    """Spearman rho (and fit seconds) per method on the held-out runs."""
    train = read_mixture_losses(train_mix, train_loss)
    test = read_mixture_losses(test_mix, test_loss)
    if train.domains != test.domains:
        raise UserError(f"the training and test mixture files have different domains: "
                        f"{', '.join(train.domains)} vs {', '.join(test.domains)}")
    y_train, y_test = loss_column(train, target), loss_column(test, target)
    out = {}
    for name in methods:
        t0 = time.perf_counter()
        model = make_surrogate(name).fit(train.weights, y_train)
        rho = spearmanr(model.predict(test.weights), y_test).statistic
        out[name] = {"spearman": float(rho), "seconds": time.perf_counter() - t0}
    return {"train_runs": len(y_train), "test_runs": len(y_test), "domains": len(train.domains), "methods": out}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train-mix", default=str(DATA / "train_mixture_1m.csv"))
    p.add_argument("--train-loss", default=str(DATA / "train_pile_loss_1m.csv"))
    p.add_argument("--test-mix", default=str(DATA / "test_mixture_1m.csv"))
    p.add_argument("--test-loss", default=str(DATA / "test_pile_loss_1m.csv"))
    p.add_argument("--target", default=DEFAULT_TARGET, help="loss column (exact name or a unique part of it)")
    p.add_argument("--methods", default=",".join(SURROGATES))
    p.add_argument("--json", action="store_true", help="print only {'spearman': {method: rho}} on stdout")
    p.add_argument("--json-out", default=None, help="also write the full result to this file")
    args = p.parse_args(argv)
    try:
        res = evaluate(args.train_mix, args.train_loss, args.test_mix, args.test_loss, args.target,
                       [m.strip() for m in args.methods.split(",") if m.strip()])
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    table = sys.stderr if args.json else sys.stdout
    print(f"{res['train_runs']} training runs, {res['test_runs']} test runs, {res['domains']} domains, "
          f"target {args.target}", file=table)
    print(f"{'method':<16} {'spearman':>9} {'fit s':>7}", file=table)
    for name, r in res["methods"].items():
        print(f"{name:<16} {r['spearman']:>9.4f} {r['seconds']:>7.2f}", file=table)
    if args.json:
        print(json.dumps({"spearman": {m: r["spearman"] for m, r in res["methods"].items()}}))
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps({**res, "target": args.target}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
