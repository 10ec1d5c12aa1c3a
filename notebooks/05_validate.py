# %% [markdown]
# # Validation at the target budget
#
# The claim to test: at the target budget, the mixture AutoScale predicts reaches a given loss
# with fewer tokens than uniform weights and than the small-scale DDO optimum reused. Each
# mixture is trained once per seed; the speed-up is read off the validation curves as in the
# paper (tokens to reach uniform's final loss). It opens on the shipped `small` study (nothing is
# trained); `retrain = True` trains it here into the run store.

# %% tags=["parameters"]
scale = "small"
store = "../runs"
retrain = False      # False: the shipped results; True: train here into `store`

# %%
from autoscale_kit.core import fmt
from autoscale_kit.study.pipeline import run_study, scale_from_env, study_config, summarize_speedup
from autoscale_kit.present.plots import loss_change, loss_curves, loss_curves_plotly
from IPython.display import display
from autoscale_kit.present.text import note
from autoscale_kit.study.shipped import describe, study_runs

scale = scale_from_env(scale)
config = study_config(scale)
runs = study_runs(config, store, retrain=retrain)
result = run_study(config, runs)
note(result.verdict(), describe(config.name) if runs.frozen else f"Runs read from (or trained into) {runs.root}.",
     items=result.warnings)

# %%
import pandas as pd

from autoscale_kit.present.widgets import RetrainButton


def use(new_result):
    global result
    result = new_result


RetrainButton(lambda s: run_study(config, s), store, source=runs, on_result=use, study=config.name).widget

# %% [markdown]
# ## The mixtures trained at the target

# %%
fmt.frame(pd.DataFrame({name: m.weights for name, m in result.mixtures.items()}).rename_axis("domain").reset_index(),
          {name: fmt.weight for name in result.mixtures}, caption=f"token fractions at {fmt.tokens(config.target)} tokens")

# %% [markdown]
# ## The recommended weights, with their intervals
# Each budget's answer (verified where the study verifies) and the prediction at the target, with
# the intervals of the bootstrap over the DDO runs' noise.

# %%
from autoscale_kit.present.plots import weight_bars

weights = {f"DDO {fmt.tokens(rd.total)}": rd.answer.weights for rd in result.rounds}
weights[f"predicted {fmt.tokens(config.target)}"] = result.prediction.weights
intervals = {f"DDO {fmt.tokens(rd.total)}": rd.answer_interval for rd in result.rounds}
intervals[f"predicted {fmt.tokens(config.target)}"] = result.prediction.interval
weight_bars(weights, title=f"Weights with {100 * config.level:.0f}% intervals",
            intervals={k: v for k, v in intervals.items() if v})

# %% [markdown]
# ## The curves, with a band over the seeds
# The line is the mean over seeds, the band runs from the lowest to the highest seed.

# %%
curves = {name: [r.curve for r in recs] for name, recs in result.validation.items()}
loss_curves_plotly(curves, title=f"Mean validation loss at {fmt.tokens(config.target)} tokens",
                   unit=result.loss_unit)

# %%
loss_curves(curves, unit=result.loss_unit, title=f"Validation loss at {fmt.tokens(config.target)} tokens")

# %% [markdown]
# ## The verdict against uniform
# Each mixture's final loss against uniform's, paired by seed, with a t-interval at the study's
# level: with two seeds it takes a large gap to be sure, and the line says how many seeds would
# settle it. Then each budget's verdict: what DDO predicted and what verification measured.

# %%
display(note(title="At the target, against uniform",
             items=[f"{name}: {v['text']}" for name, v in result.against_uniform().items()]))
for rd in result.rounds:
    if rd.verdict is not None:
        display(note(rd.verdict.text + (f" Then {rd.verdict.measured}." if rd.verdict.measured else ""),
                     title=f"DDO at {fmt.tokens(rd.total)}"))

# %% [markdown]
# ## Speed-up over uniform (mean and spread over seeds)

# %%
fmt.frame(summarize_speedup(result.speedup),
          {"mean_final_loss": fmt.loss, "std_final_loss": fmt.loss, "mean_saving": fmt.percent,
           "std_saving": fmt.percent}, missing="not reached on every seed, or one seed only",
          caption=f"losses in {result.loss_unit}")

# %% [markdown]
# Per seed: tokens each run needed to reach uniform's final loss on the same seed.

# %%
fmt.frame(result.speedup, {"final_mean_loss": fmt.loss, "final_curve_loss": fmt.loss, "reference_loss": fmt.loss,
                           "tokens_to_reference": fmt.tokens, "saving": fmt.percent},
          missing="never reached uniform's final loss", caption=f"losses in {result.loss_unit}")

# %% [markdown]
# ## Which domains gained and which lost

# %%
loss_change(result.final_losses(), unit=result.loss_unit)

# %% [markdown]
# If the prediction does not win, the report says so: look at the DDO warnings (non-monotone
# runs, ambiguous fits), at how far apart the scales are, and at the spread over seeds before
# drawing a conclusion.

# %%
display(note(title="The study", items=result.warnings or ["no warnings"]))
for sc in result.rounds:
    display(note(title=f"DDO at {fmt.tokens(sc.total)}", items=sc.ddo.warnings or ["no warnings"]))
