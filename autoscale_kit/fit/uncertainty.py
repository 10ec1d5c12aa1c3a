"""How sure DDO's answer is: intervals on the optimal weights, on the prediction, and a verdict.

Why: a table of weights to four decimals says nothing about which of them the runs pin down.
At laptop scale a run's loss moves by 0.004–0.02 nats with the seed, about what a perturbation
moves it, and 3 points per law do not identify the law; the predictor then amplifies the noise
of its two inputs.

Design choices:
- The noise of one run, per validation domain, from the table itself (`run_noise`):
  * replicates (several rows per mixture, e.g. a DDO plan repeated per seed): the rows'
    deviations from their mixture's mean, with each seed's common offset removed when every
    replicated mixture has every seed (two-way residuals: a seed's shared initialisation cancels
    in DDO's ratios to the base, so it is not noise DDO sees);
  * no replicates: the residuals of the transfer law fitted on the runs (lack of fit included,
    so this is the best available guess, and said so in `source`);
  * neither (too few runs for the transfer law): no noise estimate, no interval, and the verdict
    says to add a seed.
  Residual rows are scaled by √(rows / dof) so that a row drawn from them has one run's variance.
- The interval (`ddo_uncertainty`): a residual bootstrap (`bootstrap.bootstrap`, scheme
  "residual"): every row of the table gets a noise vector drawn from the pool, DDO is refitted
  and re-solved, the weights read. Percentile intervals at `level` (0.9 by default; on noisy
  oracles they covered the exact optimum better than the bias-corrected "basic" ones). The same
  draws judge the recommended mixture: each draw's surrogate scores uniform and the recommendation
  (the point estimate, not the draw's own optimum: every fit promises its own optimum a gain).
- The prediction's interval (`prediction_uncertainty`): draw i of every budget's optimum through
  the predictor (`bootstrap.propagate`): the budgets' runs are independent, so draws are paired by
  index.
- The verdict (`verdict`) in plain words: beats uniform beyond the noise (the gain's interval
  excludes 0), loses, or cannot tell; which weights are pinned down (interval narrower than
  ±20 % of the weight or ±2 points); a flat valley (the draws' leading principal direction
  carries most of their spread and the sum of the domains it trades off is pinned while each
  alone is not: substitutes); how many seeds would decide (the interval shrinks as 1/√seeds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

import numpy as np
from scipy.stats import norm, t as student_t

from autoscale_kit.core import fmt, memo
from autoscale_kit.core.bootstrap import Bootstrap, bootstrap, propagate
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.core.tables import RunsTable, read_runs_table
from autoscale_kit.fit.ddo import fit_ddo
from autoscale_kit.fit.forms import get_form, interval_draws
from autoscale_kit.fit.forms.transfer import fit_transfer
from autoscale_kit.fit.plan import MeasuredPlan, table_and_layout
from autoscale_kit.fit.predict import predict_optimum

LEVEL = 0.9
MAX_SEEDS = 64            # beyond this many seeds the verdict says "as good as uniform" instead
PIN_RELATIVE, PIN_ABSOLUTE = 0.2, 0.02


def check_level(level) -> float:
    try:
        v = float(level)
    except (TypeError, ValueError):
        raise UserError(f"an interval level must be a number in (0, 1), e.g. 0.9; got {level!r}") from None
    if not 0 < v < 1:
        raise UserError(f"an interval level must be in (0, 1), e.g. 0.9 for 90 %; got {level!r}")
    return v


def check_draws(draws) -> int:
    """A number of bootstrap draws: 0 (no interval) or at least 2."""
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 0 or draws == 1:
        raise UserError(f"an interval needs at least 2 bootstrap draws (200 is a good default; 0: none), got {draws!r}")
    return int(draws)


NO_NOISE = ("the runs hold no replicates and too few runs for the transfer law's residuals, so the noise is "
            "unknown: run the plan with 2 seeds (ddo_seeds) to get intervals")


# --- the noise of one run ---------------------------------------------------------------------

@dataclass(frozen=True)
class RunNoise:
    """Residual rows (validation domains as columns) scaled to one run's noise, and where from."""

    validation: tuple[str, ...]
    residuals: np.ndarray           # (pool rows, validation domains), nats
    dof: int
    source: str                     # "replicates" | "residuals"
    description: str
    seeds: int                      # replicates per mixture (1 without replicates)

    @property
    def sigma(self) -> float:
        """Root mean square noise of one validation loss of one run, nats."""
        return float(np.sqrt(np.mean(self.residuals ** 2)))

    def to_dict(self) -> dict:
        return {"sigma": self.sigma, "dof": self.dof, "source": self.source, "description": self.description,
                "seeds": self.seeds}


def replicate_groups(tokens: np.ndarray, rtol: float = 1e-9) -> list[np.ndarray]:
    """Rows with the same quantities (to rtol), in order of first appearance."""
    groups: list[list[int]] = []
    keys: list[np.ndarray] = []
    for i, row in enumerate(np.asarray(tokens, dtype=float)):
        for g, k in zip(groups, keys):
            if np.all(np.abs(row - k) <= rtol * np.maximum(np.abs(row), np.abs(k))):
                g.append(i)
                break
        else:
            groups.append([i])
            keys.append(row)
    return [np.asarray(g) for g in groups]


def run_noise(table, layout, validation: Sequence[str]) -> RunNoise | None:
    """One run's noise per validation domain (see the module docstring); None when it cannot be told."""
    L = np.column_stack([table.domain_loss(v) for v in validation])
    groups = [g for g in replicate_groups(table.tokens) if len(g) > 1]
    if groups:
        seeds = table.seeds
        all_seeds = sorted(set(seeds)) if seeds is not None else []
        complete = [g for g in groups if seeds is not None and len(g) == len(all_seeds)
                    and sorted(seeds[i] for i in g) == all_seeds]
        if len(all_seeds) >= 2 and len(complete) >= 2:
            M, S = len(complete), len(all_seeds)
            cell = np.stack([L[[next(i for i in g if seeds[i] == s) for s in all_seeds]] for g in complete])  # M,S,V
            resid = cell - cell.mean(axis=1, keepdims=True) - cell.mean(axis=0, keepdims=True) + \
                cell.mean(axis=(0, 1), keepdims=True)
            dof = (M - 1) * (S - 1)
            pool = resid.reshape(M * S, -1) * math.sqrt(M * S / dof)
            desc = (f"the spread over {S} seeds of {M} mixtures run on every seed, each seed's common offset "
                    f"removed ({dof} dof)")
            return RunNoise(tuple(validation), pool, dof, "replicates", desc, S)
        rows = np.concatenate(groups)
        dof = int(sum(len(g) - 1 for g in groups))
        pool = np.concatenate([L[g] - L[g].mean(axis=0) for g in groups]) * math.sqrt(len(rows) / dof)
        reps = int(round(np.mean([len(g) for g in groups])))
        return RunNoise(tuple(validation), pool, dof, "replicates",
                        f"the spread of {len(rows)} replicated runs of {len(groups)} mixtures ({dof} dof)", reps)
    try:
        fit = fit_transfer(table.tokens, {v: table.domain_loss(v) for v in validation}, table.domains,
                           layout.replicates)
    except UserError:
        return None
    if not fit.identified:
        return None
    n, K = table.tokens.shape
    fitted = fit.losses(table.tokens)
    cols = []
    dofs = []
    for j, law in enumerate(fit.laws.values()):
        p = K + 2 + (law.a > 0)
        if n - p < 2:
            return None
        cols.append((L[:, j] - fitted[:, j]) * math.sqrt(n / (n - p)))
        dofs.append(n - p)
    return RunNoise(tuple(validation), np.column_stack(cols), int(min(dofs)), "residuals",
                    f"the transfer law's residuals on {n} single-seed runs ({min(dofs)} dof per law; lack of "
                    f"fit counts as noise)", 1)


# --- the interval on DDO's optimum ------------------------------------------------------------

@dataclass(frozen=True)
class DDOUncertainty:
    """DDO's optimum with bootstrap draws of its weights and of its promised gain over uniform."""

    result: object                  # the DDOResult on the table as measured
    noise: RunNoise | None
    level: float
    weights: Bootstrap | None       # samples: (draws, domains), in result.weights' order
    gain: Bootstrap | None          # predicted gain over uniform (objective at uniform − at the optimum)
    uniform_objective: float        # the surrogate's objective at uniform, on the measured table
    note: str = NO_NOISE            # why there is no interval, when there is none

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(self.result.weights)

    @property
    def interval(self) -> dict[str, tuple[float, float]] | None:
        if self.weights is None:
            return None
        lo, hi = self.weights.interval(self.level)
        return {d: (float(a), float(b)) for d, a, b in zip(self.domains, lo, hi)}

    @property
    def gain_estimate(self) -> float:
        return float(self.uniform_objective - self.result.predicted_objective)

    @property
    def gain_interval(self) -> tuple[float, float] | None:
        if self.gain is None:
            return None
        lo, hi = self.gain.interval(self.level)
        return float(lo[0]), float(hi[0])

    def verdict(self, measured=None, unit: str | None = None) -> "Verdict":
        return verdict(self, measured, unit)

    def to_dict(self) -> dict:
        return {"level": self.level, "interval": self.interval, "noise": self.noise and self.noise.to_dict(),
                "note": None if self.weights is not None else self.note,
                "draws": 0 if self.weights is None else len(self.weights.samples),
                "failed_draws": 0 if self.weights is None else self.weights.failed,
                "predicted_gain": self.gain_estimate, "gain_interval": self.gain_interval}


def ddo_uncertainty(runs, objective: str = "mean-ppl", *, level: float = LEVEL, draws: int = 200, seed: int = 0,
                    result=None, progress=None, **fit_options) -> DDOUncertainty:
    """DDO on `runs` (anything `ddo.fit_ddo` takes) and the bootstrap of its optimal weights.

    `fit_options` are fit_ddo's (validation, min_ratio, surrogate, …); `result`, when given, is
    fit_ddo's answer on the same runs and options (not refitted). Without a noise estimate the
    result has no interval (`weights` None) and the verdict says what to add."""
    level, draws = check_level(level), check_draws(draws)
    base = fit_options.pop("base", None)
    form = get_form(fit_options.get("surrogate", "separable"))
    table, layout = table_and_layout(runs, base, extra=form.uses_extra_runs)
    if result is None:
        result = fit_ddo(MeasuredPlan(table, layout), objective, **fit_options)
    uniform = Mixture.uniform(table.domains, result.optimum.total)
    uniform_obj = result.objective_at(uniform)
    evals = table.eval_domains
    if not draws:
        return DDOUncertainty(result, None, level, None, None, uniform_obj, "no interval was asked for (draws 0)")
    noise = run_noise(table, layout, evals)
    if noise is None:
        return DDOUncertainty(result, None, level, None, None, uniform_obj)
    options = {**fit_options, "ambiguity": False}
    base_loss = {v: table.domain_loss(v) for v in evals}
    order = list(result.weights)

    def statistic(picks):
        if picks is None:
            fitted = result
        else:
            delta = noise.residuals[picks]
            loss = {v: base_loss[v] + delta[:, j] for j, v in enumerate(evals)}
            noisy = RunsTable(table.domains, table.tokens, loss, {}, table.run_ids, table.source, table.seeds)
            fitted = fit_ddo(MeasuredPlan(noisy, layout), objective, **options)
        # the gain of the recommended mixture itself (not of each draw's own optimum, which every
        # fit promises to be a gain: uniform is feasible), as each draw's surrogate sees it
        gain = fitted.objective_at(uniform) - fitted.objective_at(result.optimum)
        return np.r_[[fitted.weights[d] for d in order], gain]

    def compute():
        b = bootstrap(statistic, [np.arange(len(noise.residuals))], n=draws, seed=seed, scheme="residual",
                      rows=table.n_runs, progress=progress)
        return {"estimate": b.estimate, "samples": b.samples, "failed": b.failed}

    # the refits are deterministic in what they are given: memoised on disk (memo.py)
    inputs = [table.domains, table.tokens, {v: table.domain_loss(v) for v in evals}, list(table.run_ids),
              list(table.seeds) if table.seeds is not None else None, layout, objective, options, draws, seed,
              noise.residuals, order]
    got = memo.cached("ddo-bootstrap", inputs, compute)
    boot = Bootstrap(got["estimate"], got["samples"], int(got["failed"]))
    weights = Bootstrap(boot.estimate[:-1], boot.samples[:, :-1], boot.failed)
    gain = Bootstrap(boot.estimate[-1:], boot.samples[:, -1:], boot.failed)
    return DDOUncertainty(result, noise, level, weights, gain, uniform_obj)


# --- through the predictor --------------------------------------------------------------------

def prediction_uncertainty(optima: Sequence[Mixture], draws: Sequence[np.ndarray], total: float, *,
                           method: str = "auto", pinned="auto", level: float = LEVEL) -> "WeightsInterval":
    """Every draw of the optima (draws[s]: (draws, domains) weights at budget s, in optima[s]'s
    domain order) predicted at `total`; draws are paired by index, as many as the fewest budget has."""
    level = check_level(level)
    optima = list(optima)
    if len(draws) != len(optima):
        raise UserError(f"{len(draws)} sets of draws for {len(optima)} optima; give one set per budget")
    domains = optima[0].domains
    n = min(len(d) for d in draws)

    def predicted(mixtures):
        pred = predict_optimum(mixtures, total, method=method, pinned=pinned)
        return np.array([pred.weights[d] for d in domains])

    def as_mixtures(i):
        return [Mixture.from_weights(dict(zip(m.domains, np.asarray(d[i], dtype=float).tolist())), m.total)
                for m, d in zip(optima, draws)]

    boot = propagate(predicted, [as_mixtures(i) for i in range(n)], optima)
    return WeightsInterval(domains, level, boot)


@dataclass(frozen=True)
class WeightsInterval:
    """Bootstrap draws of a mixture's weights and their percentile interval."""

    domains: tuple[str, ...]
    level: float
    boot: Bootstrap

    @property
    def interval(self) -> dict[str, tuple[float, float]]:
        lo, hi = self.boot.interval(self.level)
        return {d: (float(a), float(b)) for d, a, b in zip(self.domains, lo, hi)}

    @property
    def samples(self) -> np.ndarray:
        return self.boot.samples

    def to_dict(self) -> dict:
        return {"level": self.level, "interval": self.interval, "draws": len(self.boot.samples),
                "failed_draws": self.boot.failed}


# --- the verdict ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """The answer's standing against uniform, in plain words, and what would settle it."""

    against_uniform: str            # "beats" | "loses" | "cannot tell" | "no noise estimate"
    pinned: tuple[str, ...]
    loose: tuple[str, ...]
    valley: dict | None             # {"up": [...], "down": [...], "direction": {d: v}, "sum": [lo, hi]}
    seeds_needed: int | None        # seeds per run that would make the gain decidable (None: decided / unknown)
    text: str
    measured: str | None = None     # the same judgement on what training the answer measured

    def to_dict(self) -> dict:
        return {"against_uniform": self.against_uniform, "pinned": list(self.pinned), "loose": list(self.loose),
                "valley": self.valley, "seeds_needed": self.seeds_needed, "text": self.text,
                "measured": self.measured}


def pinned_down(weights: Mapping[str, float], interval: Mapping[str, tuple[float, float]]) -> list[str]:
    """Domains whose interval is narrower than ±20 % of the weight or ±2 points."""
    return [d for d in weights
            if interval[d][1] - interval[d][0] <= 2 * max(PIN_RELATIVE * weights[d], PIN_ABSOLUTE)]


def flat_valley(domains: Sequence[str], samples: np.ndarray, weights: Mapping[str, float],
                interval: Mapping[str, tuple[float, float]], level: float) -> dict | None:
    """The direction along which the draws spread most, when it trades domains off against each
    other and their sum is pinned down while they are not (see the module docstring)."""
    if len(samples) < 5:
        return None
    centred = samples - samples.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    share = s[0] ** 2 / max(float((s ** 2).sum()), 1e-300)
    v = vt[0] if vt[0][np.argmax(np.abs(vt[0]))] > 0 else -vt[0]
    big = np.abs(v) >= 0.3
    up = [d for d, x, b in zip(domains, v, big) if b and x > 0]
    down = [d for d, x, b in zip(domains, v, big) if b and x < 0]
    if share < 0.6 or not up or not down or len(up) + len(down) == len(domains):
        return None   # a trade-off among all domains is not a valley: their sum is 1 by construction
    members = [domains.index(d) for d in up + down]
    total = samples[:, members].sum(axis=1)
    a = (1 - level) / 2
    lo, hi = np.quantile(total, [a, 1 - a])
    widest = max(interval[d][1] - interval[d][0] for d in up + down)
    if hi - lo > 0.5 * widest:
        return None
    return {"up": up, "down": down, "direction": {d: float(x) for d, x in zip(domains, v)},
            "share": float(share), "sum": [float(lo), float(hi)],
            "sum_estimate": float(sum(weights[d] for d in up + down))}


def seeds_to_decide(gain: float, spread: float, seeds: int, level: float) -> int | None:
    """Seeds per run at which an interval of half-width z·spread·√(seeds/n) would exclude 0."""
    if spread <= 0 or not math.isfinite(spread) or gain == 0:
        return None
    z = norm.ppf(0.5 + level / 2)
    need = math.ceil(seeds * (z * spread / abs(gain)) ** 2)
    return max(need, seeds + 1)


def _fmt_weight(d: str, w: float, iv: tuple[float, float]) -> str:
    return f"{d} {fmt.weight(w)} {fmt.interval(*iv)}"


def _gain(v, lo, hi, unit: str | None, signed: bool = False) -> str:
    """0.080 nats/byte [0.036, 0.131]: a loss difference with its interval, in the objective's unit."""
    return f"{fmt.loss(v, unit, signed=signed)} {fmt.interval(lo, hi, signed=signed)}"


def verdict(unc: DDOUncertainty, measured=None, unit: str | None = None) -> Verdict:
    """The plain-words verdict of a DDO answer (see the module docstring); `measured`, a
    `verify.Verification`, adds what training the recommendation showed; `unit` (nats/byte…) is
    what the objective's losses are in (None: bare numbers)."""
    pct = f"{100 * unc.level:.0f}%"
    measured_text = None if measured is None else measured_verdict(measured, unc.level, unit)
    if unc.weights is None:
        text = f"DDO predicts a gain over uniform of {fmt.loss(unc.gain_estimate, unit, signed=True)}, but {unc.note}."
        return Verdict("no noise estimate", (), (), None, None, text, measured_text)
    w = unc.result.weights
    iv = unc.interval
    g, (glo, ghi) = unc.gain_estimate, unc.gain_interval
    spread = float(unc.gain.std[0])
    seeds = unc.noise.seeds
    if glo > 0:
        standing, need = "beats", None
        head = f"DDO's optimum is predicted to beat uniform by {_gain(g, glo, ghi, unit)} ({pct}): beyond the noise."
    elif ghi < 0:
        standing, need = "loses", None
        head = f"DDO's optimum is predicted to lose to uniform by {_gain(-g, -ghi, -glo, unit)} ({pct})."
    else:
        standing = "cannot tell"
        need = seeds_to_decide(g, spread, seeds, unc.level)
        head = (f"DDO's predicted gain over uniform, {_gain(g, glo, ghi, unit, signed=True)} ({pct}), is within the noise: "
                f"it cannot tell its optimum from uniform.")
        if need is not None and need <= MAX_SEEDS:
            head += f" About {need} seeds per run (now {seeds}) would decide it."
        else:
            head += (f" Even {MAX_SEEDS} seeds would not decide it: the optimum is as good as uniform to within "
                     f"±{fmt.loss(max(abs(glo), abs(ghi)), unit)}.")
    pinned = pinned_down(w, iv)
    loose = [d for d in w if d not in pinned]
    parts = [head]
    if pinned:
        parts.append("Pinned down: " + ", ".join(_fmt_weight(d, w[d], iv[d]) for d in pinned) + ".")
    if loose:
        parts.append("Not pinned down: " + ", ".join(_fmt_weight(d, w[d], iv[d]) for d in loose) + ".")
    valley = flat_valley(list(w), unc.weights.samples, w, iv, unc.level)
    if valley is not None:
        parts.append(f"Flat valley: {' + '.join(valley['up'])} trade off against {' + '.join(valley['down'])} "
                     f"(their sum {100 * valley['sum_estimate']:.0f}% [{100 * valley['sum'][0]:.0f}, "
                     f"{100 * valley['sum'][1]:.0f}] is pinned, the split is not): substitutes as far as these "
                     f"runs can tell.")
    parts.append(f"Noise: {fmt.loss(unc.noise.sigma, unit)} on one run's objective, from {unc.noise.description}.")
    return Verdict(standing, tuple(pinned), tuple(loose), valley, need, " ".join(parts), measured_text)


def measured_verdict(check, level: float = LEVEL, unit: str | None = None) -> str:
    """What verification measured, judged at `level` against the base (uniform in DDO's plan)."""
    z = norm.ppf(0.5 + level / 2)
    c = check.accepted
    if not check.candidates:
        return "the recommendation is the base itself; nothing was measured"
    best = c or max(check.candidates, key=lambda k: k.gain)
    lo, hi = best.gain - z * check.noise, best.gain + z * check.noise
    where = f"t = {best.step:g}" if best.step != 1 else "the recommendation"
    if lo > 0:
        return f"measured: {where} beats the base by {_gain(best.gain, lo, hi, unit)} ({100 * level:.0f}%): beyond the noise"
    if hi < 0:
        return f"measured: {where} loses to the base by {_gain(-best.gain, -hi, -lo, unit)} ({100 * level:.0f}%)"
    return (f"measured: {where} against the base {_gain(best.gain, lo, hi, unit, signed=True)} ({100 * level:.0f}%): "
            f"within the noise")


def paired_verdict(losses: Mapping, reference: Mapping, level: float = LEVEL, unit: str | None = None) -> dict:
    """A mixture's final losses against the reference's, paired by seed ({seed: loss} each):
    mean gain (reference − mixture: positive is better), its t interval at `level`, the standing,
    and the seeds a decision would need; `unit` (nats/byte…) is what the losses are in."""
    seeds = [s for s in losses if s in reference]
    if not seeds:
        raise UserError("no seed in common between the mixture and the reference; pair them by seed")
    diff = np.array([reference[s] - losses[s] for s in seeds], dtype=float)
    gain = float(diff.mean())
    if len(diff) < 2:
        return {"gain": gain, "interval": None, "against": "cannot tell", "seeds": 1, "seeds_needed": 2,
                "text": f"gain {fmt.loss(gain, unit, signed=True)} over uniform on one seed: train a second seed "
                        f"to judge it"}
    sd = float(diff.std(ddof=1))
    half = float(student_t.ppf(0.5 + level / 2, len(diff) - 1) * sd / math.sqrt(len(diff)))
    lo, hi = gain - half, gain + half
    if lo > 0:
        against, need = "beats", None
    elif hi < 0:
        against, need = "loses", None
    else:
        against = "cannot tell"
        need = _seeds_t(gain, sd, level, len(diff))
    out = {"gain": gain, "interval": [lo, hi], "against": against, "seeds": len(diff), "seeds_needed": need}
    return {**out, "text": paired_text(out, level, unit)}


def paired_text(v: Mapping, level: float = LEVEL, unit: str | None = None) -> str:
    """The sentence of a `paired_verdict` from its numbers (gain, interval, against, seeds,
    seeds_needed): how results saved as numbers are restated in today's words."""
    word = {"beats": "beats", "loses": "loses to", "cannot tell": "cannot be told from"}[v["against"]]
    lo, hi = v["interval"]
    text = f"{word} uniform: gain {_gain(v['gain'], lo, hi, unit, signed=True)} ({100 * level:.0f}%, {v['seeds']} seeds)"
    need = v.get("seeds_needed")
    if need is not None:
        text += f"; about {need} seeds would decide" if need <= MAX_SEEDS else f"; not decidable within {MAX_SEEDS} seeds"
    return text


def _seeds_t(gain: float, sd: float, level: float, have: int) -> int | None:
    if gain == 0 or sd == 0:
        return None if sd == 0 else MAX_SEEDS + 1
    for n in range(have + 1, MAX_SEEDS + 1):
        if student_t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n) < abs(gain):
            return n
    return MAX_SEEDS + 1


__all__ = ["DDOUncertainty", "RunNoise", "Verdict", "WeightsInterval", "ddo_uncertainty", "flat_valley",
           "measured_verdict", "paired_text", "paired_verdict", "pinned_down", "prediction_uncertainty", "replicate_groups",
           "run_noise", "seeds_to_decide", "verdict"]


NO_REPLICATES = ("the table holds no replicates (several rows per mixture, told apart by a `seed` column), so its "
                 "noise is not measured: add the plan run on a second seed, or ask --draws 200 for an interval from "
                 "the transfer law's residuals (a guess)")


def table_uncertainty(runs, result, objective: str = "mean-ppl", *, level: float = LEVEL, draws: int | None = None,
                      progress=None, **fit_options) -> DDOUncertainty:
    """DDO's interval on a runs table as `autoscale-kit ddo RUNS.csv` gives it: by default 200 draws
    (a costly form's share of them) when the table holds replicates, none otherwise (the note says
    what to add); `draws` asks for a number (from the residuals when there are no replicates)."""
    check_level(level)
    table = runs if isinstance(runs, RunsTable) else read_runs_table(runs)
    replicated = any(len(g) > 1 for g in replicate_groups(table.tokens))
    n = draws if draws is not None else (interval_draws(fit_options.get("surrogate", "separable"), 200)
                                         if replicated else 0)
    unc = ddo_uncertainty(table, objective, level=level, draws=n, result=result, progress=progress if n else None,
                          **fit_options)
    if not n and draws is None:
        unc = replace(unc, note=NO_REPLICATES)
    return unc
