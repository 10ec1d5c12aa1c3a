# %% [markdown]
# # Validation at the target budget
#
# The claim to test: at the target budget, the mixture AutoScale predicts reaches a given loss
# with fewer tokens than uniform weights and than the small-scale DDO optimum reused. Each
# mixture is trained once per seed; the speed-up is read off the validation curves as in the
# paper (tokens to reach uniform's final loss).

# %% tags=["parameters"]
scale = "small"
store = "../runs"

# %%
from autoscale_kit.pipeline import run_study, scale_from_env, study_config, summarize_speedup
from autoscale_kit.plots import loss_change, loss_curves, loss_curves_plotly

scale = scale_from_env(scale)
config = study_config(scale)
result = run_study(config, store)
{name: {d: round(w, 3) for d, w in m.weights.items()} for name, m in result.mixtures.items()}

# %%
curves = {name: [r.curve for r in recs] for name, recs in result.validation.items()}
loss_curves_plotly(curves, title=f"Mean validation loss at {config.target:,} tokens")

# %%
loss_curves(curves)

# %% [markdown]
# ## Speed-up over uniform (mean and spread over seeds)

# %%
summarize_speedup(result.speedup)

# %%
result.speedup

# %% [markdown]
# ## Which domains gained and which lost

# %%
loss_change(result.final_losses())

# %% [markdown]
# If the prediction does not win, the report says so: look at the DDO warnings (non-monotone
# runs, ambiguous fits), at how far apart the scales are, and at the spread over seeds before
# drawing a conclusion.

# %%
for w in result.warnings:
    print("-", w)
for sc in result.rounds:
    print(f"DDO at {sc.total:,}:", len(sc.ddo.warnings), "warnings")
