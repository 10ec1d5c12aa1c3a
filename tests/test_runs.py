"""The run store: content keys, atomic folders, resume after a kill, runs table, executors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from autoscale_kit.core.mixture import Mixture
from autoscale_kit.proxy.config import preset
from autoscale_kit.runs.store import MARKER, CorpusRef, RunSpec, RunStore, run_many, runs_table
from tests.conftest import REPO

FAST = preset("tiny", n_layer=1, n_embd=32, n_head=2, seq_len=64, batch_size=8, eval_points=1,
              val_tokens=1024, curve_val_tokens=512)


SLOW = FAST.with_(n_layer=4, n_embd=128, n_head=4)  # ten times the work per token: a run that takes seconds


def _specs(folder: Path, sizes=(3000, 6000, 9000), slow: int | None = None) -> list[RunSpec]:
    """One run per size; the run at index `slow` uses the larger model."""
    ref = CorpusRef(str(folder), ("code", "prose"))
    return [RunSpec(Mixture({"code": n, "prose": 4000}), SLOW if i == slow else FAST, ref, label=f"code={n}")
            for i, n in enumerate(sizes)]


def test_key_depends_on_what_decides_the_numbers(domain_folder: Path):
    a, b, c = _specs(domain_folder)
    assert len({a.key, b.key, c.key}) == 3
    assert RunSpec(a.mixture, a.config, a.corpus, label="other").key == a.key     # label is not identity
    assert RunSpec(a.mixture, a.config.with_(seed=1), a.corpus).key != a.key
    # the same content in another folder has the same key
    other = domain_folder.parent / "copy"
    import shutil

    shutil.copytree(domain_folder, other)
    assert RunSpec(a.mixture, a.config, CorpusRef(str(other), ("code", "prose"))).key == a.key


def test_finished_runs_are_loaded_not_retrained(domain_folder: Path, tmp_path: Path):
    store = RunStore(tmp_path / "runs")
    specs = _specs(domain_folder, sizes=(2000,))
    first = run_many(specs, store, progress=False)
    stamp = (first[0].path / MARKER).stat().st_mtime_ns
    again = run_many(specs, store, progress=False)
    assert (again[0].path / MARKER).stat().st_mtime_ns == stamp
    assert again[0].val_loss == first[0].val_loss
    rec = again[0]
    assert rec.tokens == {"code": 2000, "prose": 4000}
    assert set(rec.val_loss) == {"code", "prose"}
    assert list(rec.curve.columns)[:2] == ["tokens_seen", "step"]
    cfg = json.loads((rec.path / "config.json").read_text())
    assert cfg["proxy"]["repetition"] == "refuse" and cfg["mixture"] == {"code": 2000, "prose": 4000}


def test_folder_without_marker_is_not_finished(domain_folder: Path, tmp_path: Path):
    store = RunStore(tmp_path / "runs")
    spec = _specs(domain_folder, sizes=(2000,))[0]
    half = store.path(spec.key)
    half.mkdir(parents=True)
    (half / "metrics.json").write_text("{}")
    assert not store.is_done(spec.key)
    assert store.records() == []
    rec = run_many([spec], store, progress=False)[0]
    assert store.is_done(spec.key) and rec.tokens["code"] == 2000


def test_runs_table_is_the_public_format(domain_folder: Path, tmp_path: Path):
    store = RunStore(tmp_path / "runs")
    recs = run_many(_specs(domain_folder, sizes=(2000, 3000)), store, progress=False)
    table = runs_table(recs)
    assert list(table.columns[:7]) == ["run", "label", "seed", "tokens:code", "tokens:prose", "loss:code", "loss:prose"]
    assert table["tokens:code"].tolist() == [2000, 3000]
    assert store.table().shape[0] == 2
    path = tmp_path / "runs.csv"
    table.to_csv(path, index=False)
    back = pd.read_csv(path)
    assert back["loss:prose"].tolist() == pytest.approx(table["loss:prose"].tolist())


_KILLABLE = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    from tests.test_runs import _specs
    from autoscale_kit.runs.store import run_many
    from pathlib import Path
    run_many(_specs(Path({folder!r}), sizes=(2000, 60000, 3000), slow=1), {store!r}, progress=False)
""")


def test_killed_study_resumes_and_matches_an_uninterrupted_one(domain_folder: Path, tmp_path: Path):
    store_dir = tmp_path / "killed"
    script = _KILLABLE.format(repo=str(REPO), folder=str(domain_folder), store=str(store_dir))
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, start_new_session=True)
    store = RunStore(store_dir)
    specs = _specs(domain_folder, sizes=(2000, 60000, 3000), slow=1)
    deadline = time.time() + 240
    while not store.is_done(specs[0].key) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert store.is_done(specs[0].key), "the first run did not finish"
    time.sleep(0.5)  # now inside the long second run
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not store.is_done(specs[1].key), "killed too late: the long run already finished"
    resumed = run_many(specs, store, progress=False)
    clean = run_many(specs, RunStore(tmp_path / "clean"), progress=False)
    assert [r.val_loss for r in resumed] == [r.val_loss for r in clean]
    assert not list(store_dir.glob(".tmp-*"))


def test_process_pool_gives_the_same_numbers(domain_folder: Path, tmp_path: Path):
    specs = _specs(domain_folder, sizes=(2000, 2500))
    seq = run_many(specs, RunStore(tmp_path / "seq"), progress=False)
    par = run_many(specs, RunStore(tmp_path / "pool"), executor="process", progress=False)
    for a, b in zip(seq, par):
        assert a.key == b.key and a.tokens == b.tokens
        # the key holds the thread count the spec resolved to, and the worker trains with it: equal numbers
        assert a.val_loss == b.val_loss


def test_submitit_local_executor(domain_folder: Path, tmp_path: Path):
    submitit = pytest.importorskip("submitit")
    ex = submitit.AutoExecutor(folder=str(tmp_path / "slurm_logs"), cluster="local")
    ex.update_parameters(timeout_min=10)
    specs = _specs(domain_folder, sizes=(2000,))
    recs = run_many(specs, RunStore(tmp_path / "sub"), executor=ex, progress=False)
    assert recs[0].tokens == {"code": 2000, "prose": 4000}
    assert RunStore(tmp_path / "sub").is_done(specs[0].key)
