"""`autoscale-kit …`: thin commands over the modules.

Each subcommand parses flags, calls one library function and prints its result (a table, or one
JSON object with --json). A `UserError` becomes one line on stderr and exit status 2, with no
traceback and nothing half-written; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from autoscale_kit.cli import (compare, corpus, ddo, demo, export, ingest, landscape, plan, predict, runs, tokenize,
                               train)
from autoscale_kit.cli.common import Parser
from autoscale_kit.core.errors import UserError

# Registration order is the order in `autoscale-kit --help`.
COMMAND_MODULES = (demo, compare, landscape, corpus, tokenize, train, runs, ddo, predict, export, plan, ingest)
COMMANDS = {m.NAME: m.run for m in COMMAND_MODULES}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="autoscale-kit",
                    description="Choose the data mixture of a pre-training run for its scale (AutoScale: DDO at small "
                                "scales, then the predictor). Start with `autoscale-kit demo`.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMAND_MODULES:
        command.add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UserError as exc:
        msg = " ".join(str(exc).split())  # one line, whatever the message held
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `autoscale-kit runs | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
