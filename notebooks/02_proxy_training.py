# %% [markdown]
# # Training one proxy
#
# A proxy is a small GPT-2 (`transformers.GPT2LMHeadModel` built from a config, nothing
# downloaded) trained on exactly the tokens a Mixture asks for, then evaluated on the fixed
# validation blocks of every domain. Move the sliders, press **Train proxy**, and watch the loss.

# %% tags=["parameters"]
scale = "small"
total = 300_000        # training tokens for the first run

# %%
from autoscale_kit import corpus as corpus_mod
from autoscale_kit.pipeline import scale_from_env, study_config
from autoscale_kit.widgets import MixtureSliders, TrainPanel

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
# top to bottom; press it again after moving the sliders.

# %%
panel.button.click()
r = panel.result
{d: round(v, 4) for d, v in r.val_loss.items()}

# %% [markdown]
# `r.curve` is the loss curve (training loss and periodic validation against tokens seen);
# `r.tokens` the tokens consumed per domain — exactly what the mixture asked for.

# %%
assert sum(r.tokens.values()) == sliders.mixture.total
r.tokens
