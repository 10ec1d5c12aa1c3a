"""The public CSV formats: runs tables (DDO's input) and optima tables (the predictor's input).

Design choices:
- A module of its own (ARCHITECTURE.md names none for these formats): DDO, the predictor, the
  CLI and reports all read or write them, and the run store only produces them.
- One reader per format, accepting a path or a DataFrame, returning a small frozen dataclass with
  numeric arrays already checked: every later step can trust the numbers (finite, positive).
- Columns are found by prefix: `tokens:<domain>`, `loss:<domain>`, `ppl:<domain>`; `run`, `seed`
  and any other column are carried along or ignored. Names are stripped of surrounding spaces.
- Training domains (`tokens:` columns) and validation domains (`loss:`/`ppl:` columns) are two
  sets: a validation domain with no tokens column is evaluation-only, a training domain with no
  validation column is trained on but not judged (noted, with a hint when the names look like a
  misspelling of each other).
- `RunsTable.from_records` and `runs_frame` are the one path from stored runs to the CSV form.
- Losses are in nats and must be > 0; perplexities must be > 1 (= exp of a positive loss), so
  that objectives built from either are positive and can be normalised by the base run.
- The base run is found from the tokens alone (`find_base_run`): the unique quantity vector from
  which every row differs in at most one domain. Rows equal to it are replicates of the base.
- Every problem is a `UserError` naming the file, column, row and value, and saying what to do.
"""

from __future__ import annotations

import csv
import difflib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture

TOKENS, LOSS, PPL = "tokens:", "loss:", "ppl:"
_PREFIXES = (TOKENS, LOSS, PPL)


# --- reading -----------------------------------------------------------------------------------

def read_frame(source, what: str) -> tuple[pd.DataFrame, str]:
    """A DataFrame from a path or a DataFrame, and a name for messages."""
    if isinstance(source, pd.DataFrame):
        frame, name = source.copy(), f"the {what}"
        if frame.columns.duplicated().any():
            dup = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
            raise UserError(f"the {what} has duplicate columns {', '.join(dup)}; keep one of each")
    else:
        if not isinstance(source, (str, os.PathLike)):
            raise UserError(f"the {what} must be a CSV path or a DataFrame, got {type(source).__name__}")
        path = Path(source)
        name = str(path)
        if path.is_dir():
            raise UserError(f"{path} is a folder; give the path of the {what} CSV file")
        if not path.is_file():
            raise UserError(f"{what} file not found: {path}; give the path of a CSV file")
        try:
            with path.open(newline="") as fh:
                header = next(csv.reader(fh), [])
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read {what} {path}: {exc}") from None
        stripped = [h.strip() for h in header]
        dup = sorted({h for h in stripped if stripped.count(h) > 1})
        if dup:
            raise UserError(f"{path}: duplicate columns {', '.join(dup)}; keep one of each")
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            msg = " ".join(str(exc).split()) or "no columns"
            raise UserError(f"{path} is not a readable CSV table ({msg}); expected a header row "
                            f"with tokens:<domain> columns") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) == 0:
        raise UserError(f"{name} has no rows; it needs one row per run")
    return frame.reset_index(drop=True), name


def _split_columns(frame: pd.DataFrame, name: str) -> dict[str, dict[str, str]]:
    """{prefix: {domain: column}} for the known prefixes."""
    found: dict[str, dict[str, str]] = {p: {} for p in _PREFIXES}
    for col in frame.columns:
        for prefix in _PREFIXES:
            if col.startswith(prefix):
                domain = col[len(prefix):].strip()
                if not domain:
                    raise UserError(f"{name}: column {col!r} has no domain name; write {prefix}<domain>")
                found[prefix][domain] = col
    if not found[TOKENS]:
        others = [c for c in frame.columns if c not in found[LOSS].values() and c not in found[PPL].values()]
        raise UserError(f"{name} has no tokens:<domain> columns (columns: {', '.join(map(str, others)) or 'none'}); "
                        f"name each domain's training quantity tokens:<domain>")
    return found


def _row_label(frame: pd.DataFrame, i: int) -> str:
    if "run" in frame.columns and str(frame.at[i, "run"]).strip():
        return f"row {i + 1} (run {str(frame.at[i, 'run']).strip()!r})"
    return f"row {i + 1}"


def _numeric_column(frame: pd.DataFrame, col: str, name: str, *, lower: float, what: str,
                    inclusive: bool = False) -> np.ndarray:
    """The column as floats, each value finite and > lower (>= with `inclusive`); else a UserError
    naming the cell."""
    column = frame[col]
    if pd.api.types.is_numeric_dtype(column):      # the common case, checked at once
        fast = column.to_numpy(dtype=float)
        if (np.isfinite(fast) & ((fast >= lower) if inclusive else (fast > lower))).all():
            return fast
    values = np.empty(len(frame))
    for i, raw in enumerate(column.tolist()):
        if isinstance(raw, str):
            text = raw.strip()
            if text == "":
                raise UserError(f"{name}: column {col!r}, {_row_label(frame, i)} is empty; fill in {what}")
            try:
                v = float(text)
            except ValueError:
                raise UserError(f"{name}: column {col!r}, {_row_label(frame, i)} holds {raw!r}, not a number; "
                                f"write {what} as a plain number") from None
        else:
            try:
                v = float(raw)
            except (TypeError, ValueError):
                raise UserError(f"{name}: column {col!r}, {_row_label(frame, i)} holds {raw!r}, not a number; "
                                f"write {what} as a plain number") from None
        if not math.isfinite(v):
            raise UserError(f"{name}: column {col!r}, {_row_label(frame, i)} is {v}; {what} must be a finite number")
        if not (v >= lower if inclusive else v > lower):
            raise UserError(f"{name}: column {col!r}, {_row_label(frame, i)} is {v:g}; {what} must be "
                            f"{'at least' if inclusive else 'greater than'} {lower:g}")
        values[i] = v
    return values


@dataclass(frozen=True)
class RunsTable:
    """A checked runs table: quantities of the training domains and validation metrics of the
    validation domains, per run. The two sets may differ: a validation domain without a tokens
    column is evaluation-only (e.g. train on RedPajama's sets, validate on the Pile's)."""

    domains: tuple[str, ...]          # training domains (the tokens: columns, in file order)
    tokens: np.ndarray                # (runs, domains), any consistent unit
    loss: dict[str, np.ndarray]       # validation domain -> loss per run (nats), where given
    ppl: dict[str, np.ndarray]        # validation domain -> perplexity per run, where given
    run_ids: tuple[str, ...]          # the `run` column, or "row <n>"
    source: str                       # file name or "the runs table", for messages
    seeds: tuple | None = None        # the `seed` column (replicates), when there is one
    notes: tuple[str, ...] = ()       # oddities worth a warning (a training domain never validated)

    @property
    def n_runs(self) -> int:
        return self.tokens.shape[0]

    @property
    def eval_domains(self) -> tuple[str, ...]:
        """Every validation domain: the training domains that have one, then evaluation-only ones."""
        named = [d for d in self.domains if d in self.loss or d in self.ppl]
        return tuple(named + [d for d in {**self.loss, **self.ppl} if d not in self.domains])

    @property
    def eval_only(self) -> tuple[str, ...]:
        return tuple(d for d in self.eval_domains if d not in self.domains)

    def mixture(self, row: int) -> Mixture:
        return Mixture(zip(self.domains, self.tokens[row].tolist()))

    def domain_loss(self, domain: str) -> np.ndarray:
        """Validation loss (nats) per run: the loss column, or log of the ppl column."""
        return self.loss[domain] if domain in self.loss else np.log(self.ppl[domain])

    def domain_ppl(self, domain: str) -> np.ndarray:
        """Validation perplexity per run: the ppl column, or exp of the loss column."""
        return self.ppl[domain] if domain in self.ppl else np.exp(self.loss[domain])

    @classmethod
    def from_records(cls, records, source: str = "the stored runs") -> "RunsTable":
        """The runs table of finished runs (anything with .key, .mixture, .val_loss, .tokens and
        .seed): the training domains are their mixtures' domains, the validation domains those
        they were evaluated on. This is the one place stored runs become a table."""
        records = list(records)
        if not records:
            raise UserError("no runs to tabulate")
        domains: list[str] = []
        evals: list[str] = []
        for r in records:
            domains += [d for d in r.mixture.domains if d not in domains]
            evals += [d for d in r.val_loss if d not in evals]
        tokens = np.array([[float(r.tokens.get(d, 0)) for d in domains] for r in records])
        loss = {}
        for d in evals:
            col = np.array([r.val_loss.get(d, np.nan) for r in records], dtype=float)
            if np.isnan(col).any():
                i = int(np.flatnonzero(np.isnan(col))[0])
                raise UserError(f"run {records[i].key} has no validation loss on {d!r} while others have; "
                                f"tabulate runs evaluated on the same domains")
            loss[d] = col
        return cls(tuple(domains), tokens, loss, {}, tuple(r.key for r in records), source,
                   tuple(r.seed for r in records))


def runs_frame(table: RunsTable, extra: Mapping[str, Sequence] | None = None) -> pd.DataFrame:
    """The public CSV form of a runs table: run, [extra columns], seed, tokens:<d> (training
    domains), loss:<d> and ppl:<d> (validation domains, as held). The one writer of the format;
    `read_runs_table` reads it back."""
    cols: dict[str, object] = {"run": list(table.run_ids)}
    for name, values in (extra or {}).items():
        cols[name] = list(values)
    if table.seeds is not None:
        cols["seed"] = list(table.seeds)
    for j, d in enumerate(table.domains):
        col = table.tokens[:, j]
        whole = np.isfinite(col).all() and (col == np.round(col)).all() and np.abs(col).max() < 2 ** 53
        cols[f"{TOKENS}{d}"] = col.astype(np.int64) if whole else col   # whole tokens stay integers
    for d in table.eval_domains:
        if d in table.loss:
            cols[f"{LOSS}{d}"] = table.loss[d]
    for d in table.eval_domains:
        if d in table.ppl:
            cols[f"{PPL}{d}"] = table.ppl[d]
    return pd.DataFrame(cols)


def read_runs_table(source, *, allow_zero: bool = False) -> RunsTable:
    """Read and check a runs table (path or DataFrame); see the README's formats section.

    Quantities must be > 0 (DDO's tables), or >= 0 with `allow_zero` (arbitrary mixtures)."""
    frame, name = read_frame(source, "runs table")
    cols = _split_columns(frame, name)
    domains = tuple(cols[TOKENS])
    if not cols[LOSS] and not cols[PPL]:
        raise UserError(f"{name} has no loss:<domain> or ppl:<domain> columns; add each run's validation loss "
                        f"(nats) or perplexity")
    notes = []
    unvalidated = [d for d in domains if d not in cols[LOSS] and d not in cols[PPL]]
    only_eval = [d for d in {**cols[LOSS], **cols[PPL]} if d not in cols[TOKENS]]
    for d in unvalidated:
        close = difflib.get_close_matches(d, only_eval, n=1)
        prefix = (LOSS if close and close[0] in cols[LOSS] else PPL) if close else ""
        hint = (f" (is {prefix}{close[0]}, which has no tokens:{close[0]} column, a misspelling of {prefix}{d}?)"
                if close else "")
        notes.append(f"training domain {d!r} has no validation column; it is trained on but not judged{hint}")
    what = "the number of training tokens (>= 0)" if allow_zero else "the number of training tokens (> 0)"
    tokens = np.column_stack([_numeric_column(frame, cols[TOKENS][d], name, lower=0.0, what=what,
                                              inclusive=allow_zero) for d in domains])
    if (tokens.sum(axis=1) <= 0).any():
        i = int(np.argmin(tokens.sum(axis=1)))
        raise UserError(f"{name}: {_row_label(frame, i)} trains on no tokens at all; every run needs some")
    loss = {d: _numeric_column(frame, c, name, lower=0.0, what="a validation loss in nats (> 0)")
            for d, c in cols[LOSS].items()}
    ppl = {d: _numeric_column(frame, c, name, lower=1.0, what="a validation perplexity (> 1)")
           for d, c in cols[PPL].items()}
    if "run" in frame.columns:
        run_ids = tuple(str(r).strip() or f"row {i + 1}" for i, r in enumerate(frame["run"].tolist()))
    else:
        run_ids = tuple(f"row {i + 1}" for i in range(len(frame)))
    seeds = None
    if "seed" in frame.columns:
        seeds = tuple(str(s).strip() for s in frame["seed"].tolist())
    return RunsTable(domains, tokens, loss, ppl, run_ids, name, seeds, tuple(notes))


def read_optima_table(source) -> tuple[list[Mixture], tuple[str, ...]]:
    """Optimal quantities per scale (one row each) as Mixtures, and a label per row.

    The label is the `scale` column when present, else the row number. Extra columns are ignored.
    """
    frame, name = read_frame(source, "optima table")
    cols = _split_columns(frame, name)
    if cols[LOSS] or cols[PPL]:
        raise UserError(f"{name} looks like a runs table (it has loss/ppl columns), not an optima table: the "
                        f"predictor takes one row of optimal tokens per budget. Fit each budget's runs with "
                        f"`autoscale-kit ddo RUNS.csv --json` first and put their optimal tokens in a table")
    domains = list(cols[TOKENS])
    quantities = np.column_stack([
        _numeric_column(frame, cols[TOKENS][d], name, lower=0.0, what="an optimal number of tokens (> 0)")
        for d in domains])
    optima = [Mixture(zip(domains, row.tolist())) for row in quantities]
    if "scale" in frame.columns:
        labels = tuple(str(s).strip() or f"row {i + 1}" for i, s in enumerate(frame["scale"].tolist()))
    else:
        labels = tuple(f"row {i + 1}" for i in range(len(frame)))
    return optima, labels


@dataclass(frozen=True)
class OptimaSamples:
    """An optima table with several rows per scale: one point estimate and the draws (bootstrap
    draws or replicates) of each scale, the draws paired across scales."""

    estimates: list[Mixture]          # per scale, sorted by total
    draws: list[np.ndarray] | None    # per scale: (draws, domains) weights in estimates[0]'s domain order
    labels: tuple[str, ...]           # per scale
    notes: tuple[str, ...] = ()


def read_optima_samples(source) -> OptimaSamples:
    """Optimal quantities per scale, with draws when a scale has several rows.

    Rows belong to the same scale when they share the `scale` label (or, without one, the same
    total to 1e-6). A `sample` column tells the rows apart: empty or "estimate" marks the point
    estimate (at most one per scale), any other value a draw, and draws with the same value at
    every scale are paired (those missing at some scale are dropped, with a note). Without a
    `sample` column the rows of a scale are draws paired by their order, and every scale must
    have as many. A scale without an estimate row uses the mean of its draws' quantities."""
    optima, labels = read_optima_table(source)
    frame, name = read_frame(source, "optima table")
    domains = optima[0].domains
    totals = np.array([m.total for m in optima])
    keys: list = []
    for i, lab in enumerate(labels):
        if "scale" in frame.columns:
            keys.append(lab)
        else:
            keys.append(next((k for k in keys if abs(totals[k] - totals[i]) <= 1e-6 * totals[i]), i))
    groups: dict = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    if all(len(g) == 1 for g in groups.values()):
        return OptimaSamples(optima, None, labels)
    has_sample = "sample" in frame.columns
    samples = [("" if pd.isna(v) else str(v).strip()) for v in frame["sample"]] if has_sample else None
    estimates, draws_by_scale, scale_labels, notes = [], [], [], []
    for k, rows in groups.items():
        if has_sample:
            est = [i for i in rows if samples[i].lower() in ("", "estimate")]
            if len(est) > 1:
                raise UserError(f"{name}: scale {labels[rows[0]]!r} has {len(est)} estimate rows (empty or 'estimate' "
                                f"sample); give at most one, and a sample id to each draw")
            drawn = {samples[i]: i for i in rows if i not in est}
            if len(drawn) != len([i for i in rows if i not in est]):
                raise UserError(f"{name}: scale {labels[rows[0]]!r} repeats a sample id; give each draw its own")
        else:
            est, drawn = [], {str(j): i for j, i in enumerate(rows)}
        draws_by_scale.append(drawn)
        q = np.array([[optima[i][d] for d in domains] for i in drawn.values()]) if drawn else None
        estimates.append(optima[est[0]] if est else Mixture(zip(domains, q.mean(axis=0).tolist())))
        scale_labels.append(labels[rows[0]])
    if not has_sample:
        counts = sorted({len(d) for d in draws_by_scale})
        if len(counts) > 1:
            raise UserError(f"{name}: the scales have different numbers of rows ({', '.join(map(str, counts))}); "
                            f"give each scale as many draws, or a `sample` column to pair them")
    common = set.intersection(*[set(d) for d in draws_by_scale])
    dropped = max(len(d) for d in draws_by_scale) - len(common)
    if dropped:
        notes.append(f"{dropped} draw(s) are missing at some scale and were left out; {len(common)} are paired")
    if len(common) < 2:
        raise UserError(f"{name}: {len(common)} draw(s) are present at every scale; an interval needs at least 2 "
                        f"(give the same sample ids at every scale)")
    order = [s for s in draws_by_scale[0] if s in common]
    draws = []
    for d in draws_by_scale:
        q = np.array([[optima[d[s]][c] for c in domains] for s in order])
        draws.append(q / q.sum(axis=1, keepdims=True))
    return OptimaSamples(estimates, draws, tuple(scale_labels), tuple(notes))


def write_optima_table(optima: Sequence[Mixture], path, labels: Sequence[str] | None = None) -> Path:
    """Write Mixtures as an optima table (a `scale` label column, then tokens:<domain>).

    Written to a temporary file and renamed, so a failure leaves nothing half-written.
    """
    optima = list(optima)
    if not optima:
        raise UserError("no optima to write; give at least one Mixture")
    domains = optima[0].domains
    for m in optima[1:]:
        if set(m.domains) != set(domains):
            raise UserError(f"optima have different domains: {', '.join(domains)} vs {', '.join(m.domains)}")
    if labels is None:
        labels = [f"{m.total:.6g}" for m in optima]
    if len(labels) != len(optima):
        raise UserError(f"{len(labels)} labels for {len(optima)} optima; give one label per row")
    frame = pd.DataFrame({"scale": list(labels),
                          **{f"{TOKENS}{d}": [m[d] for m in optima] for d in domains}})
    path = Path(path)
    write_text_atomically(path, frame.to_csv(index=False, float_format="%.17g"), "the optima table")
    return path


def write_text_atomically(path, text: str, what: str) -> None:
    """Write a file through a temporary one renamed into place: on any failure the previous file
    stays as it was and no temporary file is left."""
    import os

    p = Path(path)
    if p.is_dir():
        raise UserError(f"{what} {str(path)!r} is a folder; give a file path")
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, p)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None


# --- the base run ------------------------------------------------------------------------------

@dataclass(frozen=True)
class BaseRun:
    """Where the base run is, and which rows perturb which domain."""

    row: int                               # the first row holding the base quantities
    replicates: tuple[int, ...]            # every row equal to the base (including `row`)
    perturbed: dict[str, tuple[int, ...]]  # domain -> rows that change only that domain
    tokens: np.ndarray                     # the base quantities, one per domain
    extra: tuple[int, ...] = ()            # rows that change several domains (verification, line search)


def _differing(tokens: np.ndarray, ref: np.ndarray, rtol: float) -> np.ndarray:
    """Boolean (runs, domains): where each row's quantity differs from ref beyond rtol."""
    return np.abs(tokens - ref) > rtol * np.maximum(np.abs(tokens), np.abs(ref))


def find_base_run(table: RunsTable, *, base: int | str | None = None, rtol: float = 1e-9,
                  extra: bool = False) -> BaseRun:
    """The run from which every other run differs in exactly one domain's tokens.

    `base` (a row index or a `run` id) picks it by hand when the table is ambiguous, e.g. when
    only one domain was perturbed; otherwise the unique candidate is used, with ties broken by a
    run named "base". With `extra`, runs that change several domains are allowed besides the
    one-at-a-time plan (the transfer-aware fit uses them): the base is then the run around which
    every domain is perturbed alone, and those runs are listed in `BaseRun.extra`.
    """
    if extra:
        return _base_with_extra_runs(table, base, rtol)
    tokens = table.tokens
    if base is not None:
        candidates = [_named_base(table, base)]
    else:
        candidates, seen = [], []
        for r in range(table.n_runs):
            if any(not _differing(tokens[r:r + 1], tokens[s], rtol).any() for s in seen):
                continue  # a replicate of a vector already tried
            seen.append(r)
            if (_differing(tokens, tokens[r], rtol).sum(axis=1) <= 1).all():
                candidates.append(r)
        if len(candidates) > 1:
            named = [r for r in candidates if table.run_ids[r].lower() == "base"]
            candidates = named if len(named) == 1 else candidates
    shape = ("a runs table needs one base run and runs that each change exactly one domain's tokens "
             "(the others equal to the base)")
    if not candidates:
        counts = [(_differing(tokens, tokens[r], rtol).sum(axis=1) > 1).sum() for r in range(table.n_runs)]
        best = int(np.argmin(counts))
        bad = np.flatnonzero(_differing(tokens, tokens[best], rtol).sum(axis=1) > 1)
        rows = ", ".join(table.run_ids[i] for i in bad[:3])
        raise UserError(f"{table.source}: no base run found; {shape}. Taking {table.run_ids[best]} as the base, "
                        f"{rows} {'changes' if len(bad) == 1 else 'change'} two or more domains")
    if len(candidates) > 1:
        names = ", ".join(table.run_ids[r] for r in candidates[:4])
        raise UserError(f"{table.source}: no unique base run ({names} could each be the base); {shape}, "
                        f"and at least two domains perturbed, or a run named 'base'")
    row = candidates[0]
    diff = _differing(tokens, tokens[row], rtol)
    n_diff = diff.sum(axis=1)
    if (n_diff > 1).any():
        bad = np.flatnonzero(n_diff > 1)
        raise UserError(f"{table.source}: {table.run_ids[bad[0]]} differs from the base run {table.run_ids[row]} "
                        f"in {n_diff[bad[0]]} domains; {shape}")
    perturbed = {d: tuple(int(r) for r in np.flatnonzero(diff[:, j])) for j, d in enumerate(table.domains)}
    replicates = tuple(int(r) for r in np.flatnonzero(n_diff == 0))
    return BaseRun(row, replicates, perturbed, tokens[row].copy())


def _named_base(table: RunsTable, base: int | str) -> int:
    """The row of a base run picked by hand: a `run` id or a row index."""
    if isinstance(base, str):
        if base not in table.run_ids:
            raise UserError(f"{table.source}: no run named {base!r}; runs are {', '.join(table.run_ids)}")
        return table.run_ids.index(base)
    if not 0 <= int(base) < table.n_runs:
        raise UserError(f"{table.source}: base row {base} is out of range (0..{table.n_runs - 1})")
    return int(base)


def _base_with_extra_runs(table: RunsTable, base, rtol: float) -> BaseRun:
    """`find_base_run(extra=True)`; a domain without a one-at-a-time run is reported by `fit_ddo`."""
    tokens = table.tokens
    if base is not None:
        candidates = [_named_base(table, base)]
    else:
        candidates = []
        for r in range(table.n_runs):
            n_diff = _differing(tokens, tokens[r], rtol).sum(axis=1)
            covered = _differing(tokens[n_diff == 1], tokens[r], rtol).any(axis=0)
            if covered.all() and not any(not _differing(tokens[c:c + 1], tokens[r], rtol).any() for c in candidates):
                candidates.append(r)
        if len(candidates) > 1:
            named = [r for r in candidates if table.run_ids[r].lower() == "base"]
            candidates = named if len(named) == 1 else candidates
    if len(candidates) != 1:
        what = "no run has" if not candidates else f"{len(candidates)} runs have"
        raise UserError(f"{table.source}: {what} a run changing each domain alone around it; a runs table needs the "
                        f"one-at-a-time plan (a base run and runs that each change one domain), other runs besides")
    row = candidates[0]
    n_diff = _differing(tokens, tokens[row], rtol).sum(axis=1)
    diff = _differing(tokens, tokens[row], rtol) & (n_diff == 1)[:, None]
    perturbed = {d: tuple(int(r) for r in np.flatnonzero(diff[:, j])) for j, d in enumerate(table.domains)}
    return BaseRun(row, tuple(int(r) for r in np.flatnonzero(n_diff == 0)), perturbed, tokens[row].copy(),
                   tuple(int(r) for r in np.flatnonzero(n_diff > 1)))


# --- mixture/loss pairs (RegMix's released format) ---------------------------------------------

@dataclass(frozen=True)
class MixtureLosses:
    """Mixtures (weights, one row per run) and the losses measured for them, matched by run."""

    domains: tuple[str, ...]       # mixture columns, in file order
    weights: np.ndarray            # (runs, domains), each row sums to 1
    losses: pd.DataFrame           # one row per run, the loss file's numeric columns
    runs: tuple[str, ...]


def read_mixture_losses(mixtures, losses, *, id_column: str = "index") -> MixtureLosses:
    """Two CSVs in RegMix's format: a mixture file (an id column and one weight column per
    training domain) and a loss file (the id column and one column per validation loss).

    Rows are matched on the id column when both files have it, else by position. Weights are
    renormalised to sum to 1 (the released files are rounded to 3 decimals)."""
    mix, mname = read_frame(mixtures, "mixture file")
    los, lname = read_frame(losses, "loss file")
    if id_column in mix.columns and id_column in los.columns:
        mix[id_column] = mix[id_column].astype(str)
        los[id_column] = los[id_column].astype(str)
        for frame, name in ((mix, mname), (los, lname)):
            dup = frame[id_column][frame[id_column].duplicated()]
            if len(dup):
                raise UserError(f"{name}: run id {dup.iloc[0]!r} appears twice in column {id_column!r}")
        missing = sorted(set(mix[id_column]) - set(los[id_column]), key=str)
        if missing:
            raise UserError(f"{lname} has no losses for run(s) {', '.join(missing[:5])} of {mname}")
        los = los.set_index(id_column).loc[mix[id_column]].reset_index()
        runs = tuple(mix[id_column])
        mix = mix.drop(columns=[id_column])
        los = los.drop(columns=[id_column])
    else:
        if len(mix) != len(los):
            raise UserError(f"{mname} has {len(mix)} rows and {lname} {len(los)}; without an {id_column!r} "
                            "column in both, rows are matched by position and the counts must agree")
        runs = tuple(str(i) for i in range(len(mix)))
        mix = mix.drop(columns=[c for c in (id_column,) if c in mix.columns])
        los = los.drop(columns=[c for c in (id_column,) if c in los.columns])
    if mix.shape[1] == 0:
        raise UserError(f"{mname} has no mixture columns")
    W = np.column_stack([_numeric_column(mix, c, mname, lower=-math.inf, what="a weight") for c in mix.columns])
    if (W < 0).any():
        r, c = np.argwhere(W < 0)[0]
        raise UserError(f"{mname}: column {mix.columns[c]!r}, row {r + 1} is {W[r, c]:g}; weights must be >= 0")
    sums = W.sum(axis=1)
    if (sums <= 0).any():
        raise UserError(f"{mname}: row {int(np.argmin(sums)) + 1} has all weights zero")
    numeric = {c: pd.to_numeric(los[c], errors="coerce") for c in los.columns}
    numeric = {c: v for c, v in numeric.items() if v.notna().all()}
    if not numeric:
        raise UserError(f"{lname} has no numeric loss columns")
    return MixtureLosses(tuple(str(c) for c in mix.columns), W / sums[:, None], pd.DataFrame(numeric), runs)


def loss_column(table: MixtureLosses, target: str) -> np.ndarray:
    """One loss column by exact name, or by the unique column containing `target`; checked finite."""
    cols = list(table.losses.columns)
    if target in cols:
        name = target
    else:
        hits = [c for c in cols if target in c]
        if len(hits) != 1:
            raise UserError(f"loss column {target!r} {'is ambiguous' if hits else 'not found'}; "
                            f"columns: {', '.join(hits or cols)}")
        name = hits[0]
    return _numeric_column(table.losses, name, "the loss file", lower=-math.inf, what="a loss")
