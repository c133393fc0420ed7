"""The robustness study in words and beside the paper: the published percentages, the lab's own
return criterion, the table of returned fractions and the lines under it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .robustness import StudyResult

#: check times (minutes) of the paper's robustness table
PAPER_TIMES = (24.0, 34.0)
#: the return tolerance of the lab's own robustness test (see :mod:`.robustness`)
LAB_TOLERANCE = 0.05


def paper_value(group: str, time_min: float, paper: Mapping) -> float | None:
    """The published percentage for ``group`` at ``time_min`` (one of :data:`PAPER_TIMES`) in
    ``paper`` (group -> percentages at PAPER_TIMES); None where it gives none."""
    return dict(zip(PAPER_TIMES, paper.get(group, (None, None)))).get(time_min)


def returned_table(study: StudyResult, n_models: int) -> tuple[str, list[str], list[list[str]]]:
    """(title, column names, rows) of the share of runs back per group and check time, at the
    study's tolerance and at :data:`LAB_TOLERANCE`, beside the paper's numbers (only for the
    model they were published for)."""
    settings, paper = study.settings, study.problem.paper
    tolerances = sorted({settings.tolerance, LAB_TOLERANCE})
    title = (f"returned within {' | '.join(f'{100 * t:g}%' for t in tolerances)} of the steady state "
             f"({n_models} models x {settings.n_perturbations} perturbation(s) of +-{100 * settings.perturbation:g}%; "
             "5%: the lab's own criterion)")
    columns = ["group"]
    for t in settings.times_min:
        columns += [f"{t:g} min, {100 * tolerance:g}%" for tolerance in tolerances] + (["paper"] if paper else [])
    fractions = [study.fractions(tolerance) for tolerance in tolerances]
    rows = []
    for group in fractions[0]:
        cells = [group]
        for j, t in enumerate(settings.times_min):
            published = paper_value(group, t, paper)
            cells += [f"{100 * f[group][j]:.1f}%" for f in fractions]
            cells += ["" if published is None else f"{published:g}%"] if paper else []
        rows.append(cells)
    return title, columns, rows


def study_report(study: StudyResult, n_species: int = 5) -> list[str]:
    """Plain-language lines under the table: how many runs escaped and what drove them out, the
    species last to return (pool size and turnover) and what the paper's numbers would need."""
    settings, problem = study.settings, study.problem
    counts = study.status_counts()
    runs = sum(counts.values())
    lines = []
    left = runs - counts.get("ok", 0)
    if left:
        drivers = ", ".join(f"{name} {n}" for name, n in list(study.escaped_species().items())[:4])
        lines.append(
            f"{left} of {runs} runs did not return: {counts.get('escaped', 0)} escaped (some species left the "
            f"{settings.integration.escape_fold:g}-fold neighbourhood of the steady state and the run was stopped"
            + (f"; species furthest out: {drivers}" if drivers else "") + ")"
            + "".join(f", {counts[s]} {s}" for s in ("failed", "non_finite") if counts.get(s))
            + ". Such runs count as not returned in every group: the perturbation took these models to another "
            "state (or none), not back to the steady state.")
    t = settings.times_min[0]
    index = {s: i for i, s in enumerate(problem.species)}
    slow = "; ".join(
        f"{name} {100 * fraction:.0f}% (pool {1e3 * problem.concentrations[index[name]]:.3g} mM, turnover "
        f"{problem.turnover[index[name]]:.3g} 1/h)" for name, fraction in study.slowest_species(0, n_species))
    lines.append(f"last to return at {t:g} min (share of runs back within {100 * settings.tolerance:g}%): {slow}. "
                 "A pool returns at the rate of the slowest mode it takes part in; large pools with little "
                 "turnover and small pools coupled to them lag.")
    needed = study.paper_tolerances()
    parts = [f"{g} at {t:g} min: {_percent(tol, left, runs)}" for g, tols in needed.items()
             for t, tol in zip(settings.times_min, tols) if tol is not None]
    if parts:
        lines.append("return tolerance at which these models meet the paper's percentage (the paper does not state "
                     "its own): " + ", ".join(parts) + ".")
    return lines


def _percent(tolerance: float, left: int, runs: int) -> str:
    return f"never ({left} of {runs} runs did not return)" if not math.isfinite(tolerance) else f"{100 * tolerance:.2g}%"
