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
# This notebook shows the whole study on the bundled 7-domain corpus and checks the claim at the
# target budget against uniform weights and against the small-scale optimum reused as is. It opens
# on the finished `small` study shipped with the toolkit (`data/studies/small/`: every run's
# metrics and curves, no model weights), so nothing trains when it opens. Set `retrain = True` (or
# press the button below) to train the study on this machine instead: the runs go to the run store
# (`../runs`, shared with `autoscale-kit demo`), and a second run reads them back.

# %% tags=["parameters"]
scale = "small"      # smoke (tests), small (shipped; ~40 min on 2 CPU cores to retrain), medium, gpu
store = "../runs"    # the run store, shared with the CLI
retrain = False      # False: the shipped results (nothing trained); True: train here into `store`

# %%
from autoscale_kit.core import fmt
from autoscale_kit.study.pipeline import run_study, scale_from_env, study_config, summarize_speedup
from autoscale_kit.present.report import figures, write_report
from IPython.display import display
from autoscale_kit.present.text import config_table, note
from autoscale_kit.study.shipped import describe, study_runs

scale = scale_from_env(scale)
config = study_config(scale)
runs = study_runs(config, store, retrain=retrain)
result = run_study(config, runs)
note(result.verdict(), items=result.warnings)

# %% [markdown]
# ## Where these results come from
# DDO at each scale in `config.budgets`, the prediction at `config.target`, and one validation run
# per mixture and seed at the target. The button trains the same study here (finished runs in the
# store are read, not retrained); then run the cells below again.

# %%
from autoscale_kit.present.widgets import RetrainButton


def use(new_result):
    global result
    result = new_result


display(note(describe(config.name) if runs.frozen else f"Runs read from (or trained into) {runs.root}."))
RetrainButton(lambda s: run_study(config, s), store, source=runs, on_result=use, study=config.name).widget

# %% [markdown]
# The study's settings (`config` holds every field):

# %%
fmt.frame(config_table(config))

# %% [markdown]
# Each named scale is a study file shipped with the toolkit; a study of your own is a file like it
# (its corpus or token store, training and evaluation-only domains, budgets, proxy, seeds, methods),
# run with `autoscale-kit demo --study FILE` or, here, `run_study(read_study_file(path).config, store)`.

# %%
from autoscale_kit.study.config import SCALES_DIR, read_study_file

study_file = SCALES_DIR / f"{scale}.toml"
print(study_file.read_text())
assert read_study_file(study_file).config == config

# %% [markdown]
# ## The speed-up over uniform
# `mean_saving` is the paper's speed-up metric: the share of tokens a mixture saves in reaching
# the loss that uniform weights reach at the end of training (read off each validation curve).

# %%
fmt.frame(summarize_speedup(result.speedup),
          {"mean_final_loss": fmt.loss, "std_final_loss": fmt.loss, "mean_saving": fmt.percent,
           "std_saving": fmt.percent}, missing="not reached on every seed, or one seed only",
          caption=f"losses in {result.loss_unit}")

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
    display(note(title=f"DDO at {fmt.tokens(sc.total)} tokens", items=sc.ddo.warnings or ["no warnings"]))

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
from autoscale_kit.present.export import Export, corpus_facts, feasibility, write

available, lengths = corpus_facts(config.corpus_ref.load(), config.proxy.tokenizer)
weights = result.mixtures["autoscale"].weights
check = feasibility(weights, config.target, available)
display(note(f"Epochs at the target ({fmt.tokens(config.target)} tokens): "
             + ", ".join(f"{d} {e:.2f}" for d, e in check.epochs.items()), items=check.warnings()))
print(write(Export(weights, f"study {config.name}", config.target, {}, lengths, check), "megatron"))
