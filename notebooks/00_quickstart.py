# %% [markdown]
# # AutoScale in one call
#
# Which mixture of data domains should a language model be trained on — *at this budget*?
# The AutoScale paper (Kang et al., COLM 2025) finds that the answer changes with the number of
# training tokens, and proposes two steps:
#
# 1. **DDO** at a small budget: train a base mixture and each domain reduced and increased
#    (2K+1 runs), fit a power law per domain, solve for the best quantities;
# 2. **the AutoScale predictor**: from the optima at two small budgets, extrapolate the optimum to
#    any larger budget.
#
# This notebook runs the whole study on the bundled 7-domain corpus and checks the claim at the
# target budget against uniform weights and against the small-scale optimum reused as is.
# Every run goes through the run store (`../runs`), so running the notebook again (or
# `autoscale-kit demo` in a terminal) reads finished runs instead of training them.

# %% tags=["parameters"]
scale = "small"      # smoke (tests), small (laptop CPU, ~20 min the first time), medium, gpu
store = "../runs"    # the run store, shared with the CLI

# %%
from autoscale_kit.pipeline import run_study, scale_from_env, study_config, summarize_speedup
from autoscale_kit.report import figures, write_report

scale = scale_from_env(scale)
config = study_config(scale)
config

# %% [markdown]
# ## Run (or read) the study
# DDO at each scale in `config.budgets`, the prediction at `config.target`, and one validation run
# per mixture and seed at the target.

# %%
result = run_study(config, store)
summarize_speedup(result.speedup)

# %% [markdown]
# `mean_saving` is the paper's speed-up metric: the share of tokens a mixture saves in reaching
# the loss that uniform weights reach at the end of training (read off each validation curve).
# A blank means the mixture never reached uniform's final loss.

# %%
figs = figures(result)
figs["loss_vs_tokens"]

# %% [markdown]
# ## How the optimal weights move with scale

# %%
figs["weights_by_scale"]

# %%
figs["weights_trajectory"]

# %% [markdown]
# ## What DDO fitted at each scale
# Each point is a training run (one domain reduced or increased); each curve the fitted law
# `y = k·(x + a)^(-b) + c` of the mean validation loss against that domain's quantity.

# %%
figs[f"ddo_fits_{config.budgets[-1]}"]

# %%
for sc in result.rounds:
    print(f"{sc.total:,} tokens:", *sc.ddo.warnings, sep="\n  ")

# %% [markdown]
# ## The report
# The same figures and tables, written to a folder with a Markdown page.

# %%
page = write_report(result, f"../reports/{config.name}")
print(page)

# %% [markdown]
# ## Use the mixture in your trainer
# The report folder holds `export/`: every mixture of the study in every trainer format. Here the
# AutoScale prediction for Megatron-LM, after checking how often each domain would be read at the
# target (more than once is repetition, which changes what the best mixture is). From a shell:
# `autoscale-kit export ../reports/<study> --format megatron --paths code=/data/code_text_document,…`.

# %%
from autoscale_kit.export import Export, corpus_facts, feasibility, write

available, lengths = corpus_facts(config.corpus_ref.load(), config.proxy.tokenizer)
weights = result.mixtures["autoscale"].weights
check = feasibility(weights, config.target, available)
print("epochs at the target:", ", ".join(f"{d} {e:.2f}" for d, e in check.epochs.items()))
for warning in check.warnings():
    print(warning)
print(write(Export(weights, f"study {config.name}", config.target, {}, lengths, check), "megatron"))
