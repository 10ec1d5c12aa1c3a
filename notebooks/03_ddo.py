# %% [markdown]
# # DDO: the optimal mixture at one small budget
#
# Direct Data Optimization trains a base mixture (uniform) and, for each domain, runs where only
# that domain's quantity changes (the paper: ×1/5 and ×3). Per domain it fits
# `y(x) = k·(x + a)^(-b) + c` — the objective relative to the base run against the domain's
# quantity relative to the base — and minimises the sum of the fitted laws under a fixed total,
# exactly, through its KKT conditions.
#
# It opens on the shipped `small` study: the paper's ratios are read from it, nothing trains. Pick
# other ratios and the plan's new runs train here, into the run store (`../runs`).

# %% tags=["parameters"]
scale = "small"
store = "../runs"
ratios = (0.2, 3.0)     # the paper's; add e.g. 0.5 and 2 to identify the law better
verify = 1              # candidates to verify the transfer-aware optimum here (0: show the study's own check only)
retrain = False         # True: train every run here instead of reading the shipped study
hf_trainer = None       # train the smallest budget's plan with transformers.Trainer here: None = only at the
                        # smoke scale (seconds), True = at any scale (minutes at small), False = never

# %%
import ipywidgets as w

from autoscale_kit.core import fmt
from autoscale_kit.fit.ddo import fit_ddo
from autoscale_kit.fit.plan import perturbation_effects
from autoscale_kit.study.lab import CorpusLab
from autoscale_kit.methods.registry import ddo_round
from autoscale_kit.study.pipeline import scale_from_env
from autoscale_kit.present.plots import ddo_fits, perturbation_heatmap, transfer_next_to_measured, weight_bars
from autoscale_kit.present.widgets import DDOPlanPanel
from autoscale_kit.present.text import note
from autoscale_kit.study.shipped import shipped_notes
from IPython.display import display

scale = scale_from_env(scale)

# %% [markdown]
# ## The perturbation plan
# Choose the ratios: the plan has one base run plus one run per domain and ratio, on each DDO seed.
# **Train this plan** trains (or reads) exactly the picked plan and fits DDO on it; the cells below
# draw the last plan trained (run them again after training another).

# %%
panel = DDOPlanPanel(scale, store, ratios=ratios, retrain=retrain)
panel.widget

# %% [markdown]
# The cell below presses the button once, so that the notebook shows a fitted plan when it is run
# top to bottom (with the paper's ratios, read from the shipped study).

# %%
ddo_round_ = panel.train()
config, runs, total = panel.config, panel.runs, panel.total
domains = list(ddo_round_.ddo.weights)
shown = f"ratios {', '.join(fmt.multiple(r) for r in config.ratios)}"
display(note(f"Drawn below: DDO at {fmt.tokens(total)} tokens, {shown}, {len(ddo_round_.records)} runs.",
             items=shipped_notes(runs)))
table = ddo_round_.table
fmt.frame(table[["label"] + [c for c in table.columns if c.startswith("tokens:")] + ["mean_loss"]].rename(
    columns=lambda c: c.removeprefix("tokens:")), {c.removeprefix("tokens:"): fmt.tokens for c in table.columns
                                                   if c.startswith("tokens:")} | {"mean_loss": fmt.loss},
          caption=f"tokens per domain; mean validation loss in {fmt.BYTE_UNIT}")

# %% [markdown]
# ## What each perturbation did to each domain
# Rows: the domain whose quantity changed; columns: the validation loss change on each domain
# (and their mean) relative to the base run. The diagonal is each domain helping itself; the
# rest is transfer between domains — which the separable DDO surrogate does not model.

# %%
perturbation_heatmap(perturbation_effects(ddo_round_.measured, "loss", "up"),
                     title=f"Loss change when a domain is increased ({fmt.multiple(max(config.ratios))})")

# %%
perturbation_heatmap(perturbation_effects(ddo_round_.measured, "loss", "down"),
                     title=f"Loss change when a domain is reduced ({fmt.multiple(min(config.ratios))})")

# %% [markdown]
# ## The fit and the optimum

# %%
ddo = fit_ddo(ddo_round_.measured, config.objective, min_ratio=config.min_ratio)
ddo_fits(ddo.fits, title=f"DDO at {fmt.tokens(total)} tokens, {shown}")

# %%
weight_bars({"uniform": {d: 1 / len(domains) for d in domains}, "separable DDO": ddo.weights},
            title=f"Optimal weights at {fmt.tokens(total)} tokens, {shown}")

# %%
print(f"base objective {fmt.loss(ddo.base_objective, None, digits=4)}; the surrogate predicts "
      f"{fmt.loss(ddo.predicted_objective, None, digits=4)} at the optimum ({config.objective})")
print("at a bound:", ", ".join(f"{d} ({b})" for d, b in ddo.at_bound.items()) or "none")

# %% [markdown]
# ## How sure is the optimum?
# A weight to four decimals says nothing about which weights the runs pin down. The plan runs on
# the study's DDO seeds; the spread between seeds is the noise of one run. Every run of the table
# gets a noise vector drawn from those residuals, DDO is refitted and re-solved, and the weights
# read: the bars are the percentile interval of those draws. The verdict says, in plain words,
# whether the optimum beats uniform beyond the noise, which weights are pinned down, and how many
# seeds would settle what is not. Move the level to see the intervals widen.

# %%
from autoscale_kit.present.plots import weight_bars_plotly

uncertainty = ddo_round_.uncertainty
display(note(uncertainty.verdict(unit=ddo_round_.unit).text, title=f"{ddo_round_.ddo.surrogate.capitalize()} DDO"))
level_slider = w.FloatSlider(value=config.level, min=0.5, max=0.99, step=0.01, description="level")
interval_view = w.Output()


def show_interval(change=None):
    interval_view.clear_output(wait=True)
    with interval_view:
        if uncertainty.weights is None:
            display(note(f"No interval: {uncertainty.note}"))
            return
        lo, hi = uncertainty.weights.interval(level_slider.value)
        iv = {d: (a, b) for d, a, b in zip(uncertainty.domains, lo, hi)}
        weight_bars_plotly({"uniform": {d: 1 / len(domains) for d in domains}, "separable DDO": uncertainty.result.weights},
                           title=f"Optimal weights at {fmt.tokens(total)} tokens, {100 * level_slider.value:.0f}% intervals",
                           intervals={"separable DDO": iv}).show()


level_slider.observe(show_interval, names="value")
show_interval()
w.VBox([level_slider, interval_view])

# %% [markdown]
# ## Can we trust the fit?
# With three points per domain the 3-parameter law interpolates exactly, and several exact fits
# exist. The diagnostic refits from many starts and re-solves with the alternatives: if the
# optimal weights move, more ratios are needed. Warnings also flag runs where more data *raised*
# the loss — usually noise, or a budget too small for training to have settled.

# %%
note(f"Weights move by up to {ddo.ambiguity.max_spread:.3f} across {ddo.ambiguity.n_solutions} exact fits."
     if ddo.ambiguity else "", title="The fit's warnings", items=ddo.warnings or ["none"])

# %% [markdown]
# ## Substitute domains: the transfer-aware surrogate
# The separable surrogate sums one law per *training* domain, each fitted on the runs that change
# that domain alone. When two domains teach the same thing (books and wikipedia), cutting either
# alone barely moves the loss, so it cuts both — a mixture no run measured. The same runs measure
# every validation domain, so they also say which data helps which domain. The transfer-aware form
# fits, per validation domain v, `L_v = c_v + k_v (Σ_i T_vi N_i / u + a_v)^(-b_v)` with `T_vv = 1`:
# cutting two substitutes together costs what it does. Left, what the runs measured; right, the
# transfer the fit found (rows: the domain whose data it is; columns: the domain it teaches).

# %%
transfer_ddo = fit_ddo(ddo_round_.measured, config.objective, min_ratio=config.min_ratio, surrogate="transfer")
(transfer_next_to_measured(perturbation_effects(ddo_round_.measured, "loss", "up"), transfer_ddo.transfer.matrix(),
                           title=f"At {fmt.tokens(total)} tokens: measured effects and fitted transfer")
 if transfer_ddo.transfer is not None else
 note("The transfer-aware form fitted no transfer matrix here (it fell back to the separable one)."))

# %%
weight_bars({"uniform": {d: 1 / len(domains) for d in domains}, "separable DDO": ddo.weights,
             ("transfer-aware DDO" if transfer_ddo.surrogate == "transfer" else "transfer (fell back)"):
             transfer_ddo.weights}, title=f"Optimal weights at {fmt.tokens(total)} tokens")

# %%
note(title="The transfer-aware fit's warnings", items=transfer_ddo.warnings or ["none"])

# %% [markdown]
# The transfer-aware optimum gets its interval the same way (each draw refits every validation
# domain's law, about a second each on 7 domains, so fewer draws here).

# %%
from autoscale_kit.fit.forms import interval_draws
from autoscale_kit.fit.uncertainty import ddo_uncertainty

transfer_unc = ddo_uncertainty(ddo_round_.measured, config.objective, draws=interval_draws("transfer", config.interval_draws),
                               level=config.level, result=transfer_ddo, min_ratio=config.min_ratio,
                               surrogate="transfer")
display(note(transfer_unc.verdict(unit=ddo_round_.unit).text, title="Transfer-aware DDO"))
if transfer_unc.interval:
    display(weight_bars({"separable DDO": ddo.weights, "transfer-aware DDO": transfer_ddo.weights},
                title=f"Optimal weights at {fmt.tokens(total)} tokens with {100 * config.level:.0f}% intervals",
                intervals={"separable DDO": uncertainty.interval, "transfer-aware DDO": transfer_unc.interval}))

# %% [markdown]
# ## Check the answer before using it
# A surrogate's promise is not a measurement. Verification trains the recommended mixture at this
# budget with the base run's seeds and accepts it only if it beats the base by more than the noise;
# otherwise it steps back towards the base (t = 1/2, 1/4, …). The answer is always a mixture that
# was measured. On the `small` study the 250k recommendation failed this check and the 1M one
# passed (see the README).

# %%
checks = [ddo_round_] if ddo_round_.verification is not None else []   # the study's own (separable) check
if verify and (not runs.frozen or retrain):   # the transfer optimum's candidates are not in the shipped study
    checks.append(ddo_round(CorpusLab(config, runs), total, "transfer", verify))
elif verify:
    display(note("The transfer-aware optimum's check trains new runs: set retrain = True to run it here."))
for checked in checks:
    display(note(checked.verification.summary(checked.unit),
                 checked.verdict.measured if checked.verdict is not None and checked.verdict.measured else "",
                 title=f"{checked.ddo.surrogate.capitalize()} surrogate, checked",
                 items=[f"t = {c.step:g}: promised {fmt.loss(c.predicted, checked.unit)}, measured "
                        f"{fmt.loss(sum(c.measured) / len(c.measured), checked.unit)}, gain over the base "
                        f"{fmt.loss(c.gain, checked.unit, signed=True)}{' (accepted)' if c.accepted else ''}"
                        for c in checked.verification.candidates]))

# %% [markdown]
# ## Train the plan with your own trainer
# The runs above can be trained anywhere. `plan_runs` lists the study's DDO runs (the same mixtures
# and seeds the toolkit trains, each named by the key its run store gives it) and `write_plan`
# writes one config per run in a trainer's format with `plan.csv`; `autoscale-kit ingest` reads the
# trainer's logs back into runs tables (`autoscale-kit plan --help`, docs/export.md). The check of
# the answer above works the same way: `autoscale-kit plan --verify RUNS.csv` writes its candidates,
# and `autoscale-kit ddo RUNS.csv --verified CANDIDATES.csv` decides on them once they are ingested.

# %%
import tempfile

import pandas as pd

from autoscale_kit.present.plan import plan_runs, write_plan

planned = plan_runs(config, "ddo")
plan_csv, _ = write_plan(config, planned, tempfile.mkdtemp(prefix="plan-"), fmt="olmo-core")
display(pd.read_csv(plan_csv).head(1 + len(config.training_domains()) * len(config.ratios)))
print(f"{len(planned)} runs; one olmo-core config each in {plan_csv.parent / 'runs'}")

# %% [markdown]
# ### The same loop with Hugging Face `transformers.Trainer` as your trainer
# The smallest budget's runs at one seed, written as `hf-datasets` scripts over JSONL copies of the
# domains, trained by `examples/hf_trainer_proxy.py` (transformers only: a tiny GPT-2, each domain
# its own eval set, TensorBoard logging), read back from the event files by `ingest` and fitted by
# DDO — the commands `corpus --jsonl`, `plan`, the example, `ingest` and `ddo` run (docs/export.md).

# %%
import importlib.util
from pathlib import Path

import autoscale_kit
from autoscale_kit.data import corpus as corpus_mod
from autoscale_kit.runs.ingest import ingest, read_logs, read_plan

if hf_trainer if hf_trainer is not None else scale == "smoke":
    loop = Path(tempfile.mkdtemp(prefix="hf-loop-"))
    jsonl = corpus_mod.write_jsonl(corpus_mod.load(config.corpus).select(config.training_domains()), loop / "jsonl")
    first = [r for r in planned if r.scale == config.budgets[0] and r.seed == config.ddo_seeds[0]]
    loop_plan, _ = write_plan(config, first, loop / "plan", fmt="hf-datasets",
                              paths={d: str(p["train"]) for d, p in jsonl.items()})
    # the example lives in the repository beside the package (it is "your trainer", not part of it)
    example_path = Path(autoscale_kit.__file__).resolve().parents[1] / "examples" / "hf_trainer_proxy.py"
    spec = importlib.util.spec_from_file_location("hf_trainer_proxy", example_path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.main([str(loop / "plan"), "--val-dir", str(loop / "jsonl"), "--out", str(loop / "trained")])
    ingested = ingest(read_plan(loop_plan), read_logs(sorted((loop / "trained").iterdir()),
                                                      config.training_domains(), kind="tensorboard"))
    display(ingested.table.drop(columns=["run"]))
    trainer_fit = fit_ddo(ingested.table, "mean-loss")
    display(note(f"DDO on the Trainer's {len(ingested.table)} runs at {fmt.tokens(config.budgets[0])} tokens: "
                 + ", ".join(f"{d} {w:.2f}" for d, w in trainer_fit.weights.items())
                 + " (one seed: no replicates, so no interval).", items=list(ingested.warnings)))
else:
    display(note("Not trained here at this scale (hf_trainer = None trains only at smoke); set hf_trainer = True."))

