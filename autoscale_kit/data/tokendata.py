"""Token streams for proxy training: what a run reads, independent of the model family.

Design choices:
- A domain's train split is one token stream; its validation split is cut into fixed windows of
  `seq_len + 1` tokens (the first `val_tokens` worth), the same for every run of a study.
- Token accounting is exact: a domain's N tokens are N predicted targets, cut from aligned
  windows of its training stream, drawn without replacement; the last window of a domain may be
  partial (`Window.targets` < seq_len, the family masks the rest).
- Common random numbers across the runs of a study: a domain's windows are drawn by a generator
  seeded by (seed, domain) and each window carries a random time key from the same generator, so
  two mixtures that differ in one domain see the same windows of every other domain in the same
  relative order.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

import numpy as np

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.data.corpus import Corpus
from autoscale_kit.data.tokenize import load_tokenizer


def domain_seed(seed: int, domain: str, *extra: int) -> list[int]:
    """A seed sequence for numpy from (seed, domain name): stable across processes and versions."""
    h = int.from_bytes(hashlib.sha256(domain.encode("utf-8")).digest()[:4], "big")
    return [int(seed), h, *extra]


@dataclass(frozen=True)
class TokenData:
    """Token streams of a corpus: train streams and fixed validation windows per domain."""

    domains: tuple[str, ...]
    train: Mapping[str, np.ndarray]
    val: Mapping[str, np.ndarray]      # (n_windows, seq_len + 1) per domain
    vocab_size: int
    eos_id: int | None

    def train_windows(self, domain: str, seq_len: int) -> int:
        return max(len(self.train[domain]) - 1, 0) // seq_len

    def available_tokens(self, domain: str, seq_len: int) -> int:
        """Targets that can be drawn without repetition (whole windows)."""
        return self.train_windows(domain, seq_len) * seq_len


def prepare_tokens(corpus: Corpus, config) -> TokenData:
    """Tokenise each domain's train split and cut fixed validation windows from its val split."""
    tok = load_tokenizer(config.tokenizer)
    train, val = {}, {}
    T = config.seq_len
    for d in corpus:
        train[d.name] = tok.encode(d.train)
        v = tok.encode(d.val)
        n = min((len(v) - 1) // T, max(1, math.ceil(config.val_tokens / T)))
        if n < 1:
            raise UserError(f"domain {d.name!r} has too little validation text for one window of {T} tokens")
        val[d.name] = np.stack([v[i * T: i * T + T + 1] for i in range(n)])
    return TokenData(corpus.domains, train, val, tok.vocab_size, tok.eos_id)


def check_mixture(mixture: Mixture, data: TokenData, config) -> dict[str, int]:
    """Whole tokens per domain, after checking domains and available data."""
    tokens = {}
    for d, n in mixture.items():
        if d not in data.domains:
            raise UserError(f"unknown domain {d!r} in the mixture; the corpus has: {', '.join(data.domains)}")
        if abs(n - round(n)) > 1e-6 * max(1.0, n):
            raise UserError(f"domain {d!r} asks for {n} tokens; a training mixture needs whole tokens "
                            f"(use Mixture.rounded())")
        n = int(round(n))
        have = data.available_tokens(d, config.seq_len)
        if n > have and config.repetition == "refuse":
            raise UserError(f"domain {d!r} asks for {n:,} tokens but holds {have:,} without repetition; lower "
                            f"the budget, or allow repetition with repetition='repeat' (recorded in the run's config)")
        if n > 0 and have == 0:
            raise UserError(f"domain {d!r} has no training window of {config.seq_len} tokens")
        tokens[d] = n
    if sum(tokens.values()) <= 0:
        raise UserError("the mixture has no tokens to train on")
    return tokens


@dataclass(frozen=True)
class Window:
    key: float       # the window's random time: the training order sorts by it
    domain: int      # index into TokenData.domains
    start: int       # offset in the domain's train stream
    targets: int     # predicted tokens in this window (seq_len, or fewer for a domain's last)


PERMUTED_WINDOWS = 1 << 20   # a domain with more windows than this is sampled as a stream (`stream_draw`)


def window_sampler(n_windows: int) -> str:
    """How a domain of `n_windows` training windows is drawn: 'permutation' (a whole permutation of
    its windows, as every run made so far) or 'stream' (distinct windows drawn one after another,
    so that memory and time follow the run's tokens, not the domain's size)."""
    return "permutation" if n_windows <= PERMUTED_WINDOWS else "stream"


def stream_draw(rng: np.random.Generator, n_avail: int, take: int, chunk: int = 1 << 16) -> tuple[np.ndarray, np.ndarray]:
    """`take` distinct window indices of `n_avail`, uniformly at random, in the order they were first
    drawn, and a random time key for each: a run that takes more windows of the domain takes the
    same ones first (common random numbers). Memory: one byte per window of the domain (1/258 of its
    uint16 token file at seq_len 128) and the run's own windows, against 16 bytes per window for a
    whole permutation and its keys."""
    key_rng = np.random.default_rng(rng.integers(0, 2**63))   # seeded first: the keys do not depend on `take`
    seen = np.zeros(n_avail, dtype=bool)
    parts, have = [], 0
    while have < take:
        draw = rng.integers(0, n_avail, size=chunk)
        _, first = np.unique(draw, return_index=True)
        fresh = draw[np.sort(first)]                                    # first occurrences, in draw order
        fresh = fresh[~seen[fresh]][: take - have]
        seen[fresh] = True
        parts.append(fresh)
        have += len(fresh)
    return np.concatenate(parts), key_rng.random(take)          # one key per window, in the same order


def plan_windows(tokens: Mapping[str, int], data: TokenData, seq_len: int, seed: int, *,
                 nested: bool = False) -> list[Window]:
    """The training order: each domain's windows drawn without replacement, merged by time keys.

    nested: the domains take turns by the largest deficit (`_interleaved`), so that every prefix of
    the order holds each domain's share of the mixture to within one window (the plan that budgets
    branched off one run share); each domain's windows keep their drawn order. Else each window's
    time key is uniform at random."""
    out = []
    for di, d in enumerate(data.domains):
        n = tokens.get(d, 0)
        if n <= 0:
            continue
        n_avail = data.train_windows(d, seq_len)
        needed = math.ceil(n / seq_len)
        starts, keys, epoch = [], [], 0
        while len(starts) < needed:  # more than one epoch only under repetition='repeat'
            rng = np.random.default_rng(domain_seed(seed, d, epoch))
            take = min(needed - len(starts), n_avail)
            if window_sampler(n_avail) == "stream":
                chosen, key = stream_draw(rng, n_avail, take)
                starts.extend(chosen * seq_len)
                keys.extend(key + epoch)
            else:
                perm = rng.permutation(n_avail)
                key = rng.random(n_avail)
                starts.extend(perm[:take] * seq_len)
                keys.extend(key[perm[:take]] + epoch)  # epoch e lives in [e, e+1): repeats come after
            epoch += 1
        for j, (s, k) in enumerate(zip(starts, keys)):
            t = seq_len if j < needed - 1 or n % seq_len == 0 else n % seq_len
            out.append(Window(float(k), di, int(s), t))
    if nested:
        out = _interleaved(out)
    if any(w.key >= 1 for w in out):  # repetition: spread all keys back over [0, 1)
        top = max(w.key for w in out)
        out = [replace(w, key=w.key / math.ceil(top + 1e-12)) for w in out]
    out.sort(key=lambda w: (w.key, w.domain, w.start))
    return out


def _interleaved(windows: list[Window]) -> list[Window]:
    """The windows re-timed so that at every prefix of k windows each domain has had its share of
    them to within one (|count_d - share_d * k| < 1: smooth weighted round robin, which at each step
    picks the domain furthest behind its share). A domain's windows keep their order by key."""
    by_domain: dict[int, list[Window]] = {}
    for w in sorted(windows, key=lambda w: (w.key, w.domain, w.start)):
        by_domain.setdefault(w.domain, []).append(w)
    domains = sorted(by_domain)
    n = [len(by_domain[d]) for d in domains]
    total = sum(n)
    current = [0] * len(n)
    taken = [0] * len(n)
    out = []
    for k in range(total):
        best = 0
        for i in range(len(n)):
            current[i] += n[i]
            if current[i] > current[best]:
                best = i
        current[best] -= total
        out.append(replace(by_domain[domains[best]][taken[best]], key=k / total))
        taken[best] += 1
    return out


def segments(windows: Sequence[Window], data: TokenData, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """The raw token segments of a batch of windows, (B, seq_len + 1), and the number of
    targets in each (seq_len, or fewer for a domain's last window); the family makes inputs and
    targets from them."""
    seg = np.zeros((len(windows), seq_len + 1), dtype=np.int64)
    n_targets = np.empty(len(windows), dtype=np.int64)
    for i, w in enumerate(windows):
        s = data.train[data.domains[w.domain]][w.start: w.start + seq_len + 1]
        seg[i, : len(s)] = s
        n_targets[i] = w.targets
    return seg, n_targets
