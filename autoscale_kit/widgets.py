"""ipywidgets panels for the notebooks: wiring only, every number comes from the library.

Design choices:
- Each panel is a small class holding its widgets and its state (`.domains`, `.mixture`,
  `.result`, `.prediction`…), with one `.widget` to display. Callbacks change the state first and
  draw second, so the state can be unit-tested without a browser (in plain Python, setting
  `.value` fires `observe` callbacks and `Button.click()` fires `on_click`).
- Interactive figures are plotly `FigureWidget`s (plotly ≥ 6 needs `anywidget`) updated in place;
  a panel's figure is `.figure`.
- Long work (training) runs on a button click with a progress bar; sliders only trigger cheap
  analysis (prediction, oracle optima) so that moving them stays instant.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

from autoscale_kit.errors import UserError
from autoscale_kit.mixture import Mixture
from autoscale_kit.plots import color_of


def _widgets():
    import ipywidgets

    return ipywidgets


def _figure_widget(**layout):
    import plotly.graph_objects as go

    fig = go.FigureWidget()
    fig.update_layout(height=360, margin=dict(l=50, r=20, t=50, b=40), **layout)
    return fig


def _fmt_tokens(n: float) -> str:
    for unit, f in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= f:
            return f"{n / f:.3g}{unit}"
    return f"{n:.0f}"


class DomainPicker:
    """Pick domains of a corpus; shows their statistics."""

    def __init__(self, corpus, selected: Sequence[str] | None = None, on_change: Callable | None = None):
        from autoscale_kit.corpus import statistics

        w = _widgets()
        self.corpus = corpus
        self.stats = statistics(corpus)
        self.select = w.SelectMultiple(options=list(corpus.domains), value=tuple(selected or corpus.domains),
                                       rows=min(8, len(corpus.domains)), description="domains")
        self.table = w.HTML()
        self._callbacks = [on_change] if on_change else []
        self.select.observe(self._changed, names="value")
        self._render()
        self.widget = w.HBox([self.select, self.table])

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(self.select.value)

    def _changed(self, change) -> None:
        self._render()
        for cb in self._callbacks:
            cb(self.domains)

    def _render(self) -> None:
        chosen = self.stats[self.stats.domain.isin(self.domains)]
        view = chosen.pivot_table(index="domain", columns="split", values=["documents", "blocks", "tokens"])
        view.columns = [f"{a} ({b})" for a, b in view.columns]
        self.table.value = view.reindex(list(self.domains)).to_html(float_format="{:,.0f}".format)


class MixtureSliders:
    """One weight slider per domain and a log slider for the total: a Mixture in whole tokens."""

    def __init__(self, domains: Sequence[str], total: float = 200_000, max_total: float = 1e7,
                 on_change: Callable | None = None):
        w = _widgets()
        if not domains:
            raise UserError("MixtureSliders needs at least one domain")
        self.weight = {d: w.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.01, description=d,
                                        continuous_update=False) for d in domains}
        self.total = w.FloatLogSlider(value=total, base=10, min=3, max=math.log10(max_total), step=0.05,
                                      description="tokens", readout_format=".3s", continuous_update=False)
        self.summary = w.HTML()
        self._callbacks = [on_change] if on_change else []
        for s in [*self.weight.values(), self.total]:
            s.observe(self._changed, names="value")
        self._render()
        self.widget = w.VBox([*self.weight.values(), self.total, self.summary])

    @property
    def mixture(self) -> Mixture:
        return Mixture.from_weights({d: s.value for d, s in self.weight.items()}, self.total.value).rounded()

    def set_weights(self, weights) -> None:
        for d, v in weights.items():
            self.weight[d].value = float(v)

    def _changed(self, change) -> None:
        if self._render():
            for cb in self._callbacks:
                cb(self.mixture)

    def _render(self) -> bool:
        try:
            m = self.mixture
        except UserError as exc:
            self.summary.value = f"<b style='color:#b00'>{exc}</b>"
            return False
        self.summary.value = " · ".join(f"{d} {w:.1%}" for d, w in m.weights.items()) + f" — {_fmt_tokens(m.total)} tokens"
        return True


class TrainPanel:
    """A button that trains one proxy on the sliders' mixture, with a progress bar and a live loss plot."""

    def __init__(self, corpus, config, sliders: MixtureSliders):
        from autoscale_kit.proxy import prepare_tokens

        w = _widgets()
        self.corpus, self.config, self.sliders = corpus, config, sliders
        self.data = prepare_tokens(corpus, config)
        self.button = w.Button(description="Train proxy", button_style="primary", icon="play")
        self.progress = w.IntProgress(value=0, min=0, max=1, description="steps")
        self.status = w.HTML()
        self.figure = _figure_widget(title="loss while training", xaxis_title="training tokens",
                                     yaxis_title="loss (nats/token)")
        self.bars = _figure_widget(title="final validation loss per domain", yaxis_title="loss (nats/token)")
        self.result = None
        self.button.on_click(self._run)
        self.widget = w.VBox([w.HBox([self.button, self.progress]), self.status, self.figure, self.bars])

    def _run(self, _button=None) -> None:
        from autoscale_kit.proxy import Callbacks, train_proxy

        mix = self.sliders.mixture
        tokens_per_step = self.config.batch_size * self.config.seq_len
        self.progress.max = max(1, math.ceil(sum(math.ceil(n / self.config.seq_len) for _, n in mix.items())
                                             / self.config.batch_size))
        self.progress.value = 0
        with self.figure.batch_update():
            self.figure.data = []
            self.figure.add_scatter(x=[], y=[], mode="lines", name="train", line=dict(color="#999"))
            self.figure.add_scatter(x=[], y=[], mode="lines+markers", name="validation (mean)",
                                    line=dict(color=color_of(0)))
        train_x, train_y = [], []

        def on_step(step, loss):
            self.progress.value = step
            train_x.append(step * tokens_per_step)
            train_y.append(loss)
            if step % 5 == 0:
                self.figure.data[0].x, self.figure.data[0].y = train_x, train_y

        def on_eval(row):
            v = self.figure.data[1]
            v.x, v.y = list(v.x or []) + [row["tokens_seen"]], list(v.y or []) + [row["val_mean"]]

        self.button.disabled = True
        self.status.value = f"training on {_fmt_tokens(mix.total)} tokens…"
        try:
            self.result = train_proxy(self.data, mix, self.config, progress=False,
                                      callbacks=Callbacks(on_step=on_step, on_eval=on_eval))
        except UserError as exc:
            self.status.value = f"<b style='color:#b00'>{exc}</b>"
            return
        finally:
            self.button.disabled = False
        self.figure.data[0].x, self.figure.data[0].y = train_x, train_y
        r = self.result
        with self.bars.batch_update():
            self.bars.data = []
            self.bars.add_bar(x=list(r.val_loss), y=list(r.val_loss.values()),
                              marker_color=[color_of(i) for i in range(len(r.val_loss))])
        self.status.value = (f"done: {r.steps} steps, {_fmt_tokens(sum(r.tokens.values()))} tokens in "
                             f"{r.wall_time:.1f} s; mean validation loss {r.mean_val_loss:.4f}")


class PredictExplorer:
    """A log slider for the target budget moves a bar chart of the predicted optimal weights; with
    `draws` (bootstrap draws of each optimum's weights, `uncertainty.ddo_uncertainty`), every draw
    is predicted too and the bars get their interval at `level`."""

    def __init__(self, optima: Sequence[Mixture], max_factor: float = 1e4, method: str = "auto",
                 draws: Sequence | None = None, level: float = 0.9):
        from autoscale_kit.predict import predict_optimum
        from autoscale_kit.uncertainty import prediction_uncertainty

        w = _widgets()
        self.optima = list(optima)
        self.draws, self.level = draws, level
        self._predict = lambda t: predict_optimum(self.optima, t, method=method)
        self._interval = (lambda t: prediction_uncertainty(self.optima, draws, t, method=method, level=level)) \
            if draws is not None else None
        self.interval = None
        lo = math.log10(min(m.total for m in self.optima))
        hi = math.log10(max(m.total for m in self.optima) * max_factor)
        start = math.log10(max(m.total for m in self.optima) * 16)
        self.slider = w.FloatLogSlider(value=10 ** start, base=10, min=lo, max=hi, step=0.02,
                                       description="target", readout_format=".3s")
        self.info = w.HTML()
        self.figure = _figure_widget(title="predicted optimal weights", yaxis_title="weight", yaxis_range=[0, 1])
        domains = list(self.optima[0].domains)
        self.figure.add_bar(x=domains, y=[0] * len(domains), name="predicted",
                            marker_color=[color_of(i) for i in range(len(domains))])
        self.figure.add_scatter(x=domains, y=[self.optima[-1].weights[d] for d in domains], mode="markers",
                                marker=dict(symbol="line-ew-open", size=28, color="black"),
                                name=f"DDO at {_fmt_tokens(self.optima[-1].total)}")
        self.prediction = None
        self.slider.observe(self._changed, names="value")
        self._changed(None)
        self.widget = w.VBox([self.slider, self.info, self.figure])

    def _changed(self, change) -> None:
        self.prediction = self._predict(self.slider.value)
        p = self.prediction
        domains = list(self.figure.data[0].x)
        ys = [p.weights[d] for d in domains]
        self.figure.data[0].y = ys
        extra = ""
        if self._interval is not None:
            self.interval = self._interval(self.slider.value).interval
            lo = [max(y - self.interval[d][0], 0.0) for d, y in zip(domains, ys)]
            hi = [max(self.interval[d][1] - y, 0.0) for d, y in zip(domains, ys)]
            self.figure.data[0].error_y = dict(type="data", symmetric=False, array=hi, arrayminus=lo, thickness=1)
            extra = f"; bars: {100 * self.level:.0f}% interval from {len(self.draws[0])} draws"
        self.figure.layout.title.text = f"predicted optimal weights at {_fmt_tokens(p.optimum.total)} tokens"
        notes = "; ".join(p.warnings)
        self.info.value = (f"{p.method} form, path parameter {p.path_parameter:.3f}" if p.path_parameter is not None
                           else p.method) + extra + (f" — <i>{notes}</i>" if notes else "")


class OracleLab:
    """A synthetic world whose optimum is known: sliders for each domain's exponent, and the true
    optimum at the target against the AutoScale prediction and the reused small-scale optimum."""

    def __init__(self, domains: Sequence[str] = ("web", "code", "books", "wiki"), seed: int = 0,
                 budgets: tuple[float, float] = (1e8, 4e8)):
        from autoscale_kit.oracle import random_oracle

        w = _widgets()
        self.base = random_oracle("power", list(domains), seed)
        self.domains = tuple(domains)
        self.budgets = budgets
        self.exponent = {d: w.FloatSlider(value=float(g), min=0.05, max=1.5, step=0.01, description=f"γ {d}",
                                          continuous_update=False) for d, g in zip(domains, self.base.exponent)}
        self.target = w.FloatLogSlider(value=budgets[1] * 16, base=10, min=math.log10(budgets[1]),
                                       max=math.log10(budgets[1]) + 4, step=0.05, description="target",
                                       readout_format=".3s", continuous_update=False)
        self.table = w.HTML()
        self.figure = _figure_widget(title="weights at the target", yaxis_title="weight", barmode="group")
        for name in ("true optimum", "AutoScale prediction", "small-scale optimum reused", "uniform"):
            self.figure.add_bar(x=list(domains), y=[0] * len(domains), name=name)
        self.state: dict = {}
        for s in [*self.exponent.values(), self.target]:
            s.observe(self._changed, names="value")
        self._changed(None)
        self.widget = w.HBox([w.VBox([*self.exponent.values(), self.target, self.table]), self.figure])

    @property
    def oracle(self):
        """The base oracle with the sliders' exponents."""
        from dataclasses import replace

        return replace(self.base, exponent=tuple(self.exponent[d].value for d in self.domains))

    def _changed(self, change) -> None:
        from autoscale_kit.arena import oracle_arena

        target = self.target.value
        # the predictor and the reuse rule fed the true small-budget optima (no lower bound)
        arena = oracle_arena(self.oracle, self.budgets, target, ("oracle-autoscale", "oracle-reused", "uniform"),
                             min_ratio=0.0)
        names = {"oracle-autoscale": "AutoScale prediction", "oracle-reused": "small-scale optimum reused",
                 "uniform": "uniform"}
        mixes = {"true optimum": arena.truth, **{names[m]: e.mixture for m, e in arena.entries.items()}}
        self.state = {"truth": arena.truth, "mixtures": mixes,
                      "excess": {"true optimum": 0.0, **{names[m]: e.excess for m, e in arena.entries.items()}}}
        with self.figure.batch_update():
            for bar, (name, m) in zip(self.figure.data, mixes.items()):
                bar.y = [m.weights[d] for d in self.domains]
        rows = "".join(f"<tr><td>{n}</td><td>{e:.2e}</td></tr>" for n, e in self.state["excess"].items())
        self.table.value = (f"<b>excess loss at {_fmt_tokens(target)} tokens</b> (nats above the true optimum)"
                            f"<table>{rows}</table>")


class SurrogateExplorer:
    """Fit a surrogate on measured (mixture → loss) runs, see how it ranks held-out runs.

    Pick the surrogate and the validation loss; the scatter shows predicted against measured loss
    on the held-out set, the title its Spearman correlation. Fits take well under a second except
    the joint DDO law (seconds)."""

    def __init__(self, train, test, target: str | None = None, surrogate: str = "regmix-lightgbm"):
        from autoscale_kit.surrogates import SURROGATES

        w = _widgets()
        if train.domains != test.domains:
            raise UserError("the training and held-out runs have different domains")
        self.train, self.test = train, test
        columns = [c for c in train.losses.columns if c in test.losses.columns]
        if not columns:
            raise UserError("the training and held-out runs share no loss column")
        self.surrogate = w.Dropdown(options=list(SURROGATES), value=surrogate, description="surrogate")
        self.target = w.Dropdown(options=columns, value=target if target in columns else columns[0],
                                 description="loss", layout=w.Layout(width="420px"))
        self.figure = _figure_widget(xaxis_title="measured loss", yaxis_title="predicted loss")
        self.figure.add_scatter(x=[], y=[], mode="markers", name="held-out runs", marker=dict(size=5))
        self.figure.add_scatter(x=[], y=[], mode="lines", name="y = x", line=dict(dash="dot", color="gray"))
        self.state: dict = {}
        for c in (self.surrogate, self.target):
            c.observe(self._changed, names="value")
        self._changed(None)
        self.widget = w.VBox([w.HBox([self.surrogate, self.target]), self.figure])

    def _changed(self, change) -> None:
        from scipy.stats import spearmanr

        from autoscale_kit.surrogates import make_surrogate
        from autoscale_kit.tables import loss_column

        y_train = loss_column(self.train, self.target.value)
        y_test = loss_column(self.test, self.target.value)
        model = make_surrogate(self.surrogate.value).fit(self.train.weights, y_train)
        predicted = model.predict(self.test.weights)
        rho = float(spearmanr(predicted, y_test).statistic)
        self.state = {"spearman": rho, "predicted": predicted, "measured": y_test}
        lo, hi = float(min(y_test.min(), predicted.min())), float(max(y_test.max(), predicted.max()))
        with self.figure.batch_update():
            self.figure.data[0].x, self.figure.data[0].y = list(y_test), list(predicted)
            self.figure.data[1].x, self.figure.data[1].y = [lo, hi], [lo, hi]
            self.figure.layout.title = f"{self.surrogate.value}: Spearman ρ = {rho:.3f} on {len(y_test)} held-out runs"


class LandscapeQuery:
    """Pick a mixture and a budget: the objective the measured landscapes give it at each measured
    budget, and the cross-budget model's prediction at the chosen budget (`CrossBudget.predict`,
    the same call as `landscape fit --query`)."""

    def __init__(self, domains: Sequence[str], model, total: float | None = None):
        w = _widgets()
        self.domains = tuple(domains)
        self.model = model
        top = max(model.totals)
        self.sliders = MixtureSliders(self.domains, total=total or 4 * top, max_total=max(64 * top, 1e4),
                                      on_change=lambda m: self._update())
        self.sliders.total.min = math.log10(top)
        self.out = w.HTML()
        self.state: dict = {}
        self._update()
        self.widget = w.VBox([self.sliders.widget, self.out])

    def _update(self) -> None:
        import numpy as np

        try:
            m = self.sliders.mixture
        except UserError as exc:
            self.out.value = f"<b style='color:#b00'>{exc}</b>"
            return
        W = np.array([[m.weights[d] for d in self.domains]])
        measured = {t: float(s(W)[0]) for t, s in zip(self.model.totals, self.model.surfaces)}
        predicted = float(self.model.predict(W, m.total)[0])
        self.state = {"measured": measured, "predicted": predicted, "total": m.total}
        rows = "".join(f"<tr><td>{_fmt_tokens(t)}</td><td>{v:.4f}</td><td>fitted to runs</td></tr>"
                       for t, v in measured.items())
        rows += (f"<tr><td><b>{_fmt_tokens(m.total)}</b></td><td><b>{predicted:.4f}</b></td>"
                 f"<td>cross-budget model (λ = {self.model.shrink:.2f})</td></tr>")
        self.out.value = f"<table><tr><th>budget</th><th>objective</th><th>from</th></tr>{rows}</table>"
