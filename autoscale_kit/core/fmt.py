"""Numbers as a person reads them: one helper for notebooks, widgets, plots, the report and the CLI.

- token counts: 250k, 1M, 4.2B (three significant digits at most, no trailing zeros);
- multiples: ×16, ×5.7k;
- weights: 3 decimals;
- losses: 3 decimals with their unit (nats per byte with the bundled byte tokenizer);
- a missing value is a dash, never a bare NaN; the table that shows one says why in a footnote.
Machine-readable outputs (JSON, CSV, `--json`) keep full precision; this is for eyes only.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

DASH = "—"
BYTE_UNIT = "nats/byte"
TOKEN_UNIT = "nats/token"


def is_missing(x) -> bool:
    """None, NaN or a pandas NA."""
    if x is None or type(x).__name__ in ("NAType", "NaTType"):
        return True
    try:
        return bool(x != x) or (isinstance(x, float) and math.isnan(x))
    except (TypeError, ValueError):
        return False


def _short(x: float, digits: int = 3) -> str:
    """x to `digits` significant digits, without trailing zeros or a trailing point."""
    s = f"{x:.{digits}g}"
    if "e" in s:
        if abs(x) >= 1:    # a number ≥ 1000 that the caller did not scale
            return f"{x:,.0f}"
        mantissa, exp = s.split("e")   # a tiny one: 1.3e-5, not 1.3e-05
        return f"{mantissa}e{int(exp)}"
    return s


def tokens(n) -> str:
    """250k, 1M, 4.2B, 2.52T; below a thousand the whole number."""
    if is_missing(n):
        return DASH
    n = float(n)
    sign = "-" if n < 0 else ""
    n = abs(n)
    for div, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= div * 0.9995:
            return f"{sign}{_short(n / div)}{unit}"
    return f"{sign}{n:.0f}" if n == int(n) else f"{sign}{_short(n)}"


def multiple(x) -> str:
    """×16, ×0.2, ×5.7k: how many times something."""
    if is_missing(x):
        return DASH
    x = float(x)
    return "×" + (tokens(x) if x >= 1000 else _short(x))


def weight(w) -> str:
    return DASH if is_missing(w) else f"{float(w):.3f}"


def weights(ws: Mapping[str, float]) -> str:
    """code 0.412, web 0.203, …"""
    return ", ".join(f"{d} {weight(w)}" for d, w in ws.items())


def percent(x, digits: int = 1) -> str:
    """A fraction as a percentage: 0.035 → 3.5%."""
    return DASH if is_missing(x) else f"{100 * float(x):.{digits}f}%"


def decimal(v, digits: int = 3, *, signed: bool = False) -> str:
    """v to `digits` decimals; `signed` shows the sign of a difference (+0.035), and a value that
    rounds to zero is 0.000 either way (never -0.000)."""
    v = float(v)
    if round(v, digits) == 0:
        return f"{0:.{digits}f}"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def loss(v, unit: str | None = BYTE_UNIT, *, signed: bool = False, digits: int = 3) -> str:
    """3.142 nats/byte; `signed` for a difference (+0.035); unit None for a bare number."""
    if is_missing(v):
        return DASH
    s = decimal(v, digits, signed=signed)
    return f"{s} {unit}" if unit else s


def interval(lo, hi, digits: int = 3, *, signed: bool = False) -> str:
    """[0.003, 0.066]"""
    if is_missing(lo) or is_missing(hi):
        return DASH
    return f"[{decimal(lo, digits, signed=signed)}, {decimal(hi, digits, signed=signed)}]"


def number(x, digits: int = 3) -> str:
    """Any other quantity: three significant digits, thousands as k/M/B."""
    if is_missing(x):
        return DASH
    x = float(x)
    return tokens(x) if abs(x) >= 1000 else _short(x, digits)


def alike(values, digits: int = 3) -> Callable:
    """One format for numbers shown side by side (a table's `number` columns): the decimals that
    give the smallest nonzero magnitude below 1000 `digits` significant digits (at most 6), so
    1.51e-6 never stands beside 0.00131 nor 0 beside 0.000742; thousands and more as k/M/B."""
    small = [abs(float(v)) for v in values if not is_missing(v) and 0 < abs(float(v)) < 1000]
    if not small or all(float(v).is_integer() for v in small):    # counts stay whole numbers
        return number
    places = min(6, max(0, digits - 1 - math.floor(math.log10(min(small)))))

    def show(x) -> str:
        if is_missing(x):
            return DASH
        return tokens(x) if abs(float(x)) >= 1000 else decimal(x, places)
    return show


def frame(df, formats: Mapping[str, Callable] | None = None, *, missing: str | None = None, caption: str | None = None):
    """A DataFrame for display (pandas Styler): each column through its formatter (by default
    numbers through `number`, every such column in one format: `alike`), missing cells as a dash,
    and a footnote saying what a dash means when there is one. A plain DataFrame is returned
    unchanged where jinja2 is not installed."""
    import pandas as pd

    formats = dict(formats or {})
    for c in df.columns:
        if c not in formats and pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]):
            formats[c] = number
    plain = [c for c, f in formats.items() if f is number and c in df.columns
             and not pd.api.types.is_integer_dtype(df[c])]                       # counts stay whole numbers
    if plain:
        shared = alike(pd.to_numeric(df[plain].stack(), errors="coerce").dropna().tolist())
        formats.update({c: shared for c in plain})
    has_missing = bool(df.isna().to_numpy().any())
    notes = [caption] if caption else []
    if has_missing:
        notes.append(f"{DASH}: {missing or 'not measured'}")
    try:
        styler = _scrolling(df).format({c: (lambda v, f=f: DASH if is_missing(v) else f(v))
                                        for c, f in formats.items()}, na_rep=DASH)
    except ImportError:
        return df
    styler = styler.hide(axis="index") if isinstance(df.index, pd.RangeIndex) else styler
    return styler.set_caption(" · ".join(notes)) if notes else styler


def _scrolling(df):
    """`df.style`, drawn inside a box that scrolls sideways when the table is wider than the cell
    (a notebook would otherwise cut its right-hand columns off)."""
    from pandas.io.formats.style import Styler

    class ScrollingStyler(Styler):
        def _repr_html_(self):
            return f'<div style="overflow-x: auto; max-width: 100%">{super()._repr_html_()}</div>'

    return ScrollingStyler(df)


def text_table(df, formats: Mapping[str, Callable] | None = None, *, missing: str | None = None) -> str:
    """`frame` as plain text (the CLI, the Markdown report): a pipe table with the footnote below."""
    formats = dict(formats or {})
    cols = [str(c) for c in df.columns]
    rows = []
    for _, r in df.iterrows():
        cells = []
        for c in df.columns:
            v = r[c]
            f = formats.get(c)
            if is_missing(v):
                cells.append(DASH)
            elif f is not None:
                cells.append(f(v))
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                cells.append(number(v))
            else:
                cells.append(str(v))
        rows.append(cells)
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    if any(DASH in r for r in rows):
        out.append(f"\n{DASH}: {missing or 'not measured'}")
    return "\n".join(out)
