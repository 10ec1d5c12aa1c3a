"""`autoscale-kit runs`: the run store as a runs table."""

from __future__ import annotations

import argparse

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.tables import write_text_atomically
from autoscale_kit.runs.store import RunStore, branching_tokens

NAME = "runs"


def add(sub) -> None:
    p = sub.add_parser("runs", help="the run store as a runs table",
                       description="List finished runs as a runs table (public CSV format).")
    p.add_argument("--store", default="runs", help="run store folder (default: runs)")
    p.add_argument("--csv", default=None, help="write the table to this CSV file instead of printing it")
    p.add_argument("--label", default=None, help="only runs whose label contains this text")
    p.set_defaults(command="runs")


def run(args: argparse.Namespace) -> int:
    store = RunStore(args.store)
    if not store.root.is_dir():
        raise UserError(f"run store {args.store!r} does not exist; train something first (autoscale-kit train/demo)")
    records = [r for r in store.records() if args.label is None or args.label in r.label]
    table = store.table(records)
    if args.csv:
        write_text_atomically(args.csv, table.to_csv(index=False), "--csv")
        print(f"wrote {len(table)} runs to {args.csv}")
    else:
        import pandas as pd

        with pd.option_context("display.max_columns", None, "display.width", 200):
            print(table.to_string(index=False) if len(table) else "no finished runs")
    if any(r.parent is not None for r in records):
        trained, separate = branching_tokens(records)
        print(f"branching: {trained:,} proxy tokens trained where separate runs would train {separate:,} "
              f"({trained / separate:.2f}x; a branch counts from the start of its cooldown)")
    return 0
