"""Mixture: construction, validation, derived mixtures, rounding that keeps the total."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture


def test_from_weights_normalises():
    m = Mixture.from_weights({"a": 2, "b": 6}, 1000)
    assert m.tokens == {"a": 250.0, "b": 750.0}
    assert m.weights == {"a": 0.25, "b": 0.75}
    assert m.domains == ("a", "b") and m.total == 1000


def test_derived_mixtures():
    m = Mixture({"a": 10, "b": 30})
    assert m.with_tokens("a", 2).tokens == {"a": 2.0, "b": 30.0}
    assert m.scaled(0.5).total == 20
    assert m["b"] == 30
    assert Mixture.uniform(["x", "y", "z"], 9).tokens == {"x": 3.0, "y": 3.0, "z": 3.0}


@pytest.mark.parametrize("tokens, pattern", [
    ({"a": -1, "b": 2}, "non-negative"),
    ({"a": float("nan")}, "finite"),
    ({"a": "lots"}, "must be a number"),
    ({}, "at least one domain"),
    ({"a": 0, "b": 0}, "positive total"),
    ({"": 3}, "non-empty"),
])
def test_bad_mixtures(tokens, pattern):
    with pytest.raises(UserError, match=pattern):
        Mixture(tokens)


def test_duplicate_and_unknown_domain():
    with pytest.raises(UserError, match="appears twice"):
        Mixture([("a", 1), ("a", 2)])
    with pytest.raises(UserError, match="unknown domain 'c'"):
        Mixture({"a": 1})["c"]
    with pytest.raises(UserError, match="positive number"):
        Mixture.from_weights({"a": 1}, -5)
    with pytest.raises(UserError, match="not all be zero"):
        Mixture.from_weights({"a": 0}, 5)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e7, allow_nan=False), min_size=1, max_size=8)
       .filter(lambda v: sum(v) > 1))
def test_rounded_keeps_the_total_and_moves_each_domain_by_less_than_one(values):
    m = Mixture({f"d{i}": v for i, v in enumerate(values)})
    r = m.rounded()
    assert r.total == round(m.total)
    for d in m.domains:
        assert r[d] == int(r[d]) and abs(r[d] - m[d]) < 1.0


def test_rounded_example():
    r = Mixture.from_weights({"a": 1, "b": 1, "c": 1}, 20_000).rounded()
    assert r.total == 20_000 and sorted(r.tokens.values()) == [6666, 6667, 6667]
    assert math.isclose(Mixture({"a": 3.0, "b": 4.0}).rounded().total, 7)
