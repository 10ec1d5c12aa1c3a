"""Runs trained elsewhere read back: each planned run's per-domain validation losses from what its
trainer wrote, joined to `plan.csv` by run id into a runs table that `ddo`, `landscape fit` and
`predict` take as they are.

Readers (`read_logs`, chosen by the file):
- a plain CSV: a `run` column (or `run_id`, `name`) and one column per domain named by a pattern
  (default `loss:{domain}`); several rows of one run (a `step` or `tokens` column) keep its last;
- a Weights & Biases CSV export: `Name` and columns such as `eval/{domain}/loss` (the default
  pattern there), `_step` for the step;
- Hugging Face `Trainer` output: a `trainer_state.json` (a run folder, or any `checkpoint-*` in it,
  the newest wins), `log_history` entries `eval_{domain}_loss`; its run id is the folder's name
  (name `output_dir` after the run id), its budget check `global_step` against `max_steps`;
- TensorBoard event files (`events.out.tfevents.*`, read with TensorBoard's own event reader): a
  run folder (every event file under it, however deep — the Trainer writes `runs/<date>_<host>/`),
  scalar tags `eval/{domain}_loss` by default (the Trainer's TensorBoard callback), the last step of
  each; the run id is the folder's name (a single event file given: its folder's), the budget check
  the last step logged against `max_steps` in the Trainer's `args` text, when the file holds one.

What goes wrong in real logs is named, one line each (`IngestResult.warnings`): a planned run not in
the logs, a logged run not in the plan, a run stopped before its budget, a run logged twice with
different losses, a mixture that does not match the plan, a NaN loss. Such runs are left out; when
none is left, a UserError.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.tables import read_frame

DEFAULT_PATTERNS = {"csv": "loss:{domain}", "wandb": "eval/{domain}/loss", "trainer": "eval_{domain}_loss",
                    "tensorboard": "eval/{domain}_loss"}
EVENT_GLOB = "events.out.tfevents.*"
RUN_COLUMNS = ("run", "run_id", "name", "Name")
STEP_COLUMNS = ("step", "_step", "Step", "tokens", "global_step")


@dataclass(frozen=True)
class LoggedRun:
    """One run as a log holds it: its id, losses per domain, where it stopped (if the log says)."""

    run_id: str
    losses: dict[str, float]
    source: str
    tokens: dict[str, float] | None = None     # per domain, when the log records them
    stopped: str | None = None                 # "step 40 of 100" when the run ended before its budget


@dataclass(frozen=True)
class IngestResult:
    table: pd.DataFrame              # the runs table: run, label, seed, scale, tokens:<d>, loss:<d>
    warnings: tuple[str, ...]
    missing: tuple[str, ...]         # planned runs with no usable log


def read_plan(path: str | Path) -> pd.DataFrame:
    """`plan.csv` as written by `autoscale-kit plan` (run, role, scale, budget, seed, weight:<d>, tokens:<d>)."""
    frame, name = read_frame(path, "plan")
    need = [c for c in ("run", "role", "budget", "seed") if c not in frame.columns]
    if need or not any(c.startswith("tokens:") for c in frame.columns):
        raise UserError(f"{name} is not a plan (it lacks {', '.join(need) or 'tokens:<domain> columns'}); give the "
                        f"plan.csv that autoscale-kit plan wrote")
    frame["run"] = frame["run"].astype(str)
    for c in frame.columns:
        if c in ("scale", "budget", "seed") or c.startswith(("tokens:", "weight:")):
            values = pd.to_numeric(frame[c], errors="coerce")
            if values.isna().any():
                raise UserError(f"{name}: column {c!r} holds a value that is not a number (row "
                                f"{int(values.isna().to_numpy().argmax()) + 2})")
            frame[c] = values.astype(float if c.startswith("weight:") else int)
    if frame["run"].duplicated().any():
        raise UserError(f"{name} names run {frame['run'][frame['run'].duplicated()].iloc[0]} twice")
    return frame


def _pattern_columns(columns: Sequence[str], pattern: str, domains: Sequence[str]) -> dict[str, str]:
    if "{domain}" not in pattern:
        raise UserError(f"the loss pattern must contain {{domain}}, got {pattern!r} (e.g. eval/{{domain}}/loss)")
    return {d: pattern.format(domain=d) for d in domains if pattern.format(domain=d) in columns}


def _table_runs(frame: pd.DataFrame, source: str, pattern: str, domains: Sequence[str]) -> list[LoggedRun]:
    run_col = next((c for c in RUN_COLUMNS if c in frame.columns), None)
    if run_col is None:
        raise UserError(f"{source}: no run column (one of {', '.join(RUN_COLUMNS)}) to join the plan by")
    cols = _pattern_columns(frame.columns, pattern, domains)
    if not cols:
        raise UserError(f"{source}: no loss column matches the pattern {pattern!r} for any of "
                        f"{', '.join(domains)} (columns: {', '.join(map(str, frame.columns[:8]))}…); give --pattern")
    step = next((c for c in STEP_COLUMNS if c in frame.columns), None)
    out = []
    for run, rows in frame.groupby(frame[run_col].astype(str), sort=False):
        if step is not None:
            rows = rows.sort_values(step)
        losses = {}
        for d, c in cols.items():       # each domain's last logged value (eval rows may interleave train rows)
            v = pd.to_numeric(rows[c], errors="coerce").dropna()
            losses[d] = float(v.iloc[-1]) if len(v) else math.nan
        tokens = None
        if all(f"tokens:{d}" in frame.columns for d in domains):
            tokens = {d: float(rows[f"tokens:{d}"].iloc[-1]) for d in domains}
        out.append(LoggedRun(run, losses, source, tokens))
    return out


def _trainer_states(folder: Path) -> list[Path]:
    """A run folder's trainer_state.json, else its checkpoints', the newest last."""
    direct = folder / "trainer_state.json"
    if direct.is_file():
        return [direct]
    return sorted(folder.glob("checkpoint-*/trainer_state.json"),
                  key=lambda p: int(re.sub(r"\D", "", p.parent.name) or 0))


def _trainer_state(path: Path) -> Path:
    if path.is_file():
        return path
    states = _trainer_states(path)
    if not states:
        raise UserError(f"{path}: no trainer_state.json in it or in a checkpoint-* folder")
    return states[-1]


def _trainer_run(path: Path, pattern: str, domains: Sequence[str], run_id: str | None = None) -> LoggedRun:
    state_path = _trainer_state(path)
    try:
        state = json.loads(state_path.read_text())
        history = state["log_history"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError):
        raise UserError(f"{state_path}: not a Trainer state (trainer_state.json with log_history)") from None
    losses = {}
    for d in domains:
        key = pattern.format(domain=d)
        values = [e[key] for e in history if isinstance(e, dict) and key in e]
        if values:
            losses[d] = float(values[-1])
    if not losses:
        raise UserError(f"{state_path}: no {pattern!r} entry for any of {', '.join(domains)} in log_history; give "
                        f"each domain its own eval set (eval_dataset={{domain: …}}) or --pattern")
    stopped = None
    step, max_steps = state.get("global_step"), state.get("max_steps")
    if isinstance(step, int) and isinstance(max_steps, int) and 0 < max_steps and step < max_steps:
        stopped = f"step {step} of {max_steps}"
    folder = state_path.parent.parent if state_path.parent.name.startswith("checkpoint-") else state_path.parent
    return LoggedRun(run_id or folder.name, losses, str(state_path), None, stopped)


def _event_files(path: Path) -> list[Path]:
    return [path] if path.is_file() else sorted(p for p in path.rglob(EVENT_GLOB) if p.is_file())


def _tensorboard_run(path: Path, pattern: str, domains: Sequence[str]) -> LoggedRun:
    """One run's scalars from every event file under `path` (a resumed run writes several: the
    later write of a step wins), through TensorBoard's event reader."""
    try:
        from tensorboard.backend.event_processing import event_accumulator as ea
    except ImportError:
        raise UserError("reading TensorBoard event files needs the tensorboard package: pip install tensorboard "
                        "(or the package's logs extra: pip install 'autoscale-kit[logs]')") from None
    files = _event_files(path)
    if not files:
        raise UserError(f"{path}: no TensorBoard event file ({EVENT_GLOB}) in it")
    scalars: dict[str, dict[int, tuple[float, float]]] = {}     # tag -> step -> (wall time, value)
    max_steps = None
    for f in files:
        acc = ea.EventAccumulator(str(f), size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
        try:
            acc.Reload()
        except Exception as exc:     # a foreign file: name it, never a traceback
            raise UserError(f"{f}: not a readable TensorBoard event file ({type(exc).__name__}: {exc})") from None
        if acc.file_version is None:     # every event file opens with its version; the reader skips what it cannot parse
            raise UserError(f"{f}: not a readable TensorBoard event file (no event could be read from it)")
        tags = acc.Tags()
        for tag in tags.get("scalars", []):
            for e in acc.Scalars(tag):
                seen = scalars.setdefault(tag, {}).get(e.step)
                if seen is None or e.wall_time >= seen[0]:
                    scalars[tag][e.step] = (e.wall_time, float(e.value))
        if "args/text_summary" in tags.get("tensors", []):       # the Trainer's TrainingArguments as JSON
            try:
                text = acc.Tensors("args/text_summary")[-1].tensor_proto.string_val[0].decode()
                steps = json.loads(text).get("max_steps")
                max_steps = steps if isinstance(steps, int) and steps > 0 else max_steps
            except (IndexError, ValueError, AttributeError):
                pass
    losses = {}
    for d in domains:
        points = scalars.get(pattern.format(domain=d))
        if points:
            losses[d] = points[max(points)][1]
    if not losses:
        tags = sorted(scalars)
        raise UserError(f"{path}: no scalar {pattern!r} for any of {', '.join(domains)} in its event files (tags: "
                        f"{', '.join(tags[:8]) or 'none'}{'…' if len(tags) > 8 else ''}); give --pattern")
    last = max((max(points) for points in scalars.values()), default=0)
    stopped = f"step {last} of {max_steps}" if max_steps is not None and last < max_steps else None
    run_id = path.name if path.is_dir() else path.parent.name
    return LoggedRun(run_id, losses, str(path), None, stopped)


def read_logs(paths: Sequence[str | Path], domains: Sequence[str], *, kind: str = "auto",
              pattern: str | None = None) -> list[LoggedRun]:
    """Every run the logs hold. `kind`: auto (by the file), csv, wandb, trainer or tensorboard. A
    folder is a Trainer run when it holds a trainer_state.json (itself or in a checkpoint), else
    a TensorBoard run when event files lie under it."""
    out = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise UserError(f"{p}: no such log file or folder")
        k = kind
        if k == "auto":
            if p.name.startswith("events.out.tfevents.") or (
                    p.is_dir() and not _trainer_states(p) and next(p.rglob(EVENT_GLOB), None) is not None):
                k = "tensorboard"
            elif p.is_dir() or p.name == "trainer_state.json":
                k = "trainer"
            elif p.suffix.lower() == ".csv":
                head = pd.read_csv(p, nrows=0).columns
                k = "wandb" if "Name" in head or any("/" in str(c) for c in head) else "csv"
            else:
                raise UserError(f"{p}: not a log this reads (a CSV, a W&B CSV export, a Trainer run folder, "
                                f"trainer_state.json, or TensorBoard event files)")
        if k not in DEFAULT_PATTERNS:
            raise UserError(f"unknown log kind {k!r}; choose auto, {', '.join(DEFAULT_PATTERNS)}")
        pat = pattern or DEFAULT_PATTERNS[k]
        if k in ("trainer", "tensorboard"):
            if "{domain}" not in pat:
                raise UserError(f"the loss pattern must contain {{domain}}, got {pat!r}")
            out.append(_trainer_run(p, pat, domains) if k == "trainer" else _tensorboard_run(p, pat, domains))
        else:
            frame, name = read_frame(p, "log")
            out += _table_runs(frame, name, pat, domains)
    return out


def what_remains(plan: pd.DataFrame, kept: set[str]) -> list[str]:
    """Per budget that lost runs: what a fit can still do with the rest. DDO (roles
    `ddo/<budget>/<base|domain_xratio>/seed<s>`) needs a base run and a change of every domain;
    other designs need design points (the landscape's surface, a swarm's regressor)."""
    out = []
    for scale, rows in plan.groupby("scale", sort=True):
        left = rows[rows["run"].isin(kept)]
        if len(left) == len(rows):
            continue
        lost = f"budget {int(scale):,}: {len(rows) - len(left)} of {len(rows)} planned runs left out"
        parts = [str(r).split("/") for r in rows["role"]]
        if all(len(p) >= 3 and p[0] == "ddo" for p in parts):
            name = dict(zip(rows["run"], (p[2] for p in parts)))        # base, or <domain>_x<ratio>
            names = [name[r] for r in left["run"]]
            changed = {n.rsplit("_x", 1)[0] for n in names if "_x" in n}
            domains = {n.rsplit("_x", 1)[0] for n in name.values() if "_x" in n}
            if "base" not in names:
                out.append(f"{lost}; DDO cannot fit it: no base run is left")
            elif domains - changed:
                out.append(f"{lost}; DDO cannot fit a law for {', '.join(sorted(domains - changed))} (no run changing "
                           f"it is left)")
            else:
                out.append(f"{lost}; DDO can still fit it (a base run and a change of every domain remain), with "
                           f"less to check its laws against")
        else:
            points = len({tuple(r) for r in left[[c for c in plan.columns if c.startswith("tokens:")]].to_numpy()})
            out.append(f"{lost}; {points} distinct mixtures remain for the fit" if points else
                       f"{lost}; none remains")
    return out


def ingest(plan: pd.DataFrame, logged: Sequence[LoggedRun], *, eval_domains: Sequence[str] | None = None,
           rtol: float = 0.01) -> IngestResult:
    """Join `logged` runs to the plan by run id: the runs table of every planned run with a
    usable log, and a warning for every one left out (and every logged run the plan lacks)."""
    domains = [c[len("tokens:"):] for c in plan.columns if c.startswith("tokens:")]
    evals = list(eval_domains or domains)
    planned = {r["run"]: r for r in plan.to_dict(orient="records")}
    warnings, by_id = [], {}
    for run in logged:
        if run.run_id not in planned:
            warnings.append(f"{run.run_id} ({run.source}) is not in the plan; left out")
            continue
        by_id.setdefault(run.run_id, []).append(run)
    rows, missing = [], []
    for run_id, p in planned.items():
        logs = by_id.get(run_id)
        if not logs:
            missing.append(run_id)
            continue
        if len(logs) > 1:
            if any(log.losses != logs[0].losses for log in logs[1:]):
                warnings.append(f"{run_id} ({p['role']}) is logged {len(logs)} times with different losses "
                                f"({', '.join(log.source for log in logs)}); left out: keep one log per run")
                continue
            warnings.append(f"{run_id} is logged {len(logs)} times with the same losses; read once")
        log = logs[0]
        if log.stopped:
            warnings.append(f"{run_id} ({p['role']}) stopped before its budget of {int(p['budget']):,} tokens "
                            f"({log.stopped}, {log.source}); left out")
            continue
        absent = [d for d in evals if d not in log.losses]
        if absent:
            warnings.append(f"{run_id} ({p['role']}) has no loss for {', '.join(absent)} ({log.source}); left out")
            continue
        bad = [d for d in evals if not math.isfinite(log.losses[d])]
        if bad:
            warnings.append(f"{run_id} ({p['role']}) has a NaN or infinite loss on {', '.join(bad)}; left out")
            continue
        if log.tokens is not None:
            off = [d for d in domains if abs(log.tokens[d] - p[f"tokens:{d}"]) > rtol * max(p["budget"], 1)]
            if off:
                warnings.append(f"{run_id} ({p['role']}) trained another mixture than planned ("
                                + ", ".join(f"{d} {log.tokens[d]:,.0f} against {p[f'tokens:{d}']:,}" for d in off)
                                + "); left out")
                continue
        rows.append({"run": run_id, "label": p["role"], "seed": int(p["seed"]),
                     "scale": int(p.get("scale", p["budget"])),
                     **{f"tokens:{d}": int(p[f"tokens:{d}"]) for d in domains},
                     **{f"loss:{d}": log.losses[d] for d in evals}})
    for run_id in missing:
        warnings.append(f"{run_id} ({planned[run_id]['role']}) is in the plan but not in the logs")
    warnings += what_remains(plan, {r["run"] for r in rows})
    if not rows:
        raise UserError(f"none of the plan's {len(planned)} runs has a usable log"
                        + (f" ({warnings[0]}{'; …' if len(warnings) > 1 else ''})" if warnings else "")
                        + "; name each trained run by its run id in plan.csv")
    return IngestResult(pd.DataFrame(rows), tuple(warnings), tuple(missing))


def optima_from_fits(paths) -> pd.DataFrame:
    """An optima table (scale, tokens:<d>) from `autoscale-kit ddo --json` outputs, one per budget:
    the link from fitting each budget's runs to the predictor without copying numbers by hand."""
    rows = []
    for raw in paths:
        path = Path(raw)
        try:
            data = json.loads(path.read_text())
            tokens, total = data["tokens"], float(data["total"])
        except FileNotFoundError:
            raise UserError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise UserError(f"{path}: not the JSON of `autoscale-kit ddo --json` (it needs 'tokens' and 'total')") from None
        rows.append({"scale": f"{total:.6g}", **{f"tokens:{d}": float(v) for d, v in tokens.items()}})
    frame = pd.DataFrame(rows)
    if frame.isna().any().any():
        raise UserError("the fits name different domains; give fits of the same domains at each budget")
    if frame["scale"].duplicated().any():
        raise UserError(f"two fits are at the same budget ({frame['scale'][frame['scale'].duplicated()].iloc[0]} "
                        f"tokens); give one fit per budget")
    return frame
