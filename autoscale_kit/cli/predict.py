"""`autoscale-kit predict`: the AutoScale prediction at any budget from optima at two or more."""

from __future__ import annotations

import argparse

from autoscale_kit.cli.common import print_json, print_warnings, tokens_arg
from autoscale_kit.core import fmt
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.jsonio import json_safe
from autoscale_kit.core.tables import read_optima_samples
from autoscale_kit.fit.predict import predict_optimum
from autoscale_kit.fit.uncertainty import check_level, prediction_uncertainty
from autoscale_kit.runs.ingest import optima_from_fits

NAME = "predict"


def add(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="predict the optimal mixture at a target total from DDO optima at two or more scales",
        description="The AutoScale predictor. OPTIMA.csv has one row per scale with tokens:<domain> columns "
                    "(optimal quantities found by DDO at that scale); or several rows per scale (bootstrap draws "
                    "or replicates, told apart by a `sample` column: empty or 'estimate' for the point estimate, "
                    "the same id at every scale for paired draws), and then every draw is predicted and the "
                    "answer gets an interval per domain.",
    )
    p.add_argument("optima", nargs="+", help="the optima table (CSV), or the `ddo --json` output of each budget "
                                            "(FILE.json …, one per budget)")
    p.add_argument("--total", type=tokens_arg, default=None,
                   help="target total in the table's unit: 5e9, 5B, 300M, 1.5T (required unless --method step)")
    p.add_argument("--method", choices=["auto", "continuous", "least-squares", "step"], default="auto",
                   help="auto (default): continuous form for two scales, least squares for more; "
                        "step: the paper's rule N2^2/N1, whose total is an output")
    p.add_argument("--no-pin", action="store_true",
                   help="do not hold domains whose weight is the same at every scale")
    p.add_argument("--level", type=float, default=0.9, help="nominal coverage of the intervals (default 0.9)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(command="predict")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    if args.total is None and args.method != "step":
        raise UserError("give the target total with --total (e.g. --total 5B), or use --method step")
    check_level(args.level)
    if all(str(o).endswith(".json") for o in args.optima):
        read = read_optima_samples(optima_from_fits(args.optima))
    elif len(args.optima) == 1:
        read = read_optima_samples(args.optima[0])
    else:
        raise UserError("give one optima table (CSV), or one `ddo --json` output (.json) per budget")
    pinned = None if args.no_pin else "auto"
    pred = predict_optimum(read.estimates, args.total, method=args.method, pinned=pinned)
    if read.draws is not None:
        unc = prediction_uncertainty(read.estimates, read.draws, args.total, method=args.method, pinned=pinned,
                                     level=args.level)
        pred = replace(pred, uncertainty=unc, warnings=tuple(pred.warnings) + read.notes + (
            (f"{unc.boot.failed} draw(s) could not be predicted and were left out",) if unc.boot.failed else ()))
    interval = pred.interval
    if args.json:
        print_json(json_safe({**pred.to_dict(), "scales": list(read.labels)}))
        return 0
    t = "" if pred.path_parameter is None else f", path parameter t = {pred.path_parameter:.6g}"
    print(f"AutoScale prediction ({pred.method}{t}) at total {fmt.tokens(pred.optimum.total)} "
          f"from scales {', '.join(fmt.tokens(x) for x in pred.input_totals)}"
          + (f"; {100 * args.level:.0f}% intervals from {len(pred.uncertainty.samples)} paired draws" if interval
             else ""))
    diag = pred.path is not None and len(pred.input_totals) > 2
    print(f"{'domain':<20} {'tokens':>14} {'weight':>8}" + (f" {'low':>8} {'high':>8}" if interval else "")
          + (f" {'max|res|':>9} {'R2':>7}" if diag else ""))
    for d in pred.optimum.domains:
        line = f"{d:<20} {pred.optimum[d]:>14.6g} {pred.weights[d]:>8.4f}"
        if interval:
            line += f" {interval[d][0]:>8.4f} {interval[d][1]:>8.4f}"
        if diag and d in pred.path.domains:
            line += f" {pred.path.max_abs_residual[d]:>9.3g} {pred.path.r_squared[d]:>7.4f}"
        if d in pred.pinned:
            line += "  (pinned)"
        print(line)
    print_warnings(pred.warnings)
    return 0
