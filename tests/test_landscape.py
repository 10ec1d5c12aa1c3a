"""The measured landscape: design, surfaces, intervals, the cross-budget model, the CLI, the arena."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from autoscale_kit.core.bootstrap import bootstrap, clusters_of, resample, wild_signs
from autoscale_kit.cli.main import main
from autoscale_kit.core.errors import UserError
from autoscale_kit.study.landscapes import landscape_config
from autoscale_kit.landscape.design import LandscapeConfig, design_points, landscape_specs, simplex_grid
from autoscale_kit.landscape.runs import read_landscape
from autoscale_kit.landscape.cross import cross_budget
from autoscale_kit.landscape.budget import fit_budget
from autoscale_kit.landscape.fit import fit_landscape, read_query
from autoscale_kit.landscape.folder import read_landscape_folder, shipped_landscape
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.methods.oracle import random_oracle
from autoscale_kit.fit.surface import (choose_surface, fit_surface, hull_vertices, minimise_on_simplex,
                                   simplex_lattice)

DOMS = ("a", "b", "c")


def oracle_table(oracle, totals, step, seeds=(0, 1), noise=0.03, seed=0) -> pd.DataFrame:
    """A landscape runs table measured on an oracle: the grid at each total, one row per seed."""
    frames = []
    for i, total in enumerate(totals):
        mixes = [Mixture.from_weights(p, total) for p in simplex_grid(oracle.domains, step)]
        for s in seeds:
            frames.append(oracle.measure(mixes, noise=noise, seed=1000 * seed + 10 * i + s).assign(seed=s))
    return pd.concat(frames, ignore_index=True)


# --- design ----------------------------------------------------------------------------------

def test_grid_holds_corners_edges_and_the_centroid_once():
    g = simplex_grid(DOMS, 0.25)
    assert len(g) == 15
    assert {"a": 1.0, "b": 0.0, "c": 0.0} in g and {"a": 0.5, "b": 0.5, "c": 0.0} in g
    assert all(abs(sum(p.values()) - 1) < 1e-12 for p in g)
    pts = design_points(DOMS, 0.25)                    # centroid not on a 0.25 grid: added as {d: 1}
    assert len(pts) == 16 and pts[-1] == {d: 1.0 for d in DOMS}
    pts = design_points(DOMS, 1 / 3)                   # on the grid: replaced by {d: 1}, not doubled
    assert len(pts) == 10 and sum(p == {d: 1.0 for d in DOMS} for p in pts) == 1
    assert len(design_points(DOMS, 0.5, random_points=4, seed=3)) == 6 + 1 + 4


@pytest.mark.parametrize("step", [0.3, 0.0, -0.25, 1.5, float("nan"), True])
def test_bad_grid_steps_are_refused(step):
    with pytest.raises(UserError):
        simplex_grid(DOMS, step)


@pytest.mark.parametrize("changes", [dict(domains=("code",)), dict(domains=("a", "b", "c", "d", "e")),
                                     dict(domains=("a", "a")), dict(budgets=(2, 1)), dict(budgets=()),
                                     dict(seeds=(0, 0)), dict(step=0.3), dict(random_points=-1),
                                     dict(workers=0)])
def test_bad_landscape_configs_are_refused(changes):
    with pytest.raises(UserError):
        LandscapeConfig(**changes)


def test_the_centroid_run_is_the_uniform_validation_run():
    """The landscape's centroid at the target is the very run a study validates for uniform."""
    from autoscale_kit.study.pipeline import validation_specs
    from autoscale_kit.study.config import StudyConfig

    c = landscape_config("smoke")
    specs = landscape_specs(c)
    assert len(specs) == len(c.points) * len(c.budgets) * len(c.seeds)
    study = StudyConfig(domains=c.domains, budgets=c.budgets[:-1], target=c.budgets[-1], proxy=c.proxy,
                        seeds=c.seeds)
    uniform = validation_specs(study, {"uniform": Mixture.from_weights({d: 1.0 for d in c.domains},
                                                                       c.budgets[-1]).rounded()})["uniform"]
    keys = {s.key for s in specs}
    assert all(u.key in keys for u in uniform)
    assert any(0 in s.mixture.tokens.values() for s in specs)     # corners: zero quantities are legal


# --- reading ----------------------------------------------------------------------------------

def test_budgets_group_totals_within_one_percent():
    """Runs whose totals differ by rounding (within 1 %) are one budget, read through the public reader."""
    totals = [1000.0, 1004.0, 999.0, 4000.0, 4010.0, 16000.0]
    frame = pd.DataFrame({"tokens:a": [t / 2 for t in totals], "tokens:b": [t / 2 for t in totals],
                          "loss:a": np.linspace(1.0, 2.0, 6), "loss:b": np.linspace(2.0, 1.0, 6)})
    runs = read_landscape(frame)
    assert len(runs.budgets) == 3
    assert [len(runs.at(b).weights) for b in runs.budgets] == [3, 2, 1]


def test_a_scale_column_decides_the_budgets():
    o = random_oracle("transfer", DOMS, seed=1)
    t = oracle_table(o, [1e6, 4e6], 0.5)
    t["scale"] = ["1M"] * 12 + ["4M"] * 12
    t.loc[0, "tokens:a"] *= 1.5                       # a total off by 50%: the scale column still decides
    runs = read_landscape(t)
    assert runs.budgets == (1e6, 4e6)
    bad = t.assign(scale=["x"] * len(t))
    with pytest.raises(UserError, match="scale column"):
        read_landscape(bad)


def test_query_mixtures_are_checked_against_the_runs_domains(tmp_path):
    p = tmp_path / "q.csv"
    pd.DataFrame({"weight:a": [1, 2], "weight:b": [1, 0], "weight:c": [2, 0]}).to_csv(p, index=False)
    W = read_query(p, DOMS)
    assert np.allclose(W, [[0.25, 0.25, 0.5], [1, 0, 0]])
    pd.DataFrame({"weight:a": [1], "weight:z": [1]}).to_csv(p, index=False)
    with pytest.raises(UserError, match="missing"):
        read_query(p, DOMS)


# --- surfaces ---------------------------------------------------------------------------------

def test_hull_vertices_of_a_grid_are_its_corners():
    P = simplex_lattice(3, 4)
    v = hull_vertices(P)
    assert v.sum() == 3 and all(P[v].max(axis=1) == 1)


def test_the_minimiser_finds_a_known_interior_optimum():
    target = np.array([0.2, 0.3, 0.5])
    w, v = minimise_on_simplex(lambda W: ((W - target) ** 2).sum(axis=1) + 1.0, 3)
    assert np.abs(w - target).max() < 1e-4 and abs(v - 1.0) < 1e-8


def test_held_out_error_picks_the_transfer_law_on_transfer_data():
    o = random_oracle("transfer", DOMS, seed=2)
    runs = read_landscape(oracle_table(o, [2e6], 0.125, noise=0.005))
    choice = choose_surface(runs.weights, runs.losses, domains=DOMS)
    assert choice.surface.form == "transfer-law"
    assert choice.cv["transfer-law"] < 0.01 < max(choice.cv.values())


def test_a_surface_with_more_parameters_than_mixtures_is_refused():
    o = random_oracle("transfer", DOMS, seed=2)
    runs = read_landscape(oracle_table(o, [2e6], 0.5))
    with pytest.raises(UserError, match="distinct mixtures"):
        fit_surface(runs.weights, runs.losses, "scheffe-cubic")
    with pytest.raises(UserError, match="no surface form"):
        choose_surface(runs.weights[:4], {d: v[:4] for d, v in runs.losses.items()}, forms=("scheffe-cubic",))


# --- the bootstrap helper ------------------------------------------------------------------------

def test_bootstrap_pairs_and_wild_schemes():
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 1.0, 200)
    clusters = [np.array([i]) for i in range(200)]
    b = bootstrap(lambda rows: x[rows].mean(), clusters, n=300, seed=1, within=False)
    lo, hi = b.interval(0.9)
    assert lo < x.mean() < hi and abs((hi - lo) - 2 * 1.645 / math.sqrt(200)) < 0.06
    resid = x - x.mean()
    w = bootstrap(lambda s: (x.mean() + s * resid).mean(), clusters, n=300, seed=1, scheme="wild")
    assert w.estimate == pytest.approx(x.mean()) and w.std > 0
    for k in range(5):
        rows = resample(clusters_of(["p", "p", "q"]), np.random.default_rng(k))
        assert len(rows) in (2, 3, 4) and set(rows) <= {0, 1, 2}       # two clusters drawn, sizes 2 or 1
    signs = wild_signs(clusters_of(["p", "p", "q"]), np.random.default_rng(0))
    assert signs[0] == signs[1] and set(signs) <= {-1.0, 1.0}


def test_bootstrap_counts_failures_and_refuses_when_most_fail():
    calls = iter(range(10_000))

    def flaky(rows):
        if next(calls) % 3 == 1:
            raise UserError("singular")
        return np.array(1.0)

    b = bootstrap(flaky, [np.array([0]), np.array([1])], n=30)
    assert 0 < b.failed < 30 and len(b.samples) == 30 - b.failed

    def broken(rows):
        if len(rows) and broken.started:
            raise UserError("singular")
        broken.started = True
        return np.array(1.0)

    broken.started = False
    with pytest.raises(UserError, match="could not be computed"):
        bootstrap(broken, [np.array([0])], n=10)
    with pytest.raises(UserError):
        bootstrap(lambda r: 1.0, [np.array([0])], n=1)


# --- accuracy and coverage on synthetic landscapes with a known optimum ---------------------------

@pytest.mark.slow
def test_fitted_optimum_is_close_and_intervals_cover_at_about_the_nominal_rate():
    """20 random transfer oracles, a grid of step 0.125 with two seeds and per-run noise of 0.022
    nats per domain (the root-mean-square seed noise of the bundled landscape's 2M runs): the fitted
    optimum is within 0.05 of the truth in at least 80% of the landscapes (measured: 17 of 20,
    median error 0.017, largest 0.078; at noise 0.03, 14 of 20), and the 90% intervals cover the
    true weights at about that rate (measured: 80%, a little under nominal)."""
    errors, covered = [], []
    for rep in range(20):
        o = random_oracle("transfer", DOMS, seed=rep)
        fit = fit_budget(read_landscape(oracle_table(o, [2e6], 0.125, noise=0.022, seed=rep)), n_boot=60, seed=rep)
        truth = o.optimum(2e6).weights
        errors.append(max(abs(fit.optimum[d] - truth[d]) for d in DOMS))
        covered += [fit.interval[d][0] - 1e-9 <= truth[d] <= fit.interval[d][1] + 1e-9 for d in DOMS]
    errors = np.array(errors)
    assert np.median(errors) < 0.03 and (errors < 0.05).mean() >= 0.8, errors.round(3)
    assert 0.75 <= np.mean(covered) <= 0.99, np.mean(covered)


# --- across budgets -----------------------------------------------------------------------------

def test_the_backtest_trusts_a_change_that_continues_and_shrinks_noise():
    """Transfer oracles whose optimum moves steadily with log budget: the backtest trusts the
    extrapolation, and at 4× the largest budget the model's optimum is on average closer to the
    truth than the largest budget's optimum reused (it is not in every case: an optimum that
    leaves a bound between the last budget and the target cannot be foreseen). The same
    landscape at every budget with fresh noise: the extrapolation is shrunk."""
    totals = [1e5, 4e5, 1.6e6]
    err_model, err_reuse = [], []
    for seed in range(4):
        o = random_oracle("transfer", DOMS, seed=seed)
        fit = fit_landscape(read_landscape(oracle_table(o, totals, 0.125, noise=0.002)), target=6.4e6, n_boot=5)
        bt = fit.model.backtest
        assert bt["held"] and bt["shrink"] > 0.5
        truth = o.optimum(6.4e6).weights
        err_model.append(max(abs(fit.target.optimum[d] - truth[d]) for d in DOMS))
        err_reuse.append(max(abs(fit.scales[-1].optimum[d] - truth[d]) for d in DOMS))
    assert np.mean(err_model) < np.mean(err_reuse)

    # the same landscape at every budget, different noise: nothing to extrapolate
    still = pd.concat([oracle_table(o, [1.6e6], 0.125, noise=0.01, seed=k).assign(scale=t)
                       for k, t in enumerate(totals)], ignore_index=True)
    fit = fit_landscape(read_landscape(still), target=6.4e6, n_boot=5)
    assert fit.model.shrink < 0.5


def test_two_budgets_reuse_the_shape_and_say_so():
    o = random_oracle("transfer", DOMS, seed=5)
    fit = fit_landscape(read_landscape(oracle_table(o, [1e6, 4e6], 0.25)), target=1.6e7, n_boot=5)
    assert fit.model.shrink == 0 and fit.model.backtest is None
    assert any("no backtest" in w for w in fit.warnings)
    assert np.allclose(list(fit.target.optimum.values()), list(fit.scales[-1].optimum.values()), atol=1e-3)


def test_cross_budget_with_one_budget_is_its_landscape():
    o = random_oracle("transfer", DOMS, seed=5)
    runs = read_landscape(oracle_table(o, [1e6], 0.25))
    s = fit_budget(runs, n_boot=5).surface
    m = cross_budget([1e6], [s], 3)
    W = simplex_lattice(3, 4)
    assert np.allclose(m.predict(W, 1e6), s(W), rtol=1e-9)


# --- the CLI --------------------------------------------------------------------------------------

@pytest.fixture()
def two_budget_csv(tmp_path):
    o = random_oracle("transfer", DOMS, seed=6)
    p = tmp_path / "runs.csv"
    oracle_table(o, [1e6, 4e6], 0.25).to_csv(p, index=False)
    return p


def test_cli_fit_json(two_budget_csv, tmp_path, capsys):
    q = tmp_path / "mix.csv"
    pd.DataFrame({"tokens:a": [1, 5], "tokens:b": [1, 3], "tokens:c": [1, 2]}).to_csv(q, index=False)
    assert main(["landscape", "fit", str(two_budget_csv), "--target", "16M", "--query", str(q), "--json",
                 "--bootstrap", "5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [s["total"] for s in out["scales"]] == [1e6, 4e6]
    for s in out["scales"]:
        assert set(s["optimum"]) == set(DOMS) and abs(sum(s["optimum"].values()) - 1) < 1e-6
        assert all(0 <= lo <= hi <= 1 for lo, hi in s["interval"].values())
        assert s["runs"] == 30 and isinstance(s["objective"], float)
    t = out["target"]
    assert t["total"] == 16e6 and len(t["query"]) == 2 and set(t["interval"]) == set(DOMS)


def test_cli_fit_text(two_budget_csv, capsys):
    assert main(["landscape", "fit", str(two_budget_csv), "--bootstrap", "5"]) == 0
    out = capsys.readouterr().out
    assert "1M tokens" in out and "optimum" in out and "1,000,000" not in out


def _one_budget(path):
    t = pd.read_csv(path)
    t = t[t[[c for c in t.columns if c.startswith("tokens:")]].sum(axis=1) < 2e6]
    t.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("case, match", [
    ("one-budget", "two or more budgets"), ("low-target", "below the largest"), ("mix-domains", "missing"),
    ("few-runs", "no surface form"), ("nan", "loss"), ("query-without-target", "--target"),
    ("bad-form", "unknown form"), ("bad-level", "--level")])
def test_cli_fit_bad_input_is_one_line_and_exit_2(case, match, two_budget_csv, tmp_path, capsys):
    args = ["landscape", "fit", str(two_budget_csv), "--bootstrap", "5"]
    if case == "one-budget":
        args += ["--target", "16M"]
        _one_budget(two_budget_csv)
    elif case == "low-target":
        args += ["--target", "2M"]
    elif case == "mix-domains":
        q = tmp_path / "mix.csv"
        pd.DataFrame({"weight:a": [1], "weight:b": [1], "weight:zz": [1]}).to_csv(q, index=False)
        args += ["--target", "16M", "--query", str(q)]
    elif case == "few-runs":
        t = pd.read_csv(two_budget_csv).iloc[[0, 1, 2, 3, 30, 31, 32, 33]]
        t.to_csv(two_budget_csv, index=False)
    elif case == "nan":
        t = pd.read_csv(two_budget_csv)
        t.loc[3, "loss:a"] = float("nan")
        t.to_csv(two_budget_csv, index=False)
    elif case == "query-without-target":
        q = tmp_path / "mix.csv"
        pd.DataFrame({"weight:a": [1], "weight:b": [1], "weight:c": [1]}).to_csv(q, index=False)
        args += ["--query", str(q)]
    elif case == "bad-form":
        args += ["--forms", "cubic-spline"]
    elif case == "bad-level":
        args += ["--level", "1.5"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and match in err


def test_cli_fit_reads_regmix_released_runs(capsys):
    from autoscale_kit.landscape.folder import SHIPPED

    folder = SHIPPED.parent / "external" / "regmix"
    assert main(["landscape", "fit", str(folder / "train_mixture_1m.csv"), "--losses",
                 str(folder / "train_pile_loss_1m.csv"), "--forms", "scheffe-quadratic", "--bootstrap", "3",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (scale,) = out["scales"]
    assert scale["runs"] == 512 and len(scale["optimum"]) == 17
    assert abs(sum(scale["optimum"].values()) - 1) < 1e-6


def test_cli_run_trains_resumes_and_writes_the_folder(tmp_path, capsys):
    store, out = tmp_path / "store", tmp_path / "ls"
    args = ["landscape", "run", "--preset", "smoke", "--domains", "code,books", "--scales", "20k,40k",
            "--step", "1/2", "--seeds", "0", "--store", str(store), "--out", str(out), "--workers", "1", "--quiet"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "6 runs (3 mixtures × 2 budgets × 1 seeds)" in first
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 6 and (runs["tokens:code"] == 0).any() and set(runs["scale"]) == {20_000, 40_000}
    assert {"run", "scale", "tokens_seen", "val:code"} <= set(pd.read_csv(out / "curves.csv").columns)
    meta = json.loads((out / "landscape.json").read_text())
    assert meta["runs"] == 6 and len(meta["keys"]) == 6 and "landscape run" in meta["how"]
    before = {p.name for p in store.iterdir()}
    assert main(args) == 0                                    # resumes: nothing new trained
    assert {p.name for p in store.iterdir()} == before
    assert main(["landscape", "fit", str(out), "--bootstrap", "3", "--forms", "mixing-law"]) == 2  # 3 mixtures
    assert "no surface form" in capsys.readouterr().err


@pytest.mark.parametrize("flags, match", [(["--step", "0.3"], "grid step"), (["--domains", "code"], "2 to 4"),
                                          (["--scales", "40k,20k"], "increasing"), (["--seeds", "a"], "--seeds"),
                                          (["--preset", "huge"], "unknown landscape"),
                                          (["--domains", "code,nope"], "nope")])
def test_cli_run_bad_input(flags, match, tmp_path, capsys):
    args = ["landscape", "run", "--preset", "smoke", "--store", str(tmp_path / "s"), "--out", str(tmp_path / "o"),
            "--quiet", *flags]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and match in err
    assert not (tmp_path / "o").exists()


# --- the shipped landscape ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["bundled", "bundled-wsd"])
def test_the_shipped_landscape_is_complete(name):
    from autoscale_kit.study.landscape_arena import ARENA_METHODS

    shipped = read_landscape_folder(shipped_landscape(name))     # the one reader of the on-disk form
    config = landscape_config(name)
    assert shipped.made["config"]["domains"] == list(config.domains)
    assert shipped.made["keys"] == [s.key for s in landscape_specs(config)]      # the shipped runs are this design
    assert shipped.runs.budgets == tuple(float(b) for b in config.budgets)
    assert len(shipped.fit["scales"]) == len(config.budgets)
    assert all(len(s["bootstrap_optima"]) for s in shipped.fit["scales"])      # what 09 draws the clouds from
    assert {"landscape-optimum", "uniform", "autoscale"} <= {r["method"] for r in shipped.arena["table"]}
    if name == "bundled-wsd":      # five budgets off one trunk per point and seed, every method in the arena
        assert len(config.budgets) >= 5 and shipped.made["proxy_tokens"]["ratio"] <= 0.65
        assert len(shipped.fit["backtests"]) == len(config.budgets) - 2
        assert set(ARENA_METHODS) <= {r["method"] for r in shipped.arena["table"]}
        assert shipped.made["config"]["proxy"]["schedule"] == "wsd"


def test_a_landscape_folder_without_its_description_is_refused(tmp_path):
    (tmp_path / "runs.csv").write_text((shipped_landscape("bundled") / "runs.csv").read_text())
    with pytest.raises(UserError, match="no landscape.json"):
        read_landscape_folder(tmp_path)
    with pytest.raises(UserError, match="no runs.csv"):
        read_landscape_folder(tmp_path / "nowhere")


@pytest.mark.slow
def test_shipped_runs_reproduce_exactly(tmp_path):
    """Two of the shipped 125k runs, retrained from scratch, give the shipped losses to the bit, on
    the kind of machine that made them. On another CPU the kernels round differently and training
    drifts (up to 0.06 nats per domain measured on an AVX-512 Xeon): both runs then differ, and the
    test says so and skips; a change to training would move the numbers on the maker's platform."""
    from autoscale_kit.runs.store import RunStore

    folder = shipped_landscape("bundled")
    shipped = pd.read_csv(folder / "runs.csv").set_index("run")
    config = landscape_config("bundled")
    specs = landscape_specs(config)
    store = RunStore(tmp_path / "store")
    exact = []
    for spec in (specs[0], specs[len(specs) // 3 - 1]):
        rec = store.run(spec, progress=False)
        exact.append({d: rec.val_loss[d] == shipped.loc[spec.key, f"loss:{d}"] for d in config.domains})
    if not any(all(e.values()) for e in exact) and not any(any(e.values()) for e in exact):
        pytest.skip("every loss differs: another platform than the one that made the landscape (not recorded "
                    "in landscape.json); bitwise reproduction needs the same CPU kind")
    assert all(all(e.values()) for e in exact), exact


# --- the arena ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_arena_scores_every_method_by_regret(tmp_path):
    from autoscale_kit.study.landscape_arena import OPTIMUM, REFIT, landscape_arena

    c = landscape_config("smoke")
    methods = ("autoscale", "ddo-reused", "uniform", "landscape-reused", "landscape-model")
    a = landscape_arena(c, tmp_path / "store", methods=methods, n_boot=10, progress=False)
    t = a.table.set_index("method")
    assert set(t.index) == {*methods, OPTIMUM, REFIT}
    assert t.loc[OPTIMUM, "vs_fitted_optimum"] == 0
    assert (t["regret"] >= -1e-12).all()                     # the reference is the best mixture measured
    assert abs(t["regret"].min()) < 1e-12 or a.best_measured["mixture"].startswith("grid point")
    assert a.refit.runs > len(c.points) * len(c.seeds)        # the grid and the recommendations at the target
    for m in methods:
        assert len(a.records[m]) == len(c.seeds)
        assert t.loc[m, "regret_lo"] <= t.loc[m, "regret"] <= t.loc[m, "regret_hi"]
    assert t.loc["uniform", "tokens_to_uniform"] == pytest.approx(c.budgets[-1])
    assert t.loc["landscape-reused", "proxy_runs"] == len(c.points) * len(c.seeds) * (len(c.budgets) - 1)
    json.dumps(a.to_dict(), default=float)


# --- what the notebook draws -----------------------------------------------------------------------

def test_ternary_views_slider_and_query_widget():
    from autoscale_kit.present.plots import landscape_ternary
    from autoscale_kit.present.widgets import LandscapeQuery

    o = random_oracle("transfer", DOMS, seed=7)
    runs = read_landscape(oracle_table(o, [1e6, 4e6, 1.6e7], 0.25))
    fit = fit_landscape(runs, n_boot=4)
    d = fit.to_dict()
    for s, out in zip(fit.scales, d["scales"]):
        out["bootstrap_optima"] = s.samples.tolist()
    from autoscale_kit.landscape.views import budget_views

    views = budget_views(runs, d, lattice=10)
    assert [v["total"] for v in views] == [1e6, 4e6, 1.6e7]
    assert len(views[0]["points"]) == 15 and views[0]["cloud"].shape == (4, 3)
    fig = landscape_ternary(DOMS, views, {"uniform": {d_: 1.0 for d_ in DOMS}})
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == ["1M", "4M", "16M"]
    assert sum(tr.visible is not False for tr in fig.data) < len(fig.data)     # one budget shown at a time
    assert "nats/byte" in fig.data[0].marker.colorbar.title.text      # the colour bar says what it measures
    model = cross_budget([v["total"] for v in views], [v["surface"] for v in views], 3)
    q = LandscapeQuery(DOMS, model)
    q.sliders.set_weights({"a": 1.0, "b": 0.0, "c": 0.0})
    corner = q.state["predicted"]
    q.sliders.set_weights({"a": 1.0, "b": 1.0, "c": 1.0})
    assert q.state["predicted"] != corner and set(q.state["measured"]) == {1e6, 4e6, 1.6e7}
    assert "objective (nats/byte)" in q.out.value
    assert q.state["predicted"] == pytest.approx(float(model.predict([[1 / 3] * 3], q.state["total"])[0]), rel=1e-6)


def test_an_optimum_far_from_every_measured_mixture_is_flagged():
    """Runs in one corner of the simplex, a bowl whose bottom is far away: the fitted optimum is an
    extrapolation, and the fit says so."""
    rng = np.random.default_rng(0)
    W = np.vstack([rng.dirichlet([8, 1, 1]) for _ in range(30)])
    bottom = np.array([0.1, 0.1, 0.8])
    y = 2 + ((W - bottom) ** 2).sum(axis=1) + rng.normal(0, 0.001, len(W))
    t = pd.DataFrame({**{f"tokens:{d}": W[:, i] * 1e6 for i, d in enumerate(DOMS)}, "loss:a": y})
    fit = fit_budget(read_landscape(t), forms=("scheffe-quadratic",), n_boot=5)
    assert fit.objective < fit.best_measured_objective - 0.1
    assert any("extrapolation" in w for w in fit.warnings)


def test_a_swarm_whose_every_point_is_a_vertex_is_still_fitted_and_says_how():
    """Random mixtures over six domains are all corners of their own hull; the form is then chosen
    by holding out every point (before: no form could be chosen at all), and the choice says so."""
    from autoscale_kit.fit.surface import choose_surface, hull_vertices

    rng = np.random.default_rng(3)
    W = rng.dirichlet(np.ones(6), size=12)
    assert hull_vertices(W).all()
    C = rng.dirichlet(np.ones(6), size=5)
    Y = {f"v{e}": 2.0 + 0.5 * np.exp(-0.3 * (C[e] * np.log(W + 0.02)).sum(axis=1)) + rng.normal(0, 0.005, 12)
         for e in range(5)}
    choice = choose_surface(W, Y, "mean-loss")
    assert "every one of the 12 design points is a vertex" in choice.note
    assert np.isfinite(choice.cv[choice.surface.form])
    inner = np.vstack([np.eye(3), rng.dirichlet(np.ones(3), size=12)])       # interior points: the usual rule
    assert choose_surface(inner, {"v": 2.0 + inner @ np.array([0.1, 0.2, 0.3])}, "mean-loss").note == ""


def test_budgets_fitted_in_two_processes_give_the_same_fit(tmp_path):
    """`workers=2` (what `landscape fit` uses on a real swarm's table) is the serial fit, draw for
    draw; the target's interval reuses each budget's own bootstrap draws."""
    from autoscale_kit.landscape.fit import fit_landscape
    from autoscale_kit.landscape.runs import read_landscape

    rng = np.random.default_rng(5)
    W = np.vstack([np.eye(3), rng.dirichlet(np.ones(3), size=9)])
    rows = []
    for t in (1e5, 4e5, 1.6e6):
        for i, w in enumerate(W):
            base = 2.0 + (t / 1e6) ** -0.2 * np.exp(-0.3 * np.log(w + 0.05) @ np.array([0.5, 0.3, 0.2]))
            rows.append({"run": f"{t:g}-{i}", "scale": t, **{f"tokens:{d}": w[k] * t for k, d in enumerate("abc")},
                         "loss:a": base + rng.normal(0, 0.01), "loss:b": base * 1.1 + rng.normal(0, 0.01)})
    pd.DataFrame(rows).to_csv(tmp_path / "runs.csv", index=False)
    runs = read_landscape(tmp_path / "runs.csv")
    serial = fit_landscape(runs, target=6.4e6, n_boot=10, workers=1)
    parallel = fit_landscape(runs, target=6.4e6, n_boot=10, workers=2)
    assert serial.to_dict() == parallel.to_dict()
    assert np.array_equal(serial.target.samples, parallel.target.samples) and len(serial.target.samples) == 10
    with pytest.raises(UserError, match="workers must be"):
        fit_landscape(runs, workers=0)
