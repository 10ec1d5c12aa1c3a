"""A run store shared by many processes; keys that mean equal numbers; damaged folders; a kill
during report writing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from autoscale_kit.core.errors import UserError
from autoscale_kit.runs.store import RunSpec, RunStore, run_many
from tests.conftest import REPO
from tests.test_runs import FAST, _specs

_RUNNER = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {repo!r})
    from pathlib import Path
    from tests.test_runs import _specs
    from autoscale_kit.runs.store import RunStore, run_many
    specs = _specs(Path({folder!r}), sizes={sizes!r})
    if {reverse!r}:
        specs = specs[::-1]
    executor = {executor!r}
    if executor == "submitit":
        import submitit
        executor = submitit.AutoExecutor(folder={logs!r}, cluster="local")
        executor.update_parameters(timeout_min=10)
    store = RunStore({store!r})
    run_many(specs, store, executor=executor, workers=2, progress=False)
    print(json.dumps(store.trained))
""")

SIZES = (2000, 2500, 3000, 3500)


def _start(folder: Path, store: Path, *, reverse: bool, executor=None, logs: Path | None = None):
    script = _RUNNER.format(repo=str(REPO), folder=str(folder), sizes=SIZES, reverse=reverse, executor=executor,
                            logs=str(logs), store=str(store))
    return subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)


def _trained(proc) -> list[str]:
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow
def test_two_studies_at_once_train_every_run_once(domain_folder: Path, tmp_path: Path):
    store = tmp_path / "shared"
    a = _start(domain_folder, store, reverse=False)
    b = _start(domain_folder, store, reverse=True)      # the other order: they meet in the middle
    trained = _trained(a) + _trained(b)
    keys = [s.key for s in _specs(domain_folder, sizes=SIZES)]
    assert sorted(trained) == sorted(keys), "a run was trained twice, or not at all"
    assert all(RunStore(store).is_done(k) for k in keys)
    assert not list(store.glob(".tmp-*"))


@pytest.mark.slow
def test_a_process_pool_and_submitit_share_a_store(domain_folder: Path, tmp_path: Path):
    pytest.importorskip("submitit")
    store = tmp_path / "shared"
    a = _start(domain_folder, store, reverse=False, executor="process")
    b = _start(domain_folder, store, reverse=True, executor="submitit", logs=tmp_path / "logs")
    trained = _trained(a) + _trained(b)
    assert sorted(trained) == sorted(s.key for s in _specs(domain_folder, sizes=SIZES))


_HOLDER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {repo!r})
    from pathlib import Path
    import fcntl, os
    os.makedirs(os.path.dirname({lock!r}), exist_ok=True)
    with open({lock!r}, "a") as fh:            # the store's documented claim: flock on .locks/<key>.lock
        fcntl.flock(fh, fcntl.LOCK_EX)
        print("held", flush=True)
        time.sleep(60)
""")


def test_cleanup_leaves_a_live_process_folder_alone(tmp_path: Path):
    store = RunStore(tmp_path / "runs")
    store.root.mkdir()
    key = "0123456789abcdef"
    live = store.root / f".tmp-{key}-99999-aaaaaa"
    live.mkdir()
    stale = store.root / ".tmp-fedcba9876543210-99998-bbbbbb"
    stale.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER.format(repo=str(REPO), lock=str(store.lock_path(key)))],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert store.clean() == 1                          # only the folder of a run nobody trains
        assert live.exists() and not stale.exists()
    finally:
        holder.kill()
        holder.wait()
    assert store.clean() == 1 and not live.exists()       # its owner is gone: now it is stale


def test_keys_cover_the_thread_count_and_keep_naming_old_runs(domain_folder: Path):
    import torch

    before = torch.get_num_threads()
    spec = _specs(domain_folder, sizes=(2000,))[0]        # FAST leaves threads unset
    try:
        torch.set_num_threads(1)
        one = RunSpec(spec.mixture, spec.config, spec.corpus)
        torch.set_num_threads(2)
        two = RunSpec(spec.mixture, spec.config, spec.corpus)
    finally:
        torch.set_num_threads(before)
    assert one.key != two.key and one.train_config.threads == 1 and two.train_config.threads == 2
    fixed = [RunSpec(spec.mixture, spec.config.with_(threads=1), spec.corpus) for _ in range(2)]
    assert fixed[0].key == fixed[1].key == RunSpec(spec.mixture, FAST.with_(threads=1), spec.corpus).key
    # the study's runs keep the keys they had before settings were resolved (threads fixed, CPU, float32)
    from autoscale_kit.study.lab import CorpusLab
    from autoscale_kit.methods.registry import ddo_plan
    from autoscale_kit.study.pipeline import study_config

    lab = CorpusLab.__new__(CorpusLab)     # no store needed to name runs
    lab.config = study_config("small")
    lab.domains, lab.ratios, lab.ddo_seeds = lab.config.corpus_ref.load().domains, lab.config.ratios, (0,)
    base = lab.spec(ddo_plan(lab, 250_000)[0][1])
    assert base.label == "ddo/250000/base/seed0" and base.key == "1ae81f807adc2a8c"


@pytest.mark.parametrize("damage, fragment", [
    (lambda p: (p / "metrics.json").write_text(json.dumps({"val_loss": {"code": 2.0}})), "missing 'tokens'"),
    (lambda p: (p / "metrics.json").write_text("{not json"), "damaged"),
    (lambda p: (p / "config.json").write_text(json.dumps({"label": "x"})), "missing 'mixture'"),
    (lambda p: (p / "curve.csv").write_bytes(b"\xff\xfe\x00\x81" * 20), "damaged"),
    (lambda p: (p / "curve.csv").unlink(), "damaged"),
    (lambda p: (p / "config.json").write_text(json.dumps({"mixture": {"code": -1}, "proxy": {}})), "non-negative"),
])
def test_damaged_run_folders_are_named_with_the_fix(damage, fragment, domain_folder: Path, tmp_path: Path):
    store = RunStore(tmp_path / "runs")
    rec = run_many(_specs(domain_folder, sizes=(2000,)), store, progress=False)[0]
    damage(rec.path)
    with pytest.raises(UserError) as exc:
        store.records()
    msg = str(exc.value)
    assert str(rec.path) in msg and "delete it" in msg and fragment in msg, msg


_REPORT_KILL = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {repo!r})
    from autoscale_kit.present import plots
    from autoscale_kit.present import report
    from autoscale_kit.study.pipeline import run_study, study_config
    result = run_study(study_config("smoke", budgets=(20_000, 40_000), target=60_000, seeds=(0,)), {store!r},
                       progress=False)
    def slow(*a, **k):
        print("writing", flush=True)
        time.sleep(120)
    plots.loss_change = slow
    report.write_report(result, {out!r})
""")


@pytest.mark.slow
def test_a_kill_while_writing_the_report_leaves_the_previous_one(tmp_path: Path):
    from autoscale_kit.study.pipeline import run_study, study_config
    from autoscale_kit.present.report import write_report

    store, out = tmp_path / "runs", tmp_path / "reports" / "smoke"
    result = run_study(study_config("smoke", budgets=(20_000, 40_000), target=60_000, seeds=(0,)), store,
                       progress=False)
    write_report(result, out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    proc = subprocess.Popen([sys.executable, "-c", _REPORT_KILL.format(repo=str(REPO), store=str(store), out=str(out))],
                            cwd=REPO, stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout.readline().strip() == "writing"     # inside the write, figures half done
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before, "the previous report was touched"
    assert list(out.parent.glob(".tmp-smoke-*")), "expected the killed write's temporary folder"
    time.sleep(0.1)
    write_report(result, out)                                 # the next write cleans the dead leftover
    assert not list(out.parent.glob(".tmp-smoke-*")) and (out / "report.md").is_file()


def test_atomic_runs_csv_keeps_the_old_table_on_failure(domain_folder: Path, tmp_path: Path, capsys, monkeypatch):
    from autoscale_kit.cli.main import main

    store = tmp_path / "runs"
    run_many(_specs(domain_folder, sizes=(2000,)), RunStore(store), progress=False)
    target = tmp_path / "table.csv"
    assert main(["runs", "--store", str(store), "--csv", str(target)]) == 0
    good = target.read_text()

    def full_disk(self, *a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full_disk)
    assert main(["runs", "--store", str(store), "--csv", str(target)]) == 2
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert "No space left" in err and target.read_text() == good
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".table")] == []
    assert main(["runs", "--store", str(store), "--csv", str(tmp_path)]) == 2   # a folder is not a file


@pytest.mark.slow
def test_two_demos_at_once_on_one_store_train_each_run_once(tmp_path: Path):
    """Two `autoscale-kit demo --scale smoke` started together on one store: between them every run
    of the study is trained exactly once (each says how many it trained), and both reports agree."""
    env = {**os.environ, "TQDM_DISABLE": "1", "MPLBACKEND": "Agg"}
    store = tmp_path / "shared"
    procs = [subprocess.Popen([sys.executable, "-m", "autoscale_kit", "demo", "--scale", "smoke", "--quiet",
                               "--store", str(store), "--out", str(tmp_path / f"report{i}")],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    trained = []
    for p in procs:
        out, err = p.communicate(timeout=900)
        assert p.returncode == 0, err
        line = next(ln for ln in out.splitlines() if ln.startswith("runs: "))
        trained.append(int(line.split()[1]))
    finished = [d for d in store.iterdir() if d.is_dir() and not d.name.startswith(".")]
    assert sum(trained) == len(finished) > 0, (trained, len(finished))
    a, b = ((tmp_path / f"report{i}" / "speedup.csv").read_text() for i in range(2))
    assert a == b
