# %% [markdown]
# # AutoScale against the peer methods
#
# "Is this better than what I would otherwise use?" Every method below picks a mixture; every
# mixture is then trained at the same target budget with the same seeds and judged the same way
# (final mean validation loss, tokens needed to reach uniform's final loss). Next to each result
# stands the proxy compute the method spent to find its mixture.
#
# | method | what it trains | how it picks |
# |---|---|---|
# | uniform, natural, preset | nothing | equal weights; proportional to the data; LLaMA's published weights |
# | ddo-reused | DDO's 2K+1 runs at the largest small scale | the small-scale optimum, reused as is |
# | autoscale | DDO at two small scales | DDO optima extrapolated to the target |
# | regmix | random mixtures around the token prior (as many tokens as DDO) | LightGBM regression, top-128 average of 100k simulated mixtures |
# | mixing-law | the same runs as RegMix | exponential mixing law per domain, minimised on the simplex |
# | doremi | a reference run and a Group-DRO proxy run | online weights, time-averaged |
#
# The study's runs are shared with the other notebooks through the run store: after
# `autoscale-kit demo` only the peers' own runs are new.
#
# It opens on the shipped `small` study, which holds the peers' runs too: nothing trains.
# `retrain = True` trains everything here into the run store.

# %% tags=["parameters"]
scale = "small"
store = "../runs"
methods = ("natural", "preset", "regmix", "mixing-law", "doremi")
retrain = False      # False: the shipped results; True: train here into `store`

# %%
import pandas as pd

from autoscale_kit.methods.arena import compare_on_oracle
from autoscale_kit.study.compare import CompareConfig, compare_methods
from autoscale_kit.methods.oracle import random_oracle
from autoscale_kit.core import fmt
from autoscale_kit.study.pipeline import scale_from_env, study_config
from autoscale_kit.present.plots import cost_vs_loss_plotly, loss_curves_plotly, weight_bars_plotly, weights_over_steps
from IPython.display import display
from autoscale_kit.present.text import note
from autoscale_kit.study.shipped import study_runs

scale = scale_from_env(scale)
config = study_config(scale)
comparison = compare_methods(config, study_runs(config, store, retrain=retrain), CompareConfig(methods=tuple(methods)))
display(note(comparison.study.verdict(), items=comparison.study.warnings))
fmt.frame(comparison.table, {"proxy_runs": fmt.number, "proxy_tokens": fmt.tokens, "proxy_flops": fmt.number,
                             "mean_final_loss": fmt.loss, "std_final_loss": fmt.loss, "mean_saving": fmt.percent,
                             "std_saving": fmt.percent},
          missing="not reached on every seed (saving), nothing shared, or one seed (spread)",
          caption=f"losses in {comparison.study.loss_unit}; proxy_flops: 6 × parameters × tokens")

# %% [markdown]
# ## The mixtures each method chose

# %%
weight_bars_plotly({n: m.weights for n, m in comparison.study.mixtures.items()},
                   title=f"Weights at the target ({fmt.tokens(config.target)} tokens)")

# %% [markdown]
# ## What each paid, and what it got
# Points further left spent less proxy compute; lower is better. Error bars: spread over seeds.

# %%
cost_vs_loss_plotly(comparison.table, unit=comparison.study.loss_unit)

# %%
curves = {n: [r.curve for r in recs] for n, recs in comparison.study.validation.items()}
loss_curves_plotly(curves, title="Mean validation loss during the target runs", unit=comparison.study.loss_unit)

# %% [markdown]
# ## Inside DoReMi
# The proxy's domain weights move at every step toward the domains where it trails the reference
# model most; DoReMi's answer is their running mean.

# %%
doremi = comparison.details("doremi") if "doremi" in comparison.study.choices else None
weights_over_steps(doremi.trajectory, doremi.domains) if doremi else note("DoReMi is not among `methods`.")

# %% [markdown]
# ## Can the proxies be trusted?
# RegMix and the mixing law are only as good as their fit. Refit each surrogate on four fifths of
# the RegMix runs and rank the fifth it did not see: a Spearman correlation near 1 means the
# proxy runs order mixtures reliably; near 0, the chosen mixture is mostly noise.

# %%
from autoscale_kit.study.compare import regmix_runs_cv

cv = regmix_runs_cv(comparison) if {"regmix", "mixing-law"} & set(comparison.study.choices) else {}
fmt.frame(pd.Series(cv, name="out-of-fold Spearman").rename_axis("surrogate").reset_index(),
          {"out-of-fold Spearman": fmt.number}) if cv else note("Neither RegMix nor the mixing law is among `methods`.")

# %% [markdown]
# ## Surrogates on measured data no one here produced
# RegMix released 512 + 256 proxy runs (1M-parameter models, 17 Pile domains). Pick a surrogate
# and a validation loss: each is fitted on the 512 and ranks the 256 held-out mixtures.

# %%
from autoscale_kit.data.corpus import data_dir
from autoscale_kit.core.tables import read_mixture_losses
from autoscale_kit.present.widgets import SurrogateExplorer

regmix = data_dir() / "external" / "regmix"
train = read_mixture_losses(regmix / "train_mixture_1m.csv", regmix / "train_pile_loss_1m.csv")
test = read_mixture_losses(regmix / "test_mixture_1m.csv", regmix / "test_pile_loss_1m.csv")
explorer = SurrogateExplorer(train, test, target="metric/the_pile_pile_cc_val_loss")
explorer.widget

# %% [markdown]
# ## On synthetic worlds with a known optimum
# Excess loss at 16× the larger DDO scale over the true optimum (lower is better), a few
# oracles per kind. RegMix and the mixing law optimise at the small scale and carry the weights
# over unchanged; AutoScale extrapolates.

# %%
rows = []
for kind in ("separable", "transfer"):
    for seed in range(3):
        res = compare_on_oracle(random_oracle(kind, 5, seed), [3e8, 1.2e9], 1.92e10, seed=seed)
        rows += [{"kind": kind, "seed": seed, "method": m, "excess": r["excess"]} for m, r in res.items()]
excess = pd.DataFrame(rows).pivot_table(index="method", columns="kind", values="excess", aggfunc="mean")
fmt.frame(excess.reset_index(), {k: fmt.number for k in excess.columns},
          caption="mean excess loss over the true optimum at the target (nats, the oracle's unit), 3 oracles per kind")
