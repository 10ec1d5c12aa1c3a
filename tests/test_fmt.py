"""The one number format: what a person reads in notebooks, widgets, the report and the CLI."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from autoscale_kit.core import fmt
from autoscale_kit.proxy.families import loss_unit


@pytest.mark.parametrize("n, text", [(0, "0"), (999, "999"), (1000, "1k"), (250_000, "250k"), (999_600, "1M"),
                                     (1_000_000, "1M"), (1_893_000, "1.89M"), (4.2e9, "4.2B"), (2.52e12, "2.52T"),
                                     (16_384_000, "16.4M"), (-250_000, "-250k")])
def test_token_counts(n, text):
    assert fmt.tokens(n) == text


def test_multiples_weights_losses_and_intervals():
    assert fmt.multiple(16) == "×16" and fmt.multiple(0.2) == "×0.2" and fmt.multiple(1 / 3) == "×0.333"
    assert fmt.multiple(5730) == "×5.73k"
    assert fmt.weight(1 / 3) == "0.333" and fmt.weights({"a": 0.25, "b": 0.75}) == "a 0.250, b 0.750"
    assert fmt.loss(1.87169) == "1.872 nats/byte" and fmt.loss(0.0351, signed=True) == "+0.035 nats/byte"
    assert fmt.loss(2.5, None) == "2.500" and fmt.interval(0.003, 0.066) == "[0.003, 0.066]"
    assert fmt.interval(-0.011, 0.003, signed=True) == "[-0.011, +0.003]"
    assert fmt.percent(0.453) == "45.3%" and fmt.number(1.3e-5) == "1.3e-5" and fmt.number(12_345) == "12.3k"
    assert loss_unit("bytes") == "nats/byte" and loss_unit("gpt2") == "nats/token"
    assert loss_unit("bytes", "bert") == "nats/masked byte"


@pytest.mark.parametrize("missing", [None, float("nan"), np.nan, pd.NA])
def test_missing_values_are_a_dash(missing):
    for f in (fmt.tokens, fmt.multiple, fmt.weight, fmt.loss, fmt.percent, fmt.number):
        assert f(missing) == fmt.DASH
    assert fmt.interval(missing, 1.0) == fmt.DASH


def test_tables_never_show_a_bare_nan():
    df = pd.DataFrame({"mixture": ["a", "b"], "loss": [1.5, math.nan], "tokens": [250_000, 4_000_000]})
    text = fmt.text_table(df, {"tokens": fmt.tokens}, missing="never reached")
    assert "nan" not in text.lower() and fmt.DASH in text and "never reached" in text and "4M" in text
    html = fmt.frame(df, {"tokens": fmt.tokens}, missing="never reached").to_html()
    assert "nan" not in html.lower() and fmt.DASH in html and "never reached" in html and "250k" in html
    clean = fmt.text_table(df.dropna())
    assert fmt.DASH not in clean    # no footnote without a dash


def test_numbers_side_by_side_share_one_format_and_zero_has_no_sign():
    """07's table once read 1.51e-6 beside 0.00131 and 0 beside 0.000742; 10's read -0.000."""
    show = fmt.alike([1.51e-6, 0.00131, 0.0, 0.000742])
    cells = [show(v) for v in (1.51e-6, 0.00131, 0.0, 0.000742)]
    assert cells == ["0.000002", "0.001310", "0.000000", "0.000742"]
    assert not any("e" in c for c in cells)
    assert fmt.alike([0.5, 2.25])(2.25) == "2.250" and fmt.alike([0.5, 4e6])(4e6) == "4M"
    assert fmt.loss(-0.0004, None, signed=True) == "0.000" and fmt.loss(-0.0004, "nats/byte") == "0.000 nats/byte"
    assert fmt.interval(-0.0001, 0.003, signed=True) == "[0.000, +0.003]"
    assert fmt.loss(-0.031, None, signed=True) == "-0.031"


def test_a_frame_formats_its_number_columns_alike_and_scrolls_sideways():
    import pandas as pd

    styled = fmt.frame(pd.DataFrame({"m": ["a", "b"], "x": [1.51e-6, 0.00131], "y": [0.0, 0.000742]}))
    html = styled.to_html()
    assert "1.51e-6" not in html and "0.000002" in html and "0.000000" in html
    assert styled._repr_html_().startswith('<div style="overflow-x: auto')


def test_whole_numbers_stay_whole_beside_decimals():
    import pandas as pd

    html = fmt.frame(pd.DataFrame({"seeds": [2, 3], "x": [0.25, 0.5]})).to_html()
    assert ">2<" in html and "2.00" not in html and "0.250" in html
    assert fmt.alike([2.0, 3.0])(2.0) == "2"
