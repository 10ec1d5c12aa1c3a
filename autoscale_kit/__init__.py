"""autoscale_kit: the data mixture of a pre-training run, chosen for its scale.

AutoScale (Kang et al., COLM 2025) along the seams of one package, lowest first: `core` (errors,
mixtures, the objective, table formats, number format, bootstrap, memo), `data` (corpora, tokens),
`proxy` (configs, the training loop, model families), `runs` (the run store), `fit` (laws, DDO and
its surrogate forms, the predictor, intervals), `landscape`, `methods`, `study`, `present` and
`cli`. ARCHITECTURE.md is the map.
"""

from autoscale_kit.core.errors import UserError

__version__ = "0.1.0"
__all__ = ["UserError", "__version__"]
