"""Every way to pick a mixture, as one registry entry: what it trains, how results become weights.

A method never trains or evaluates anything itself: it asks a *lab* to measure `Probe`s (a
mixture at a budget, with a seed) and turns the measured runs into weights. Two labs implement
the same small interface (`labs.CorpusLab`: proxy runs through the run store; `arena.SyntheticLab`:
a synthetic oracle with a known optimum), so one definition of each method serves the pipeline,
`compare`, the oracle arena, the CLI's `--methods` choices and the notebooks.

A `Method` is:
- `probes(lab)`: the proxy runs it needs (the lab measures every method's probes in one batch
  first, so a pool of workers stays busy); methods whose runs are not plain proxy runs (DoReMi
  trains with an online hook) return none and train inside `choose`;
- `choose(lab)`: a `Choice` — the weights, the runs it used (their compute is its cost, unless it
  says otherwise) and, for the cost table, whose runs it shares.

Adding a method is one function pair and one `register(Method(...))` call, here or in your own
module. What a lab offers a method: `domains`, `budgets` (DDO totals), `target`, `ratios`,
`min_ratio`, `objective`, `ddo_seeds`, `predict_method`, `options` (a `CompareConfig`), `kind`
("corpus" or "oracle"), `measure(probes)`, `exact(mixture)` (whole tokens on a corpus), `prior()`
(natural weights on a corpus, uniform on an oracle), `cache` (a dict for shared results) and, on a
corpus, `config` and `store`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Sequence

import numpy as np


from autoscale_kit import fmt
from autoscale_kit.baselines import (MIXTURE_PRESETS, RegMixConfig, mixing_law_optimum, preset_weights, regmix_optimum,
                                     regmix_sample, uniform_weights)
from autoscale_kit.ddo import (DDOResult, MeasuredPlan, PlannedRun, fit_ddo, objective_from, perturbation_plan,
                               uniform_base)
from autoscale_kit.doremi import DoReMiConfig
from autoscale_kit.errors import UserError
from autoscale_kit.mixture import Mixture
from autoscale_kit.predict import Prediction, predict_optimum


# --- the shapes ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Probe:
    """One proxy run a method asks for: a mixture (whole tokens on a corpus), a seed, a label for
    people (not part of any key)."""

    mixture: Mixture
    seed: int
    label: str = ""
    curve: bool = False      # keep the study's loss curve (a landscape's runs, shared with `landscape run`)


@dataclass(frozen=True)
class Cost:
    """Proxy compute a method spent: runs, training tokens, FLOPs (6 × parameters × tokens)."""

    proxy_runs: int = 0
    proxy_tokens: float = 0
    proxy_flops: float = 0.0

    @classmethod
    def of(cls, runs: Sequence) -> "Cost":
        return cls(len(runs), int(sum(r.total_tokens for r in runs)), float(sum(r.flops for r in runs)))

    def to_dict(self) -> dict:
        return {"proxy_runs": self.proxy_runs, "proxy_tokens": self.proxy_tokens, "proxy_flops": self.proxy_flops}


@dataclass(frozen=True)
class Choice:
    """A method's answer: weights, the runs it used, and what it cost."""

    weights: dict[str, float]
    runs: tuple = ()                 # measured runs the weights come from
    cost: Cost | None = None         # None: Cost.of(runs)
    name: str | None = None          # the mixture's name when it is not the method's (preset-llama)
    shared: str = ""                 # "the RegMix runs": whose runs it shares, for the cost table
    details: object = field(default=None, repr=False)

    @property
    def spent(self) -> Cost:
        return self.cost if self.cost is not None else Cost.of(self.runs)


def _no_probes(lab) -> list[Probe]:
    return []


@dataclass(frozen=True)
class Method:
    """One way to pick a mixture (see the module docstring)."""

    name: str
    summary: str
    choose: Callable[[object], Choice]
    probes: Callable[[object], list[Probe]] = _no_probes
    labs: tuple[str, ...] = ("corpus", "oracle")   # where it can run
    default: bool = True     # part of the default comparison (False: asked for by name, e.g. the landscape grids)


METHODS: dict[str, Method] = {}
STUDY_METHODS = ("autoscale", "uniform", "ddo-reused")   # what every study validates


def register(method: Method) -> Method:
    """Add a method to the registry (its name must be new); returns it."""
    if not isinstance(method, Method):
        raise UserError(f"register takes a methods.Method, got {type(method).__name__}")
    if method.name in METHODS:
        raise UserError(f"a method named {method.name!r} is registered already")
    METHODS[method.name] = method
    return method


def get_method(name: str, lab_kind: str | None = None) -> Method:
    if name not in METHODS:
        raise UserError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
    m = METHODS[name]
    if lab_kind is not None and lab_kind not in m.labs:
        raise UserError(f"method {name!r} cannot run in the {lab_kind} lab (it runs in: {', '.join(m.labs)})")
    return m


def peer_methods(lab_kind: str = "corpus", *, defaults_only: bool = False) -> tuple[str, ...]:
    """The registered methods besides the study's own, that run on `lab_kind` (with
    `defaults_only`, those a comparison runs when none are named)."""
    return tuple(n for n, m in METHODS.items() if n not in STUDY_METHODS and lab_kind in m.labs
                 and (m.default or not defaults_only))


@dataclass(frozen=True)
class CompareConfig:
    """Which peer methods run, and their options (budgets None: matched to DDO's proxy tokens)."""

    methods: tuple[str, ...] = ("natural", "regmix", "mixing-law", "doremi")
    mixture_preset: str = "llama"         # for "preset": a name in baselines.MIXTURE_PRESETS
    regmix: RegMixConfig = RegMixConfig(runs=0)  # runs=0: as many as DDO's proxy tokens allow
    regmix_total: int | None = None       # tokens per RegMix proxy run; None: DDO's smallest budget
    doremi: DoReMiConfig = DoReMiConfig()
    doremi_total: int | None = None       # tokens per DoReMi run; None: DDO's largest budget
    doremi_reference: str = "natural"     # reference weights: natural | uniform
    landscape_step: float = 1 / 3         # for landscape-reused / landscape-model: the grid's step
    landscape_bootstrap: int = 100        # and the bootstrap draws of its intervals
    verify_runs: int = 3                  # candidates per budget for ddo-verified / autoscale-verified

    def __post_init__(self):
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise UserError(f"unknown method(s) {', '.join(sorted(unknown))}; choose from {', '.join(METHODS)}")
        if "preset" in self.methods and self.mixture_preset not in MIXTURE_PRESETS:
            raise UserError(f"unknown preset mixture {self.mixture_preset!r}; choose one of "
                            f"{', '.join(MIXTURE_PRESETS)}")
        if self.doremi_reference not in ("natural", "uniform"):
            raise UserError(f"doremi_reference must be natural or uniform, got {self.doremi_reference!r}")
        from autoscale_kit.landscape import _grid_divisions

        _grid_divisions(self.landscape_step)
        v = self.verify_runs
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise UserError(f"verify_runs must be an integer >= 1, got {v!r}")
        b = self.landscape_bootstrap
        if isinstance(b, bool) or not isinstance(b, int) or b < 2:
            raise UserError(f"landscape_bootstrap must be an integer >= 2, got {b!r}")


def run_objective(run, objective: str) -> float:
    """The study's objective for one measured run (works for mixtures with zero-token domains,
    which a DDO runs table refuses)."""
    v = run.val_loss
    return float(objective_from(tuple(v), v.__getitem__, lambda d: math.exp(v[d]), objective))


# --- DDO at one budget: shared by autoscale and ddo-reused ---------------------------------------

@dataclass(frozen=True)
class DDORound:
    """DDO at one budget: the plan's runs as measured and the fitted optimum (and, when verified,
    what training the recommendation showed)."""

    total: float
    plan: tuple[PlannedRun, ...]     # one per run (the plan repeated per DDO seed)
    records: tuple
    ddo: DDOResult
    verification: object = None     # verify.Verification, when the round was verified
    uncertainty: object = None      # uncertainty.DDOUncertainty of the plan's optimum, when intervals are on
    unit: str | None = None         # the objective's unit (nats/byte…) for the verdict's sentences

    @property
    def fell_back(self) -> bool:
        """Verified, and no candidate beat the base: the answer is the base, a fixed measured mixture."""
        return self.verification is not None and self.verification.accepted is None

    @property
    def answer_draws(self):
        """Bootstrap draws of the answer's weights (draws × domains, in the answer's domain order),
        or None without intervals. A verified answer at step t of base → recommendation moves with
        the recommendation's draws by t; an answer that fell back to the base is a fixed, measured
        mixture: its draws are all the base."""
        u = self.uncertainty
        if u is None or u.weights is None:
            return None
        draws = u.weights.samples
        v = self.verification
        if v is None:
            return draws
        base = np.array([v.base.weights[d] for d in u.domains])
        step = v.accepted.step if v.accepted is not None else 0.0
        return base + step * (draws - base)

    @property
    def answer_interval(self) -> dict[str, tuple[float, float]] | None:
        """The answer's weights' percentile interval at the lab's level (None without intervals)."""
        draws = self.answer_draws
        if draws is None:
            return None
        a = (1 - self.uncertainty.level) / 2
        lo, hi = np.quantile(draws, [a, 1 - a], axis=0)
        return {d: (float(x), float(y)) for d, x, y in zip(self.uncertainty.domains, lo, hi)}

    @property
    def verdict(self):
        """The plain-words verdict against uniform (uncertainty.Verdict), or None without intervals."""
        return None if self.uncertainty is None else self.uncertainty.verdict(self.verification, unit=self.unit)

    @property
    def answer(self) -> Mixture:
        """The mixture this budget hands on: the verified one when verified, else the optimum."""
        return self.verification.answer if self.verification is not None else self.ddo.optimum

    @property
    def answer_weights(self) -> dict[str, float]:
        """The answer's weights; a verified round that fell back to a uniform base hands on exactly
        equal weights ({d: 1}), so that at the target it is the uniform mixture to the token (and the
        same runs), not one token off it."""
        if self.fell_back:
            q = list(self.verification.base.tokens.values())
            if max(q) - min(q) <= 1:
                return {d: 1.0 for d in self.verification.base.domains}
        return self.answer.weights

    @property
    def measured(self) -> MeasuredPlan:
        """The plan and its runs, as DDO and the heat-maps take them."""
        return MeasuredPlan.from_runs(self.plan, self.records)

    @property
    def table(self):
        """The runs as a public runs table (DataFrame), with label, mean_loss and costs."""
        from autoscale_kit.runs import runs_table

        return runs_table(self.records)


def ddo_plan(lab, total: float) -> list[tuple[PlannedRun, Probe]]:
    """The DDO plan at one budget (base + each domain × each ratio) for every DDO seed."""
    # On a corpus: round the base first, then perturb one domain of the rounded base, so every run
    # differs from the base in exactly that domain, down to the token.
    base = lab.exact(uniform_base(lab.domains, total))
    out = []
    for seed in lab.ddo_seeds:
        for run in perturbation_plan(base, lab.ratios):
            run = replace(run, mixture=lab.exact(run.mixture))
            out.append((run, Probe(run.mixture, seed, f"ddo/{total}/{run.name}/seed{seed}")))
    return out


def ddo_round(lab, total: float, surrogate: str | None = None, verify: int | None = None) -> DDORound:
    """DDO at `total` with the given surrogate form and verification runs (default: the lab's
    `surrogate` and `verify`): measured (or loaded) and fitted once per lab."""
    surrogate = surrogate or getattr(lab, "surrogate", "separable")
    verify = getattr(lab, "verify", 0) if verify is None else verify
    key = ("ddo", total, surrogate, verify)
    if key in lab.cache:
        return lab.cache[key]
    if verify:
        from autoscale_kit.verify import verify_round

        rd = ddo_round(lab, total, surrogate, 0)
        check = verify_round(lab, total, rd.plan, rd.records, rd.ddo, verify, surrogate=surrogate,
                             fit_options={"min_ratio": lab.min_ratio})
        lab.cache[key] = replace(rd, verification=check)
        return lab.cache[key]
    plan = ddo_plan(lab, total)
    records = lab.measure([p for _, p in plan])
    fitted = fit_ddo(MeasuredPlan.from_runs([r for r, _ in plan], records), lab.objective,
                     min_ratio=lab.min_ratio, ambiguity=lab.ambiguity and surrogate == "separable",
                     surrogate=surrogate)
    measured = MeasuredPlan.from_runs([r for r, _ in plan], records)
    unc = None
    if getattr(lab, "interval_draws", 0):
        from autoscale_kit.uncertainty import ddo_uncertainty

        # a transfer-form draw refits every validation domain's law (about a second each on 7 domains):
        # a fifth of the draws
        draws = lab.interval_draws if surrogate == "separable" else max(lab.interval_draws // 5, 2)
        unc = ddo_uncertainty(measured, lab.objective, level=lab.level, draws=draws, result=fitted,
                              min_ratio=lab.min_ratio, surrogate=surrogate)
    lab.cache[key] = DDORound(total, tuple(r for r, _ in plan), tuple(records), fitted, uncertainty=unc,
                              unit=getattr(lab, "loss_unit", None))
    return lab.cache[key]


def _all_ddo_probes(lab) -> list[Probe]:
    return [p for t in lab.budgets for _, p in ddo_plan(lab, t)]


def _ddo_probes_at_largest(lab) -> list[Probe]:
    return [p for _, p in ddo_plan(lab, lab.budgets[-1])]


# --- the study's own methods --------------------------------------------------------------------

def autoscale_from(lab, rounds: Sequence[DDORound]) -> Choice:
    """The AutoScale prediction from the rounds' answers. Verified rounds hand on only what was
    measured to beat the base: the prediction uses the budgets whose recommendation was accepted;
    with fewer than two of them the trend is not supported by the runs, and the largest budget's
    answer (verified) is reused at the target instead, with a warning saying so."""
    runs = tuple(r for rd in rounds for r in _round_runs(rd))
    fell_back = [r for r in rounds if r.fell_back]
    kept = [r for r in rounds if r not in fell_back]
    weights = None
    if len(kept) >= 2:
        prediction: Prediction = predict_optimum([r.answer for r in kept], lab.target, method=lab.predict_method)
    else:
        weights = rounds[-1].answer_weights     # {d: 1} for a uniform base: the uniform mixture to the token
        target = Mixture.from_weights(weights, lab.target)
        prediction = Prediction(target, target.weights, "reused (prediction unsupported)", None,
                                tuple(r.total for r in rounds), {}, None)
    prediction = replace(prediction, uncertainty=_prediction_interval(lab, kept, rounds, prediction))
    if fell_back:
        where = ", ".join(fmt.tokens(r.total) for r in fell_back)
        note = (f"no recommendation beat its base at {where} tokens, so that budget has no verified optimum; "
                + (f"the prediction uses the other {len(kept)} budgets" if len(kept) >= 2 else
                   "with fewer than two verified optima the prediction is unsupported, and the largest budget's "
                   "verified answer is reused at the target"))
        prediction = replace(prediction, warnings=tuple(prediction.warnings) + (note,))
    return Choice(weights or prediction.weights, runs, details=prediction)


def _prediction_interval(lab, kept: Sequence[DDORound], rounds: Sequence[DDORound], prediction: Prediction):
    """The prediction's interval: every budget's answer draws through the predictor (paired by
    index); when the prediction is the largest budget's answer reused, that answer's draws. None
    without intervals, or when the draws cannot be predicted (said in the warnings instead)."""
    from autoscale_kit.uncertainty import WeightsInterval, prediction_uncertainty
    from autoscale_kit.bootstrap import Bootstrap

    used = list(kept) if len(kept) >= 2 else [rounds[-1]]
    draws = [rd.answer_draws for rd in used]
    if any(d is None for d in draws):
        return None
    if len(used) == 1:
        domains = used[0].uncertainty.domains
        est = np.array([prediction.weights[d] for d in domains])
        spread = draws[0] - np.array([used[0].answer.weights[d] for d in domains]) + est
        return WeightsInterval(domains, lab.level, Bootstrap(est, spread, 0))
    try:
        return prediction_uncertainty([rd.answer for rd in used], draws, lab.target, method=lab.predict_method,
                                      level=lab.level)
    except UserError:
        return None


def _round_runs(rd: DDORound) -> tuple:
    """Every run a round measured: the plan's, and the verification candidates'."""
    v = rd.verification
    extra = () if v is None else tuple(v.runs)
    return tuple(rd.records) + extra


def _autoscale(lab) -> Choice:
    return autoscale_from(lab, [ddo_round(lab, t) for t in lab.budgets])


def _reused(rd: DDORound) -> Choice:
    return Choice(rd.answer_weights, _round_runs(rd), details=rd.ddo if rd.verification is None else rd.verification)


def _ddo_reused(lab) -> Choice:
    return _reused(ddo_round(lab, lab.budgets[-1]))


def _uniform(lab) -> Choice:
    # {d: 1} on a corpus: the whole-token mixture (and so the run key) stays what it always was; 1/K
    # summed over 7 domains is not exactly 1 and could move a token in the rounding
    return Choice({d: 1.0 for d in lab.domains} if lab.kind == "corpus" else uniform_weights(lab.domains))


register(Method("autoscale", "DDO at every budget, the AutoScale predictor to the target (Kang et al. 2025)",
                _autoscale, _all_ddo_probes))
register(Method("uniform", "equal weights", _uniform))
register(Method("ddo-reused", "the DDO optimum at the largest budget, carried to the target unchanged",
                _ddo_reused, _ddo_probes_at_largest))


# --- transfer-aware and verified DDO (autoscale_kit.transfer, autoscale_kit.verify) ---------------

def _verify_runs(lab) -> int:
    return lab.options.verify_runs


def _ddo_transfer(lab) -> Choice:
    return _reused(ddo_round(lab, lab.budgets[-1], "transfer", 0))


def _autoscale_transfer(lab) -> Choice:
    return autoscale_from(lab, [ddo_round(lab, t, "transfer", 0) for t in lab.budgets])


def _ddo_verified(lab) -> Choice:
    return _reused(ddo_round(lab, lab.budgets[-1], "transfer", _verify_runs(lab)))


def _autoscale_verified(lab) -> Choice:
    return autoscale_from(lab, [ddo_round(lab, t, "transfer", _verify_runs(lab)) for t in lab.budgets])


def _transfer_target(lab) -> Choice:
    """One transfer law on the DDO runs of every budget (absolute quantities), minimised at the target."""
    from autoscale_kit.transfer import transfer_at_target

    rounds = [ddo_round(lab, t, "transfer", 0) for t in lab.budgets]
    res = transfer_at_target(rounds, lab.target, lab.objective, lab.min_ratio)
    return Choice(res.weights, tuple(r for rd in rounds for r in rd.records), details=res)


register(Method("ddo-transfer", "DDO with the transfer-aware surrogate at the largest budget, reused",
                _ddo_transfer, _ddo_probes_at_largest, default=False))
register(Method("autoscale-transfer", "the AutoScale predictor fed transfer-aware DDO optima",
                _autoscale_transfer, _all_ddo_probes, default=False))
register(Method("ddo-verified", "transfer-aware DDO at the largest budget, its answer trained and accepted only if "
                "it beats the base (else a short line search), reused", _ddo_verified, _ddo_probes_at_largest,
                default=False))
register(Method("autoscale-verified", "the AutoScale predictor fed verified transfer-aware optima",
                _autoscale_verified, _all_ddo_probes, default=False))
register(Method("transfer-target", "one transfer law fitted on the DDO runs of every budget, minimised at the target",
                _transfer_target, _all_ddo_probes, default=False))


# --- fixed mixtures -----------------------------------------------------------------------------

def _natural(lab) -> Choice:
    return Choice(lab.prior())


def _preset(lab) -> Choice:
    name = lab.options.mixture_preset
    return Choice(preset_weights(name, lab.domains), name=f"preset-{name}")


register(Method("natural", "proportional to the tokens each domain holds", _natural, labs=("corpus",)))
register(Method("preset", "a published fixed mixture (LLaMA's RedPajama weights by default) on the domains",
                _preset, labs=("corpus",)))


# --- RegMix and Data Mixing Laws: random mixtures at the smallest budget --------------------------

def regmix_probes(lab) -> list[Probe]:
    """RegMix's proxy runs: random mixtures around the prior at DDO's smallest budget (or
    `options.regmix_total`), as many as DDO's proxy tokens buy when `options.regmix.runs` is 0."""
    opts = lab.options
    total = opts.regmix_total or lab.budgets[0]
    runs = opts.regmix.runs
    if runs <= 0:  # matched compute: DDO's proxy tokens over the RegMix run size
        ddo_tokens = sum(p.mixture.total for p in _all_ddo_probes(lab))
        runs = max(2, round(ddo_tokens / total))
    config = replace(opts.regmix, runs=runs, seed=opts.regmix.seed + lab.seed)
    seed = lab.ddo_seeds[0]
    return [Probe(lab.exact(Mixture.from_weights(w, total)), seed, f"regmix/{total}/{i}/seed{seed}")
            for i, w in enumerate(regmix_sample(lab.prior(), config))]


def _regmix_runs(lab):
    key = ("regmix-runs",)
    if key not in lab.cache:
        lab.cache[key] = tuple(lab.measure(regmix_probes(lab)))
    return lab.cache[key]


def _mixes(lab, runs) -> list[dict[str, float]]:
    return [{d: r.tokens.get(d, 0) for d in lab.domains} for r in runs]


def _regmix(lab) -> Choice:
    runs = _regmix_runs(lab)
    y = [run_objective(r, lab.objective) for r in runs]
    res = regmix_optimum(_mixes(lab, runs), y, lab.prior(), lab.options.regmix)
    return Choice(res.weights, runs, details=res)


def _mixing_law(lab) -> Choice:
    runs = _regmix_runs(lab)
    obj = lab.objective
    valid = [obj.split(":", 1)[1]] if obj.startswith(("loss:", "ppl:")) else list(runs[0].val_loss)
    losses = {v: [r.val_loss[v] for r in runs] for v in valid}
    res = mixing_law_optimum(_mixes(lab, runs), losses, lab.domains)
    return Choice(res.weights, runs, shared="the RegMix runs" if "regmix" in lab.options.methods else "", details=res)


register(Method("regmix", "LightGBM on random proxy mixtures, the mean of the top simulated mixtures (Liu et al. 2025)",
                _regmix, regmix_probes))
register(Method("mixing-law", "L_v(r) = c_v + k_v exp(t_v·r) per validation domain, minimised (Ye et al. 2025)",
                _mixing_law, regmix_probes))


# --- DoReMi: an online method, its own training loop ---------------------------------------------

def _doremi(lab) -> Choice:
    from autoscale_kit.doremi import run_doremi
    from autoscale_kit.runs import corpus_fingerprint, token_data

    config, opts = lab.config, lab.options
    p = config.proxy
    data = token_data(config.corpus_ref, p)
    ref = lab.prior() if opts.doremi_reference == "natural" else {d: 1.0 for d in lab.domains}
    res = run_doremi(data, opts.doremi_total or config.budgets[-1], ref,
                     p.with_(seed=config.ddo_seeds[0], eval_points=0), opts.doremi, store=lab.store.root,
                     fingerprint=corpus_fingerprint(config.corpus_ref), progress=lab.progress,
                     frozen=lab.store.frozen)
    return Choice(res.weights, cost=Cost(2, 2 * res.tokens, res.flops), details=res)


register(Method("doremi", "Group DRO against a reference model, time-averaged online weights (Xie et al. 2023)",
                _doremi, labs=("corpus",)))


# --- the measured landscape as a method: a grid at the small budgets -----------------------------

def landscape_probes(lab) -> list[Probe]:
    """The landscape design (`landscape.design_points`, the step of `options.landscape_step`) at
    every budget below the target, one run per validation seed, with loss curves: the same runs
    `autoscale-kit landscape run` trains for that design."""
    from autoscale_kit.landscape import design_points, point_name

    out = []
    for total in lab.budgets:
        for point in design_points(lab.domains, lab.options.landscape_step):
            mix = lab.exact(Mixture.from_weights(point, total))
            out += [Probe(mix, seed, f"landscape/{total}/{point_name(point)}/seed{seed}", curve=True)
                    for seed in lab.config.seeds]
    return out


def landscape_fit(lab):
    """The landscape of the small budgets, fitted once per lab (with the target prediction)."""
    key = ("landscape",)
    if key not in lab.cache:
        from autoscale_kit.landscape import fit_landscape, landscape_runs

        runs = lab.measure(landscape_probes(lab))
        lab.cache[key] = (tuple(runs), fit_landscape(landscape_runs(runs), lab.objective, target=lab.target,
                                                     n_boot=lab.options.landscape_bootstrap))
    return lab.cache[key]


def _landscape_reused(lab) -> Choice:
    runs, fit = landscape_fit(lab)
    return Choice(fit.scales[-1].optimum, runs, details=fit)


def _landscape_model(lab) -> Choice:
    runs, fit = landscape_fit(lab)
    return Choice(fit.target.optimum, runs, shared="the landscape runs", details=fit)


def _landscape_extrapolated(lab) -> Choice:
    """The cross-budget model with its shrinkage set to 1: the landscape's change with log budget
    extrapolated in full, whatever a backtest would say (with two budgets there is none)."""
    from dataclasses import replace as _replace

    from autoscale_kit.surface import minimise_on_simplex

    runs, fit = landscape_fit(lab)
    model = _replace(fit.model, shrink=1.0)
    w, _ = minimise_on_simplex(lambda X: model.predict(X, lab.target), len(lab.domains))
    return Choice(dict(zip(lab.domains, map(float, w))), runs, shared="the landscape runs", details=fit)


register(Method("landscape-reused", "a grid over the simplex at the largest budget below the target, its fitted "
                "optimum reused (the DataDecide rule: trust the small-scale ranking)", _landscape_reused,
                landscape_probes, labs=("corpus",), default=False))
register(Method("landscape-model", "grids at every budget below the target, the cross-budget model's optimum "
                "(the measured landscape plus its backtested change)", _landscape_model, landscape_probes,
                labs=("corpus",), default=False))
register(Method("landscape-extrapolated", "grids at every budget below the target, the landscape's change with "
                "log budget extrapolated in full (λ = 1)", _landscape_extrapolated, landscape_probes,
                labs=("corpus",), default=False))


# --- running methods on a lab -------------------------------------------------------------------

def choose_all(lab, names: Sequence[str]) -> dict[str, Choice]:
    """Every named method's Choice on `lab`: their probes measured in one batch, then each chooses."""
    methods = [get_method(n, lab.kind) for n in names]
    probes = [p for m in methods for p in m.probes(lab)]
    if probes:
        lab.measure(probes)
    return {m.name: m.choose(lab) for m in methods}


def mixture_names(choices: Mapping[str, Choice]) -> dict[str, str]:
    """Method name → the name its mixture goes by (preset → preset-llama)."""
    return {m: c.name or m for m, c in choices.items()}
