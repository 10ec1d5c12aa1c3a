"""Where methods' proxy runs are measured on a corpus: `CorpusLab`, over the run store.

The lab turns a method's `Probe`s into `RunSpec`s (the study's proxy config with the probe's seed,
no loss curve: methods read final losses) and trains what the store does not hold yet, in this
process, a local pool or on SLURM. See `methods` for the interface; `arena.OracleLab` is the same
interface over a synthetic oracle.
"""

from __future__ import annotations

from typing import Sequence

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.methods.baselines import natural_weights
from autoscale_kit.methods.registry import CompareConfig, Probe
from autoscale_kit.proxy.families import loss_unit
from autoscale_kit.runs.store import RunRecord, RunSpec, RunStore, run_many
from autoscale_kit.study.config import StudyConfig, available_tokens, check_objective


class CorpusLab:
    kind = "corpus"
    ambiguity = True     # DDO checks the alternative exact fits of under-determined laws
    seed = 0             # added to the methods' sampling seeds (RegMix); the oracle arena varies it

    def __init__(self, config: StudyConfig, store: RunStore | str = "runs", options: CompareConfig = CompareConfig(),
                 *, executor=None, progress: bool = True, horizon: int | None = None):
        self.config = config
        self.store = store if isinstance(store, RunStore) else RunStore(store)
        self.options = options
        self.executor = executor
        self.progress = progress
        self.domains = config.training_domains()
        self._check(config)
        self.budgets, self.target = config.budgets, config.target
        self.ratios, self.min_ratio = config.ratios, config.min_ratio
        self.objective, self.predict_method = config.objective, config.predict_method
        self.ddo_seeds = config.ddo_seeds
        self.surrogate, self.verify = config.surrogate, config.verify
        self.interval_draws, self.level = config.interval_draws, config.level
        self.cache: dict = {}
        # a wsd proxy (warm-up fixed in tokens) trains one mixture once, to the horizon (the largest
        # budget the methods probe, unless told), and branches its smaller budgets off that run
        self.branching = config.proxy.branchable
        self.horizon = int(horizon) if horizon is not None else int(max(config.budgets))
        # what a plan at the horizon may ask of each domain (only a branching lab plans one)
        self._have = available_tokens(config) if self.branching and config.proxy.repetition == "refuse" else None
        # what the objective's numbers are in, for the sentences that report them
        self.loss_unit = loss_unit(config.proxy.tokenizer, getattr(config.proxy, "family", "gpt2"))

    def _check(self, config: StudyConfig) -> None:
        """Everything that would fail after training, refused before any: the store, the domains,
        the objective, the predictor, the target against the data there is."""
        if not self.store.frozen:      # a read-only store refuses only the runs it lacks, when asked
            self.store.check_writable()
        if len(self.domains) < 2:
            raise UserError(f"a study needs at least two domains to mix; the corpus gives {', '.join(self.domains)}")
        check_objective(config.objective, self.domains + tuple(config.eval_domains))
        if config.proxy.repetition == "refuse":
            have = available_tokens(config)
            if config.target > sum(have.values()):
                raise UserError(f"the target {config.target:,} tokens is more than the corpus holds without "
                                f"repetition ({sum(have.values()):,}); lower the target or use repetition='repeat'")

    def spec(self, probe: Probe) -> RunSpec:
        # methods read only the final losses: no loss curve along the way, unless the probe asks
        # for one (a landscape's runs, shared with `landscape run`)
        config = self.config.proxy.with_(seed=probe.seed)
        config = config if probe.curve else config.with_(eval_points=0)
        plan = probe.plan
        if plan is not None and self.branching and plan.total > probe.mixture.total and (
                self._have is None or all(plan[d] <= self._have.get(d, 0) for d in plan.domains)):
            # the first `total` tokens of the plan: the same computation as a wsd run at `total`
            return RunSpec(plan, config, self.config.corpus_ref, label=probe.label,
                           stop=int(round(probe.mixture.total)))
        return RunSpec(probe.mixture, config, self.config.corpus_ref, label=probe.label)

    def train(self, specs: Sequence[RunSpec]) -> list[RunRecord]:
        """The stored runs of `specs`, training the missing ones (the study's executor and workers)."""
        return run_many(specs, self.store, executor=self.executor or "auto", workers=self.config.workers,
                        progress=self.progress)

    def measure(self, probes: Sequence[Probe]) -> list[RunRecord]:
        return self.train([self.spec(p) for p in probes])

    def exact(self, mixture: Mixture) -> Mixture:
        return mixture.rounded()

    def prior(self) -> dict[str, float]:
        return natural_weights(available_tokens(self.config))
