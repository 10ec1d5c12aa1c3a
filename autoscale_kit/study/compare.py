"""The comparison harness: every registered method's mixture, judged the same way, with its compute.

`compare_methods(config, store)` runs the study with the peer methods of `CompareConfig.methods`
(natural, a fixed preset, RegMix, Data Mixing Laws, DoReMi, or any method registered in
`methods`): each trains what it needs through the same `CorpusLab`, and every mixture is validated
at the target with the same seeds and the same speed-up measure. The oracle version of the
comparison is `arena.compare_on_oracle`.

Proxy compute is counted in training tokens and FLOPs (6 × parameters × tokens; DoReMi adds
2 × N × D for the reference model scoring the proxy's batches). By default RegMix gets the same
proxy tokens as DDO (its runs at DDO's smallest budget), and Data Mixing Laws is fitted on the same
runs as RegMix (shared cost, said so in the table). RegMix regresses the study's objective itself;
the mixing law is fitted per validation domain on losses and minimises their mean (for a
`mean-ppl` study too), or the one domain of a `loss:`/`ppl:` objective.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from autoscale_kit.core.errors import UserError
from autoscale_kit.fit.surrogates import SURROGATES, make_surrogate
from autoscale_kit.methods.arena import compare_on_oracle
from autoscale_kit.methods.registry import CompareConfig, peer_methods, run_objective
from autoscale_kit.runs.store import RunStore
from autoscale_kit.study.pipeline import StudyConfig, StudyResult, run_study, summarize_speedup

__all__ = ["CompareConfig", "Comparison", "compare_methods", "compare_on_oracle", "peer_methods", "regmix_runs_cv",
           "run_objective", "surrogate_cv"]


@dataclass(frozen=True)
class Comparison:
    study: StudyResult
    table: pd.DataFrame      # one row per method: cost, final loss, saving

    def summary(self) -> dict:
        return {"table": self.table.to_dict(orient="records"),
                "weights": {n: m.weights for n, m in self.study.mixtures.items()},
                "study": self.study.summary()}

    def details(self, name: str):
        """What a method produced besides its weights (RegMix's search, DoReMi's trajectory, …)."""
        if name not in self.study.choices:
            raise UserError(f"no method {name!r} in this comparison; it has {', '.join(self.study.choices)}")
        return self.study.choices[name].details

    def runs(self, name: str) -> tuple:
        """The proxy runs a method's weights came from."""
        if name not in self.study.choices:
            raise UserError(f"no method {name!r} in this comparison; it has {', '.join(self.study.choices)}")
        return self.study.choices[name].runs


def compare_methods(config: StudyConfig, store: RunStore | str = "runs", compare: CompareConfig = CompareConfig(), *,
                    progress: bool = True) -> Comparison:
    """Every method's mixture validated at `config.target` next to AutoScale's (resumable)."""
    study = run_study(config, store, methods=compare.methods, options=compare, progress=progress)
    speed = summarize_speedup(study.speedup).set_index("mixture")
    rows = []
    for name in study.mixtures:
        choice = study.choices[name]
        rows.append({"method": name, **choice.spent.to_dict(), "shared_runs": choice.shared,
                     **speed.loc[name].to_dict()})
    return Comparison(study, pd.DataFrame(rows))


def surrogate_cv(weights, losses, names=SURROGATES, *, folds: int = 5, seed: int = 0) -> dict[str, float]:
    """How well each surrogate ranks runs it was not fitted on: the Spearman correlation of
    k-fold out-of-fold predictions with the measured losses. A low value says the proxy runs are
    too noisy (or too few) for that method's optimum to mean much."""
    from scipy.stats import spearmanr

    X = np.asarray(weights, dtype=float)
    y = np.asarray(losses, dtype=float)
    if len(y) < 2 * folds:
        raise UserError(f"{len(y)} runs are too few for {folds}-fold cross-validation (need {2 * folds})")
    order = np.random.default_rng(seed).permutation(len(y))
    out = {}
    for name in names:
        pred = np.empty_like(y)
        for fold in np.array_split(order, folds):
            train = np.setdiff1d(order, fold)
            pred[fold] = make_surrogate(name).fit(X[train], y[train]).predict(X[fold])
        out[name] = float(spearmanr(pred, y).statistic)
    return out


def regmix_runs_cv(comparison: "Comparison", folds: int = 5) -> dict[str, float]:
    """`surrogate_cv` on the RegMix proxy runs of a comparison, against the study's objective."""
    used = [n for n in ("regmix", "mixing-law") if n in comparison.study.choices]
    if not used:
        raise UserError("this comparison trained no RegMix runs (add 'regmix' or 'mixing-law' to the methods)")
    recs = comparison.runs(used[0])
    domains = list(comparison.study.rounds[0].ddo.weights)
    X = np.array([[r.tokens.get(d, 0) for d in domains] for r in recs], dtype=float)
    y = [run_objective(r, comparison.study.config.objective) for r in recs]
    return surrogate_cv(X / X.sum(axis=1, keepdims=True), y, folds=folds)
