"""DoReMi (Xie et al., NeurIPS 2023): domain weights from Group DRO against a reference model.

1. A reference model trains on reference weights (the repository's advice: token-proportional).
2. A proxy of the same size trains on batches drawn from the uniform mixture; at every step
   - per-domain excess loss λ_i = mean over domain i's tokens in the batch of max(ℓ_θ − ℓ_ref, 0)
     (a domain absent from the batch keeps its previous score, as in the repository);
   - log α ← log α + η λ, normalised; α ← (1 − c) α + c/K;
   - the proxy's loss weights each token by α of its domain, normalised over the batch's tokens
     (the repository's form; with uniform sampling it equals the paper's Σ_i α_i · mean loss_i).
3. The output is the time average of α over the steps.
Defaults are the paper's: η = 1, c = 1e-3. The proxy step is the ordinary training loop with the
`Callbacks.on_batch` of `proxy.train.train_proxy`; the reference model scores the same batch in no-grad mode.

Results are cached in the run store as `<store>/doremi-<key>/result.json` (written atomically; the
key covers the corpus, the budget, the proxy config, DoReMi's settings and the training version), so
asking twice trains once; an interrupted DoReMi run restarts from the beginning.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from autoscale_kit.core import fmt
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import Mixture
from autoscale_kit.data.tokendata import TokenData
from autoscale_kit.proxy.config import ProxyConfig
from autoscale_kit.proxy.families import get_family
from autoscale_kit.proxy.families.base import IGNORE, token_losses
from autoscale_kit.proxy.train import Callbacks, StepBatch, train_proxy
from autoscale_kit.runs.store import TRAINING_VERSION, write_folder


@dataclass(frozen=True)
class DoReMiConfig:
    eta: float = 1.0          # step size of the exponentiated-gradient update
    smoothing: float = 1e-3   # c: mixed-in share of the uniform distribution

    def __post_init__(self):
        if not self.eta > 0 or not 0 <= self.smoothing <= 1:
            raise UserError(f"DoReMi needs eta > 0 and 0 <= smoothing <= 1, got {self.eta}, {self.smoothing}")


class GroupDRO:
    """The step hook: updates α from the excess loss over the reference and returns window weights."""

    def __init__(self, reference_model, domains: tuple[str, ...], config: DoReMiConfig = DoReMiConfig(),
                 family: str = "gpt2"):
        self.reference = reference_model.eval()
        self.family = get_family(family)
        self.domains = domains
        self.config = config
        k = len(domains)
        self.alpha = np.full(k, 1.0 / k)
        self.scores = np.zeros(k)
        self.history: list[np.ndarray] = []

    def excess(self, batch: StepBatch) -> dict[int, float]:
        """Clipped per-token excess loss, averaged over each present domain's tokens."""
        import torch

        with torch.no_grad():
            ref = token_losses(self.family.logits(self.reference, batch.inputs), batch.targets)
        mask = batch.targets != IGNORE
        clipped = ((batch.token_loss - ref).clamp(min=0) * mask).sum(dim=1).cpu().numpy()
        counts = mask.sum(dim=1).cpu().numpy()
        out: dict[int, list[float]] = {}
        for w, e, n in zip(batch.windows, clipped, counts):
            acc = out.setdefault(w.domain, [0.0, 0.0])
            acc[0] += float(e)
            acc[1] += float(n)
        return {d: s / n for d, (s, n) in out.items() if n > 0}

    def update(self, excess: Mapping[int, float]) -> np.ndarray:
        for d, v in excess.items():
            self.scores[d] = v
        log_a = np.log(self.alpha) + self.config.eta * self.scores
        log_a -= log_a.max()
        a = np.exp(log_a)
        a /= a.sum()
        self.alpha = (1 - self.config.smoothing) * a + self.config.smoothing / len(a)
        self.history.append(self.alpha.copy())
        return self.alpha

    def __call__(self, batch: StepBatch):
        alpha = self.update(self.excess(batch))
        counts = (batch.targets != IGNORE).sum(dim=1).cpu().numpy().astype(float)
        w = np.array([alpha[win.domain] for win in batch.windows]) * counts
        return w / w.sum()

    @property
    def average(self) -> dict[str, float]:
        if not self.history:
            raise UserError("DoReMi made no update (the proxy run had no steps)")
        avg = np.mean(self.history, axis=0)
        return dict(zip(self.domains, (avg / avg.sum()).tolist()))


@dataclass(frozen=True)
class DoReMiResult:
    weights: dict[str, float]                 # the time-averaged α: DoReMi's output
    final: dict[str, float]                   # α at the last step
    trajectory: list[list[float]] = field(repr=False)  # α per step (domains in `domains` order)
    domains: tuple[str, ...] = ()
    reference_weights: dict[str, float] = field(default_factory=dict)
    reference_val_loss: dict[str, float] = field(default_factory=dict)
    proxy_val_loss: dict[str, float] = field(default_factory=dict)
    tokens: int = 0                           # training tokens of each of the two runs
    n_params: int = 0
    flops: float = 0.0                        # 6ND per trained model + 2ND reference scoring


def _key(data: TokenData, total: int, reference: Mapping[str, float], proxy: ProxyConfig, config: DoReMiConfig,
         fingerprint: str) -> str:
    blob = json.dumps({"training_version": TRAINING_VERSION, "corpus": fingerprint, "total": int(total),
                       "reference": reference, "proxy": proxy.to_dict(), "doremi": asdict(config),
                       "domains": list(data.domains)}, sort_keys=True)
    return "doremi-" + hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_doremi(data: TokenData, total: int, reference_weights: Mapping[str, float], proxy: ProxyConfig,
               config: DoReMiConfig = DoReMiConfig(), *, store: str | Path | None = None, fingerprint: str = "",
               progress: bool = True, frozen: str | None = None) -> DoReMiResult:
    """Train the reference and the DRO proxy on `total` tokens each; return DoReMi's weights.

    With `store` (a run-store folder) and a corpus `fingerprint`, the result is cached there;
    `frozen` (a read-only store's reason) refuses to train a result the store lacks."""
    domains = tuple(data.domains)
    ref_w = {d: float(reference_weights.get(d, 0.0)) for d in domains}
    if set(reference_weights) - set(domains):
        raise UserError(f"reference weights name unknown domain(s) {', '.join(sorted(set(reference_weights) - set(domains)))}")
    path = None
    if store is not None:
        path = Path(store) / _key(data, total, ref_w, proxy, config, fingerprint)
        if (path / "result.json").is_file():
            saved = json.loads((path / "result.json").read_text())
            return DoReMiResult(**{**saved, "domains": tuple(saved["domains"])})
    if frozen:
        raise UserError(f"this run is not here: DoReMi's reference and proxy runs ({fmt.tokens(total)} tokens each, "
                        f"seed {proxy.seed}, reference {fmt.weights(ref_w)}). {frozen}")
    reference_mix = Mixture.from_weights(ref_w, total).rounded()
    ref_result, ref_model = train_proxy(data, reference_mix, proxy, progress=progress, return_model=True)
    dro = GroupDRO(ref_model, domains, config, family=proxy.family)
    sampling = Mixture.uniform(domains, total).rounded()
    result = train_proxy(data, sampling, proxy, progress=progress, callbacks=Callbacks(on_batch=dro))
    n = result.n_params
    tokens = int(sum(result.tokens.values()))
    out = DoReMiResult(dro.average, dict(zip(domains, dro.alpha.tolist())), [a.tolist() for a in dro.history],
                       domains, ref_w, ref_result.val_loss, result.val_loss, tokens, n,
                       float(6 * n * int(sum(ref_result.tokens.values())) + 6 * n * tokens + 2 * n * tokens))
    if path is not None:
        write_folder(path, {"result.json": json.dumps({**asdict(out), "domains": list(domains)}, indent=1)},
                     complete="result.json")
    return out
