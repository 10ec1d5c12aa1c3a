"""`Mixture`: how many tokens of each domain go into one training run.

A Mixture is the unit every other module speaks: DDO plans return Mixtures, the predictor
returns one, proxy training consumes one. Quantities are floats so that relative units (the
paper's "multiples of the base quantity") and absolute token counts use the same type;
`rounded()` gives whole tokens for training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping

from autoscale_kit.core.errors import UserError


def _check_domain_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise UserError(f"domain names must be non-empty strings, got {name!r}")
    return name


@dataclass(frozen=True)
class Mixture:
    """Tokens per domain, in a fixed domain order (the order given at construction)."""

    pairs: tuple[tuple[str, float], ...]   # (domain, tokens) in order; `items()` as for a dict

    def __init__(self, tokens: Mapping[str, float] | Iterable[tuple[str, float]]):
        if isinstance(tokens, Mixture):
            tokens = tokens.pairs
        if isinstance(tokens, (str, bytes)) or not (isinstance(tokens, Mapping) or hasattr(tokens, "__iter__")):
            raise UserError(f"a mixture is built from {{domain: tokens}} or (domain, tokens) pairs, got {tokens!r}")
        pairs = list(tokens.items()) if isinstance(tokens, Mapping) else list(tokens)
        for p in pairs:
            if not isinstance(p, tuple) or len(p) != 2:
                raise UserError(f"a mixture is built from (domain, tokens) pairs, got the item {p!r}")
        if not pairs:
            raise UserError("a mixture needs at least one domain")
        seen: set[str] = set()
        clean = []
        for name, value in pairs:
            _check_domain_name(name)
            if name in seen:
                raise UserError(f"domain {name!r} appears twice in the mixture")
            seen.add(name)
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise UserError(f"tokens for domain {name!r} must be a number, got {value!r}") from None
            if not math.isfinite(v):
                raise UserError(f"tokens for domain {name!r} must be finite, got {v}")
            if v < 0:
                raise UserError(f"tokens for domain {name!r} must be non-negative, got {v}")
            clean.append((name, v))
        total = sum(v for _, v in clean)
        if not math.isfinite(total):
            raise UserError("the mixture's quantities overflow (their total is not a finite number); use smaller "
                            "quantities or another unit")
        if total <= 0:
            raise UserError("a mixture needs a positive total number of tokens")
        object.__setattr__(self, "pairs", tuple(clean))

    # --- construction ------------------------------------------------------------------
    @classmethod
    def from_weights(cls, weights: Mapping[str, float], total: float) -> "Mixture":
        """Tokens = weight × total, after normalising the weights to sum to one."""
        if isinstance(total, bool) or not (isinstance(total, (int, float)) and math.isfinite(total) and total > 0):
            raise UserError(f"the total number of tokens must be a positive number, got {total!r}")
        if not isinstance(weights, Mapping):
            raise UserError(f"weights must be a {{domain: weight}} mapping, got {weights!r}")
        ws = {}
        for name, w in weights.items():
            try:
                ws[name] = float(w)
            except (TypeError, ValueError):
                raise UserError(f"weight for domain {name!r} must be a number, got {w!r}") from None
            if not math.isfinite(ws[name]) or ws[name] < 0:
                raise UserError(f"weight for domain {name!r} must be a finite non-negative number, got {w!r}")
        s = sum(ws.values())
        if not math.isfinite(s):
            raise UserError("the weights overflow (their sum is not a finite number); use smaller weights")
        if s <= 0:
            raise UserError("weights must not all be zero")
        return cls({d: w / s * total for d, w in ws.items()})

    @classmethod
    def uniform(cls, domains: Iterable[str], total: float) -> "Mixture":
        return cls.from_weights({d: 1.0 for d in domains}, total)

    # --- views -------------------------------------------------------------------------
    def items(self) -> tuple[tuple[str, float], ...]:
        """(domain, tokens) pairs in order, as `dict.items()` gives them."""
        return self.pairs

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(d for d, _ in self.pairs)

    @property
    def tokens(self) -> dict[str, float]:
        return dict(self.pairs)

    @property
    def total(self) -> float:
        return float(sum(v for _, v in self.pairs))

    @property
    def weights(self) -> dict[str, float]:
        t = self.total
        return {d: v / t for d, v in self.pairs}

    def __getitem__(self, domain: str) -> float:
        for d, v in self.pairs:
            if d == domain:
                return v
        raise UserError(f"unknown domain {domain!r}; the mixture has {', '.join(self.domains)}")

    def __len__(self) -> int:
        return len(self.pairs)

    # --- derived mixtures --------------------------------------------------------------
    def with_tokens(self, domain: str, tokens: float) -> "Mixture":
        """The same mixture with one domain's quantity replaced (others unchanged)."""
        self[domain]  # raises on an unknown domain
        return Mixture([(d, tokens if d == domain else v) for d, v in self.pairs])

    def scaled(self, factor: float) -> "Mixture":
        return Mixture([(d, v * factor) for d, v in self.pairs])

    def rounded(self) -> "Mixture":
        """Whole tokens per domain that add up to the rounded total (largest remainders get the
        leftover tokens; ties go to the earlier domain), for training."""
        floors = [math.floor(v) for _, v in self.pairs]
        left = int(round(self.total)) - sum(floors)
        order = sorted(range(len(floors)), key=lambda i: (-(self.pairs[i][1] - floors[i]), i))
        for i in order[:max(left, 0)]:
            floors[i] += 1
        return Mixture([(d, float(n)) for (d, _), n in zip(self.pairs, floors)])

    def to_dict(self) -> dict[str, float]:
        return self.tokens

    def __repr__(self) -> str:
        body = ", ".join(f"{d}={v:.6g}" for d, v in self.pairs)
        return f"Mixture({body}; total={self.total:.6g})"


# --- token counts as people write them ------------------------------------------------------

_SUFFIXES = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}


def parse_pairs(text: str, what: str) -> dict[str, str]:
    """'code=0.5,books=2' → {'code': '0.5', 'books': '2'}: the domain=value lists of the CLI,
    each value left as text for the caller to read (a number, a path)."""
    out = {}
    for part in text.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise UserError(f"{what}: expected domain=value pairs separated by commas, got {part!r}")
        k, v = part.split("=", 1)
        k = k.strip()
        if not k:
            raise UserError(f"{what}: a pair has no domain name ({part.strip()!r}); write domain=value")
        if k in out:
            raise UserError(f"{what}: domain {k!r} is given twice; give each domain once")
        out[k] = v.strip()
    if not out:
        raise UserError(f"{what}: give at least one domain=value pair")
    return out


def parse_tokens(text: str) -> float:
    """A token count: 5e9, 5000000000, or with a suffix 300k, 300M, 5B (also G), 1.5T."""
    raw = str(text).strip().replace("_", "")
    factor = 1.0
    if raw and raw[-1].lower() in _SUFFIXES:
        factor, raw = _SUFFIXES[raw[-1].lower()], raw[:-1]
    try:
        value = float(raw) * factor
    except ValueError:
        raise UserError(f"cannot read {text!r} as a number of tokens; write e.g. 5e9, 5B or 300M") from None
    if not math.isfinite(value) or value <= 0:
        raise UserError(f"the number of tokens must be positive and finite, got {text!r}")
    return value


def cap_and_redistribute(weights: Mapping[str, float], total: float, limit: Mapping[str, float]) -> dict[str, float]:
    """Token counts at `total`: domains asking for more than `limit` are capped there and the
    shortfall spread over the others in proportion to their weights, repeated until none is over
    (one pass can push a domain over its own limit). Raises when the limits cannot hold `total`."""
    want = {d: w * total for d, w in weights.items()}
    if sum(limit.get(d, 0) for d in want) < total * (1 - 1e-12):
        raise UserError(f"the domains hold {sum(limit.get(d, 0) for d in want):,.0f} tokens within their limits, "
                        f"less than the total {total:,.0f}; lower the total or allow more repetition")
    fixed: dict[str, float] = {}
    while True:
        free = {d: w for d, w in weights.items() if d not in fixed}
        left = total - sum(fixed.values())
        share = sum(free.values())
        if share <= 0:      # every weighted domain is capped: fill the rest in proportion to what is left
            room = {d: limit[d] - fixed.get(d, 0) for d in want if d not in fixed}
            r = sum(room.values())
            out = {**fixed, **{d: left * v / r for d, v in room.items()}}
            return {d: out[d] for d in weights}
        trial = {d: left * w / share for d, w in free.items()}
        over = {d for d, n in trial.items() if n > limit[d] * (1 + 1e-12)}
        if not over:
            out = {**fixed, **trial}
            return {d: out[d] for d in weights}
        fixed.update({d: float(limit[d]) for d in over})
