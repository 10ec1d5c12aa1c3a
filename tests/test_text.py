"""Text for a person: notes wrap between words, Markdown's characters stay themselves, a study's
config is a short table."""

from __future__ import annotations

from autoscale_kit.fit.uncertainty import paired_text, paired_verdict
from autoscale_kit.present.text import WIDTH, config_table, note
from autoscale_kit.study.config import study_config


def test_a_note_wraps_between_words_and_keeps_markdown_characters():
    long = ("At 4M tokens, no mixture reached uniform's final loss (1.871 nats/byte) with fewer tokens on every seed; "
            "the closest, autoscale_x (the same mixture as ddo-reused), ends 0.031 nats/byte above *uniform's* loss")
    n = note(long, title="Verdict", items=["see `autoscale-kit demo` for more [here]"])
    text = str(n)
    assert all(len(line) <= WIDTH for line in text.splitlines())
    words = set(long.split())
    assert all(w in words or w in ("Verdict", "-") or "autoscale-kit" in w or w in ("see", "`autoscale-kit", "demo`",
               "for", "more", "[here]") for line in text.splitlines() for w in line.split())
    md = n._repr_markdown_()
    assert md.startswith("**Verdict**") and r"autoscale\_x" in md and r"\*uniform's\*" in md
    assert "`autoscale-kit demo`" in md and r"\[here\]" in md
    assert note("", "kept").paragraphs == ("kept",)


def test_a_config_is_a_short_table_of_what_decides_the_numbers():
    table = config_table(study_config("small"))
    rows = dict(zip(table["setting"], table["value"]))
    assert rows["DDO budgets"] == "250k, 1M" and rows["target"] == "4M" and rows["DDO ratios"] == "×0.2, ×3"
    assert rows["interval level"] == "90%" and "layers" in rows["proxy"] and len(table) <= 14


def test_a_saved_verdict_is_restated_from_its_numbers():
    v = paired_verdict({0: 3.0, 1: 3.1}, {0: 3.02, 1: 3.09}, 0.9, "nats/byte")
    assert paired_text(v, 0.9, "nats/byte") == v["text"] and "nats/byte" in v["text"]
