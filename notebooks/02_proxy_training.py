# %% [markdown]
# # Training one proxy
#
# A proxy is a small GPT-2 (`transformers.GPT2LMHeadModel` built from a config, nothing
# downloaded) trained on exactly the tokens a Mixture asks for, then evaluated on the fixed
# validation blocks of every domain. Move the sliders, press **Train proxy**, and watch the loss.
# Every run stays on the plot and in the table below it, so a second mixture can be compared with
# the first; **Clear history** starts over.

# %% tags=["parameters"]
scale = "small"
total = 300_000        # training tokens for the first run

# %%
from autoscale_kit.data import corpus as corpus_mod
from autoscale_kit.study.pipeline import scale_from_env, study_config
from autoscale_kit.present.widgets import MixtureSliders, TrainPanel

scale = scale_from_env(scale)
config = study_config(scale)
if scale == "smoke":
    total = 20_000
corpus = corpus_mod.load(config.corpus, domains=config.domains)
proxy = config.proxy
proxy

# %%
sliders = MixtureSliders(corpus.domains, total=total)
panel = TrainPanel(corpus, proxy, sliders)
sliders.widget

# %%
panel.widget

# %% [markdown]
# The cell below presses the button once, so that the notebook shows a trained run when it is run
# top to bottom; move the sliders and press it again to add a second run to the comparison.

# %%
from autoscale_kit.core import fmt

panel.button.click()
r = panel.result
print("final validation loss:", ", ".join(f"{d} {fmt.loss(v, panel.unit)}" for d, v in r.val_loss.items()))

# %% [markdown]
# `r.curve` is the loss curve (training loss and periodic validation against tokens seen);
# `r.tokens` the tokens consumed per domain — exactly what the mixture asked for.

# %%
assert sum(r.tokens.values()) == sliders.mixture.total
r.tokens

# %% [markdown]
# ## Many budgets from one run
# With the warmup-stable-decay schedule (`schedule="wsd"`), runs of every length share one path
# until their cooldowns: a run to the largest budget can branch off each smaller one at the start of
# its cooldown (`train_proxy(..., branches=(…))`, `landscape run --schedule wsd`), the same
# computation as a dedicated run at that budget for the price of its cooldown.

# %%
from autoscale_kit.present.plots import lr_schedules_plotly

lr_schedules_plotly(config.proxy, [t // 4 for t in config.budgets] + list(config.budgets))
