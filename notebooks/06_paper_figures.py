# %% [markdown]
# # The paper's figures, redrawn from its released numbers
#
# No training here: everything comes from `data/paper/` — the GPT-2 Large perturbation table at
# a 1.2B-token budget and the DDO optima at 0.3B, 0.6B and 1.2B tokens released in the authors'
# notebooks (see `data/paper/README.md` for provenance).

# %%
import pandas as pd

from autoscale_kit.data.corpus import data_dir
from autoscale_kit.core import fmt
from autoscale_kit.fit.ddo import fit_ddo
from autoscale_kit.fit.plan import perturbation_effects
from autoscale_kit.present.plots import ddo_fits, perturbation_heatmap, weight_bars, weight_trajectory_plotly
from autoscale_kit.fit.predict import predict_optimum
from autoscale_kit.core.tables import read_optima_table

runs_csv = data_dir() / "paper" / "gpt2_1.2B_runs.csv"
optima, labels = read_optima_table(data_dir() / "paper" / "gpt2_optima.csv")
pd.read_csv(runs_csv).round(2)

# %% [markdown]
# ## Perturbation heat-maps (the DDO notebook's two figures)
# Validation perplexity change per domain when one training domain is tripled or cut to 1/5.

# %%
perturbation_heatmap(perturbation_effects(runs_csv, "ppl", "up"), cmap="YlGnBu_r", unit="perplexity change",
                     title="GPT-2 Large, 1.2B tokens: PPL change when a domain is added (×3)")

# %%
perturbation_heatmap(perturbation_effects(runs_csv, "ppl", "down"), cmap="YlGnBu", unit="perplexity change",
                     title="PPL change when a domain is reduced (×1/5)")

# %% [markdown]
# ## Power-law fits (Figure 4a) and the DDO weights
# The mean perplexity, relative to the base run, against each domain's quantity; DDO's optimum
# with a lower bound of 0.2× the uniform share (the paper's).

# %%
ddo = fit_ddo(runs_csv, "mean-ppl", min_ratio=0.2)
ddo_fits(ddo.fits, title="GPT-2 Large at 1.2B tokens: fitted law per domain")

# %%
fmt.frame(pd.DataFrame({"fitted a": {d: f.a for d, f in ddo.fits.items()}, "b": {d: f.b for d, f in ddo.fits.items()},
                        "c": {d: f.c for d, f in ddo.fits.items()}, "optimal x": ddo.relative,
                        "weight": ddo.weights}).rename_axis("domain").reset_index(),
          {"weight": fmt.weight}, caption="the law y = k·(x + a)^(-b) + c per domain; x: quantity / base quantity")

# %%
weight_bars({"uniform": {d: 1 / 7 for d in ddo.weights}, "DDO at 1.2B": ddo.weights},
            title="Optimized domain weights (the paper: 1.62, 0.20, 1.27, 1.18, 1.85, 0.64, 0.23 relative)")

# %% [markdown]
# ## DDO optima across scales (Figure 2a, the released vectors)

# %%
weight_bars({label: m.weights for label, m in zip(labels, optima)}, title="DDO-optimal weights at 0.3B, 0.6B, 1.2B")

# %% [markdown]
# ## AutoScale's prediction up to hundreds of billions of tokens (Figure 5)
# From the 0.3B and 1.2B optima: the paper's step rule (×4 per step: 5.0B, 21.4B, 93.2B, 412B)
# and the continuous form at any budget.

# %%
n03, n12 = optima[0], optima[-1]
steps, a, b = [], n03, n12
for _ in range(4):
    nxt = predict_optimum([a, b], method="step").optimum
    steps.append(nxt)
    a, b = b, nxt
fmt.frame(pd.DataFrame({fmt.tokens(m.total): m.weights for m in steps}).rename_axis("domain").reset_index(),
          {fmt.tokens(m.total): fmt.weight for m in steps}, caption="predicted weights at each step (×4 per step)")

# %%
targets = [3e9, 1e10, 3e10, 1e11, 3.07e11]
cont = [predict_optimum([n03, n12], t, method="continuous") for t in targets]
weight_trajectory_plotly([n03.total, optima[1].total, n12.total] + targets,
                         [n03.weights, optima[1].weights, n12.weights] + [p.weights for p in cont],
                         predicted_from=3, title="AutoScale-predicted weights (continuous form) up to 307B tokens")
