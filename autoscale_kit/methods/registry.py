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

from dataclasses import dataclass, replace
from typing import Mapping, Sequence

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.core.objective import Objective
from autoscale_kit.fit.forms.transfer import transfer_at_target
from autoscale_kit.fit.surface import minimise_on_simplex
from autoscale_kit.landscape.design import design_points, grid_divisions, point_name
from autoscale_kit.landscape.fit import fit_landscape
from autoscale_kit.landscape.runs import landscape_runs
from autoscale_kit.methods.base import (METHODS, STUDY_METHODS, Choice, Cost, Method, Probe, register, run_objective,
                                        wsd_plan)
from autoscale_kit.methods.baselines import (MIXTURE_PRESETS, RegMixConfig, mixing_law_optimum, preset_weights,
                                             regmix_optimum, regmix_sample, uniform_weights)
from autoscale_kit.methods.doremi import DoReMiConfig, run_doremi
from autoscale_kit.methods.rounds import (DDORound, all_ddo_probes, autoscale_from, ddo_plan, ddo_probes_at_largest,
                                          ddo_round, round_runs)
from autoscale_kit.runs.store import corpus_fingerprint, token_data

__all__ = ["METHODS", "STUDY_METHODS", "Choice", "CompareConfig", "Cost", "DDORound", "Method", "Probe", "autoscale_from",
           "choose_all", "ddo_plan", "ddo_round", "get_method", "mixture_names", "peer_methods", "register",
           "run_objective"]

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
        grid_divisions(self.landscape_step)
        v = self.verify_runs
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise UserError(f"verify_runs must be an integer >= 1, got {v!r}")
        b = self.landscape_bootstrap
        if isinstance(b, bool) or not isinstance(b, int) or b < 2:
            raise UserError(f"landscape_bootstrap must be an integer >= 2, got {b!r}")


def _autoscale(lab) -> Choice:
    return autoscale_from(lab, [ddo_round(lab, t) for t in lab.budgets])


def _reused(rd: DDORound) -> Choice:
    return Choice(rd.answer_weights, round_runs(rd), details=rd.ddo if rd.verification is None else rd.verification)


def _ddo_reused(lab) -> Choice:
    return _reused(ddo_round(lab, lab.budgets[-1]))


def _uniform(lab) -> Choice:
    # {d: 1} on a corpus: the whole-token mixture (and so the run key) stays what it always was; 1/K
    # summed over 7 domains is not exactly 1 and could move a token in the rounding
    return Choice({d: 1.0 for d in lab.domains} if lab.kind == "corpus" else uniform_weights(lab.domains))


register(Method("autoscale", "DDO at every budget, the AutoScale predictor to the target (Kang et al. 2025)",
                _autoscale, all_ddo_probes))
register(Method("uniform", "equal weights", _uniform))
register(Method("ddo-reused", "the DDO optimum at the largest budget, carried to the target unchanged",
                _ddo_reused, ddo_probes_at_largest))


# --- transfer-aware and verified DDO (fit.forms.transfer, methods.verify) ---------------

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
    rounds = [ddo_round(lab, t, "transfer", 0) for t in lab.budgets]
    res = transfer_at_target(rounds, lab.target, lab.objective, lab.min_ratio)
    return Choice(res.weights, tuple(r for rd in rounds for r in rd.records), details=res)


register(Method("ddo-transfer", "DDO with the transfer-aware surrogate at the largest budget, reused",
                _ddo_transfer, ddo_probes_at_largest, default=False))
register(Method("autoscale-transfer", "the AutoScale predictor fed transfer-aware DDO optima",
                _autoscale_transfer, all_ddo_probes, default=False))
register(Method("ddo-verified", "transfer-aware DDO at the largest budget, its answer trained and accepted only if "
                "it beats the base (else a short line search), reused", _ddo_verified, ddo_probes_at_largest,
                default=False))
register(Method("autoscale-verified", "the AutoScale predictor fed verified transfer-aware optima",
                _autoscale_verified, all_ddo_probes, default=False))
register(Method("transfer-target", "one transfer law fitted on the DDO runs of every budget, minimised at the target",
                _transfer_target, all_ddo_probes, default=False))


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
        ddo_tokens = sum(p.mixture.total for p in all_ddo_probes(lab))
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
    valid = list(Objective.parse(obj).domains(tuple(runs[0].val_loss)))
    losses = {v: [r.val_loss[v] for r in runs] for v in valid}
    res = mixing_law_optimum(_mixes(lab, runs), losses, lab.domains)
    return Choice(res.weights, runs, shared="the RegMix runs" if "regmix" in lab.options.methods else "", details=res)


register(Method("regmix", "LightGBM on random proxy mixtures, the mean of the top simulated mixtures (Liu et al. 2025)",
                _regmix, regmix_probes))
register(Method("mixing-law", "L_v(r) = c_v + k_v exp(t_v·r) per validation domain, minimised (Ye et al. 2025)",
                _mixing_law, regmix_probes))


# --- DoReMi: an online method, its own training loop ---------------------------------------------

def _doremi(lab) -> Choice:
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
    out = []
    for total in lab.budgets:
        for point in design_points(lab.domains, lab.options.landscape_step):
            mix = lab.exact(Mixture.from_weights(point, total))
            plan = wsd_plan(lab, lambda h, point=point: Mixture.from_weights(point, h), total)
            out += [Probe(mix, seed, f"landscape/{total}/{point_name(point)}/seed{seed}", curve=True, plan=plan)
                    for seed in lab.config.seeds]
    return out


def landscape_fit(lab):
    """The landscape of the small budgets, fitted once per lab (with the target prediction)."""
    key = ("landscape",)
    if key not in lab.cache:
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
