# %% [markdown]
# # Oracle lab: a world where the optimum is known
#
# Real runs are noisy and their true optimum is unknown. Here the loss of each validation domain
# is a known function of the mixture — a pure power law `c_d + β_d (N_d/u)^(-γ_d)` — so the true
# optimum at every budget can be computed exactly. Move the exponents: a domain with a small γ
# keeps paying off as data grows, so its share of the optimum rises with scale; a large γ
# saturates early and its share falls. Compare the AutoScale prediction (from the exact optima at
# two small budgets) with the small-scale optimum reused and with uniform weights.

# %% tags=["parameters"]
seed = 0             # which random oracle the lab and the table start from

# %%
import pandas as pd

from autoscale_kit.core import fmt
from autoscale_kit.methods.oracle import random_oracle
from autoscale_kit.present.widgets import OracleLab

lab = OracleLab(("web", "code", "books", "wiki"), seed=seed)
lab.widget

# %% [markdown]
# Everything above follows the sliders: the bars (weights at the target), the table (excess loss
# over the true optimum) and, below them, the same oracle's exact optimal weights from 10M to 1T
# tokens — the true optimum moving with scale. `lab.state` holds the numbers drawn.

# %% [markdown]
# ## Outside the predictor's theory
# With cross-domain transfer (training on one domain lowers another's loss) the optimum no
# longer follows the straight log-space path; DDO measured at two small scales (five ratios per
# domain, noise-free) then predicts less well. Excess loss at 16× the larger small scale:

# %%
from autoscale_kit.methods.arena import oracle_arena

rows = []
for kind in ("power", "separable", "transfer"):
    o = random_oracle(kind, ["web", "code", "books", "wiki"], seed)
    arena = oracle_arena(o, (1e8, 4e8), 6.4e9, ("autoscale", "ddo-reused", "uniform"), ratios=(0.2, 0.5, 2, 3))
    rows.append({"oracle": kind, **{m: e.excess for m, e in arena.entries.items()}})
fmt.frame(pd.DataFrame(rows), {m: fmt.number for m in ("autoscale", "ddo-reused", "uniform")},
          caption="excess loss over the true optimum at 6.4B tokens (nats, the oracle's unit); fixed oracles, not the sliders")
