"""Transfer-aware DDO (autoscale_kit.fit.transfer) and verification (autoscale_kit.methods.verify)."""

import json
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from autoscale_kit.methods.arena import SyntheticLab, oracle_arena
from autoscale_kit.cli.main import main as cli_main
from autoscale_kit.fit.ddo import fit_ddo
from autoscale_kit.fit.plan import perturbation_plan, uniform_base
from autoscale_kit.core.errors import UserError
from autoscale_kit.methods.registry import CompareConfig, ddo_round
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.methods.oracle import random_oracle
from autoscale_kit.study.config import StudyConfig
from autoscale_kit.core.tables import find_base_run, read_runs_table
from autoscale_kit.fit.forms.transfer import fit_transfer, solve_transfer, transfer_at_target


def _plan_runs(oracle, total, ratios=(0.2, 3), noise=0.0, seed=0):
    base = uniform_base(oracle.domains, total)
    return base, oracle.measure(perturbation_plan(base, ratios), noise=noise, seed=seed)


@pytest.mark.parametrize("kind", ["transfer", "substitute"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_free_transfer_worlds_are_recovered_from_the_2k_plus_1_runs(kind, seed):
    oracle = random_oracle(kind, 5, seed)
    base, runs = _plan_runs(oracle, 1e6)
    result = fit_ddo(runs, "mean-loss", surrogate="transfer")
    assert result.surrogate == "transfer" and result.transfer.identified
    np.testing.assert_allclose(result.transfer.matrix().to_numpy(), np.array(oracle.transfer), atol=1e-4)
    truth = oracle.optimum(1e6, lower=base.scaled(0.2))
    # the trust region (no domain past its largest measured quantity) does not bind here
    assert max(abs(result.weights[d] - truth.weights[d]) for d in oracle.domains) < 1e-4
    assert result.predicted_objective == pytest.approx(oracle.objective(result.optimum), abs=1e-7)
    # the separable surrogate cannot see the transfer: it is further from the optimum
    sep = fit_ddo(runs, "mean-loss", ambiguity=False)
    assert oracle.objective(sep.optimum) >= oracle.objective(result.optimum) - 1e-12


@pytest.mark.parametrize("seed", [0, 3])
def test_separable_worlds_are_still_exact_with_the_offset(seed):
    oracle = random_oracle("separable", 4, seed)
    base, runs = _plan_runs(oracle, 3e8, ratios=(0.2, 0.5, 2, 3))
    result = fit_ddo(runs, "mean-loss", surrogate="transfer")
    truth = oracle.optimum(3e8, lower=base.scaled(0.2))
    assert max(abs(result.weights[d] - truth.weights[d]) for d in oracle.domains) < 1e-4
    assert all(law.a > 0 for law in result.transfer.laws.values())


def test_unidentifiable_transfer_falls_back_to_separable_with_a_warning():
    """A validation domain that no run moves: its law's parameters are not separated by the runs."""
    oracle = random_oracle("transfer", 3, 0)
    _, runs = _plan_runs(oracle, 1e6)
    runs["loss:d2"] = 2.0
    result = fit_ddo(runs, "mean-loss", surrogate="transfer", ambiguity=False)
    assert result.surrogate == "separable" and not result.transfer.identified
    assert "d2" in result.transfer.reason
    assert any("cannot identify the transfer form" in w for w in result.warnings)


def test_substitutes_cut_together_cost_what_they_cost():
    """Two domains that teach nearly the same thing: the separable optimum cuts both, the transfer
    optimum does not, and the true objective agrees with the transfer form."""
    oracle = random_oracle("substitute", 4, 5, groups=[("d0", "d1")])
    T = np.array(oracle.transfer)
    assert T[0, 1] >= 0.7 and T[1, 0] >= 0.7 and T[0, 2] <= 0.1
    base, runs = _plan_runs(oracle, 1e6)
    tr = fit_ddo(runs, "mean-loss", surrogate="transfer")
    sep = fit_ddo(runs, "mean-loss", ambiguity=False)
    assert oracle.objective(tr.optimum) <= oracle.objective(sep.optimum)
    with pytest.raises(UserError, match="substitute group"):
        random_oracle("substitute", 4, 0, groups=[("d0", "zz")])


def test_solver_meets_kkt_and_matches_a_brute_force_minimum():
    oracle = random_oracle("transfer", 4, 7)
    base, runs = _plan_runs(oracle, 2e6)
    table = read_runs_table(runs)
    fit = fit_transfer(table.tokens, {d: table.loss[d] for d in table.domains}, table.domains, [0])
    lower = np.full(4, 1e5)
    for objective in ("mean-loss", "mean-ppl", "loss:d2", "ppl:d0"):
        sol = solve_transfer(fit, objective, 2e6, lower, np.full(4, 1.2e6))
        assert sol.tokens.sum() == pytest.approx(2e6) and (sol.tokens >= lower - 1e-6).all()
        assert (sol.tokens <= 1.2e6 + 1e-6).all() and sol.kkt_residual < 1e-6
        f = lambda z: float(fit.objective(z[None] * 1e6, objective)[0])   # noqa: E731
        best = min((minimize(f, w0, method="SLSQP", bounds=[(0.1, 1.2)] * 4,
                             constraints=[{"type": "eq", "fun": lambda z: z.sum() - 2.0}],
                             options={"ftol": 1e-14}) for w0 in np.random.default_rng(0).dirichlet(np.ones(4), 5) * 2),
                   key=lambda r: r.fun)
        assert sol.objective <= best.fun + 1e-9


def test_extra_runs_are_used_by_the_transfer_form_and_named_by_the_separable_one(tmp_path):
    oracle = random_oracle("substitute", 3, 1)
    base, runs = _plan_runs(oracle, 1e6, noise=0.01, seed=3)
    extra = oracle.measure([("mix1", Mixture({"d0": 2e5, "d1": 2e5, "d2": 6e5})),
                            ("mix2", Mixture({"d0": 5e5, "d1": 1e5, "d2": 4e5}))], noise=0.01, seed=4)
    both = pd.concat([runs, extra], ignore_index=True)
    layout = find_base_run(read_runs_table(both), extra=True)
    assert layout.row == 0 and layout.extra == (7, 8)
    with pytest.raises(UserError, match="change two or more domains"):
        find_base_run(read_runs_table(both))
    result = fit_ddo(both, "mean-loss", surrogate="transfer")
    assert result.n_runs == 9 and result.transfer.n_runs == 9
    path = tmp_path / "runs.csv"
    both.to_csv(path, index=False)
    with pytest.raises(UserError, match="change two or more domains"):
        fit_ddo(path, "mean-loss")


def test_cli_ddo_transfer_json_keeps_its_keys(tmp_path, capsys):
    oracle = random_oracle("transfer", 3, 2)
    _, runs = _plan_runs(oracle, 1e6)
    path = tmp_path / "runs.csv"
    runs.to_csv(path, index=False)
    assert cli_main(["ddo", str(path), "--objective", "mean-loss", "--surrogate", "transfer", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"weights", "tokens", "fits", "transfer_matrix"} <= set(out) and out["surrogate"] == "transfer"
    assert set(out["fits"]) == set(oracle.domains) and out["fits"]["d0"]["transfer"]["d0"] == 1.0
    assert cli_main(["ddo", str(path), "--objective", "mean-loss", "--surrogate", "transfer"]) == 0
    assert "transfer T[validation, training]" in capsys.readouterr().out


class _ScriptedLab(SyntheticLab):
    """An oracle lab that counts what it measures."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.measured = []

    def measure(self, probes):
        self.measured += list(probes)
        return super().measure(probes)


def test_verification_rejects_a_bad_recommendation_and_answers_a_measured_mixture():
    from autoscale_kit.methods.verify import verify_round

    oracle = random_oracle("substitute", 3, 2)
    lab = _ScriptedLab(oracle, (1e6, 4e6), 1.6e7, noise=0.002, ddo_seeds=(0, 1))
    rd = ddo_round(lab, 1e6, "transfer", 0)
    bad = Mixture({"d0": 5e4, "d1": 5e4, "d2": 9e5})   # everything on one domain
    assert oracle.objective(bad) > oracle.objective(uniform_base(oracle.domains, 1e6))
    before = len(lab.measured)
    check = verify_round(lab, 1e6, rd.plan, rd.records, replace(rd.ddo, optimum=bad), 3)
    assert check.candidates[0].step == 1.0 and not check.candidates[0].accepted
    assert [c.step for c in check.candidates][:2] == [1.0, 0.5]
    assert check.extra_runs == len(check.candidates) * 2 == len(lab.measured) - before
    measured = [c.mixture for c in check.candidates] + [check.base]
    assert check.answer in measured
    if check.accepted is None:
        assert check.answer == check.base and check.answer_objective == pytest.approx(check.base_objective)
    else:
        assert check.accepted.gain > check.noise
    assert "two or more" not in check.noise_source and "seeds" in check.noise_source
    assert check.refit.n_runs == len(rd.records) + check.extra_runs


def test_verification_accepts_a_good_recommendation_at_once():
    lab = SyntheticLab(random_oracle("transfer", 4, 1), (1e6, 4e6), 1.6e7, noise=0.0)
    rd = ddo_round(lab, 1e6, "transfer", 2)
    v = rd.verification
    assert len(v.candidates) == 1 and v.accepted is not None and v.extra_runs == 1
    assert rd.answer == v.candidates[0].mixture
    assert v.candidates[0].predicted == pytest.approx(v.candidates[0].measured[0], abs=1e-6)
    assert "residuals" in v.noise_source and "accepted" in json.dumps(v.to_dict())


def test_prediction_fed_only_verified_optima():
    """Noise far above what the mixture can gain: nothing is accepted, the prediction says it is
    unsupported and reuses the base (a measured mixture) instead of extrapolating from it."""
    arena = oracle_arena(random_oracle("substitute", 3, 0), (3e8, 1.2e9), 4.8e9,
                         ("autoscale-verified", "ddo-verified", "uniform"), noise=0.05, seed=1,
                         options=CompareConfig(methods=(), verify_runs=2))
    pred = arena.choices["autoscale-verified"].details
    assert pred.method.startswith("reused")
    assert any("unsupported" in w for w in pred.warnings)
    assert arena.entries["autoscale-verified"].weights == pytest.approx(arena.entries["uniform"].weights)
    assert arena.choices["autoscale-verified"].weights == {d: 1.0 for d in arena.lab.domains}


def test_transfer_law_solved_at_the_target_from_two_budgets():
    oracle = random_oracle("transfer", 4, 4)
    lab = SyntheticLab(oracle, (1e6, 4e6), 1.6e7)
    res = transfer_at_target([ddo_round(lab, t, "transfer", 0) for t in lab.budgets], 1.6e7, "mean-loss", 0.2)
    truth = oracle.optimum(1.6e7, lower=uniform_base(oracle.domains, 1.6e7).scaled(0.2))
    assert max(abs(res.weights[d] - truth.weights[d]) for d in oracle.domains) < 1e-3
    assert max(res.rmse_joint.values()) < 1e-6 and not res.warnings
    with pytest.raises(UserError, match="two or more budgets"):
        transfer_at_target([ddo_round(lab, 1e6, "transfer", 0)], 1.6e7, "mean-loss")


def test_study_config_checks_the_new_options():
    with pytest.raises(UserError, match="surrogate must be one of"):
        StudyConfig(surrogate="cubic")
    with pytest.raises(UserError, match="verify must be an integer >= 0"):
        StudyConfig(verify=-1)
    with pytest.raises(UserError, match="verify_runs must be an integer >= 1"):
        CompareConfig(verify_runs=0)
    assert StudyConfig(surrogate="transfer", verify=2).to_dict()["verify"] == 2


@pytest.mark.slow
def test_cli_ddo_trains_and_verifies_a_smoke_plan(tmp_path, capsys):
    args = ["ddo", "--scale", "smoke", "--budget", "30k", "--objective", "mean-loss", "--surrogate", "transfer",
            "--verify", "1", "--store", str(tmp_path / "store"), "--json"]
    assert cli_main(args) == 0
    out = json.loads(capsys.readouterr().out)
    v = out["verification"]
    # one candidate, trained with every DDO seed of the preset (2 at smoke)
    assert v["extra_runs"] in (0, 2) and set(out["weights"]) == {"code", "books", "wikipedia"}
    assert out["interval"] is not None and out["verdict"]["text"]
    assert out["weights"] == pytest.approx(v["answer"])
    assert cli_main(args) == 0   # the second time everything is loaded from the store
    assert json.loads(capsys.readouterr().out)["weights"] == out["weights"]


@pytest.mark.slow
def test_a_verified_study_reports_its_extra_runs(tmp_path):
    from autoscale_kit.study.pipeline import run_study, study_config
    from autoscale_kit.present.report import write_report

    config = study_config("smoke", surrogate="transfer", verify=1)
    result = run_study(config, tmp_path / "store", progress=False)
    rounds = result.summary()["ddo"]
    assert all(r["surrogate"] in ("transfer", "separable") and r["verification"] is not None for r in rounds)
    extra = sum(r["verification"]["extra_runs"] for r in rounds)
    plan = sum(len(r.records) for r in result.rounds)
    assert result.summary()["training_runs"] == plan + extra + sum(len(v) for v in result.validation.values())
    page = write_report(result, tmp_path / "report").read_text()
    assert page.count("Verification: at ") == len(config.budgets)
    # losses in their unit and token counts as 30k, in the report and in each round's verdict
    for line in (ln for ln in page.splitlines() if ln.startswith("Verification: at ")):
        assert "nats/byte" in line and not re.search(r"\d,\d{3}", line), line
    assert all(rd.unit == "nats/byte" and "nats/byte" in rd.verdict.text for rd in result.rounds)
    table = pd.read_csv(tmp_path / "report" / "runs.csv")
    assert len(table) == result.summary()["training_runs"]


def test_paired_noise_from_seeds_matches_the_noise_put_in():
    """Independent noise σ on every run: a paired difference has σ√2, and the plan's seeds say so."""
    from autoscale_kit.methods.verify import paired_noise

    lab = SyntheticLab(random_oracle("transfer", 3, 3), (1e6, 4e6), 1.6e7, noise=0.01, ddo_seeds=(0, 1, 2, 3))
    rd = ddo_round(lab, 1e6, "transfer", 0)
    sigma, source = paired_noise(rd.plan, rd.records, "mean-loss", rd.ddo)
    # the objective is the mean over 3 domains: σ/√3 per run, ×√2 for a difference
    assert sigma == pytest.approx(0.01 * np.sqrt(2 / 3), rel=0.35)
    assert "4 seeds" in source and "18 dof" in source
