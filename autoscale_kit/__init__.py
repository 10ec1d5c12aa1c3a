"""autoscale_kit: the data mixture of a pre-training run, chosen for its scale.

AutoScale (Kang et al., COLM 2025) in small flat modules: `corpus` and `tokenize` feed text,
`mixture` says how many tokens of each domain, `proxy` trains one GPT-2 on it, `runs` stores
runs, `laws`/`ddo` find the optimum at one scale, `predict` extrapolates it to larger scales.
"""

from autoscale_kit.core.errors import UserError

__version__ = "0.1.0"
__all__ = ["UserError", "__version__"]
