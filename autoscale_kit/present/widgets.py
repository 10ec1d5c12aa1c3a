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
from typing import Callable, Mapping, Sequence

from autoscale_kit.core import fmt
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.core.tables import loss_column
from autoscale_kit.data.corpus import statistics
from autoscale_kit.data.tokendata import prepare_tokens
from autoscale_kit.fit.predict import predict_optimum
from autoscale_kit.fit.surrogates import SURROGATES, make_surrogate
from autoscale_kit.fit.uncertainty import prediction_uncertainty
from autoscale_kit.methods.arena import oracle_arena
from autoscale_kit.methods.oracle import random_oracle
from autoscale_kit.methods.registry import ddo_plan, ddo_round
from autoscale_kit.present import plots
from autoscale_kit.present.plots import color_of
from autoscale_kit.proxy.families import loss_unit
from autoscale_kit.proxy.train import Callbacks, train_proxy
from autoscale_kit.runs.store import RunStore
from autoscale_kit.study.config import study_config
from autoscale_kit.study.lab import CorpusLab
from autoscale_kit.study.shipped import provenance, study_runs


def _widgets():
    import ipywidgets

    return ipywidgets


def _figure_widget(**layout):
    import plotly.graph_objects as go

    fig = go.FigureWidget()
    fig.update_layout(height=360, margin=dict(l=50, r=20, t=50, b=40), **layout)
    return fig


def token_slider(value: float, lo: float, hi: float, description: str, **kwargs):
    """A log slider over token counts whose readout says 250k / 1M / 4.2B (ipywidgets' own readout
    says 4.2G and is clipped at the default width). Returns (slider, box to display)."""
    w = _widgets()
    slider = w.FloatLogSlider(value=value, base=10, min=math.log10(lo), max=math.log10(hi), step=0.02,
                              description=description, readout=False, **kwargs)
    label = w.Label(fmt.tokens(slider.value), layout=w.Layout(min_width="5em"))
    slider.observe(lambda change: setattr(label, "value", fmt.tokens(change["new"])), names="value")
    return slider, w.HBox([slider, label])


def html_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    head = "".join(f"<th style='text-align:left;padding-right:1em'>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td style='padding-right:1em'>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


class DomainPicker:
    """Pick domains of a corpus; shows their statistics."""

    def __init__(self, corpus, selected: Sequence[str] | None = None, on_change: Callable | None = None):
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
        view = view.reindex(list(self.domains)).reset_index()     # one header row, the domain a column
        counts = {c: (fmt.tokens if c.startswith("tokens") else lambda v: f"{int(v):,}")   # as in 01's table
                  for c in view.columns if c != "domain"}
        self.table.value = view.to_html(index=False, formatters=counts)


class MixtureSliders:
    """One weight slider per domain and a log slider for the total: a Mixture in whole tokens."""

    def __init__(self, domains: Sequence[str], total: float = 200_000, max_total: float = 1e7,
                 on_change: Callable | None = None):
        w = _widgets()
        if not domains:
            raise UserError("MixtureSliders needs at least one domain")
        self.weight = {d: w.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.01, description=d,
                                        readout_format=".2f", continuous_update=False) for d in domains}
        self.total, total_box = token_slider(total, 1e3, max_total, "tokens", continuous_update=False)
        self.summary = w.HTML()
        self._callbacks = [on_change] if on_change else []
        for s in [*self.weight.values(), self.total]:
            s.observe(self._changed, names="value")
        self._render()
        self.widget = w.VBox([*self.weight.values(), total_box, self.summary])

    @property
    def mixture(self) -> Mixture:
        return Mixture.from_weights({d: s.value for d, s in self.weight.items()}, self.total.value).rounded()

    def set_weights(self, weights) -> None:
        """Move the sliders to `weights` ({domain: weight in [0, 1]}); all checked before any moves."""
        if not isinstance(weights, Mapping):
            raise UserError(f"set_weights takes {{domain: weight}}, got {type(weights).__name__}")
        unknown = [d for d in weights if d not in self.weight]
        if unknown:
            raise UserError(f"set_weights: unknown domain {unknown[0]!r}; the sliders are {', '.join(self.weight)}")
        values = {}
        for d, v in weights.items():
            try:
                values[d] = float(v)
            except (TypeError, ValueError):
                raise UserError(f"set_weights: the weight of {d!r} must be a number, got {v!r}") from None
            if not 0.0 <= values[d] <= 1.0:
                raise UserError(f"set_weights: the weight of {d!r} must be between 0 and 1, got {v!r}")
        for d, v in values.items():
            self.weight[d].value = v

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
        self.summary.value = " · ".join(f"{d} {fmt.weight(w)}" for d, w in m.weights.items()) + \
            f" — {fmt.tokens(m.total)} tokens"
        return True


class TrainPanel:
    """A button that trains one proxy on the sliders' mixture, with a progress bar and a live loss
    plot. Every run is kept (`history`): its validation curve stays on the plot, its final losses
    join the bars and a table of mixtures, so two mixtures can be compared; `clear` forgets them."""

    def __init__(self, corpus, config, sliders: MixtureSliders):
        w = _widgets()
        self.corpus, self.config, self.sliders = corpus, config, sliders
        self.unit = loss_unit(config.tokenizer)
        self.data = prepare_tokens(corpus, config)
        self.button = w.Button(description="Train proxy", button_style="primary", icon="play")
        self.clear_button = w.Button(description="Clear history", icon="trash")
        self.progress = w.IntProgress(value=0, min=0, max=1, description="steps")
        self.status = w.HTML()
        self.figure = _figure_widget(title="loss while training (every run kept)", xaxis_title="training tokens",
                                     yaxis_title=f"loss ({self.unit})")
        self.bars = _figure_widget(title="final validation loss per domain", yaxis_title=f"loss ({self.unit})",
                                   barmode="group")
        self.table = w.HTML()
        self.result = None
        self.history: list[tuple[Mixture, object]] = []
        self.button.on_click(self._run)
        self.clear_button.on_click(self.clear)
        self.widget = w.VBox([w.HBox([self.button, self.clear_button, self.progress]), self.status, self.figure,
                              self.bars, self.table])

    def clear(self, _button=None) -> None:
        self.history = []
        self.result = None
        with self.figure.batch_update():
            self.figure.data = []
        with self.bars.batch_update():
            self.bars.data = []
        self.table.value = ""
        self.status.value = "history cleared"

    def _render_history(self) -> None:
        """The bars (one group per domain, one bar per run) and the table of mixtures and losses."""
        domains = list(self.history[0][1].val_loss)
        with self.bars.batch_update():
            self.bars.data = []
            for i, (mix, r) in enumerate(self.history):
                self.bars.add_bar(x=domains, y=[r.val_loss[d] for d in domains], name=f"run {i + 1}",
                                  marker_color=color_of(i))
        best = min(r.mean_val_loss for _, r in self.history)
        rows = [[f"run {i + 1}", fmt.tokens(mix.total), fmt.weights(mix.weights),
                 fmt.loss(r.mean_val_loss, self.unit) + (" (best)" if r.mean_val_loss == best and
                                                          len(self.history) > 1 else "")]
                for i, (mix, r) in enumerate(self.history)]
        self.table.value = html_table(rows, ["run", "tokens", "weights", "mean validation loss"])

    def _run(self, _button=None) -> None:
        mix = self.sliders.mixture
        tokens_per_step = self.config.batch_size * self.config.seq_len
        self.progress.max = max(1, math.ceil(sum(math.ceil(n / self.config.seq_len) for _, n in mix.items())
                                             / self.config.batch_size))
        self.progress.value = 0
        i = len(self.history)
        with self.figure.batch_update():
            for trace in self.figure.data:      # earlier runs' training loss fades; their validation stays
                if trace.name.endswith("train"):
                    trace.visible = "legendonly"
            self.figure.add_scatter(x=[], y=[], mode="lines", name=f"run {i + 1} train",
                                    line=dict(color=color_of(i), width=1), opacity=0.4)
            self.figure.add_scatter(x=[], y=[], mode="lines+markers", name=f"run {i + 1} validation (mean)",
                                    line=dict(color=color_of(i)))
        train_trace, val_trace = self.figure.data[-2], self.figure.data[-1]
        train_x, train_y = [], []

        def on_step(step, loss):
            self.progress.value = step
            train_x.append(step * tokens_per_step)
            train_y.append(loss)
            if step % 5 == 0:
                train_trace.x, train_trace.y = train_x, train_y

        def on_eval(row):
            val_trace.x = list(val_trace.x or []) + [row["tokens_seen"]]
            val_trace.y = list(val_trace.y or []) + [row["val_mean"]]

        self.button.disabled = True
        self.status.value = f"training on {fmt.tokens(mix.total)} tokens…"
        try:
            self.result = train_proxy(self.data, mix, self.config, progress=False,
                                      callbacks=Callbacks(on_step=on_step, on_eval=on_eval))
        except UserError as exc:
            self.status.value = f"<b style='color:#b00'>{exc}</b>"
            return
        finally:
            self.button.disabled = False
        train_trace.x, train_trace.y = train_x, train_y
        r = self.result
        self.history.append((mix, r))
        self._render_history()
        self.status.value = (f"run {len(self.history)} done: {r.steps} steps, {fmt.tokens(sum(r.tokens.values()))} "
                             f"tokens in {r.wall_time:.1f} s; mean validation loss {fmt.loss(r.mean_val_loss, self.unit)}")


class PredictExplorer:
    """A log slider for the target budget moves a bar chart of the predicted optimal weights; with
    `draws` (bootstrap draws of each optimum's weights, `uncertainty.ddo_uncertainty`), every draw
    is predicted too and the bars get their interval at `level`."""

    def __init__(self, optima: Sequence[Mixture], max_factor: float = 1e4, method: str = "auto",
                 draws: Sequence | None = None, level: float = 0.9):
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
        self.slider, slider_box = token_slider(10 ** start, 10 ** lo, 10 ** hi, "target")
        self.info = w.HTML()
        self.figure = _figure_widget(title="predicted optimal weights", yaxis_title="weight", yaxis_range=[0, 1])
        domains = list(self.optima[0].domains)
        self.figure.add_bar(x=domains, y=[0] * len(domains), name="predicted", marker_color=color_of(0))
        self.figure.add_scatter(x=domains, y=[self.optima[-1].weights[d] for d in domains], mode="markers",
                                marker=dict(symbol="line-ew-open", size=28, color="black"),
                                name=f"DDO at {fmt.tokens(self.optima[-1].total)}")
        self.prediction = None
        self.slider.observe(self._changed, names="value")
        self._changed(None)
        self.widget = w.VBox([slider_box, self.info, self.figure])

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
        top = max(m.total for m in self.optima)
        self.figure.layout.title.text = (f"predicted optimal weights at {fmt.tokens(p.optimum.total)} tokens "
                                         f"({fmt.multiple(p.optimum.total / top)} the largest DDO budget)")
        notes = "; ".join(p.warnings)
        self.info.value = (f"{p.method} form, path parameter {p.path_parameter:.3f}" if p.path_parameter is not None
                           else p.method) + extra + (f" — <i>{notes}</i>" if notes else "")


class OracleLab:
    """A synthetic world whose optimum is known: sliders for each domain's exponent, and the true
    optimum at the target against the AutoScale prediction and the reused small-scale optimum."""

    def __init__(self, domains: Sequence[str] = ("web", "code", "books", "wiki"), seed: int = 0,
                 budgets: tuple[float, float] = (1e8, 4e8)):
        w = _widgets()
        self.base = random_oracle("power", list(domains), seed)
        self.domains = tuple(domains)
        self.budgets = budgets
        wide = dict(style={"description_width": "5em"}, layout=w.Layout(width="22em"))
        self.exponent = {d: w.FloatSlider(value=float(g), min=0.05, max=1.5, step=0.01, description=f"γ {d}",
                                          readout_format=".2f", continuous_update=False, **wide)
                         for d, g in zip(domains, self.base.exponent)}
        self.target, target_box = token_slider(budgets[1] * 16, budgets[1], budgets[1] * 1e4, "target",
                                               continuous_update=False, **wide)
        self.table = w.HTML()
        self.figure = _figure_widget(title="weights at the target", yaxis_title="weight", barmode="group")
        for i, name in enumerate(("true optimum", "AutoScale prediction", "small-scale optimum reused", "uniform")):
            self.figure.add_bar(x=list(domains), y=[0] * len(domains), name=name, marker_color=color_of(i))
        # the true optimum from 10^7 to 10^12 tokens, redrawn with the sliders
        self.totals = [10 ** (7 + k / 2) for k in range(11)]
        self.trajectory = _figure_widget(title="true optimal weights against scale", yaxis_title="weight",
                                         xaxis_title="training tokens", xaxis_type="log",
                                         xaxis=plots.token_ticks_plotly(self.totals[::2]))
        for i, d in enumerate(domains):
            self.trajectory.add_scatter(x=self.totals, y=[0] * len(self.totals), mode="lines+markers", name=d,
                                        line=dict(color=color_of(i)))
        self.state: dict = {}
        for s in [*self.exponent.values(), self.target]:
            s.observe(self._changed, names="value")
        self._changed(None)
        self.widget = w.VBox([w.HBox([w.VBox([*self.exponent.values(), target_box, self.table]), self.figure]),
                              self.trajectory])

    @property
    def oracle(self):
        """The base oracle with the sliders' exponents."""
        from dataclasses import replace

        return replace(self.base, exponent=tuple(self.exponent[d].value for d in self.domains))

    def _changed(self, change) -> None:
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
            self.figure.layout.title.text = f"weights at the target, {fmt.tokens(target)} tokens"
        oracle = self.oracle
        path = [oracle.optimum(t).weights for t in self.totals]
        self.state["trajectory"] = path
        with self.trajectory.batch_update():
            for trace, d in zip(self.trajectory.data, self.domains):
                trace.y = [p[d] for p in path]
        shown = fmt.alike(self.state["excess"].values())     # one format for the column
        rows = [[n, shown(e)] for n, e in self.state["excess"].items()]
        self.table.value = (f"<b>excess loss at {fmt.tokens(target)} tokens</b><br>(nats above the true optimum)"
                            + html_table(rows, ["mixture", "excess"]))


class SurrogateExplorer:
    """Fit a surrogate on measured (mixture → loss) runs, see how it ranks held-out runs.

    Pick the surrogate and the validation loss; the scatter shows predicted against measured loss
    on the held-out set, the title its Spearman correlation. Fits take well under a second except
    the joint DDO law (seconds)."""

    def __init__(self, train, test, target: str | None = None, surrogate: str = "regmix-lightgbm"):
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

    def __init__(self, domains: Sequence[str], model, total: float | None = None, unit: str = fmt.BYTE_UNIT):
        w = _widgets()
        self.domains = tuple(domains)
        self.model, self.unit = model, unit
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
        rows = "".join(f"<tr><td>{fmt.tokens(t)}</td><td>{fmt.loss(v, None)}</td><td>fitted to runs</td></tr>"
                       for t, v in measured.items())
        rows += (f"<tr><td><b>{fmt.tokens(m.total)}</b></td><td><b>{fmt.loss(predicted, None)}</b></td>"
                 f"<td>cross-budget model (λ = {self.model.shrink:.2f})</td></tr>")
        self.out.value = (f"<table><tr><th>budget</th><th>objective ({self.unit})</th><th>from</th></tr>{rows}"
                          "</table>")


class RetrainButton:
    """Where the results shown come from, and a button that trains them here instead.

    `source` is the store the notebook read (a shipped study's is frozen); `train(store)` is the
    notebook's own call (e.g. `lambda s: run_study(config, s)`), run on the user's `store` with
    progress bars in the panel; its result goes to `on_result`, after which the cells below can be
    re-run to redraw from it."""

    def __init__(self, train: Callable, store, source=None, on_result: Callable | None = None,
                 study: str | None = None):
        w = _widgets()
        self._train, self.store, self.on_result = train, RunStore(store) if not isinstance(store, RunStore) else store, on_result
        self.result = None
        shipped = source is not None and getattr(source, "frozen", None)
        cost = ""
        if shipped and study:
            made = provenance(study)     # the whole shipped study: what this button trains may be a part of it
            wall = made.get("wall_time_s")
            cost = f" (the {made.get('runs')} shipped runs took {wall / 60:.0f} min to make)" if wall else ""
        self.status = w.HTML(
            ("<b>Showing the shipped results</b> (nothing was trained)." if shipped else
             f"<b>Showing this machine's runs</b> from <code>{self.store.root}</code>."))
        self.button = w.Button(description="Retrain here" + cost, button_style="warning", icon="refresh",
                               layout=w.Layout(width="auto"))
        self.output = w.Output()
        self.button.on_click(self._run)
        self.widget = w.VBox([w.HBox([self.button, self.status]), self.output])

    def _run(self, _button=None) -> None:
        self.button.disabled = True
        self.status.value = f"training into <code>{self.store.root}</code>… (finished runs there are read, not retrained)"
        try:
            with self.output:
                self.result = self._train(self.store)
        except UserError as exc:
            self.status.value = f"<b style='color:#b00'>{exc}</b>"
            return
        finally:
            self.button.disabled = False
        trained = len(getattr(self.result, "trained", ()) or ())
        if self.on_result is not None:
            self.on_result(self.result)
        self.status.value = (f"<b>Trained here</b>: {trained} runs trained, the rest read from "
                             f"<code>{self.store.root}</code>. Re-run the cells below to redraw them from these results.")


class DDOPlanPanel:
    """Pick DDO's perturbation ratios: the plan they make, how many of its runs are already
    finished, and a button that trains (or reads) exactly that plan and fits DDO on it.

    The runs come from the shipped study when it holds the whole plan (and `retrain` is off),
    else from the user's `store`, which trains what it lacks. `.config`, `.runs` (the store used)
    and `.round` (the `methods.DDORound`) hold the last plan trained; `on_round(panel)` is called
    after each."""

    CHOICES = (0.2, 1 / 3, 0.5, 2.0, 3.0)

    def __init__(self, scale: str, store, *, ratios: Sequence[float] = (0.2, 3.0), retrain: bool = False,
                 total: float | None = None, on_round: Callable | None = None, family: str = "gpt2"):
        w = _widgets()
        self.scale, self.family, self.store, self.retrain = scale, family, store, retrain
        self.on_round = on_round
        choices = sorted(set(self.CHOICES) | {float(r) for r in ratios})
        self.picker = w.SelectMultiple(options=[(fmt.multiple(r), r) for r in choices],
                                       value=tuple(float(r) for r in ratios), rows=len(choices), description="ratios")
        self.total = float(total or study_config(scale, family=family).budgets[-1])
        self.plan_view = w.HTML()
        self.button = w.Button(description="Train this plan", button_style="primary", icon="play",
                               layout=w.Layout(width="auto"))
        self.status = w.HTML()
        self.output = w.Output()
        self.figure = _figure_widget(title="DDO's optimal weights", yaxis_title="weight", barmode="group")
        self.config = self.runs = self.round = None
        self.picker.observe(self._show_plan, names="value")
        self.button.on_click(self.train)
        self._show_plan()
        self.widget = w.VBox([w.HBox([self.picker, self.plan_view]), w.HBox([self.button, self.status]),
                              self.output, self.figure])

    @property
    def ratios(self) -> tuple[float, ...]:
        return tuple(sorted(self.picker.value))

    def plan(self, ratios: Sequence[float] | None = None):
        """(config, store, specs still to train, every spec) for the picked ratios."""
        ratios = tuple(ratios or self.ratios)
        if not ratios:
            raise UserError("pick at least one ratio")
        config = study_config(self.scale, family=self.family, ratios=ratios)
        runs = study_runs(config, self.store, retrain=self.retrain)
        lab = CorpusLab(config, runs, progress=False)
        specs = [lab.spec(p) for _, p in ddo_plan(lab, self.total)]
        missing = [s for s in specs if not runs.is_done(s.key)]
        if missing and runs.frozen:      # the shipped study lacks part of this plan: the user's store trains it
            runs = self.store if isinstance(self.store, RunStore) else RunStore(self.store)
            missing = [s for s in specs if not runs.is_done(s.key)]
        return config, runs, missing, specs

    def _show_plan(self, change=None) -> None:
        try:
            config, runs, missing, specs = self.plan()
        except UserError as exc:
            self.plan_view.value = f"<b style='color:#b00'>{exc}</b>"
            self.button.disabled = True
            return
        self.button.disabled = False
        where = "the shipped study" if runs.frozen else f"<code>{runs.root}</code>"
        seeds = len(config.ddo_seeds)
        self.plan_view.value = (
            f"{len(specs) // seeds} runs at {fmt.tokens(self.total)} tokens × {seeds} seed{'s' * (seeds > 1)}: "
            f"the base and each domain at {', '.join(fmt.multiple(r) for r in self.ratios)}.<br>"
            + (f"All {len(specs)} are finished in {where}: training reads them." if not missing else
               f"<b>All {len(specs)} to train</b> into {where}: none is finished there yet."
               if len(missing) == len(specs) else
               f"<b>{len(missing)} of {len(specs)} to train</b> into {where}; the other {len(specs) - len(missing)} "
               f"are finished there and are read."))

    def train(self, _button=None):
        """Train (or read) the picked plan and fit DDO on it."""
        self.button.disabled = True
        try:
            config, runs, _, _ = self.plan()
            self.status.value = f"training / reading the plan for ratios {', '.join(fmt.multiple(r) for r in self.ratios)}…"
            with self.output:
                rd = ddo_round(CorpusLab(config, runs), self.total)
        except UserError as exc:
            self.status.value = f"<b style='color:#b00'>{exc}</b>"
            return None
        finally:
            self.button.disabled = False
        self.config, self.runs, self.round = config, runs, rd
        domains = list(rd.ddo.weights)
        with self.figure.batch_update():
            self.figure.data = []
            self.figure.add_bar(x=domains, y=[1 / len(domains)] * len(domains), name="uniform",
                                marker_color=plots.mixture_color("uniform"))
            iv = rd.answer_interval
            err = None
            if iv:
                ys = [rd.ddo.weights[d] for d in domains]
                err = dict(type="data", symmetric=False, array=[max(iv[d][1] - y, 0) for d, y in zip(domains, ys)],
                           arrayminus=[max(y - iv[d][0], 0) for d, y in zip(domains, ys)], thickness=1)
            label = f"{rd.ddo.surrogate} DDO"
            self.figure.add_bar(x=domains, y=[rd.ddo.weights[d] for d in domains], name=label,
                                marker_color=plots.mixture_color(label), error_y=err)
            self.figure.layout.title.text = (f"DDO's optimal weights at {fmt.tokens(self.total)} tokens, ratios "
                                             f"{', '.join(fmt.multiple(r) for r in config.ratios)}")
        self.status.value = (f"fitted on {len(rd.records)} runs for ratios "
                             f"{', '.join(fmt.multiple(r) for r in config.ratios)}. The cells below draw this plan "
                             f"when they are run again.")
        self._show_plan()       # now read, not trained
        if self.on_round is not None:
            self.on_round(self)
        return rd
