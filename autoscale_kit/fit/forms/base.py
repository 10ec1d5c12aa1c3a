"""The protocol every DDO surrogate form implements, and the problem it is fitted and solved on.

`fit_ddo` builds one `DDOProblem` from the runs (the table, where its base is, the objective of
every run, the paper's per-domain laws, which every form can fall back to) and asks the form to
`fit` it, says why when the runs do not `identify` it, `solve`s it under the bounds, and later asks
it for its objective at any mixture (`objective_at`) and its fitted `parameters`. The form's
traits say what the rest of the toolkit needs to know without naming it: whether it is fitted on
every run of the table (`uses_extra_runs`), whether the ambiguity check of under-determined laws
applies (`checks_ambiguity`), and how costly a bootstrap refit is (`draw_divisor`: a study takes
1/`draw_divisor` of its interval draws for it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.tables import BaseRun, RunsTable


@dataclass(frozen=True)
class DDOProblem:
    """What a form is fitted and solved on; quantities per domain in the table's unit."""

    table: RunsTable
    layout: BaseRun
    objective: str
    validation: tuple[str, ...]          # the validation domains the objective averages
    values: np.ndarray                   # the objective of every run of the table
    base_q: np.ndarray                   # the base run's quantities
    base_objective: float                # the base replicates' mean objective
    fits: dict                           # the paper's per-domain laws (domain -> PowerLawFit)
    points: dict                         # their points: domain -> (x relative to base, y relative to base)


@dataclass(frozen=True)
class FormSolution:
    """A form's optimum under the bounds, relative to the base quantities."""

    x: np.ndarray
    at_lower: tuple
    at_upper: tuple
    multiplier: float                    # λ = −∂objective/∂N_i of the free domains, per table unit
    predicted: float                     # the objective the form promises there, objective's unit
    upper_x: np.ndarray                  # the upper bounds used (a form may narrow them to a trust region)
    messages: tuple[str, ...] = ()
    ambiguity: object = None             # separable.Ambiguity when the check ran


class SurrogateForm(Protocol):
    """One DDO surrogate form (see the module docstring)."""

    name: str
    uses_extra_runs: bool
    checks_ambiguity: bool
    draw_divisor: int

    def fit(self, problem: DDOProblem) -> object:
        """The fitted form (any object the other methods understand)."""

    def identified(self, state) -> str | None:
        """None when the runs identify the fitted form, else why not (DDO then falls back)."""

    def solve(self, state, problem: DDOProblem, lower_x: np.ndarray, upper_x: np.ndarray,
              options: dict) -> FormSolution:
        """The optimum at the base total within lower_x..upper_x (times the base quantities)."""

    def objective_at(self, result, quantities: np.ndarray) -> float:
        """The objective at `quantities` (table unit), anchored at the measured base (`result` is the DDOResult)."""

    def parameters(self, result) -> dict:
        """The fitted parameters, JSON-able (the `fits` of `DDOResult.to_dict`)."""


def bootstrap_draws(form: SurrogateForm, draws: int) -> int:
    """The draws a study spends on this form's intervals when it spends `draws` on the cheapest."""
    return draws if form.draw_divisor == 1 else max(draws // form.draw_divisor, 2)


def check_form(form) -> SurrogateForm:
    """`form` if it has every trait and method of the protocol (for `register_form`)."""
    need = ("name", "uses_extra_runs", "checks_ambiguity", "draw_divisor", "fit", "identified", "solve",
            "objective_at", "parameters")
    missing = [n for n in need if not hasattr(form, n)]
    if missing:
        raise UserError(f"a surrogate form needs {', '.join(missing)}; {form!r} lacks them")
    if not isinstance(form.name, str) or not form.name:
        raise UserError(f"a surrogate form's name must be a non-empty string, got {form.name!r}")
    if isinstance(form.draw_divisor, bool) or not isinstance(form.draw_divisor, int) or form.draw_divisor < 1:
        raise UserError(f"form {form.name!r}: draw_divisor must be an integer >= 1, got {form.draw_divisor!r}")
    return form
