"""The plan-and-ingest loop: a study's proxy runs written for another trainer, and their logs read
back into runs tables (every bad-log case named)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from autoscale_kit.core.errors import UserError
from autoscale_kit.present.plan import plan_runs, write_plan
from autoscale_kit.runs.ingest import LoggedRun, ingest, read_logs, read_plan
from autoscale_kit.study.config import study_config

DOMAINS = ("code", "books", "wikipedia")


@pytest.fixture(scope="module")
def smoke_plan(tmp_path_factory):
    out = tmp_path_factory.mktemp("plan")
    config = study_config("smoke")
    runs = plan_runs(config, "ddo")
    path, _ = write_plan(config, runs, out, fmt="olmo-core")
    return config, runs, path


def test_a_plan_lists_the_studys_runs_with_one_config_each(smoke_plan):
    config, runs, path = smoke_plan
    plan = read_plan(path)
    per_budget = 1 + len(DOMAINS) * len(config.ratios)          # the base, each domain at each ratio
    assert len(plan) == len(config.budgets) * len(config.ddo_seeds) * per_budget == len(runs)
    assert plan["run"].is_unique and set(plan["scale"]) == set(config.budgets)
    assert list(plan.columns[:5]) == ["run", "role", "scale", "budget", "seed"]
    base = plan[plan["role"].str.contains("/base/")].iloc[0]
    assert base["budget"] == base["scale"] and base[[f"tokens:{d}" for d in DOMAINS]].sum() == base["budget"]
    files = sorted((path.parent / "runs").iterdir())
    assert len(files) == len(plan) and all(f.name.endswith(".olmo-core.yaml") for f in files)
    text = (path.parent / "runs" / f"{base['run']}.olmo-core.yaml").read_text()
    assert f"max_tokens: {base['budget']}" in text and "target_ratio: 0.333333" in text
    assert [r.run_id for r in plan_runs(config, "ddo")] == list(plan["run"])      # the ids are the runs' keys
    # the landscape design: its grid (step 1/3: 10 points) at every budget, each validation seed
    assert len(plan_runs(config, "landscape")) == 10 * len(config.budgets) * len(config.seeds)


def test_the_cli_plans_and_refuses_what_it_cannot(run_cli, tmp_path):
    r = run_cli("plan", "--scale", "smoke", "--design", "landscape", "--format", "megatron", "--out", tmp_path / "p",
                "--paths", "code=/data/code,books=/data/books,wikipedia=/data/wiki")
    assert r.code == 0, r.err
    assert "proxy runs (landscape, study smoke" in r.out and (tmp_path / "p" / "plan.csv").is_file()
    script = next((tmp_path / "p" / "runs").iterdir()).read_text()
    assert "/data/wiki" in script and "DATA_PATH=" in script
    assert run_cli("plan", "--scale", "smoke", "--design", "uniform", "--out", tmp_path / "q").code == 2
    bad = run_cli("plan", "--scale", "smoke", "--paths", "code=/x", "--out", tmp_path / "r")
    assert bad.code == 2 and "gives no path for books, wikipedia" in bad.err


def _log_frame(plan, losses_of, run_col="run", pattern="loss:{domain}"):
    return pd.DataFrame([{run_col: r, **{pattern.format(domain=d): losses_of(r, d) for d in DOMAINS}}
                         for r in plan["run"]])


def test_csv_and_wandb_logs_are_joined_by_run_id(smoke_plan, tmp_path):
    _, _, path = smoke_plan
    plan = read_plan(path)
    value = {r: 3.0 + i / 100 for i, r in enumerate(plan["run"])}
    csv_log = tmp_path / "log.csv"
    _log_frame(plan, lambda r, d: value[r] + DOMAINS.index(d)).to_csv(csv_log, index=False)
    result = ingest(plan, read_logs([csv_log], DOMAINS))
    assert not result.warnings and len(result.table) == len(plan)
    t = result.table.set_index("run")
    assert all(t.loc[r, "loss:books"] == value[r] + 1 for r in plan["run"])
    assert (t["scale"].to_numpy() == plan.set_index("run").loc[t.index, "scale"].to_numpy()).all()
    # a W&B export: Name, eval/<d>/loss, several steps per run (the last one counts)
    early = _log_frame(plan, lambda r, d: 9.0, run_col="Name", pattern="eval/{domain}/loss").assign(_step=10)
    late = _log_frame(plan, lambda r, d: value[r], run_col="Name", pattern="eval/{domain}/loss").assign(_step=20)
    wandb = tmp_path / "wandb.csv"
    pd.concat([late, early]).to_csv(wandb, index=False)
    t = ingest(plan, read_logs([wandb], DOMAINS)).table.set_index("run")
    assert all(t.loc[r, "loss:code"] == value[r] for r in plan["run"])


def _trainer_folder(root, run_id, losses, step=100, max_steps=100, checkpoint=None):
    folder = root / run_id if checkpoint is None else root / run_id / f"checkpoint-{checkpoint}"
    folder.mkdir(parents=True)
    history = [{"loss": 4.0, "step": 10}, {**{f"eval_{d}_loss": v + 1 for d, v in losses.items()}, "step": 50},
               {**{f"eval_{d}_loss": v for d, v in losses.items()}, "step": step}]
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step, "max_steps": max_steps,
                                                           "log_history": history}))
    return root / run_id


def test_trainer_folders_and_every_bad_log_case_are_named(smoke_plan, tmp_path):
    _, _, path = smoke_plan
    plan = read_plan(path)
    ids = list(plan["run"])
    good = {d: 3.0 for d in DOMAINS}
    folders = [_trainer_folder(tmp_path, r, good) for r in ids[:4]]
    folders.append(_trainer_folder(tmp_path, ids[4], good, checkpoint=200))              # in a checkpoint folder
    folders.append(_trainer_folder(tmp_path, ids[5], good, step=40, max_steps=100))      # stopped early
    logged = read_logs(folders, DOMAINS)
    assert [r.run_id for r in logged] == ids[:6] and logged[0].losses == good
    logged += [LoggedRun("not-planned", good, "x.csv"),
               LoggedRun(ids[6], good, "a.csv"), LoggedRun(ids[6], {**good, "code": 2.0}, "b.csv"),   # duplicate
               LoggedRun(ids[7], {**good, "books": float("nan")}, "c.csv"),                          # NaN
               LoggedRun(ids[8], good, "d.csv", tokens={d: 1.0 for d in DOMAINS}),                   # other mixture
               LoggedRun(ids[9], {"code": 3.0}, "e.csv")]                                            # a domain short
    result = ingest(plan, logged)
    said = "\n".join(result.warnings)
    assert sorted(result.table["run"]) == sorted(ids[:5])
    assert "not-planned (x.csv) is not in the plan" in said
    assert f"{ids[5]} (" in said and "stopped before its budget" in said and "step 40 of 100" in said
    assert f"{ids[6]} (" in said and "logged 2 times with different losses" in said
    assert "NaN or infinite loss on books" in said and "trained another mixture than planned" in said
    assert "has no loss for books, wikipedia" in said
    assert len(result.missing) == len(ids) - 10 and f"{ids[10]} (" in said and "not in the logs" in said
    # what the fit can still do: the smallest budget lost runs 6-9 (a duplicate, a NaN, …) and keeps the rest
    b0 = int(plan["scale"].min())
    assert any(w.startswith(f"budget {b0:,}: 9 of 14 planned runs left out; DDO cannot fit a law for wikipedia")
               for w in result.warnings), said
    first = list(plan.loc[plan["scale"] == b0, "run"])
    partial = ingest(plan, [LoggedRun(r, good, "x.csv") for r in first if r != ids[1]]).warnings
    assert f"budget {b0:,}: 1 of 14 planned runs left out; DDO can still fit it" in "\n".join(partial)
    assert any(w.startswith(f"budget {int(plan['scale'].max()):,}:") and "no base run is left" in w
               for w in result.warnings), said
    with pytest.raises(UserError, match="none of the plan's"):
        ingest(plan, [LoggedRun("nobody", good, "x.csv")])


def test_logs_that_cannot_be_read_are_refused(smoke_plan, tmp_path, run_cli):
    _, _, path = smoke_plan
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no trainer_state.json"):
        read_logs([tmp_path / "empty"], DOMAINS)
    log = tmp_path / "log.csv"
    pd.DataFrame({"run": ["a"], "val": [1.0]}).to_csv(log, index=False)
    with pytest.raises(UserError, match="no loss column matches the pattern"):
        read_logs([log], DOMAINS)
    with pytest.raises(UserError, match="must contain \\{domain\\}"):
        read_logs([log], DOMAINS, pattern="loss")
    with pytest.raises(UserError, match="is not a plan"):
        read_plan(log)
    r = run_cli("ingest", path, log, "--out", tmp_path / "out")
    assert r.code == 2 and "no loss column matches" in r.err


def test_a_plan_trained_here_ingested_from_a_csv_log_fits_ddo(smoke_plan, tmp_path, run_cli):
    """The loop end to end on CPU with this toolkit as 'your trainer': every run of the smallest
    budget trained under its plan id, its losses logged to a CSV, ingested, and fitted by `ddo`."""
    from autoscale_kit.methods.rounds import ddo_plan
    from autoscale_kit.runs.store import RunStore, run_many
    from autoscale_kit.study.lab import CorpusLab

    config, _, path = smoke_plan
    plan = read_plan(path)
    lab = CorpusLab(config, RunStore(tmp_path / "runs"), progress=False)
    specs = [lab.spec(p) for _, p in ddo_plan(lab, config.budgets[0])]
    records = run_many(specs, lab.store, progress=False)
    log = tmp_path / "trainer_log.csv"
    pd.DataFrame([{"run": r.key, "step": r.steps, **{f"loss:{d}": r.val_loss[d] for d in DOMAINS}}
                  for r in records]).to_csv(log, index=False)
    r = run_cli("ingest", path, log, "--out", tmp_path / "ingested")
    assert r.code == 0, r.err
    assert f"{len(records)} of {len(plan)} planned runs read" in r.out and "not in the logs" in r.err + r.out
    table = pd.read_csv(tmp_path / "ingested" / f"runs-{config.budgets[0]}.csv").set_index("run")
    for rec in records:        # the ingested losses are what the trainer logged
        assert table.loc[rec.key, "loss:code"] == pytest.approx(rec.val_loss["code"], rel=1e-12)
    fit = run_cli("ddo", tmp_path / "ingested" / f"runs-{config.budgets[0]}.csv")
    assert fit.code == 0, fit.err


def test_verification_runs_planned_trained_elsewhere_and_decided_like_verify(smoke_plan, tmp_path, run_cli):
    """`plan --verify RUNS` writes the candidates `ddo --verify` would train (t = 1, 1/2 at the base's
    seeds, ids = the store's keys); trained (here, by this toolkit as 'your trainer'), logged and
    ingested, `ddo RUNS --verified CANDIDATES` decides on them as `ddo --scale --budget --verify`
    does on the same runs."""
    from autoscale_kit.core.mixture import Mixture
    from autoscale_kit.methods.base import Probe
    from autoscale_kit.methods.rounds import ddo_plan
    from autoscale_kit.runs.store import RunStore, run_many
    from autoscale_kit.study.lab import CorpusLab

    config, _, path = smoke_plan
    budget = config.budgets[0]
    store = tmp_path / "runs"
    lab = CorpusLab(config, RunStore(store), progress=False)

    def train_and_log(specs, log):
        records = run_many(specs, lab.store, progress=False)
        pd.DataFrame([{"run": r.key, **{f"loss:{d}": r.val_loss[d] for d in DOMAINS}} for r in records]
                     ).to_csv(log, index=False)
        return records

    train_and_log([lab.spec(p) for _, p in ddo_plan(lab, budget)], tmp_path / "log.csv")
    assert run_cli("ingest", path, tmp_path / "log.csv", "--out", tmp_path / "ingested").code == 0
    runs_csv = tmp_path / "ingested" / f"runs-{budget}.csv"
    r = run_cli("plan", "--scale", "smoke", "--verify", runs_csv, "--candidates", "2", "--objective", "mean-loss",
                "--out", tmp_path / "vplan")
    assert r.code == 0, r.err
    vplan = read_plan(tmp_path / "vplan" / "plan.csv")
    assert len(vplan) == 2 * len(config.ddo_seeds) and all(vplan["role"].str.startswith(f"verify/{budget:g}/t"))
    assert set(vplan["budget"]) == {budget} and set(vplan["seed"]) == set(config.ddo_seeds)
    probes = [Probe(Mixture({d: float(row[f"tokens:{d}"]) for d in DOMAINS}), int(row["seed"]), row["role"])
              for _, row in vplan.iterrows()]
    assert [lab.spec(p).key for p in probes] == list(vplan["run"])            # the store's keys, as plan_runs gives
    train_and_log([lab.spec(p) for p in probes], tmp_path / "vlog.csv")
    assert run_cli("ingest", tmp_path / "vplan" / "plan.csv", tmp_path / "vlog.csv", "--out", tmp_path / "vin").code == 0
    decided = run_cli("ddo", runs_csv, "--objective", "mean-loss", "--verified", tmp_path / "vin" / "runs.csv", "--json")
    assert decided.code == 0, decided.err
    external = json.loads(decided.out)["verification"]
    here = run_cli("ddo", "--scale", "smoke", "--budget", str(budget), "--objective", "mean-loss", "--verify", "2",
                   "--store", store, "--json")
    assert here.code == 0, here.err
    inside = json.loads(here.out)["verification"]
    assert external["accepted"] == inside["accepted"]
    assert external["answer"] == pytest.approx(inside["answer"], abs=1e-6)
    assert [c["gain"] for c in external["candidates"]] == pytest.approx([c["gain"] for c in inside["candidates"]],
                                                                         abs=1e-9)
    assert external["noise"] == pytest.approx(inside["noise"], rel=1e-9)
    assert [c["predicted"] for c in external["candidates"]] == pytest.approx(        # refitted with the same form
        [c["predicted"] for c in inside["candidates"]], rel=1e-9)
    # candidates that were not trained are named
    pd.read_csv(tmp_path / "vin" / "runs.csv").iloc[:1].to_csv(tmp_path / "one.csv", index=False)
    short = run_cli("ddo", runs_csv, "--objective", "mean-loss", "--verified", tmp_path / "one.csv")
    assert short.code == 2 and "has no run of candidate verify/" in short.err    # t = 1 at its second seed
