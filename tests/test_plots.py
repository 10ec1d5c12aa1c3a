"""Figures: every plotting function returns its figure without leaving it registered in pyplot
(a registered figure is shown twice in a notebook: once by the backend, once as the cell's value)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")

from autoscale_kit.present import plots


def _curves():
    c = pd.DataFrame({"tokens_seen": [1e5, 2e5, 4e5], "val_mean": [3.0, 2.5, 2.2], "val_code": [2.0, 1.8, 1.7]})
    return {"uniform": [c, c.assign(val_mean=c.val_mean + 0.01)], "autoscale": [c.assign(val_mean=c.val_mean - 0.02)]}


class _Law:
    x = np.array([0.2, 1.0, 3.0])
    y = np.array([1.1, 1.0, 0.95])

    def __call__(self, xs):
        return 1 + 0.1 * (np.asarray(xs) + 0.1) ** -0.5 - 0.1


def _all_figures():
    w = {"a": 0.2, "b": 0.8}
    effects = pd.DataFrame([[0.1, -0.2, 0.0], [-0.05, 0.3, 0.1]], index=["a", "b"], columns=["a", "b", "mean"])
    transfer = pd.DataFrame([[1.0, 0.2], [0.1, 1.0]], index=["a", "b"], columns=["a", "b"])
    return [
        plots.loss_curves(_curves()),
        plots.ddo_fits({"a": _Law(), "b": _Law()}),
        plots.weight_bars({"x": w, "y": w}, intervals={"x": {"a": (0.1, 0.3), "b": (0.7, 0.9)}}),
        plots.weight_trajectory([2.5e5, 1e6], [w, w], {4e6: w}),
        plots.loss_change({"uniform": w, "autoscale": {"a": 0.1, "b": 0.9}}),
        plots.perturbation_heatmap(effects),
        plots.transfer_next_to_measured(effects, transfer),
        plots.weights_over_steps([[0.5, 0.5], [0.4, 0.6]], ["a", "b"]),
    ]


def test_no_figure_is_left_in_pyplot():
    import matplotlib.pyplot as plt

    plt.close("all")
    figs = _all_figures()
    assert plt.get_fignums() == [], "a plotting function registered its figure with pyplot"
    for fig in figs:
        assert isinstance(fig, matplotlib.figure.Figure)
        fig.savefig(__import__("io").BytesIO(), format="png")   # drawable without pyplot


def test_token_axes_read_as_250k_1M_and_units_are_labelled():
    fig = plots.weight_trajectory([2.5e5, 1e6], [{"a": 0.4, "b": 0.6}] * 2, {4e6: {"a": 0.3, "b": 0.7}})
    ax = fig.axes[0]
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels == ["250k", "1M", "4M"]
    assert not [t.get_text() for t in ax.xaxis.get_minorticklabels() if t.get_text()]
    assert "nats/byte" in plots.loss_curves(_curves()).axes[0].get_ylabel()
    fig = plots.loss_curves_plotly(_curves())
    assert fig.layout.yaxis.title.text == "mean validation loss (nats/byte)"
    assert "k" in "".join(fig.layout.xaxis.ticktext)


def test_heatmap_colourbar_has_its_unit():
    effects = pd.DataFrame([[0.1, -0.2]], index=["a"], columns=["a", "mean"])
    fig = plots.perturbation_heatmap(effects, unit="loss change (nats/byte)")
    assert any(ax.get_ylabel() == "loss change (nats/byte)" for ax in fig.axes)


def test_seeds_evaluated_at_different_token_counts_make_one_curve():
    """Seeds pack their windows differently, so their eval points fall a few tokens apart: the mean
    line runs left to right through each eval point (not a union of both seeds' points in file
    order), and uniform's dashed line sits at the mean of the seeds' final losses."""
    a = pd.DataFrame({"tokens_seen": [1000.0, 2004.0, 3000.0, 4000.0], "val_mean": [3.0, 2.6, 2.3, 2.0]})
    b = pd.DataFrame({"tokens_seen": [1010.0, 1996.0, 3008.0, 4000.0], "val_mean": [3.2, 2.8, 2.5, 2.2]})
    fig = plots.loss_curves({"uniform": [a, b]})
    ax = fig.axes[0]
    mean_line = next(line for line in ax.get_lines() if line.get_label().startswith("uniform"))
    x, y = mean_line.get_xdata(), mean_line.get_ydata()
    assert len(x) == 4 and np.all(np.diff(x) > 0)
    np.testing.assert_allclose(y, [3.1, 2.7, 2.4, 2.1])
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 1 and dashed[0].get_ydata()[0] == pytest.approx(2.1)

    # curves with different numbers of points: interpolated where both have data
    short = pd.DataFrame({"tokens_seen": [1500.0, 4000.0], "val_mean": [3.0, 2.0]})
    grid, values = plots.seed_grid([a, short])
    assert grid[0] == 1500.0 and grid[-1] == 4000.0 and np.all(np.diff(grid) > 0)
    assert values.shape == (2, len(grid))
    np.testing.assert_allclose(values[1, -1], 2.0)

    pfig = plots.loss_curves_plotly({"uniform": [a, b]})
    mean_trace = [t for t in pfig.data if t.name.startswith("uniform (")][0]
    assert np.all(np.diff(mean_trace.x) > 0)


def test_one_mixture_under_two_names_is_one_line_named_for_both():
    """AutoScale reusing the DDO optimum trains the same runs as ddo-reused: one line, whose legend
    says both names, instead of a legend entry whose line is hidden under the other."""
    a = pd.DataFrame({"tokens_seen": [1e3, 2e3, 4e3], "val_mean": [3.0, 2.5, 2.2]})
    b = a.assign(val_mean=a.val_mean + 0.01)
    u = a.assign(val_mean=a.val_mean - 0.05)
    curves = {"autoscale": [a, b], "uniform": [u, u], "ddo-reused": [a, b]}
    labels = [line.get_label() for line in plots.loss_curves(curves).axes[0].get_lines()
              if not line.get_label().startswith("_")]
    assert labels == ["autoscale = ddo-reused (2 seeds)", "uniform (2 seeds)"]
    names = [t.name for t in plots.loss_curves_plotly(curves).data if t.showlegend is not False]
    assert names == ["autoscale = ddo-reused (2 seeds)", "uniform (2 seeds)"]


def test_heatmap_text_is_white_on_dark_cells_and_black_on_light_ones():
    """Each cell's number is judged against the colour it is drawn on, for any colour map: the
    extremes of RdBu_r are dark (white text), its middle is light (black); YlGnBu is dark only at
    its top end. A middling blue (-0.205 of ±0.32) contrasts more with black than with white."""
    effects = pd.DataFrame([[-0.32, -0.205, 0.0, 0.05, 0.32]], index=["a"],
                           columns=["a", "b", "c", "d", "mean"])
    colours = [t.get_color() for t in plots.perturbation_heatmap(effects).axes[0].texts]
    assert colours == ["white", "black", "black", "black", "white"]
    colours = [t.get_color() for t in plots.perturbation_heatmap(effects, cmap="YlGnBu").axes[0].texts]
    assert colours[0] == "black" and colours[-1] == "white"


def test_loss_change_draws_one_mixture_under_two_names_once():
    finals = {"uniform": {"a": 2.0, "b": 2.0}, "autoscale": {"a": 2.1, "b": 1.9},
              "regmix": {"a": 1.9, "b": 2.2}, "ddo-reused": {"a": 2.1, "b": 1.9}}
    ax = plots.loss_change(finals).axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["autoscale = ddo-reused", "regmix"]
    assert len(ax.patches) == 4                                   # 2 mixtures × 2 domains


def test_weight_bars_draw_one_mixture_under_two_names_once_in_its_own_colour():
    weights = {"autoscale": {"a": 0.7, "b": 0.3}, "uniform": {"a": 0.5, "b": 0.5},
               "ddo-reused": {"a": 0.7, "b": 0.3}, "regmix": {"a": 0.2, "b": 0.8}}
    ax = plots.weight_bars(weights).axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["autoscale = ddo-reused", "uniform", "regmix"]
    assert len(ax.patches) == 6
    regmix_colour = matplotlib.colors.to_hex(ax.patches[-1].get_facecolor())
    assert regmix_colour == matplotlib.colors.to_hex(plots.color_of(3))   # as in plots that show all four
    fig = plots.weight_bars_plotly(weights)
    assert [t.name for t in fig.data] == ["autoscale = ddo-reused", "uniform", "regmix"]
    # the same weights with different intervals are different answers: two bars
    iv = {"autoscale": {"a": (0.6, 0.8), "b": (0.2, 0.4)}}
    assert [t.name for t in plots.weight_bars_plotly(weights, intervals=iv).data] == [
        "autoscale", "uniform", "ddo-reused", "regmix"]


def test_a_mixture_has_one_colour_in_matplotlib_and_plotly(monkeypatch):
    """03 once drew the same mixture blue in plotly and orange in matplotlib (colours by position)."""
    from autoscale_kit.present import plots

    monkeypatch.setattr(plots, "_ASSIGNED", {})      # a fresh session: no name has a colour yet

    a = {"uniform": {"x": 0.5, "y": 0.5}, "separable DDO": {"x": 0.2, "y": 0.8}}
    b = {"separable DDO": {"x": 0.2, "y": 0.8}, "transfer-aware DDO": {"x": 0.3, "y": 0.7}}
    mpl = plots.weight_bars(a).axes[0].patches
    ply = plots.weight_bars_plotly(b).data
    from matplotlib.colors import to_hex

    assert to_hex(mpl[2].get_facecolor()) == ply[0].marker.color.lower() == plots.mixture_color("separable DDO").lower()
    assert plots.mixture_color("uniform") != plots.mixture_color("separable DDO") != plots.mixture_color("transfer-aware DDO")
    assert plots.mixture_color("autoscale") == plots.MIXTURE_COLORS["autoscale"]


def test_names_beyond_the_palette_take_the_least_used_colour(monkeypatch):
    from autoscale_kit.present import plots

    monkeypatch.setattr(plots, "_ASSIGNED", {})
    colours = [plots.mixture_color(f"mixture {i}") for i in range(12)]
    assert plots.MIXTURE_COLORS["uniform"] not in colours
    assert len(set(colours[:9])) == 9 and colours[9] == colours[0] and colours[10] == colours[1]
    assert [plots.mixture_color(f"mixture {i}") for i in range(12)] == colours      # kept for the session
