"""Widget wiring: callbacks change state as expected (no browser needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ipywidgets")

from autoscale_kit.data import corpus as corpus_mod
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.proxy.config import preset
from autoscale_kit.core import fmt
from autoscale_kit.present.widgets import DomainPicker, MixtureSliders, OracleLab, PredictExplorer, TrainPanel


@pytest.fixture(scope="module")
def small_corpus():
    return corpus_mod.load(domains=["code", "books", "qa"])


def table_cells(html: str) -> list[list[str]]:
    """The text of every cell of the HTML tables a widget shows, row by row: what a person reads."""
    from html.parser import HTMLParser

    class Cells(HTMLParser):
        rows: list = []

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                self.rows.append([])
            elif tag in ("td", "th"):
                self.rows[-1].append("")

        def handle_data(self, data):
            if self.rows and self.rows[-1]:
                self.rows[-1][-1] += data.strip()

    parser = Cells()
    parser.rows = []
    parser.feed(html)
    return [r for r in parser.rows if r]


def test_domain_picker_reports_choice(small_corpus):
    seen = []
    picker = DomainPicker(small_corpus, on_change=seen.append)
    assert picker.domains == ("code", "books", "qa")
    picker.select.value = ("qa", "code")
    assert picker.domains == ("qa", "code") and seen == [("qa", "code")]
    shown = table_cells(picker.table.value)
    header = shown[0]
    rows = {r[0]: dict(zip(header, r)) for r in shown[1:]}
    assert list(rows) == ["qa", "code"]                      # the chosen domains, in the chosen order
    # blocks and documents are counts (1,234), token columns read 1.2M, as in 01's statistics table
    row = picker.stats[(picker.stats.domain == "qa") & (picker.stats.split == "train")].iloc[0]
    assert rows["qa"]["blocks (train)"] == f"{int(row['blocks']):,}"
    assert rows["qa"]["tokens (train)"] == fmt.tokens(row["tokens"])


def test_mixture_sliders_make_a_whole_token_mixture():
    seen = []
    s = MixtureSliders(["a", "b"], total=10_000, on_change=seen.append)
    s.weight["a"].value = 0.25
    assert s.mixture.tokens == {"a": 2000.0, "b": 8000.0}
    s.total.value = 40_000
    assert s.mixture.total == 40_000 and seen[-1] == s.mixture
    s.set_weights({"a": 0.0, "b": 0.0})
    assert "not all be zero" in s.summary.value


def _tiny_panel(corpus):
    sliders = MixtureSliders(corpus.domains, total=6_000)
    cfg = preset("tiny", n_layer=1, n_embd=32, n_head=2, seq_len=64, batch_size=8, eval_points=2,
                 val_tokens=1024, curve_val_tokens=1024)
    return sliders, TrainPanel(corpus, cfg, sliders)


def test_train_panel_trains_on_click(small_corpus):
    sliders, panel = _tiny_panel(small_corpus)
    panel.button.click()
    assert panel.result is not None and sum(panel.result.tokens.values()) == 6_000
    assert panel.progress.value == panel.progress.max == panel.result.steps
    assert len(panel.figure.data[1].x) == 3                 # two evaluations along the way + the final one
    assert list(panel.bars.data[0].x) == list(small_corpus.domains)
    assert "done" in panel.status.value


def test_train_panel_shows_errors(small_corpus):
    sliders = MixtureSliders(small_corpus.domains, total=3e7, max_total=1e8)  # 10M each: more than there is
    panel = TrainPanel(small_corpus, preset("tiny", val_tokens=1024, curve_val_tokens=1024), sliders)
    panel.button.click()
    assert panel.result is None and "repetition" in panel.status.value and not panel.button.disabled


def test_predict_explorer_follows_the_slider():
    optima = [Mixture({"a": 50, "b": 50}), Mixture({"a": 150, "b": 250})]
    ex = PredictExplorer(optima)
    ex.slider.value = 10_000
    assert ex.prediction.optimum.total == pytest.approx(10_000)
    w_small = ex.prediction.weights["b"]
    ex.slider.value = 100_000
    assert ex.prediction.weights["b"] > w_small             # b grows faster than a along the path
    assert list(ex.figure.data[0].y) == [ex.prediction.weights["a"], ex.prediction.weights["b"]]


def test_predict_explorer_draws_the_interval_of_the_draws():
    import numpy as np

    optima = [Mixture({"a": 50, "b": 50}), Mixture({"a": 150, "b": 250})]
    rng = np.random.default_rng(0)
    draws = [np.clip([0.5, 0.5] + rng.normal(0, 0.02, (50, 1)) * [1, -1], 0.05, 0.95),
             np.clip([0.375, 0.625] + rng.normal(0, 0.02, (50, 1)) * [1, -1], 0.05, 0.95)]
    ex = PredictExplorer(optima, draws=draws, level=0.8)
    ex.slider.value = 10_000
    lo, hi = ex.interval["b"]
    assert lo < ex.prediction.weights["b"] < hi
    err = ex.figure.data[0].error_y
    assert err.array[1] == pytest.approx(hi - ex.prediction.weights["b"])
    assert "80% interval" in ex.info.value


def test_oracle_lab_moves_the_true_optimum():
    lab = OracleLab(("w", "x", "y"), seed=1)
    before = lab.state["truth"].weights["w"]
    lab.exponent["w"].value = 1.4   # w's loss saturates fast: it needs less data
    after = lab.state["truth"].weights["w"]
    assert after != pytest.approx(before)
    assert lab.state["excess"]["true optimum"] == pytest.approx(0.0, abs=1e-12)
    # under pure power laws the AutoScale prediction from exact optima is exact
    assert lab.state["excess"]["AutoScale prediction"] == pytest.approx(0.0, abs=1e-9)
    assert lab.state["excess"]["uniform"] > 0


def test_surrogate_explorer_refits_on_change():
    from autoscale_kit.core.tables import read_mixture_losses
    from autoscale_kit.present.widgets import SurrogateExplorer

    rng = np.random.default_rng(0)
    W = rng.dirichlet(np.ones(3), 80)
    losses = pd.DataFrame({"lin": 2 + W @ np.array([0.3, -0.2, 0.5]), "bowl": 1 + ((W - 0.3) ** 2).sum(axis=1)})
    mix = pd.DataFrame(W, columns=["a", "b", "c"])
    train = read_mixture_losses(mix.iloc[:60], losses.iloc[:60])
    test = read_mixture_losses(mix.iloc[60:].reset_index(drop=True), losses.iloc[60:].reset_index(drop=True))
    ex = SurrogateExplorer(train, test, target="lin", surrogate="linear")
    assert ex.state["spearman"] == pytest.approx(1.0)
    assert list(ex.figure.data[0].x) == list(losses["lin"].iloc[60:])
    ex.target.value = "bowl"  # a plane cannot rank a bowl
    assert ex.state["spearman"] < 0.9
    ex.surrogate.value = "regmix-lightgbm"
    assert ex.state["spearman"] > 0.8 and "regmix-lightgbm" in ex.figure.layout.title.text


def test_train_panel_keeps_a_history_of_runs(small_corpus):
    sliders, panel = _tiny_panel(small_corpus)
    panel.button.click()
    sliders.set_weights({"code": 1.0, "books": 0.0, "qa": 0.0})
    panel.button.click()
    assert len(panel.history) == 2 and panel.history[1][0].weights["code"] == 1.0
    names = [t.name for t in panel.figure.data]
    assert names == ["run 1 train", "run 1 validation (mean)", "run 2 train", "run 2 validation (mean)"]
    assert len(panel.figure.data[1].x) == 3 and len(panel.figure.data[3].x) == 3    # the first curve stays
    assert [b.name for b in panel.bars.data] == ["run 1", "run 2"]
    assert "run 2" in panel.table.value and "(best)" in panel.table.value and "nats/byte" in panel.table.value
    panel.clear()
    assert panel.history == [] and not panel.figure.data and not panel.bars.data


def test_token_sliders_read_like_token_counts():
    from autoscale_kit.present.widgets import token_slider

    slider, box = token_slider(250_000, 1e3, 1e10, "tokens")
    assert box.children[1].value == "250k" and not slider.readout
    slider.value = 4.2e9
    assert box.children[1].value == "4.2B"


def test_oracle_lab_trajectory_follows_the_sliders():
    lab = OracleLab(("w", "x", "y"), seed=1)
    before = [list(t.y) for t in lab.trajectory.data]
    lab.exponent["x"].value = 0.1
    after = [list(t.y) for t in lab.trajectory.data]
    assert after != before
    assert after[1] == pytest.approx([p["x"] for p in lab.state["trajectory"]])
    assert lab.state["trajectory"][-1] == pytest.approx(lab.oracle.optimum(lab.totals[-1]).weights)


def test_retrain_button_trains_into_the_users_store(tmp_path):
    from types import SimpleNamespace

    from autoscale_kit.runs.store import RunStore
    from autoscale_kit.present.widgets import RetrainButton

    got, seen = [], []

    def train(store):
        seen.append(store)
        return SimpleNamespace(trained=("k1", "k2"))

    shipped = RunStore(tmp_path / "shipped", frozen="read-only")
    b = RetrainButton(train, tmp_path / "mine", source=shipped, on_result=got.append)
    assert "shipped results" in b.status.value
    b.button.click()
    assert seen[0].root == tmp_path / "mine" and not seen[0].frozen
    assert got == [b.result] and "2 runs trained" in b.status.value


def test_ddo_plan_panel_trains_the_picked_plan(tmp_path, monkeypatch):
    from autoscale_kit.core import memo
    from autoscale_kit.study.config import study_config
    from autoscale_kit.present.widgets import DDOPlanPanel

    monkeypatch.setenv(memo.STUDIES_ENV, str(tmp_path / "no_studies"))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    cfg = study_config("smoke")
    panel = DDOPlanPanel("smoke", tmp_path / "runs", ratios=(0.2, 3.0))
    n = (1 + 2 * len(cfg.domains)) * len(cfg.ddo_seeds)
    assert f"All {n} to train</b> into" in panel.plan_view.value and "none is finished there yet" in panel.plan_view.value
    assert "×0.2, ×3" in panel.plan_view.value
    panel.picker.value = (0.2, 0.5, 3.0)             # the preview follows the picker
    m = (1 + 3 * len(cfg.domains)) * len(cfg.ddo_seeds)
    assert f"All {m} to train" in panel.plan_view.value
    panel.picker.value = (0.2, 3.0)
    rd = panel.train()
    assert rd is panel.round and panel.config.ratios == (0.2, 3.0) and len(rd.records) == n
    assert list(panel.figure.data[1].y) == [rd.ddo.weights[d] for d in rd.ddo.weights]
    assert f"All {n} are finished" in panel.plan_view.value
    panel.picker.value = (0.2, 0.5, 3.0)            # the shared runs are read, only the new ratio trains
    new = len(cfg.domains) * len(cfg.ddo_seeds)
    assert f"{new} of {m} to train" in panel.plan_view.value
    assert f"the other {m - new} are finished there and are read" in panel.plan_view.value


def test_mixture_sliders_refuse_an_unknown_domain_or_a_bad_weight_before_moving():
    s = MixtureSliders(["a", "b"], total=10_000)
    for bad, words in (({"c": 0.5}, "unknown domain 'c'"), ({"a": "x"}, "must be a number"),
                       ({"a": 0.3, "b": 1.5}, "between 0 and 1"), (["a"], "takes {domain: weight}")):
        with pytest.raises(UserError, match=words):
            s.set_weights(bad)
    assert s.weight["a"].value == 1.0                       # nothing moved
    s.set_weights({"a": 0.25})
    assert s.mixture.tokens == {"a": 2000.0, "b": 8000.0}
