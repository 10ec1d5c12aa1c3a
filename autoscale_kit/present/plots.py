"""Figures: each function takes plain data and returns a figure; nothing here computes results.

Design choices:
- matplotlib for static figures (reports, the paper's figures), plotly for interactive ones in
  notebooks (the `*_plotly` functions); the two share their inputs.
- Inputs are the library's own results (DDOResult, Prediction, curves as DataFrames, weights as
  {domain: w}), so a notebook cell is one call.
- matplotlib figures are made with `matplotlib.figure.Figure`, never through pyplot: pyplot would
  keep each one registered and the notebook would show it twice (once by the backend, once as the
  cell's value). Numbers and token axes go through `fmt`, the one number format.
"""

from __future__ import annotations

import operator
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from autoscale_kit.core import fmt
from autoscale_kit.proxy.config import wsd_config
from autoscale_kit.proxy.train import lr_at

PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C",
           "#CCB974", "#64B5CD"]


def new_figure(figsize=(7, 4.5), **kwargs):
    """A matplotlib figure that pyplot does not know about (shown once, freed when dropped)."""
    from matplotlib.figure import Figure

    _notebook_display()
    return Figure(figsize=figsize, layout="constrained", **kwargs)


def _notebook_display() -> None:
    """In a Jupyter kernel, a returned figure is shown as an image only when IPython has a PNG
    formatter for figures, which pyplot's inline backend registers once pyplot picks its backend;
    these figures never go through pyplot, so register it here (IPython's own function) if it is
    missing."""
    import sys

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or type(shell).__name__ != "ZMQInteractiveShell":
        return
    from matplotlib.figure import Figure

    try:
        shell.display_formatter.formatters["image/png"].lookup_by_type(Figure)
    except KeyError:
        from IPython.core.pylabtools import select_figure_formats

        select_figure_formats(shell, {"png"}, bbox_inches="tight")


def _axes(ax, figsize):
    if ax is None:
        fig = new_figure(figsize)
        return fig, fig.add_subplot()
    return ax.figure, ax


def token_axis(ax, which: str = "x", ticks: Sequence[float] | None = None) -> None:
    """Token counts on an axis as 250k / 1M / 4.2B; on a log axis only the major ticks (or the
    given `ticks`) are labelled, so labels never collide."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    axis = ax.xaxis if which == "x" else ax.yaxis
    if ticks is not None:
        axis.set_major_locator(FixedLocator(sorted(set(float(t) for t in ticks))))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt.tokens(v)))
    axis.set_minor_formatter(NullFormatter())


def _nice_ticks(hi: float, n: int = 6) -> list[float]:
    from matplotlib.ticker import MaxNLocator

    return [t for t in MaxNLocator(n).tick_values(0.0, hi) if 0 <= t <= hi * 1.0001]


def token_ticks_plotly(values: Sequence[float]) -> dict:
    """Plotly axis settings that label the given token counts as 250k / 1M / 4.2B (plotly's own SI
    labels would say 4.2G)."""
    vals = sorted(set(float(v) for v in values))
    return dict(tickvals=vals, ticktext=[fmt.tokens(v) for v in vals])


def color_of(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


# One colour per mixture, whatever plot or library draws it: the methods' own names have theirs
# (uniform the neutral grey), and any other name takes the first colour no name has yet when it is
# first drawn, and keeps it for the rest of the session.
MIXTURE_COLORS = {"autoscale": PALETTE[0], "ddo-reused": PALETTE[1], "natural": PALETTE[2], "regmix": PALETTE[3],
                  "mixing-law": PALETTE[4], "preset-llama": PALETTE[5], "doremi": PALETTE[6], "uniform": PALETTE[7],
                  "landscape-reused": PALETTE[8], "landscape-model": PALETTE[9]}
_ASSIGNED: dict[str, str] = {}
OPTIMUM = "#222222"     # a landscape's fitted optimum and its path: no mixture's colour


def mixture_color(name: str) -> str:
    """The colour of the mixture `name` in every plot of this session."""
    if name in MIXTURE_COLORS:
        return MIXTURE_COLORS[name]
    if name not in _ASSIGNED:
        usable = [c for c in PALETTE if c != MIXTURE_COLORS["uniform"]]
        # the first colour no name has yet; once all are taken, the least taken (the earliest on a tie)
        _ASSIGNED[name] = min(usable, key=lambda c: (list(_ASSIGNED.values()).count(c), usable.index(c)))
    return _ASSIGNED[name]


def _loss_label(column: str, unit: str) -> str:
    if column == "val_mean":
        return f"mean validation loss ({unit})"
    if column.startswith("val_"):
        return f"validation loss on {column[4:]} ({unit})"
    return column


def seed_grid(runs: Sequence[pd.DataFrame], column: str = "val_mean") -> tuple[np.ndarray, np.ndarray]:
    """Several seeds' curves on one token grid: (x, values with one row per seed). Seeds evaluate
    at the same steps but not at the same token counts (windows are packed per seed), so curves
    with as many points are aligned point by point at their mean token count; otherwise each is
    interpolated onto the sorted union of their points where all of them have data."""
    xs = [c["tokens_seen"].to_numpy(dtype=float) for c in runs]
    ys = [c[column].to_numpy(dtype=float) for c in runs]
    if len({len(x) for x in xs}) == 1:
        return np.mean(xs, axis=0), np.vstack(ys)
    lo, hi = max(x.min() for x in xs), min(x.max() for x in xs)
    grid = np.unique(np.concatenate(xs))
    grid = grid[(grid >= lo) & (grid <= hi)]
    return grid, np.vstack([np.interp(grid, x, y) for x, y in zip(xs, ys)])


def _merge_equal(keys: Mapping[str, object], same: Callable[[object, object], bool] = operator.eq
                 ) -> list[tuple[tuple[str, ...], int]]:
    """Names whose keys are `same` (one mixture under two names: AutoScale reusing the DDO optimum),
    grouped in first-seen order, each group with its first name's position."""
    groups: list[tuple[list[str], int, object]] = []
    for i, (name, key) in enumerate(keys.items()):
        for names, _, seen in groups:
            if same(seen, key):
                names.append(name)
                break
        else:
            groups.append(([name], i, key))
    return [(tuple(names), i) for names, i, _ in groups]


def _same_runs(curves: Mapping[str, Sequence[pd.DataFrame]], column: str) -> list[tuple[str, tuple[str, ...]]]:
    """Mixtures whose runs are the same runs (AutoScale reusing the DDO optimum: one mixture under
    two names) drawn once, named "autoscale = ddo-reused", so no legend entry is hidden under another
    line. Returns (the first name, all names) per line."""
    groups = _merge_equal({name: seed_grid(runs, column)[1] for name, runs in curves.items()}, np.array_equal)
    return [(names[0], names) for names, _ in groups]


def loss_curves(curves: Mapping[str, Sequence[pd.DataFrame]], column: str = "val_mean", ax=None,
                reference: str | None = "uniform", title: str = "Validation loss at the target scale",
                unit: str = fmt.BYTE_UNIT):
    """Loss against tokens, one line per mixture (mean over seeds, band = min–max), and a dashed
    line at the reference's final loss."""
    fig, ax = _axes(ax, (7, 4.5))
    for name, names in _same_runs(curves, column):
        runs, color = curves[name], mixture_color(name)
        x, values = seed_grid(runs, column)
        ax.plot(x, values.mean(axis=0), marker="o", ms=3, color=color,
                label=f"{' = '.join(names)} ({len(runs)} seed{'s' * (len(runs) > 1)})")
        if len(runs) > 1:
            ax.fill_between(x, values.min(axis=0), values.max(axis=0), color=color, alpha=0.15)
        if reference in names:   # the mean of the seeds' own final losses, as the verdict uses
            ax.axhline(float(np.mean([c[column].iloc[-1] for c in runs])), color=color, ls="--", lw=1)
    ax.set_xlabel("training tokens")
    token_axis(ax)
    ax.set_ylabel(_loss_label(column, unit))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    # the whole curve on a log axis: the early stretch (where one mixture may lead) stays in view
    # and the late one, where the mixtures are close, keeps room to separate
    ax.set_yscale("log")
    ys = np.concatenate([c[column].to_numpy(dtype=float) for runs in curves.values() for c in runs])
    ax.set_ylim(ys.min() / 1.02, ys.max() * 1.02)
    _plain_log_ticks(ax, ys.min() / 1.02, ys.max() * 1.02)
    return fig


def _plain_log_ticks(ax, lo: float, hi: float) -> None:
    """Tick labels of a log loss axis as plain round numbers (1.9, 2, 2.1, …), about six of them."""
    from matplotlib.ticker import FixedLocator, MaxNLocator, NullFormatter, NullLocator

    ticks = [t for t in MaxNLocator(6, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi) if lo <= t <= hi]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_formatter(NullFormatter())


def ddo_fits(fits: Mapping[str, object], ax=None, title: str = "DDO: fitted law per domain"):
    """Each domain's points (objective / base objective vs quantity / base) and its fitted law."""
    fig, ax = _axes(ax, (7, 4.5))
    hi = max(max(f.x) for f in fits.values())
    xs = np.linspace(0.0, hi * 1.2, 200)
    for i, (d, f) in enumerate(fits.items()):
        ax.plot(xs, f(xs), color=color_of(i), lw=1.5, label=d)
        ax.scatter(f.x, f.y, color=color_of(i), s=25, zorder=3)
    ax.axvline(1.0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("domain quantity (base run = 1)")
    ax.set_ylabel("objective / base objective")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    return fig


def _yerr(values: Sequence[float], bounds: Sequence[tuple[float, float]]) -> np.ndarray:
    """Asymmetric error bars (2 × n) from intervals around the values; never negative (a rounded
    point estimate a hair outside its interval)."""
    v = np.asarray(values, dtype=float)
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    return np.vstack([np.maximum(v - lo, 0.0), np.maximum(hi - v, 0.0)])


def _same_weights(weights: Mapping[str, Mapping[str, float]],
                  intervals: Mapping[str, Mapping[str, tuple[float, float]]] | None) -> list[tuple[str, str, int]]:
    """Mixtures with the same weights (and the same interval, or none) are one bar, named
    "autoscale = ddo-reused", coloured as the first of them would be, so colours stay those of
    the other plots. Returns (label, first name, colour index) per bar."""
    groups = _merge_equal({n: (dict(w), (intervals or {}).get(n)) for n, w in weights.items()})
    return [(" = ".join(names), names[0], i) for names, i in groups]


def weight_bars(weights: Mapping[str, Mapping[str, float]], ax=None, title: str = "Domain weights",
                intervals: Mapping[str, Mapping[str, tuple[float, float]]] | None = None):
    """Grouped bars: one group per domain, one bar per mixture or scale (mixtures with the same
    weights share one); `intervals` (by the same names, {domain: (lo, hi)}) draws error bars on the
    bars that have one."""
    fig, ax = _axes(ax, (8, 4.5))
    bars = _same_weights(weights, intervals)
    domains = list(next(iter(weights.values())))
    width = 0.8 / len(bars)
    for k, (label, n, i) in enumerate(bars):
        pos = np.arange(len(domains)) + (k - (len(bars) - 1) / 2) * width
        ys = [weights[n][d] for d in domains]
        iv = (intervals or {}).get(n)
        err = _yerr(ys, [iv[d] for d in domains]) if iv else None
        ax.bar(pos, ys, width, color=mixture_color(n), label=label, yerr=err, capsize=2 if iv else 0,
               error_kw=dict(lw=0.9, ecolor="black"))
    ax.set_xticks(np.arange(len(domains)), domains, rotation=20)
    ax.set_ylabel("weight" + (" (bars: interval)" if intervals else ""))
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    return fig


def weight_trajectory(totals: Sequence[float], weights: Sequence[Mapping[str, float]], predicted: Mapping[float, Mapping[str, float]] | None = None,
                      ax=None, title: str = "Optimal weight of each domain against scale",
                      intervals: Sequence[Mapping[str, tuple[float, float]] | None] | None = None,
                      predicted_intervals: Mapping[float, Mapping[str, tuple[float, float]]] | None = None):
    """Weights at the DDO scales ('o') and predicted ones ('x', dashed) on a log token axis; with
    intervals (one per DDO scale, and per predicted total), a band around each domain's line."""
    fig, ax = _axes(ax, (7, 4.5))
    domains = list(weights[0])
    px = sorted(predicted) if predicted else []
    for i, d in enumerate(domains):
        ax.plot(totals, [w[d] for w in weights], marker="o", color=color_of(i), label=d)
        if predicted:
            ax.plot([totals[-1], *px], [weights[-1][d], *[predicted[t][d] for t in px]], ls="--", marker="x",
                    color=color_of(i))
        xs, band = [], []
        for t, iv in zip(totals, intervals or []):
            if iv:
                xs.append(t)
                band.append(iv[d])
        for t in px:
            if predicted_intervals and t in predicted_intervals:
                xs.append(t)
                band.append(predicted_intervals[t][d])
        if len(xs) > 1:
            ax.fill_between(xs, [b[0] for b in band], [b[1] for b in band], color=color_of(i), alpha=0.12, lw=0)
        elif len(xs) == 1:
            ax.errorbar(xs, [np.mean(band[0])], yerr=[[np.ptp(band[0]) / 2]], color=color_of(i), capsize=3, lw=0.9)
    ax.set_xscale("log")
    token_axis(ax, ticks=[*totals, *px])
    ax.set_xlabel("training tokens")
    ax.set_ylabel("weight" + (" (band: interval)" if intervals or predicted_intervals else ""))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    return fig


def loss_change(final_losses: Mapping[str, Mapping[str, float]], reference: str = "uniform", ax=None,
                title: str = "Per-domain validation loss change vs uniform", unit: str = fmt.BYTE_UNIT):
    """Bars of loss(mixture) − loss(reference) per domain; below zero is better. Mixtures with the
    same losses in every domain (the same runs under two names) are one set of bars, "a = b"
    (`weight_bars` merges them)."""
    ref = final_losses[reference]
    others = {n: {d: v[d] - ref[d] for d in ref} for n, v in final_losses.items() if n != reference}
    fig = weight_bars(others, ax=ax, title=title)
    ax = fig.axes[0] if ax is None else ax
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel(f"loss − loss({reference}) ({unit})")
    return fig


def _text_colour(im, value: float) -> str:
    """White or black, whichever contrasts more with the colour the cell is drawn in (WCAG's
    contrast ratio from its relative luminance L: white wins below L = 0.179), so it holds for any
    colour map and either end of it."""
    if not np.isfinite(value):
        return "black"
    rgb = np.asarray(im.cmap(im.norm(value))[:3])
    linear = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    lum = float(linear @ [0.2126, 0.7152, 0.0722])
    return "white" if 1.05 / (lum + 0.05) > (lum + 0.05) / 0.05 else "black"


def perturbation_heatmap(table: pd.DataFrame, ax=None, title: str = "Loss change when one domain is perturbed",
                         cmap: str = "RdBu_r", cell: str = "{:+.2f}", unit: str = f"loss change ({fmt.BYTE_UNIT})"):
    """Rows: perturbed training domain; columns: validation domains (+ mean). Values as given."""
    fig, ax = _axes(ax, (1.0 + 0.9 * table.shape[1], 0.8 + 0.55 * table.shape[0]))
    vals = table.to_numpy(dtype=float)
    lim = np.nanmax(np.abs(vals)) or 1.0
    im = ax.imshow(vals, cmap=cmap, vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(table.shape[1]), table.columns, rotation=30, ha="right")
    ax.set_yticks(range(table.shape[0]), table.index)
    for i in range(vals.shape[0]):
        for j in range(vals.shape[1]):
            ax.text(j, i, cell.format(vals[i, j]), ha="center", va="center", fontsize=7,
                    color=_text_colour(im, vals[i, j]))
    fig.colorbar(im, ax=ax, shrink=0.8, label=unit)
    ax.set_title(title)
    return fig


def transfer_next_to_measured(effects: pd.DataFrame, transfer: pd.DataFrame,
                              title: str = "Measured effect of each domain and the transfer the fit found"):
    """Two heat-maps with the same rows (training domains) and columns (validation domains): left,
    the measured loss change when a domain is increased (`fit.plan.perturbation_effects`, nats per byte);
    right, the fitted transfer T (a `transfer.TransferFit.matrix()`, transposed to match), how much a
    token of the row's domain teaches the column's domain relative to one of its own (own = 1)."""
    measured = effects[[c for c in effects.columns if c != "mean"]]
    T = transfer.T.reindex(index=measured.index, columns=measured.columns)
    fig = new_figure((3.0 + 1.5 * measured.shape[1], 1.2 + 0.5 * measured.shape[0]))
    left, right = fig.subplots(1, 2)
    lim = float(np.nanmax(np.abs(measured.to_numpy(dtype=float)))) or 1.0
    for ax, table, cmap, vmin, vmax, cell, label, name in (
            (left, measured, "RdBu_r", -lim, lim, "{:+.3f}", f"loss change ({fmt.BYTE_UNIT})", "measured (×up run)"),
            (right, T, "Greens", 0.0, max(1.0, float(np.nanmax(T.to_numpy(dtype=float)))), "{:.2f}",
             "transfer T (own domain = 1)", "fitted transfer")):
        vals = table.to_numpy(dtype=float)
        im = ax.imshow(vals, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
        ax.set_xticks(range(table.shape[1]), table.columns, rotation=30, ha="right")
        ax.set_yticks(range(table.shape[0]), table.index)
        ax.set_xlabel("validation domain")
        for i in range(vals.shape[0]):
            for j in range(vals.shape[1]):
                ax.text(j, i, cell.format(vals[i, j]), ha="center", va="center", fontsize=7,
                        color=_text_colour(im, vals[i, j]))
        fig.colorbar(im, ax=ax, shrink=0.8, label=label)
        ax.set_title(name)
    left.set_ylabel("training domain changed")
    fig.suptitle(title)
    return fig


# --- plotly (interactive) ------------------------------------------------------------------

def weight_bars_plotly(weights: Mapping[str, Mapping[str, float]], title: str = "Domain weights",
                       intervals: Mapping[str, Mapping[str, tuple[float, float]]] | None = None):
    """`weight_bars` as an interactive figure (error bars where `intervals` has the mixture;
    mixtures with the same weights share one bar)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for label, n, i in _same_weights(weights, intervals):
        w = weights[n]
        iv = (intervals or {}).get(n)
        err = None
        if iv:
            e = _yerr(list(w.values()), [iv[d] for d in w])
            err = dict(type="data", symmetric=False, array=e[1].tolist(), arrayminus=e[0].tolist(), thickness=1)
        fig.add_bar(name=label, x=list(w), y=list(w.values()), marker_color=mixture_color(n), error_y=err)
    fig.update_layout(barmode="group", title=title, yaxis_title="weight", height=380)
    return fig


def weight_trajectory_plotly(totals: Sequence[float], weights: Sequence[Mapping[str, float]],
                             title: str = "Domain weight against scale", predicted_from: int | None = None,
                             intervals: Sequence[Mapping[str, tuple[float, float]] | None] | None = None):
    """Lines of each domain's weight against tokens (log axis); points from `predicted_from` on
    are drawn dashed (predictions); `intervals` (one per point, or None) draws a band."""
    import plotly.graph_objects as go

    fig = go.Figure()
    domains = list(weights[0])
    for i, d in enumerate(domains):
        ys = [w[d] for w in weights]
        cut = len(totals) if predicted_from is None else predicted_from
        if intervals:
            pts = [(t, iv[d]) for t, iv in zip(totals, intervals) if iv]
            if len(pts) > 1:
                xs = [p[0] for p in pts]
                fig.add_scatter(x=xs + xs[::-1], y=[p[1][1] for p in pts] + [p[1][0] for p in pts][::-1],
                                fill="toself", mode="lines", line=dict(width=0), fillcolor=color_of(i), opacity=0.15,
                                name=f"{d} interval", legendgroup=d, showlegend=False, hoverinfo="skip")
        fig.add_scatter(x=list(totals[:cut]), y=ys[:cut], mode="lines+markers", name=d,
                        line=dict(color=color_of(i)), legendgroup=d)
        if cut < len(totals):
            fig.add_scatter(x=list(totals[cut - 1:]), y=ys[cut - 1:], mode="lines+markers", name=f"{d} (predicted)",
                            line=dict(color=color_of(i), dash="dash"), marker_symbol="x", legendgroup=d,
                            showlegend=False)
    fig.update_layout(title=title, xaxis_type="log", xaxis_title="training tokens", yaxis_title="weight", height=420,
                      xaxis=token_ticks_plotly(totals))
    return fig


def loss_curves_plotly(curves: Mapping[str, Sequence[pd.DataFrame]], column: str = "val_mean",
                       title: str = "Validation loss", unit: str = fmt.BYTE_UNIT):
    """`loss_curves` as an interactive figure: the mean over seeds, and a band from the lowest to
    the highest seed where there are several."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for first, names in _same_runs(curves, column):
        runs, name, color = curves[first], " = ".join(names), mixture_color(first)
        grid, values = seed_grid(runs, column)
        x = grid.tolist()
        if len(runs) > 1:
            fig.add_scatter(x=x + x[::-1], y=values.max(axis=0).tolist() + values.min(axis=0).tolist()[::-1],
                            fill="toself", mode="lines", line=dict(width=0), fillcolor=color, opacity=0.15,
                            name=f"{name} seeds", legendgroup=name, showlegend=False, hoverinfo="skip")
        fig.add_scatter(x=x, y=values.mean(axis=0).tolist(), mode="lines+markers",
                        name=f"{name} ({len(runs)} seed{'s' * (len(runs) > 1)})",
                        line=dict(color=color), legendgroup=name)
    fig.update_layout(title=title, xaxis_title="training tokens", yaxis_title=_loss_label(column, unit), height=420)
    if len(fig.data) > 6:   # many mixtures: the legend below the plot, all of it in view
        fig.update_layout(height=420 + 22 * ((len(fig.data) + 2) // 3),
                          legend=dict(orientation="h", y=-0.15, yanchor="top"))
    xmax = max(float(c["tokens_seen"].max()) for runs in curves.values() for c in runs)
    fig.update_xaxes(**token_ticks_plotly(_nice_ticks(xmax)))
    return fig


def cost_vs_loss_plotly(table: pd.DataFrame, title: str = "Proxy compute against final loss at the target",
                        unit: str = fmt.BYTE_UNIT):
    """One point per method: proxy training tokens (x; methods that train no proxy sit at 0 on a
    linear axis) against mean final validation loss with its spread over seeds. Methods are named
    in the legend, not next to their points, since several sit at the same cost."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, row in enumerate(table.itertuples(index=False)):
        err = row.std_final_loss if pd.notna(row.std_final_loss) else 0.0
        fig.add_scatter(x=[row.proxy_tokens], y=[row.mean_final_loss], mode="markers", name=row.method,
                        marker=dict(size=12, color=mixture_color(row.method), symbol=["circle", "diamond", "square", "x",
                                                                        "triangle-up", "star"][i % 6]),
                        error_y=dict(type="data", array=[err], visible=True),
                        hovertemplate=f"{row.method}<br>%{{x:,.0f}} proxy tokens<br>%{{y:.4f}} {unit}<extra></extra>")
    fig.update_layout(title=title, xaxis_title="proxy training tokens", height=440,
                      yaxis_title=f"mean final validation loss ({unit})")
    hi = float(pd.to_numeric(table["proxy_tokens"]).max() or 1.0)
    fig.update_xaxes(**token_ticks_plotly(_nice_ticks(hi * 1.05)))
    return fig


def weights_over_steps(trajectory: Sequence[Sequence[float]], domains: Sequence[str], ax=None,
                       title: str = "DoReMi: domain weights during the proxy run"):
    """Each domain's online weight against the training step, with its running mean (the output)."""
    fig, ax = _axes(ax, (7, 4))
    arr = np.asarray(trajectory, dtype=float)
    steps = np.arange(1, len(arr) + 1)
    running = np.cumsum(arr, axis=0) / steps[:, None]
    for i, d in enumerate(domains):
        ax.plot(steps, arr[:, i], color=color_of(i), alpha=0.35, lw=0.8)
        ax.plot(steps, running[:, i], color=color_of(i), lw=2, label=d)
    ax.set_xlabel("step")
    ax.set_ylabel("weight (thin: per step, thick: running mean)")
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=2)
    return fig


def landscape_ternary(domains: Sequence[str], budgets: Sequence[dict], marks: Mapping[str, Mapping[str, float]]
                      | None = None, title: str = "The measured landscape", unit: str = fmt.BYTE_UNIT):
    """A ternary map of the objective at each budget, with a slider over budgets.

    `budgets`: one dict per budget with `total`, `lattice` (weights, n × 3), `values` (the fitted
    objective there), `points` (design weights, m × 3), `measured` (their mean objective),
    `optimum` ({d: w}), `cloud` (bootstrap optima, k × 3). `marks`: named mixtures ({d: w}) drawn
    on every budget (methods' recommendations). The optimum's path across budgets is drawn on
    every budget too. `unit`: what the objective is in (the colour bar's label)."""
    import plotly.graph_objects as go

    if len(domains) != 3:
        raise ValueError("a ternary map needs exactly three domains")
    a, b, c = domains
    fig = go.Figure()
    per_budget = []
    for k, x in enumerate(budgets):
        # each budget on its own colour range (its minimum to its 90th percentile): the shape is what
        # the slider compares; the levels are in the hover and the colour bar
        lo, hi = float(np.min(x["values"])), float(np.quantile(x["values"], 0.9))
        L, P, C = (np.asarray(x[key], dtype=float) for key in ("lattice", "points", "cloud"))
        start = len(fig.data)
        fig.add_trace(go.Scatterternary(a=L[:, 0], b=L[:, 1], c=L[:, 2], mode="markers", name="fitted objective",
                                        marker=dict(symbol="hexagon", size=9, color=x["values"], colorscale="Viridis",
                                                    cmin=lo, cmax=hi, line=dict(width=0),
                                                    colorbar=dict(title=f"objective<br>({unit})", x=1.08)),
                                        hovertemplate="%{a:.2f} / %{b:.2f} / %{c:.2f}<br>%{marker.color:.4f}"
                                                      "<extra>fitted</extra>", showlegend=False))
        if len(C):
            fig.add_trace(go.Scatterternary(a=C[:, 0], b=C[:, 1], c=C[:, 2], mode="markers", name="bootstrap optima",
                                            marker=dict(size=4, color="#FF9DA7", opacity=0.7, line=dict(width=0)),
                                            hoverinfo="skip"))
        fig.add_trace(go.Scatterternary(a=P[:, 0], b=P[:, 1], c=P[:, 2], mode="markers+text", name="measured runs",
                                        text=[f"{v:.3f}" for v in x["measured"]], textposition="top center",
                                        textfont=dict(size=10, color="white"),
                                        marker=dict(size=10, color="rgba(0,0,0,0)", symbol="circle",
                                                    line=dict(width=2, color="#F28E2B")),
                                        hovertemplate="measured %{text}<extra></extra>"))
        o = x["optimum"]
        fig.add_trace(go.Scatterternary(a=[o[a]], b=[o[b]], c=[o[c]], mode="markers", name="fitted optimum",
                                        marker=dict(size=16, symbol="star", color=OPTIMUM,
                                                    line=dict(width=1, color="white"))))
        per_budget.append(range(start, len(fig.data)))
    shared = len(fig.data)
    path = [x["optimum"] for x in budgets]
    fig.add_trace(go.Scatterternary(a=[p[a] for p in path], b=[p[b] for p in path], c=[p[c] for p in path],
                                    mode="lines+markers+text", name="optimum's path",
                                    text=[fmt.tokens(x["total"]) for x in budgets], textposition="bottom right",
                                    line=dict(color=OPTIMUM, dash="dot"), marker=dict(size=6, color=OPTIMUM)))
    for i, (name, w) in enumerate((marks or {}).items()):
        s = sum(w.values())
        fig.add_trace(go.Scatterternary(a=[w[a] / s], b=[w[b] / s], c=[w[c] / s], mode="markers", name=name,
                                        marker=dict(size=11, symbol="diamond" if i < len(PALETTE) else "square",
                                                    color=mixture_color(name), line=dict(width=1, color="black"))))
    n = len(fig.data)
    steps = []
    for k, x in enumerate(budgets):
        visible = [False] * n
        for j in per_budget[k]:
            visible[j] = True
        for j in range(shared, n):
            visible[j] = True
        steps.append(dict(method="update", label=fmt.tokens(x["total"]),
                          args=[{"visible": visible}, {"title": f"{title}: {fmt.tokens(x['total'])} tokens"}]))
    for j in range(shared):
        fig.data[j].visible = j in per_budget[-1]
    fig.update_layout(title=f"{title}: {fmt.tokens(budgets[-1]['total'])} tokens", height=700,
                      ternary=dict(sum=1, aaxis=dict(title=a), baxis=dict(title=b), caxis=dict(title=c)),
                      sliders=[dict(active=len(budgets) - 1, steps=steps, currentvalue=dict(prefix="budget: "),
                                    pad=dict(t=40))],
                      legend=dict(orientation="h", y=-0.3, yanchor="top"), margin=dict(b=200))
    return fig


def regret_bars_plotly(table: pd.DataFrame, title: str = "Regret at the target", unit: str = fmt.BYTE_UNIT):
    """Each method's regret (objective minus the landscape optimum's, in `unit`) with its interval over seeds."""
    import plotly.graph_objects as go

    t = table.sort_values("regret")
    fig = go.Figure(go.Bar(x=t["method"], y=t["regret"], marker_color=[mixture_color(m) for m in t["method"]],
                           error_y=dict(type="data", symmetric=False, array=(t["regret_hi"] - t["regret"]).tolist(),
                                        arrayminus=(t["regret"] - t["regret_lo"]).tolist())))
    fig.update_layout(title=title, yaxis_title=f"regret ({unit})", height=420)
    return fig


def lr_schedules_plotly(config, budgets: Sequence[int], title: str = "Learning rate against tokens: cosine and wsd"):
    """The learning rate of a run at each budget under the cosine schedule (dashed) and the wsd one
    (solid): the wsd runs share one path until their cooldowns, so the smaller budgets can be
    branched off the largest run."""
    import math

    import plotly.graph_objects as go

    per_step = config.batch_size * config.seq_len
    wsd = config if config.schedule == "wsd" else wsd_config(config, min(budgets))
    cosine = config.with_(schedule="cosine", cooldown_frac=0.2, cooldown_shape="1-sqrt", warmup_tokens=None)
    fig = go.Figure()
    for i, budget in enumerate(sorted(set(budgets))):      # a budget named twice is drawn once
        n = math.ceil(budget / per_step)
        x = [(s + 1) * per_step for s in range(n)]
        for cfg, dash, name in ((cosine, "dash", "cosine"), (wsd, "solid", "wsd")):
            fig.add_scatter(x=x, y=[lr_at(s, n, cfg) for s in range(n)], mode="lines", line=dict(color=color_of(i),
                            dash=dash), name=f"{name}, {fmt.tokens(budget)}", legendgroup=str(budget))
    fig.update_layout(title=title, xaxis_title="training tokens", yaxis_title="learning rate", height=380)
    return fig
