"""`autoscale-kit ddo` and `autoscale-kit predict`: outputs, and one-line errors for bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autoscale_kit.cli.main import main
from autoscale_kit.core.mixture import parse_tokens
from autoscale_kit.core.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
PAPER_RUNS = ROOT / "data" / "paper" / "gpt2_1.2B_runs.csv"
PAPER_OPTIMA = ROOT / "data" / "paper" / "gpt2_optima.csv"
DOMAINS = ["common_crawl", "github", "books", "wikipedia", "c4", "stackexchange", "arxiv"]
PAPER_X = [1.62475, 0.2, 1.27415, 1.17980, 1.85190, 0.63716, 0.23224]
PAPER_A = [2.6658731959247985, 6.616175591939301, 2.673602759483928, 2.4631072679557477, 2.518384099486731,
           2.889957893044303, 3.31917392337233]
PAPER_B = [1.2492023890295736, 1.4360012483967404, 1.5362602612056064, 1.8287307258995613, 1.1858721474138574,
           1.9536275987550742, 1.926671000555819]
PAPER_C = [0.8026540600177617, 0.9458217913242287, 0.8645212064449814, 0.8968517051583392, 0.775039246658818,
           0.9296170669705276, 0.9403250708425615]


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_ddo_json_reproduces_the_paper(capsys):
    code, out, err = run_cli(capsys, "ddo", PAPER_RUNS, "--objective", "mean-ppl", "--min-ratio", "0.2", "--json")
    assert code == 0 and err == ""
    result = json.loads(out)
    assert [result["weights"][d] for d in DOMAINS] == pytest.approx(np.array(PAPER_X) / 7, abs=1e-3)
    assert [result["weights"][d] for d in DOMAINS] == pytest.approx(np.array(PAPER_X) / 7, abs=1e-6)
    assert sum(result["tokens"].values()) == pytest.approx(7.0)
    for d, a, b, c in zip(DOMAINS, PAPER_A, PAPER_B, PAPER_C):
        fit = result["fits"][d]
        assert (fit["a"], fit["b"], fit["c"], fit["k"]) == pytest.approx((a, b, c, 1.0), abs=1e-6)
        assert fit["interpolates"] is True and "rmse" in fit
    assert result["predicted_objective"] == pytest.approx(28.11373645 - 1.6305, abs=1e-4)
    assert result["ambiguity"]["ambiguous"] is True
    assert any("add perturbation ratios" in w for w in result["warnings"])
    assert result["at_bound"] == {"github": "lower"}


def test_ddo_default_objective_is_the_papers(capsys):
    code, out, _ = run_cli(capsys, "ddo", PAPER_RUNS, "--json", "--no-ambiguity")
    assert json.loads(out)["objective"] == "mean-ppl" and json.loads(out)["ambiguity"] is None


def test_ddo_table_output(capsys):
    code, out, err = run_cli(capsys, "ddo", PAPER_RUNS)
    assert code == 0
    assert "common_crawl" in out and "weight" in out and "predicted at the optimum 26.48" in out
    assert err.startswith("warning: ambiguous fit")


def test_predict_json_and_table(capsys, tmp_path):
    code, out, err = run_cli(capsys, "predict", PAPER_OPTIMA, "--total", "3B", "--json")
    assert code == 0 and err == ""
    result = json.loads(out)
    assert sum(result["tokens"].values()) == pytest.approx(3e9)
    assert [result["weights"][d] for d in DOMAINS] == pytest.approx(
        [0.2370, 0.0279, 0.1930, 0.1513, 0.2889, 0.0870, 0.0150], abs=1e-4)
    assert result["method"] == "least-squares" and result["scales"] == ["0.3B", "0.6B", "1.2B"]
    two = tmp_path / "two.csv"
    pd.read_csv(PAPER_OPTIMA).iloc[[0, 2]].to_csv(two, index=False)
    code, out, _ = run_cli(capsys, "predict", two, "--total", "5e9", "--json")
    assert json.loads(out)["method"] == "continuous"
    code, out, _ = run_cli(capsys, "predict", two, "--method", "step", "--json")
    assert sum(json.loads(out)["tokens"].values()) / 1e9 == pytest.approx(5.000487243200733, rel=1e-14)
    code, out, _ = run_cli(capsys, "predict", two, "--total", "10B")
    assert code == 0 and "continuous" in out and "arxiv" in out


@pytest.mark.parametrize("text, value", [("5e9", 5e9), ("5B", 5e9), ("300M", 3e8), ("1.5t", 1.5e12),
                                         ("250k", 2.5e5), ("7", 7.0), ("2G", 2e9)])
def test_parse_tokens(text, value):
    assert parse_tokens(text) == value


@pytest.mark.parametrize("text", ["abc", "5X", "-5B", "0", "nan", "inf", ""])
def test_parse_tokens_rejects(text):
    with pytest.raises(UserError):
        parse_tokens(text)


def _table(tmp_path, name, frame=None, text=None):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    else:
        frame.to_csv(path, index=False)
    return path


def _paper():
    return pd.read_csv(PAPER_RUNS)


BAD_DDO = {
    "missing file": lambda p: ["ddo", p / "nope.csv"],
    "no tokens columns": lambda p: ["ddo", _table(p, "r.csv", text="run,loss\nbase,2\n")],
    "no unique base": lambda p: ["ddo", _table(p, "r.csv", _paper().assign(**{"tokens:c4": [1.0] * 14 + [3.0]}))],
    "too few ratios": lambda p: ["ddo", _table(p, "r.csv", _paper().assign(**{"tokens:arxiv": [1.0] * 14 + [2.0]}))],
    "non-numeric cell": lambda p: ["ddo", _table(p, "r.csv", _paper().astype({"ppl:c4": object}).assign(
        **{"ppl:c4": ["52.7"] * 14 + ["n/a"]}))],
    "zero tokens": lambda p: ["ddo", _table(p, "r.csv", _paper().assign(**{"tokens:books": [1.0] * 14 + [0.0]}))],
    "negative tokens": lambda p: ["ddo", _table(p, "r.csv", _paper().assign(**{"tokens:books": [-1.0] + [1.0] * 14}))],
    "NaN loss": lambda p: ["ddo", _table(p, "r.csv", _paper().assign(**{"ppl:github": [np.nan] + [6.8] * 14}))],
    "empty table": lambda p: ["ddo", _table(p, "r.csv", _paper().iloc[:0])],
    "empty file": lambda p: ["ddo", _table(p, "r.csv", text="")],
    "min-ratio too large": lambda p: ["ddo", PAPER_RUNS, "--min-ratio", "2"],
    "min-ratio not a number": lambda p: ["ddo", PAPER_RUNS, "--min-ratio", "lots"],
    "negative min-ratio": lambda p: ["ddo", PAPER_RUNS, "--min-ratio", "-1"],
    "infinite min-ratio": lambda p: ["ddo", PAPER_RUNS, "--min-ratio", "inf"],
    "NaN max-ratio": lambda p: ["ddo", PAPER_RUNS, "--max-ratio", "nan"],
    "unknown objective domain": lambda p: ["ddo", PAPER_RUNS, "--objective", "loss:wiki"],
    "unknown objective": lambda p: ["ddo", PAPER_RUNS, "--objective", "median"],
    "unknown base": lambda p: ["ddo", PAPER_RUNS, "--base", "nope"],
}
BAD_PREDICT = {
    "single scale": lambda p: ["predict", _table(p, "o.csv", pd.read_csv(PAPER_OPTIMA).iloc[[0]]), "--total", "5B"],
    "non-positive target": lambda p: ["predict", PAPER_OPTIMA, "--total", "0"],
    "negative target": lambda p: ["predict", PAPER_OPTIMA, "--total=-5B"],
    "unreadable target": lambda p: ["predict", PAPER_OPTIMA, "--total", "lots"],
    "no target": lambda p: ["predict", PAPER_OPTIMA],
    "step with three scales": lambda p: ["predict", PAPER_OPTIMA, "--method", "step"],
    "zero quantity": lambda p: ["predict", _table(p, "o.csv", pd.read_csv(PAPER_OPTIMA).assign(
        **{"tokens:github": [0.0, 1e7, 2e7]})), "--total", "5B"],
    "same totals": lambda p: ["predict", _table(p, "o.csv", pd.read_csv(PAPER_OPTIMA).iloc[[0, 0]]), "--total", "5B"],
    "missing file": lambda p: ["predict", p / "nope.csv", "--total", "5B"],
    "no subcommand args": lambda p: ["predict"],
}


@pytest.mark.parametrize("case", list(BAD_DDO) + list(BAD_PREDICT))
def test_bad_input_gives_one_line_and_status_2(case, tmp_path, capsys):
    argv = (BAD_DDO.get(case) or BAD_PREDICT[case])(tmp_path)
    code, out, err = run_cli(capsys, *argv)
    assert code == 2, (case, out, err)
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err


def test_unpaired_columns_are_evaluation_only_and_a_likely_misspelling_is_named(tmp_path, capsys):
    """ppl:wiki with no tokens:wiki is an evaluation-only domain; tokens:wikipedia with no ppl column
    is trained on but not judged. DDO runs, and the warning names the likely misspelling."""
    table = _table(tmp_path, "r.csv", _paper().rename(columns={"ppl:wikipedia": "ppl:wiki"}))
    code, out, err = run_cli(capsys, "ddo", table, "--json")
    assert code == 0
    result = json.loads(out)
    assert "wiki" in result["validation"] and "wikipedia" not in result["validation"]
    assert any("ppl:wiki" in w and "tokens:wiki" in w and "misspelling" in w for w in result["warnings"])
    code, out, err = run_cli(capsys, "ddo", table)
    assert code == 0 and "ppl:wiki" in err and "tokens:wiki" in err
    # the objective over the validation domains the user names, evaluation-only ones included
    code, out, _ = run_cli(capsys, "ddo", _table(tmp_path, "r2.csv", _paper().drop(columns=["ppl:c4"])), "--json",
                           "--validation", "github,books")
    assert code == 0 and json.loads(out)["validation"] == ["github", "books"]
    code, _, err = run_cli(capsys, "ddo", table, "--validation", "github,nope")
    assert code == 2 and "'nope'" in err
    _, _, err = run_cli(capsys, *BAD_DDO["min-ratio too large"](tmp_path))
    assert "min-ratio 2.0" in err and "below 1" in err
    _, _, err = run_cli(capsys, *BAD_DDO["NaN loss"](tmp_path))
    assert "ppl:github" in err and "row 1" in err
    _, _, err = run_cli(capsys, *BAD_DDO["no unique base"](tmp_path))
    assert "base run" in err and "exactly one domain" in err and "add_arxiv" in err
    _, _, err = run_cli(capsys, *BAD_DDO["too few ratios"](tmp_path))
    assert "domain arxiv: 2 distinct quantities" in err


def test_the_installed_entry_point_exits_2_without_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-m", "autoscale_kit", "ddo", str(tmp_path / "nope.csv")],
                          capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "autoscale_kit", "predict", str(PAPER_OPTIMA), "--total", "5B",
                           "--json"], capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 0 and json.loads(proc.stdout)["tokens"]
