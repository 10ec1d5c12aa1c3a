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

# %% [markdown]
# ## The recommended weights, with their intervals
# Each budget's answer (verified where the study verifies) and the prediction at the target, with
# the intervals of the bootstrap over the DDO runs' noise.

# %%
from autoscale_kit.plots import weight_bars

weights = {f"DDO {rd.total:,}": rd.answer.weights for rd in result.rounds}
weights[f"predicted {config.target:,}"] = result.prediction.weights
intervals = {f"DDO {rd.total:,}": rd.answer_interval for rd in result.rounds}
intervals[f"predicted {config.target:,}"] = result.prediction.interval
weight_bars(weights, title=f"Weights with {100 * config.level:.0f}% intervals",
            intervals={k: v for k, v in intervals.items() if v})

# %% [markdown]
# ## The curves, with a band over the seeds
# The line is the mean over seeds, the band runs from the lowest to the highest seed.

# %%
curves = {name: [r.curve for r in recs] for name, recs in result.validation.items()}
loss_curves_plotly(curves, title=f"Mean validation loss at {config.target:,} tokens")

# %%
loss_curves(curves)

# %% [markdown]
# ## The verdict against uniform
# Each mixture's final loss against uniform's, paired by seed, with a t-interval at the study's
# level: with two seeds it takes a large gap to be sure, and the line says how many seeds would
# settle it. Then each budget's verdict: what DDO predicted and what verification measured.

# %%
for name, v in result.against_uniform().items():
    print(f"{name}: {v['text']}")
for rd in result.rounds:
    if rd.verdict is not None:
        print(f"\nDDO at {rd.total:,}: {rd.verdict.text}" + (f" Then {rd.verdict.measured}." if rd.verdict.measured else ""))

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
