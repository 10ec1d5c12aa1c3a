"""Restate the shipped BERT study's verdicts against uniform as numbers (one-off, 2026-12-03).

`benchmarks/results/bert_study.json` was written before `against_uniform` kept its numbers: each
entry is the sentence alone ("cannot be told from uniform: -0.0042 [-0.0109, +0.0026] (90%, 2
seeds); about 3 seeds would decide"). This reads the numbers back out of each sentence (gain,
interval, standing, level, seeds, seeds needed) and stores them next to it, so notebook 10 writes
the sentence in today's convention (`fit.uncertainty.paired_text`: three decimals and a unit)
without retraining. Entries that already hold numbers are left as they are.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "bert_study.json"
OLD = re.compile(r"^(beats|loses to|cannot be told from) uniform: (?:gain )?([-+]?[\d.]+)\S* \[([-+]?[\d.]+), "
                 r"([-+]?[\d.]+)\] \((\d+)%, (\d+) seeds\)(?:; about (\d+) seeds would decide)?")


def restate(text: str) -> dict:
    m = OLD.match(text)
    if not m:
        raise SystemExit(f"cannot read the numbers of {text!r}")
    word, gain, lo, hi, level, seeds, need = m.groups()
    against = {"beats": "beats", "loses to": "loses", "cannot be told from": "cannot tell"}[word]
    return {"gain": float(gain), "interval": [float(lo), float(hi)], "against": against, "seeds": int(seeds),
            "seeds_needed": int(need) if need else None, "level": int(level) / 100, "text": text,
            "restated_from": "the sentence (numbers to the 4 decimals it kept)"}


def main() -> int:
    study = json.loads(PATH.read_text())
    for name, v in study["against_uniform"].items():
        if isinstance(v, str):
            study["against_uniform"][name] = restate(v)
    PATH.write_text(json.dumps(study, indent=2) + "\n")
    print(json.dumps(study["against_uniform"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
