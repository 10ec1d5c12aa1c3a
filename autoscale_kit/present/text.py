"""Text for a person: verdicts, warnings and summaries as paragraphs that wrap between words.

A notebook's printed output is preformatted: a long line is broken wherever the window ends,
in the middle of a word ("nat s/byte"). `note(...)` returns an object that a notebook shows as
Markdown (the browser wraps it between words) and a console or a test reads as plain text
wrapped at 100 columns. `config_table` is a study's config as the short table of the fields that
decide its numbers, instead of the dataclass's one-line dump.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Iterable

import pandas as pd

from autoscale_kit.core import fmt

WIDTH = 100
_MARKDOWN = re.compile(r"([\\*_\[\]<>|#])")


def _escape(text: str) -> str:
    """Markdown's own characters shown as themselves; `code` spans are kept as code."""
    parts = str(text).split("`")
    return "`".join(p if i % 2 else _MARKDOWN.sub(r"\\\1", p) for i, p in enumerate(parts))


@dataclass(frozen=True)
class Note:
    """Paragraphs (and a list of items) under an optional bold title."""

    paragraphs: tuple[str, ...]
    title: str | None = None
    items: tuple[str, ...] = ()

    def _repr_markdown_(self) -> str:
        out = [f"**{_escape(self.title)}**"] if self.title else []
        out += [_escape(p) for p in self.paragraphs]
        if self.items:
            out.append("\n".join(f"- {_escape(i)}" for i in self.items))
        return "\n\n".join(out)

    def __str__(self) -> str:
        out = [self.title] if self.title else []
        out += [textwrap.fill(p, WIDTH, break_long_words=False, break_on_hyphens=False) for p in self.paragraphs]
        out += [textwrap.fill(i, WIDTH, initial_indent="- ", subsequent_indent="  ", break_long_words=False,
                              break_on_hyphens=False) for i in self.items]
        return "\n".join(out)

    __repr__ = __str__


def note(*paragraphs: str, title: str | None = None, items: Iterable[str] = ()) -> Note:
    """Text to show: empty paragraphs are left out."""
    return Note(tuple(str(p) for p in paragraphs if p), title, tuple(str(i) for i in items))


# the study fields that decide its numbers, in the order a reader asks about them
CONFIG_FIELDS = (("name", "study"), ("budgets", "DDO budgets"), ("target", "target"), ("seeds", "validation seeds"),
                 ("ddo_seeds", "DDO seeds"), ("ratios", "DDO ratios"), ("objective", "objective"),
                 ("surrogate", "surrogate"), ("verify", "verification runs per budget"), ("level", "interval level"))


def config_table(config) -> pd.DataFrame:
    """A study's config as a short two-column table: what it trains and how (the proxy's size and
    schedule included), not every field of the dataclass."""

    def show(key, value):
        if key in ("budgets", "target"):
            return ", ".join(fmt.tokens(v) for v in (value if isinstance(value, (tuple, list)) else [value]))
        if key == "level":
            return fmt.percent(value, 0)
        if key == "ratios":
            return ", ".join(f"×{r:g}" for r in value)
        if isinstance(value, (tuple, list)):
            return ", ".join(str(v) for v in value)
        return str(value)

    rows = [(label, show(key, getattr(config, key))) for key, label in CONFIG_FIELDS if hasattr(config, key)]
    proxy = config.proxy
    rows.append(("proxy", f"{getattr(proxy, 'family', 'gpt2')}, {proxy.n_layer} layers × {proxy.n_embd} wide, "
                          f"sequences of {proxy.seq_len} tokens, batch {proxy.batch_size}, learning rate {proxy.lr:g}"))
    rows.append(("corpus", config.corpus_ref.source or "the bundled corpus"))
    return pd.DataFrame(rows, columns=["setting", "value"])
