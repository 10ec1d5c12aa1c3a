"""Reading and checking runs tables and optima tables; finding the base run."""

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.core.tables import (find_base_run, read_optima_table, read_runs_table,
                                  write_optima_table)

ROOT = Path(__file__).resolve().parents[1]
PAPER_RUNS = ROOT / "data" / "paper" / "gpt2_1.2B_runs.csv"
PAPER_OPTIMA = ROOT / "data" / "paper" / "gpt2_optima.csv"
PAPER_RUNS_SHA256 = "6b784b7f63af501ac396312f74c8604e70bf5ee789f6ead43e74a0121b89b4d6"
DOMAINS = ["common_crawl", "github", "books", "wikipedia", "c4", "stackexchange", "arxiv"]


def small_table(**overrides):
    """base + one run per domain (2 domains), loss columns."""
    frame = pd.DataFrame({"run": ["base", "a_low", "b_low"],
                          "tokens:a": [10.0, 2.0, 10.0], "tokens:b": [10.0, 10.0, 2.0],
                          "loss:a": [2.0, 2.5, 2.05], "loss:b": [3.0, 3.01, 3.6]})
    for k, v in overrides.items():
        frame[k] = v
    return frame


def test_paper_runs_table_reads_and_matches_the_shared_copy():
    table = read_runs_table(PAPER_RUNS)
    assert table.domains == tuple(DOMAINS)
    assert table.n_runs == 15 and not table.loss and set(table.ppl) == set(DOMAINS)
    # the bundled copy is byte for byte the released table (its sha256 as shipped in shared/external)
    assert hashlib.sha256(PAPER_RUNS.read_bytes()).hexdigest() == PAPER_RUNS_SHA256
    shared = ROOT.parent / "shared" / "external" / "autoscale-paper" / "paper_gpt2_1.2B_runs.csv"
    if shared.exists():  # beside a checkout (developers, CI): the same bytes as the shared copy
        assert PAPER_RUNS.read_bytes() == shared.read_bytes()
    assert table.ppl["common_crawl"][0] == pytest.approx(38.43918768, abs=0)
    assert np.allclose(table.domain_loss("c4"), np.log(table.ppl["c4"]))


def test_paper_base_run_and_perturbations():
    table = read_runs_table(PAPER_RUNS)
    base = find_base_run(table)
    assert base.row == 0 and base.replicates == (0,)
    for i, d in enumerate(DOMAINS):
        assert base.perturbed[d] == (1 + i, 8 + i)


def test_dataframe_input_and_extra_columns_ignored():
    frame = small_table(seed=[1, 2, 3], note=["x", "y", "z"])
    table = read_runs_table(frame)
    assert table.domains == ("a", "b") and table.run_ids == ("base", "a_low", "b_low")
    assert set(table.loss) == {"a", "b"}


@pytest.mark.parametrize("change, fragment", [
    (lambda f: f.drop(columns=["tokens:a", "tokens:b"]), "no tokens:<domain> columns"),
    (lambda f: f.drop(columns=["loss:a", "loss:b"]), "no loss:<domain> or ppl:<domain> columns"),
    (lambda f: f.assign(**{"loss:a": ["2.0", "two", "2.05"]}), "'two', not a number"),
    (lambda f: f.assign(**{"loss:a": [2.0, np.nan, 2.05]}), "must be a finite number"),
    (lambda f: f.assign(**{"loss:a": [2.0, np.inf, 2.05]}), "must be a finite number"),
    (lambda f: f.assign(**{"tokens:a": [10.0, 0.0, 10.0]}), "greater than 0"),
    (lambda f: f.assign(**{"tokens:a": [10.0, -2.0, 10.0]}), "greater than 0"),
    (lambda f: f.assign(**{"loss:a": [2.0, -1.0, 2.05]}), "greater than 0"),
    (lambda f: f.iloc[:0], "no rows"),
])
def test_bad_runs_tables_raise_user_errors(change, fragment):
    with pytest.raises(UserError, match=None) as exc:
        read_runs_table(change(small_table()))
    assert fragment in str(exc.value)


def test_validation_domains_may_differ_from_training_domains():
    """loss:<d> without tokens:<d> is evaluation-only; tokens:<d> without a loss is trained on, not judged."""
    frame = small_table().assign(**{"loss:held_out": [4.0, 4.1, 3.9]})
    table = read_runs_table(frame)
    assert table.domains == ("a", "b") and table.eval_domains == ("a", "b", "held_out")
    assert table.eval_only == ("held_out",) and table.notes == ()
    # a training domain with no validation column is noted, with a hint when a name looks misspelt
    renamed = read_runs_table(small_table().rename(columns={"loss:b": "loss:bb"}))
    assert renamed.eval_domains == ("a", "bb") and renamed.eval_only == ("bb",)
    assert len(renamed.notes) == 1 and "'b' has no validation column" in renamed.notes[0]
    assert "misspelling" in renamed.notes[0]
    # the writer and the reader agree: a table survives a round trip through its CSV form
    from autoscale_kit.core.tables import runs_frame

    again = read_runs_table(runs_frame(table))
    assert again.eval_domains == table.eval_domains and np.array_equal(again.tokens, table.tokens)
    assert all(np.array_equal(again.loss[d], table.loss[d]) for d in table.loss)


def test_zero_quantities_only_where_allowed():
    frame = small_table().assign(**{"tokens:a": [10.0, 0.0, 10.0]})
    with pytest.raises(UserError, match="greater than 0"):
        read_runs_table(frame)
    table = read_runs_table(frame, allow_zero=True)
    assert table.tokens[1, 0] == 0.0
    with pytest.raises(UserError, match="at least 0"):
        read_runs_table(small_table().assign(**{"tokens:a": [10.0, -1.0, 10.0]}), allow_zero=True)
    with pytest.raises(UserError, match="no tokens at all"):
        read_runs_table(small_table().assign(**{"tokens:a": [10.0, 0.0, 10.0], "tokens:b": [10.0, 0.0, 2.0]}),
                        allow_zero=True)


def test_bad_cells_are_named_by_column_and_row(tmp_path):
    path = tmp_path / "runs.csv"
    small_table(**{"loss:b": ["3.0", "", "3.6"]}).to_csv(path, index=False)
    with pytest.raises(UserError, match=r"column 'loss:b', row 2 \(run 'a_low'\) is empty"):
        read_runs_table(path)
    path.write_text("run,tokens:a,tokens:a,loss:a\nbase,1,1,2\n")
    with pytest.raises(UserError, match="duplicate columns tokens:a"):
        read_runs_table(path)
    path.write_text("")
    with pytest.raises(UserError, match="not a readable CSV"):
        read_runs_table(path)
    with pytest.raises(UserError, match="not found"):
        read_runs_table(tmp_path / "missing.csv")


def test_perplexity_must_exceed_one():
    frame = small_table().rename(columns={"loss:a": "ppl:a"})
    frame["ppl:a"] = [7.0, 0.5, 7.1]
    with pytest.raises(UserError, match="validation perplexity"):
        read_runs_table(frame)


def test_base_run_errors_and_tie_breaks():
    # a row changing two domains: no base
    frame = small_table()
    frame.loc[3] = ["both", 2.0, 2.0, 2.6, 3.7]
    with pytest.raises(UserError, match="no base run found.*changes? two or more domains"):
        find_base_run(read_runs_table(frame))
    # one domain perturbed only: every row could be the base
    one = pd.DataFrame({"tokens:a": [1.0, 0.2, 3.0], "tokens:b": [1.0, 1.0, 1.0],
                        "loss:a": [2.0, 2.4, 1.8], "loss:b": [3.0, 3.0, 3.0]})
    with pytest.raises(UserError, match="no unique base run"):
        find_base_run(read_runs_table(one))
    assert find_base_run(read_runs_table(one), base=0).row == 0
    one.insert(0, "run", ["low", "base", "high"])
    one[["tokens:a"]] = [[0.2], [1.0], [3.0]]
    assert find_base_run(read_runs_table(one)).row == 1  # the run named "base" wins the tie
    with pytest.raises(UserError, match="no run named 'nope'"):
        find_base_run(read_runs_table(one), base="nope")


def test_base_replicates_and_tolerance():
    frame = small_table()
    frame.loc[3] = ["base_seed2", 10.0 * (1 + 1e-12), 10.0, 2.01, 3.02]
    base = find_base_run(read_runs_table(frame))
    assert base.replicates == (0, 3)
    assert base.perturbed == {"a": (1,), "b": (2,)}


def test_optima_table_round_trip(tmp_path):
    optima = [Mixture({"x": 1.0, "y": 3.0}), Mixture({"x": 2.5, "y": 5.5})]
    path = write_optima_table(optima, tmp_path / "optima.csv", labels=["small", "large"])
    back, labels = read_optima_table(path)
    assert labels == ("small", "large")
    assert [m.tokens for m in back] == [m.tokens for m in optima]
    assert not (tmp_path / "optima.csv.tmp").exists()
    with pytest.raises(UserError, match="different domains"):
        write_optima_table([optima[0], Mixture({"x": 1.0})], tmp_path / "bad.csv")


def test_optima_table_errors(tmp_path):
    path = tmp_path / "optima.csv"
    path.write_text("scale,tokens:x,tokens:y\n1,1,0\n")
    with pytest.raises(UserError, match="'tokens:y', row 1 is 0"):
        read_optima_table(path)
    path.write_text("scale,x,y\n1,1,2\n")
    with pytest.raises(UserError, match="no tokens:<domain> columns"):
        read_optima_table(path)


def test_paper_optima_table_matches_the_printed_vectors():
    optima, labels = read_optima_table(PAPER_OPTIMA)
    assert labels == ("0.3B", "0.6B", "1.2B")
    printed = {  # paper.md §7.5, billions of tokens, 8 decimals
        "0.3B": [0.06677956, 0.00857143, 0.04991128, 0.06099997, 0.06409308, 0.02922205, 0.02042263],
        "0.6B": [0.14174828, 0.01714286, 0.10275444, 0.10953616, 0.13896071, 0.06782484, 0.02203271],
        "1.2B": [0.27963676, 0.03428571, 0.22316654, 0.20815835, 0.31417061, 0.10629632, 0.03428571],
    }
    for m, label in zip(optima, labels):
        assert m.domains == tuple(DOMAINS)
        assert np.max(np.abs(np.array([m[d] for d in DOMAINS]) - np.array(printed[label]) * 1e9)) <= 5.01
    assert optima[1]["stackexchange"] / optima[1].total * 7 == pytest.approx(0.7912898, rel=1e-12)
