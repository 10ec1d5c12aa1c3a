"""Two landscapes of one grid compared (the wsd schedule against the cosine one): gaps, rankings,
noise and optima, paired by point and seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoscale_kit.core.errors import UserError
from autoscale_kit.landscape.compare import compare_landscapes, matched_points, pair_noise
from autoscale_kit.landscape.folder import shipped_landscape
from autoscale_kit.landscape.runs import read_landscape

DOMAINS = ("code", "books", "wikipedia")


@pytest.fixture(scope="module")
def frame():
    f = pd.read_csv(shipped_landscape("bundled") / "runs.csv")
    return f[f["scale"] == 2_000_000].reset_index(drop=True)


def shifted(frame, by):
    """The same runs, every loss moved by `by` (a number or an array per run), each mixture's tokens
    nudged off its grid point as a wsd branch's are."""
    g = frame.copy()
    for d in DOMAINS:
        g[f"loss:{d}"] = g[f"loss:{d}"] + by
        g[f"tokens:{d}"] = np.where(g[f"tokens:{d}"] > 0, g[f"tokens:{d}"] + 97, 0)
    return g


def test_a_landscape_shifted_by_a_constant_ranks_the_same(frame):
    a, b = read_landscape(frame), read_landscape(shifted(frame, 0.05))
    (c,) = compare_landscapes(b, a, names=("wsd", "cosine"), n_boot=10)
    assert c["points"] == 10 and c["seeds"] == [0, 1]
    assert c["mean_gap"] == pytest.approx(0.05) and c["gap_by_domain"]["code"] == pytest.approx(0.05)
    assert c["spearman"] == pytest.approx(1.0)
    assert c["pair_noise_wsd"] == pytest.approx(c["pair_noise_cosine"]) and c["pair_noise_wsd"] > 0
    assert c["pairs"] == 45 and c["pairs_flipped_beyond_noise"] == 0
    assert c["spearman_seeds_wsd"] == pytest.approx(c["spearman_seeds_cosine"])
    assert set(c["interval_wsd"]) == set(DOMAINS)


def test_a_reversed_landscape_is_reported_as_ranking_differently(frame):
    a = read_landscape(frame)
    objective = frame[[f"loss:{d}" for d in DOMAINS]].mean(axis=1).to_numpy()
    b = read_landscape(shifted(frame, 2 * (objective.mean() - objective)))   # every difference flipped
    (c,) = compare_landscapes(b, a, names=("wsd", "cosine"), n_boot=10)
    assert c["spearman"] == pytest.approx(-1.0)
    assert c["pairs_flipped_beyond_noise"] > 20


def test_points_pair_only_within_the_tolerance_and_noise_needs_two_seeds():
    pa = {(0.5, 0.5): {}, (0.2, 0.8): {}}
    pb = {(0.505, 0.495): {}, (0.25, 0.75): {}}
    assert matched_points(pa, pb) == [((0.5, 0.5), (0.505, 0.495))]
    assert np.isnan(pair_noise(np.ones((3, 1))))
    assert pair_noise(np.array([[1.0, 1.2], [2.0, 2.0]])) == pytest.approx(np.sqrt(0.02))


def test_landscapes_without_a_common_budget_or_points_are_refused(frame):
    a = read_landscape(frame)
    other = frame.copy()
    other["scale"] = 500_000
    with pytest.raises(UserError, match="share no budget"):
        compare_landscapes(a, read_landscape(other))
    few = frame[frame[[f"tokens:{d}" for d in DOMAINS]].min(axis=1) > 0]      # the interior points only
    with pytest.raises(UserError, match="share 1 design points"):
        compare_landscapes(a, read_landscape(few))


def test_the_cli_compares_the_two_shipped_landscapes(run_cli):
    r = run_cli("landscape", "compare", str(shipped_landscape("bundled-wsd")), str(shipped_landscape("bundled")),
                "--names", "wsd,cosine", "--bootstrap", "10")
    assert r.code == 0, r.err
    assert [line.split(":")[0].strip() for line in r.out.splitlines() if "mean loss gap wsd − cosine" in line] == \
        ["125k", "500k", "2M"]
    assert "optimum cosine:" in r.out and "pairs ordered differently beyond 2 s.e." in r.out
    bad = run_cli("landscape", "compare", str(shipped_landscape("bundled")), str(shipped_landscape("bundled")),
                  "--names", "same,same")
    assert bad.code == 2 and "--names takes two different names" in bad.err
