"""benchmarks/regmix_external.py: RegMix's released runs, any files in their format, and bad input."""

from __future__ import annotations

import io
import json
import sys
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import regmix_external  # noqa: E402


def _run(*args):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = regmix_external.main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def test_released_runs_rank_as_published():
    code, out, err = _run("--json", "--methods", "regmix-lightgbm,linear,mixing-law")
    assert code == 0
    rho = json.loads(out)["spearman"]
    assert set(rho) == {"regmix-lightgbm", "linear", "mixing-law"}
    assert rho["regmix-lightgbm"] > 0.98  # published: about 0.99
    assert 0.85 < rho["linear"] < rho["regmix-lightgbm"]
    assert "512 training runs, 256 test runs, 17 domains" in err


def _write(tmp_path, name, W, losses, ids):
    mix = pd.DataFrame(W, columns=[f"train_{c}" for c in "abcd"])
    mix.insert(0, "index", ids)
    loss = pd.DataFrame({"index": ids, "metric/target_val_loss": losses, "metric/other_val_loss": losses * 2})
    mix.to_csv(tmp_path / f"{name}_mix.csv", index=False)
    loss.sample(frac=1.0, random_state=0).to_csv(tmp_path / f"{name}_loss.csv", index=False)  # shuffled rows


def test_any_files_in_the_format(tmp_path):
    rng = np.random.default_rng(5)
    t = np.array([-2.0, 0.5, 1.0, -0.7])
    law = lambda W: 1.2 + 0.8 * np.exp(W @ t)  # noqa: E731  (the Data Mixing Laws form)
    Wtr, Wte = rng.dirichlet(np.ones(4), 120), rng.dirichlet(np.ones(4), 60)
    _write(tmp_path, "train", Wtr, law(Wtr), np.arange(120))
    _write(tmp_path, "test", Wte, law(Wte), np.arange(1000, 1060))
    code, out, _ = _run("--train-mix", tmp_path / "train_mix.csv", "--train-loss", tmp_path / "train_loss.csv",
                        "--test-mix", tmp_path / "test_mix.csv", "--test-loss", tmp_path / "test_loss.csv",
                        "--target", "target_val", "--json", "--json-out", tmp_path / "r.json")
    assert code == 0
    rho = json.loads(out)["spearman"]
    assert rho["mixing-law"] == pytest.approx(1.0)  # its own family: exact ranks
    assert rho["ddo-law"] > 0.95 and set(rho) == {"regmix-lightgbm", "linear", "ddo-law", "mixing-law"}
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["methods"]["mixing-law"]["spearman"] == rho["mixing-law"] and saved["test_runs"] == 60


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    code, out, err = _run("--target", "no_such_loss", "--methods", "linear")
    assert code == 2 and "not found" in err and len(err.strip().splitlines()) == 1
    code, out, err = _run("--train-mix", tmp_path / "missing.csv", "--methods", "linear")
    assert code == 2 and "not found" in err
    code, out, err = _run("--methods", "forest")
    assert code == 2 and "unknown surrogate" in err
