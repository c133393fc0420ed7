"""Thermodynamics-based flux analysis (TFA): one interior, second-law-consistent steady state.

The problem (unknowns v, ln x, dG/RT; mass balance, bounds, the second law with a margin) is
defined in :mod:`renaissance.steadystate.problem`; its constraints come from
:class:`~renaissance.steadystate.settings.TFASettings` (for the E. coli case, the shipped
constraints file read by :func:`~renaissance.steadystate.constraints.load_constraints`).

Method:

1. A MILP (:func:`~.problem.direction_pattern`) with one binary direction per reversible
   reaction whose direction the bounds leave open chooses a direction pattern, maximising
   how far every directed flux and dG/RT can be from its threshold.
2. With the pattern fixed, fluxes and (ln x, dG/RT) decouple into two polytopes. The total
   flux is capped at ``flux_budget`` x its minimum (one LP, :func:`~.problem.flux_constraints`),
   so fluxes scale with uptake and growth rather than with the +-100 box.
3. In each polytope, the point is the weighted analytic centre (max sum_i w_i ln slack_i,
   Newton's method from the Chebyshev-like centre; seeded log-normal weights w_i;
   :func:`~.problem.interior_point`): strictly inside every inequality and far from the
   vertices; same seed, same point.
4. The fluxes are projected onto the null space of ``S`` (least squares over the reactions
   that are not fixed, :func:`~.problem.project_fluxes`) so mass balance holds to rounding;
   the result is validated.

Infeasible settings raise :class:`~renaissance.errors.InfeasibleError` naming a small set of
individual constraints that conflict (:func:`~.conflicts.infeasibility_message`: group filter,
then QuickXplain over the members of the implicated groups).
"""

from __future__ import annotations

import numpy as np

from ..errors import InfeasibleError
from ..model.compiled import CompiledModel
from ..settings import UnitSettings
from .conflicts import infeasibility_message
from .problem import (
    build_problem,
    check_names,
    direction_pattern,
    flux_constraints,
    interior_point,
    pattern_dg_bounds,
    project_fluxes,
)
from .settings import TFASettings
from .table import SteadyState, validate_steady_state

__all__ = ["TFASettings", "find_steady_state"]  # TFASettings re-exported: its home is .settings


def find_steady_state(
    cm: CompiledModel,
    settings: TFASettings,
    units: UnitSettings = UnitSettings(),
    *,
    seed: int = 0,
) -> SteadyState:
    """One thermodynamically consistent, mass-balanced steady state of ``cm`` (interior point).

    Parameters
    ----------
    cm : CompiledModel
    settings : TFASettings
        Constraints (see its docstring); for the E. coli case,
        ``load_constraints(ECOLI_CONSTRAINTS, cm)`` (:mod:`renaissance.steadystate.constraints`).
    units : UnitSettings
        Only ``concentration_scale`` matters here: the stored Keq are in model units.
    seed : int
        Seeds the barrier weights of the interior step; same seed, same state.

    Returns
    -------
    SteadyState
        Concentrations (mol/L) of every species of ``cm.species`` and net fluxes
        (mmol/gDW/h) of every reaction; ``source`` records the seed.

    Raises
    ------
    InfeasibleError
        No state satisfies the constraints; the message names the constraint groups that are
        infeasible together, the active fixed fluxes and flux bounds.
    ValueError
        ``settings`` names reactions or species that ``cm`` lacks.
    """
    check_names(cm, settings)
    p = build_problem(cm, settings, units)
    d = direction_pattern(p, settings.time_limit)
    if d is None:
        raise InfeasibleError(infeasibility_message(cm, settings, units, p))
    rng = np.random.default_rng(seed)

    # fluxes: S u = 0 with the bounds of the chosen directions, total flux within the budget
    con = flux_constraints(p, d, settings.flux_budget)
    u, _ = interior_point(con["A_eq"], con["b_eq"], con["lo"], con["hi"], rng, settings.weight_spread,
                          con["A_ub"], con["b_ub"])

    # concentrations: y = [ln x, dG], dG - D ln x = c, signed margins as bounds
    g_lo, g_hi = pattern_dg_bounds(p, d)
    n_sp, n_th = len(p.x_lo), len(p.thermo)
    A_eq = np.hstack([-p.D, np.eye(n_th)])
    y, _ = interior_point(A_eq, p.c, np.concatenate([p.x_lo, g_lo]), np.concatenate([p.x_hi, g_hi]),
                          rng, settings.weight_spread)
    ln_x = np.clip(y[:n_sp], p.x_lo, p.x_hi)

    v = project_fluxes(cm.structure.S, u / p.scale, p.fixed)
    v[p.fixed] = p.u_lo[p.fixed] / p.scale[p.fixed]
    state = SteadyState(
        concentrations=dict(zip(cm.species, np.exp(ln_x).tolist())),
        fluxes=dict(zip(cm.structure.reactions, v.tolist())),
        source=f"tfa(seed={seed})",
    )
    validate_steady_state(cm, state, units, balance_rtol=1e-9)  # guard against numerical failure
    return state
