"""What notebooks draw of a landscape: per budget, the fitted surface on a lattice, the design points
and the bootstrap optima."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from autoscale_kit.fit.surface import fit_surface, measured_objective, objective_domains, point_groups, simplex_lattice
from autoscale_kit.landscape.runs import LandscapeRuns


def budget_views(runs: LandscapeRuns, fit: Mapping, objective: str | None = None, lattice: int = 30) -> list[dict]:
    """Per budget, what `plots.landscape_ternary` draws: the surface of the form `fit` recorded
    (refitted on the runs: fast, no model choice or bootstrap), its values on a lattice, the
    design points with their mean measured objective, the optimum and the bootstrap optima.
    `fit` is a `LandscapeFit.to_dict()` (as shipped in fit.json, with `bootstrap_optima`)."""
    objective = objective or fit["objective"]
    L = simplex_lattice(len(runs.domains), lattice)
    out = []
    for s in fit["scales"]:
        at = runs.at(s["total"])
        names = objective_domains(tuple(at.losses), objective)
        surface = fit_surface(at.weights, at.losses, s["form"], objective, runs.domains)
        y = measured_objective(at.losses, names, objective)
        g = point_groups(at.weights)
        ids = np.unique(g)
        out.append({"total": s["total"], "lattice": L, "values": surface(L),
                    "points": np.array([at.weights[g == i][0] for i in ids]),
                    "measured": np.array([y[g == i].mean() for i in ids]), "optimum": s["optimum"],
                    "cloud": np.asarray(s.get("bootstrap_optima", []), dtype=float).reshape(-1, len(runs.domains)),
                    "surface": surface})
    return out
