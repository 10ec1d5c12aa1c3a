# %% [markdown]
# # The AutoScale predictor
#
# Under a separable power law the optimal quantity of each domain moves along a straight line in
# log space as the budget grows, every domain with its own slope. So optima at two budgets fix
# the path (the paper's rule `N3 = N2² / N1` is one step along it), and optima at three or more
# can be fitted by least squares. Here: each budget's answer as the study keeps it (verified when
# it verifies), the study's own prediction at its target, a slider for the target budget, and the
# predicted weights. The DDO runs are read from the shipped `small` study (`retrain = True` trains
# them here).

# %% tags=["parameters"]
scale = "small"
store = "../runs"
retrain = False      # False: the shipped results; True: train here into `store`

# %%
import pandas as pd

from autoscale_kit.core import fmt
from autoscale_kit.fit.predict import predict_optimum
from autoscale_kit.fit.uncertainty import prediction_uncertainty
from autoscale_kit.present.plots import weight_trajectory_plotly
from autoscale_kit.present.widgets import PredictExplorer
from autoscale_kit.study.pipeline import autoscale_answer, scale_from_env, study_config
from IPython.display import display
from autoscale_kit.present.text import note
from autoscale_kit.study.shipped import shipped_notes, study_runs

scale = scale_from_env(scale)
config = study_config(scale)
runs = study_runs(config, store, retrain=retrain)
answer = autoscale_answer(config, runs, progress=False)
rounds = answer.rounds


def budget_row(rd):
    """What each budget hands the predictor: the answer the study kept (verified when it verifies)."""
    status = ("fell back to its base: not used" if rd.fell_back else
              "verified" if rd.verification is not None else "DDO optimum")
    interval = rd.answer_interval
    return {d: f"{fmt.weight(w)} {fmt.interval(*interval[d])}" if interval else fmt.weight(w)
            for d, w in rd.answer.weights.items()} | {"status": status}


fmt.frame(pd.DataFrame({f"{fmt.tokens(rd.total)}": budget_row(rd) for rd in rounds}).rename_axis("").reset_index(),
          caption=f"Each budget's answer{f' with its {100 * config.level:.0f}% interval' if rounds[0].answer_interval else ''}"
                  " and whether the prediction uses it")

# %% [markdown]
# ## The study's prediction
# `autoscale_answer` is what `run_study` validates at the target: the predictor fed only the answers
# that stand. With fewer than two of them there is no trend to extrapolate, the prediction is
# unsupported, and the study reuses the largest budget's answer instead.

# %%
pred = answer.prediction
note(f"At the target, {fmt.tokens(config.target)} tokens ({pred.method}): {fmt.weights(pred.weights)}.",
     items=[*pred.warnings, *shipped_notes(runs)])

# %% [markdown]
# ## Move the target budget
# The bars carry the prediction's interval: every bootstrap draw of the answers (their noise, from
# the DDO seeds) is predicted, and the bar spans the middle of those predictions. The predictor
# extrapolates: the further the target, the wider. When the study's prediction is unsupported, the
# explorer shows the surrogate-only prediction from DDO's fitted optima instead, labelled as such:
# what the fits alone would say, not what the study recommends.

# %%
if answer.supported:
    optima, draws, label = answer.optima, answer.draws, "the study's prediction"
    point_bands = [rd.answer_interval for rd in answer.fed]
else:
    optima, label = [rd.ddo.optimum for rd in rounds], "surrogate-only prediction (not the study's: unsupported)"
    draws = [rd.uncertainty.weights.samples for rd in rounds] if all(
        rd.uncertainty is not None and rd.uncertainty.weights is not None for rd in rounds) else None
    point_bands = [rd.uncertainty.interval if rd.uncertainty is not None else None for rd in rounds]
print("the explorer shows:", label)
explorer = PredictExplorer(optima, draws=draws, level=config.level)
explorer.widget

# %% [markdown]
# ## Each domain's share against scale
# Solid: the optima the explorer uses; dashed: predictions at 4×, 16×, 64× and 256× the largest
# budget; the band is each point's interval.

# %%
targets = [optima[-1].total * f for f in (4, 16, 64, 256)]
predicted = [predict_optimum(optima, t) for t in targets]
bands = None
if draws:
    bands = point_bands + [prediction_uncertainty(optima, draws, t, level=config.level).interval for t in targets]
weight_trajectory_plotly([m.total for m in optima] + targets,
                         [m.weights for m in optima] + [p.weights for p in predicted],
                         predicted_from=len(optima), intervals=bands, title=label)

# %% [markdown]
# The paper's own rule, one step: the next total is an output, not a choice.

# %%
step = predict_optimum(optima[-2:], method="step")
note(f"Step rule: {fmt.tokens(step.optimum.total)} tokens → {fmt.weights(step.weights)}.",
     items=list(dict.fromkeys(m for p in predicted for m in p.warnings)))

# %% [markdown]
# ## Use the prediction in your trainer
# The prediction at the largest total above, as an OLMo-core source mixture. At that total the
# bundled corpus cannot serve every domain once: the check says which domains would repeat and
# how often; `cap=True` holds each at one epoch and gives the rest to the domains that have room.

# %%
from autoscale_kit.present.export import Export, corpus_facts, feasibility, write

available, lengths = corpus_facts(config.corpus_ref.load(), config.proxy.tokenizer)
far = predicted[-1]
total = int(round(far.optimum.total))
check = feasibility(far.weights, total, available, cap=sum(available.values()) >= total)
display(note(f"At {fmt.tokens(total)} tokens: " + ", ".join(f"{d} {e:.1f} epochs" for d, e in check.epochs.items()),
             f"The corpus holds {fmt.tokens(sum(available.values()))} tokens in all, fewer than {fmt.tokens(total)}: "
             "capping cannot help, only more data (or accepting repetition) can."
             if check.over and check.capped is None else "", items=check.warnings()))
print(write(Export(far.weights, f"the prediction at {fmt.tokens(total)}", total, {}, lengths, check), "olmo-core"))
