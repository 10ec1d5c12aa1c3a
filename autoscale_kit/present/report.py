"""A study's report folder: figures, the public tables, a JSON summary and one Markdown page.

Design choices:
- Written atomically: into a temporary folder beside the target, swapped into place at the end.
- Drawn from a StudyResult alone (which is itself read from the run store), so the report can be
  redrawn at any time without training.
- Tables use the public formats: `runs.csv` (runs table, every run of the study) and
  `optima.csv` (optima table, one row per DDO scale plus the predicted target).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import pandas as pd

from autoscale_kit.core import fmt
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.tables import write_optima_table
from autoscale_kit.present import plots
from autoscale_kit.present.export import Export, corpus_facts, feasibility, write_all
from autoscale_kit.proxy.families import family_class
from autoscale_kit.runs.store import check_writable_folder, runs_table
from autoscale_kit.study.config import StudyFile
from autoscale_kit.study.pipeline import StudyResult, summarize_speedup


def _markdown_table(frame: pd.DataFrame, digits: int = 3, missing: str | None = None) -> str:
    """A pipe table: floats to `digits` decimals, a missing cell as a dash with a footnote."""
    return fmt.text_table(frame, {c: (lambda v, k=digits: f"{v:.{k}f}") for c in frame.columns
                                  if pd.api.types.is_float_dtype(frame[c])}, missing=missing)


def _pct(v) -> str:
    return fmt.DASH if fmt.is_missing(v) else f"{100 * v:+.1f}%"


def _weight_cell(w: float, interval, d: str) -> str:
    """A weight to 3 decimals, with its interval when there is one: '0.420 [0.340, 0.490]'."""
    if not interval:
        return fmt.weight(w)
    return f"{fmt.weight(w)} {fmt.interval(*interval[d])}"


def _against_uniform_lines(summary: dict, cfg) -> list[str]:
    """The verdict section: each mixture's measured standing against uniform at the target."""
    verdicts = summary.get("against_uniform") or {}
    if not verdicts:
        return []
    lines = [f"**Against uniform at {fmt.tokens(cfg.target)} tokens** (final mean loss, paired by seed, "
             f"{100 * cfg.level:.0f}% t-interval of the gain; positive: better than uniform):", ""]
    lines += [f"- {name}: {v['text']}" for name, v in verdicts.items()]
    return lines + [""]


def figures(result: StudyResult) -> dict[str, object]:
    """The report's figures as matplotlib figures, by file stem."""
    figs = {}
    curves = {name: [r.curve for r in recs] for name, recs in result.validation.items()}
    unit = result.loss_unit
    figs["loss_vs_tokens"] = plots.loss_curves(curves, unit=unit,
                                               title=f"Validation loss at the target ({fmt.tokens(result.config.target)} tokens)")
    for sc in result.rounds:
        figs[f"ddo_fits_{sc.total}"] = plots.ddo_fits(sc.ddo.fits, title=f"DDO at {fmt.tokens(sc.total)} tokens: fitted law per domain")
    weights = {f"DDO {fmt.tokens(sc.total)}": sc.answer.weights for sc in result.rounds}
    weights[f"predicted {fmt.tokens(result.config.target)}"] = result.prediction.weights
    intervals = {f"DDO {fmt.tokens(sc.total)}": sc.answer_interval for sc in result.rounds}
    intervals[f"predicted {fmt.tokens(result.config.target)}"] = result.prediction.interval
    level = f"{100 * result.config.level:.0f}%"
    figs["weights_by_scale"] = plots.weight_bars(
        weights, title=f"Optimal weights at each scale ({level} intervals)" if any(intervals.values()) else
        "Optimal weights at each scale", intervals={k: v for k, v in intervals.items() if v})
    figs["weights_trajectory"] = plots.weight_trajectory(
        [sc.total for sc in result.rounds], [sc.answer.weights for sc in result.rounds],
        {float(result.config.target): result.prediction.weights},
        intervals=[sc.answer_interval for sc in result.rounds],
        predicted_intervals={float(result.config.target): result.prediction.interval}
        if result.prediction.interval else None)
    figs["loss_change_vs_uniform"] = plots.loss_change(result.final_losses(), unit=unit)
    return figs


def _remove_dead_leftovers(out: Path) -> None:
    """Temporary folders an earlier, killed write of this report left beside it (their process is gone)."""
    for p in out.parent.glob(f".tmp-{out.name}-*-*"):
        try:
            pid = int(p.name[len(f".tmp-{out.name}-"):].split("-")[0])
            os.kill(pid, 0)
        except ValueError:
            continue
        except ProcessLookupError:
            shutil.rmtree(p, ignore_errors=True)
        except PermissionError:
            continue   # alive, another user's


def write_report(result: StudyResult, out: str | Path, *, study_file: StudyFile | None = None) -> Path:
    """Write the report folder; returns the path of report.md. With the study file the study was
    defined by, its text is kept beside the report (`study.toml`) and the page names it.

    Everything is written into a temporary folder beside `out` and swapped into place at the
    end, so a kill or a full disk leaves the previous report (or none), never half of one."""
    out = Path(out)
    check_writable_folder(out, "report folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_dead_leftovers(out)
    tmp = out.parent / f".tmp-{out.name}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    old = None
    try:
        (tmp / "figures").mkdir(parents=True)
        for stem, fig in figures(result).items():
            fig.savefig(tmp / "figures" / f"{stem}.png", dpi=110)
        records = [r for sc in result.rounds for r in sc.records]
        records += [r for sc in result.rounds if sc.verification is not None for r in sc.verification.runs]
        records += [r for v in result.validation.values() for r in v]
        runs_table(records).to_csv(tmp / "runs.csv", index=False)
        write_optima_table([sc.answer for sc in result.rounds] + [result.prediction.optimum], tmp / "optima.csv",
                           labels=[f"ddo-{sc.total}" for sc in result.rounds] + [f"predicted-{result.config.target}"])
        summary = result.summary()
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
        result.speedup.to_csv(tmp / "speedup.csv", index=False)
        write_exports(result, tmp / "export")
        page = _page(result, summary)
        if study_file is not None:
            (tmp / "study.toml").write_text(study_file.text)
            page += (f"\nThe study was defined by the study file `{study_file.path}`; its text is kept beside this "
                     f"report as `study.toml`.\n")
        (tmp / "report.md").write_text(page)
        if out.exists():
            old = out.parent / f".old-{out.name}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
            os.rename(out, old)
        os.rename(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        if old is not None and old.exists() and not out.exists():
            os.rename(old, out)   # put the previous report back
        raise UserError(f"cannot write the report to {str(out)!r}: {exc.strerror or exc}; free some space or "
                        f"choose a writable folder") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out / "report.md"


def write_exports(result: StudyResult, folder: Path) -> list[Path]:
    """Every validated mixture of the study in every trainer format (`export`), at the study's
    target, with the corpus's sizes and document lengths; a README says which is which and what
    the target runs measured."""
    cfg = result.config
    available, lengths = corpus_facts(cfg.corpus_ref.token_store() if cfg.corpus_ref.is_store else cfg.corpus_ref.load(),
                                    cfg.proxy.tokenizer)
    written = []
    for name, mix in result.mixtures.items():
        weights = mix.weights
        feas = feasibility(weights, cfg.target, available)
        written += write_all(Export(weights, f"study {cfg.name}, mixture {name} at {fmt.tokens(cfg.target)} tokens", cfg.target,
                                    {}, {d: lengths[d] for d in weights}, feas), folder, stem=name)
    verdicts = result.against_uniform()
    lines = ["# The study's mixtures, ready for a trainer", "",
             "`autoscale.*` is the AutoScale prediction at the target; `ddo-reused.*` the small-scale optimum reused; "
             "`uniform.*` the reference. Weights are token fractions (document probabilities in `*.hf-datasets.py`); "
             "paths are placeholders named after the domains: re-export with "
             "`autoscale-kit export <this report folder> --mixture NAME --format FMT --paths domain=prefix,…`.", "",
             "What the target runs measured against uniform:", ""]
    lines += [f"- {name}: {v['text']}" for name, v in verdicts.items()] or ["- (no runs against uniform)"]
    (folder / "README.md").write_text("\n".join(lines) + "\n")
    return written


def _page(result: StudyResult, summary: dict) -> str:
    cfg = result.config
    domains = summary["domains"]
    speed = summarize_speedup(result.speedup)
    def column(sc) -> str:
        return f"DDO {fmt.tokens(sc.total)}" + (" (answer: the base, measured)" if sc.fell_back else "")

    def shown_interval(sc):   # a fallback's answer is a fixed, measured mixture: no interval to show
        return None if sc.fell_back else sc.answer_interval

    weights = pd.DataFrame({"domain": domains,
                            **{column(sc): [_weight_cell(sc.answer.weights[d], shown_interval(sc), d)
                                            for d in domains] for sc in result.rounds},
                            f"predicted {fmt.tokens(cfg.target)}": [_weight_cell(result.prediction.weights[d],
                                                                                 result.prediction.interval, d)
                                                                    for d in domains]})
    final = pd.DataFrame({"domain": domains,
                          **{n: [summary["final_losses"][n][d] for d in domains] for n in result.validation}})
    speed_view = speed.assign(mean_saving=speed["mean_saving"].map(_pct), std_saving=speed["std_saving"].map(
        lambda v: fmt.DASH if fmt.is_missing(v) else f"{100 * v:.1f} pts"))
    speed_view = speed_view.rename(columns={"mean_final_loss": f"mean_final_loss ({result.loss_unit})",
                                            "std_final_loss": "std_final_loss"})
    lines = [
        f"# AutoScale study `{cfg.name}`",
        "",
        f"**Verdict.** {result.verdict()}",
        "",
        f"Corpus: {cfg.corpus or 'bundled'} · domains: {', '.join(domains)} · proxy: {family_class(cfg.proxy.family).display}, "
        f"{cfg.proxy.n_layer} layers × "
        f"{cfg.proxy.n_embd} wide, sequence {cfg.proxy.seq_len}, batch {cfg.proxy.batch_size} · DDO scales: "
        f"{', '.join(fmt.tokens(s) for s in cfg.budgets)} tokens (ratios {', '.join(fmt.multiple(x) for x in cfg.ratios)}) · "
        f"target: {fmt.tokens(cfg.target)} tokens · objective: {cfg.objective} · seeds: {list(cfg.seeds)}.",
        f"{summary['training_runs']} training runs, {fmt.tokens(summary['training_tokens'])} training tokens in all. "
        "Every number below comes from these runs (`runs.csv`)."
        + (f" Branched off wsd trunks, they trained {fmt.tokens(summary['branching']['trained_tokens'])} tokens where "
           f"separate runs would train {fmt.tokens(summary['branching']['separate_runs_tokens'])}."
           if summary.get("branching") else ""),
        "",
        "## Result",
        "",
        "Saving: the share of uniform's tokens a mixture needed to reach uniform's final loss (read off each "
        f"validation curve; mean over {len(cfg.seeds)} seed{'s' * (len(cfg.seeds) > 1)}).",
        "",
        _markdown_table(speed_view[["mixture", "seeds", f"mean_final_loss ({result.loss_unit})", "std_final_loss",
                                    "mean_saving", "std_saving", "reached"]], 4,
                        missing="not reached on every seed (saving), or one seed (spread)"),
        "",
        "![loss vs tokens](figures/loss_vs_tokens.png)",
        "",
        *_against_uniform_lines(summary, cfg),
        "## Optimal weights across scales",
        "",
        (f"Each weight with its {100 * cfg.level:.0f}% interval in brackets: a bootstrap over the DDO "
         f"runs' noise, carried through the predictor for the target."
         if any(sc.answer_interval for sc in result.rounds) else
         "No intervals: the study was run with interval_draws=0." if not cfg.interval_draws else
         "No intervals: the DDO runs say nothing about their noise (no replicates, too few runs for the transfer "
         "law's residuals); run the plan on 2 seeds (ddo_seeds)."),
        "",
        _markdown_table(weights, 3),
        "",
        f"Prediction: {result.prediction.method} form"
        + (f"; held at their weight (pinned at a bound at every scale): {', '.join(result.prediction.pinned)}"
           if result.prediction.pinned else "") + ".",
        "",
        "![weights by scale](figures/weights_by_scale.png) ![trajectory](figures/weights_trajectory.png)",
        "",
        "## DDO fits",
        "",
    ]
    for sc in result.rounds:
        bound = ", ".join(f"{d} ({b})" for d, b in sc.ddo.at_bound.items()) or "none"
        lines += [f"**{fmt.tokens(sc.total)} tokens** — {sc.ddo.surrogate} surrogate; base objective "
                  f"{fmt.loss(sc.ddo.base_objective, result.loss_unit)}, surrogate's optimum "
                  f"{fmt.loss(sc.ddo.predicted_objective, result.loss_unit)}; at a bound: {bound}.", "",
                  f"![fits](figures/ddo_fits_{sc.total}.png)", ""]
        if sc.verification is not None:
            lines += [f"Verification: {sc.verification.summary(result.loss_unit)}.", ""]
        if sc.verdict is not None:
            v = sc.verdict
            lines += [f"Verdict: {v.text}" + (f" Then {v.measured}." if v.measured else ""), ""]
        for w in sc.ddo.warnings:
            lines.append(f"- {w}")
        lines.append("")
    lines += [f"## Final validation loss per domain (mean over seeds, {result.loss_unit})", "", _markdown_table(final, 4), "",
              "![loss change](figures/loss_change_vs_uniform.png)", ""]
    if result.warnings:
        lines += ["## Warnings", ""] + [f"- {w}" for w in result.warnings] + [""]
    lines += ["## Files", "", "- `runs.csv` — every run (public runs-table format)",
              "- `optima.csv` — DDO optima per scale and the prediction (optima-table format)",
              "- `speedup.csv` — per mixture and seed", "- `summary.json` — all of the above as JSON", ""]
    return "\n".join(lines)
