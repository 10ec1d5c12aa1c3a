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
scale = "small"
seed = 0

# %%
import numpy as np
import pandas as pd

from autoscale_kit.oracle import random_oracle
from autoscale_kit.pipeline import scale_from_env
from autoscale_kit.plots import weight_trajectory_plotly
from autoscale_kit.widgets import OracleLab

scale = scale_from_env(scale)
lab = OracleLab(("web", "code", "books", "wiki"), seed=seed)
lab.widget

# %%
pd.Series(lab.state["excess"], name="excess loss at the target (nats)")

# %% [markdown]
# ## The true optimum moves with scale
# The same oracle, its exact optimal weights from 10⁷ to 10¹² tokens.

# %%
oracle = lab.oracle
totals = np.logspace(7, 12, 11)
weight_trajectory_plotly(list(totals), [oracle.optimum(t).weights for t in totals],
                         title="True optimal weights against scale")

# %% [markdown]
# ## Outside the predictor's theory
# With cross-domain transfer (training on one domain lowers another's loss) the optimum no
# longer follows the straight log-space path; DDO measured at two small scales (five ratios per
# domain, noise-free) then predicts less well. Excess loss at 16× the larger small scale:

# %%
from autoscale_kit.arena import oracle_arena

rows = []
for kind in ("power", "separable", "transfer"):
    o = random_oracle(kind, ["web", "code", "books", "wiki"], seed)
    arena = oracle_arena(o, (1e8, 4e8), 6.4e9, ("autoscale", "ddo-reused", "uniform"), ratios=(0.2, 0.5, 2, 3))
    rows.append({"oracle": kind, **{m: e.excess for m, e in arena.entries.items()}})
pd.DataFrame(rows).set_index("oracle")
