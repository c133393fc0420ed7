"""Settings of the thermodynamics-based steady-state problem (:class:`TFASettings`).

The defaults are model-neutral: no growth reaction (no growth bound), no table names a reaction
or species, and the numbers are generic limits and solver settings. A model's constraints (the
E. coli case: ``renaissance/data/ecoli_constraints.yaml``)
come from its constraints file, read by :func:`renaissance.steadystate.constraints.load_constraints`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._declare import NON_NEGATIVE, POSITIVE, Choice, Declared, Float, Interval, OrNone, Rule, Table, setting
from ..errors import SettingsError

#: constraint groups that the infeasibility diagnosis may relax (the core -- mass balance,
#: default flux and concentration bounds, irreversibility, second law -- is never relaxed);
#: ``growth`` is ``min_growth``, every other group the table of that name
GROUPS = ("growth", "fixed_fluxes", "flux_bounds", "dg_bounds", "fixed_directions", "species_bounds")



def _table(rule: Rule):
    """A per-reaction or per-species table (empty by default, stored read-only) whose values obey ``rule``."""
    return setting(rule=Table(rule, read_only=True), factory=dict)


@dataclass(frozen=True, kw_only=True)
class TFASettings(Declared, table="TFASettings"):
    """Constraints and solver settings of a steady state (units: mol/L, mmol/gDW/h, 1/h).

    Used by :func:`~renaissance.steadystate.tfa.find_steady_state`,
    :func:`~renaissance.steadystate.sampler.sample_steady_states` and the diagnosis in
    :mod:`~renaissance.steadystate.conflicts`; the dict fields are stored read-only.

    Parameters
    ----------
    growth_reaction : str or None
        Lumped biomass reaction; growth [1/h] = ``growth_scaling`` x its flux. None (the
        default): the model has no growth constraint, and ``growth_scaling`` and
        ``min_growth`` must keep their defaults.
    growth_scaling : float
        > 0; default 1 (the shipped E. coli case: 5e5, the ratio of its demand and lumped
        biomass reactions).
    min_growth : float
        Lower bound on growth in 1/h (group ``growth``); default 0.
    fixed_fluxes : dict reaction -> float
        Fluxes held exactly (group ``fixed_fluxes``).
    flux_bounds : dict reaction -> (lo, hi)
        Per-reaction bounds replacing ``+-default_flux_bound`` (group ``flux_bounds``). A lower
        bound >= 0 fixes the direction forward, an upper bound <= 0 backward.
    default_flux_bound : float
        |v| <= this for every other reaction.
    concentration_bounds : (lo, hi)
        Default bounds of every species, boundary species included, in mol/L.
    species_bounds : dict species -> (lo, hi)
        Per-species overrides in mol/L (group ``species_bounds``).
    min_margin : float
        |dG/RT| >= this for every reaction with a thermodynamic Keq (``cm.thermodynamic``:
        reversible ones and irreversible ones whose ``k_equilibrium_<r>`` the model stores)
        that carries flux, with sign(dG) = -sign(v).
    dg_bounds : dict reaction -> (lo, hi)
        Bounds on dG/RT of reactions with a Keq (group ``dg_bounds``; +-inf allowed).
    fixed_directions : dict reaction -> +1 / -1
        Reactions whose direction is imposed (group ``fixed_directions``).
    min_abs_flux : float
        Every reaction not bounded to zero carries |v| >= this (mmol/gDW/h; for the growth
        reaction: growth >= this in 1/h) in its direction;
        a reaction with bounds (0, 0) carries no flux and gets no second-law constraint. The
        interior step then moves every flux further from zero by the polytope's slack.
    flux_budget : float or None
        The interior step keeps the total flux sum_k |v_k| within ``flux_budget`` times its
        minimum for the chosen directions (> 1), so that the fluxes scale with uptake and
        growth instead of filling the +-default_flux_bound box through futile cycles. None:
        no budget.
    weight_spread : float
        The interior point is the weighted analytic centre of the feasible set for the chosen
        directions, maximising sum_i omega_i ln(slack_i) over every inequality, with
        ln omega_i ~ N(0, weight_spread^2) drawn from ``seed``; 0 gives the (seed-independent)
        analytic centre.
    time_limit : float
        Seconds allowed for the direction MILP (and for each MILP of the diagnosis).
    ln_keq_uncertainty : dict reaction -> float
        Half-width of the interval around the model's ln Keq within which a sampler may vary
        ln Keq (the reference sampled dG0 within its error); reactions not listed use
        ``default_ln_keq_uncertainty``. 0 (the default) keeps every Keq at its stored value.
    default_ln_keq_uncertainty : float

    Raises
    ------
    SettingsError
        A number, interval or direction out of its range (names the field and the value).
    """

    growth_reaction: str | None = None
    growth_scaling: float = setting(1.0, POSITIVE)
    min_growth: float = setting(0.0, NON_NEGATIVE)
    fixed_fluxes: dict = _table(Float())
    flux_bounds: dict = _table(Interval())
    default_flux_bound: float = setting(100.0, POSITIVE)
    concentration_bounds: tuple = setting((1e-7, 2e-2), Interval(positive=True))
    species_bounds: dict = _table(Interval(positive=True))
    min_margin: float = setting(0.12, NON_NEGATIVE)
    dg_bounds: dict = _table(Interval(finite=False))
    fixed_directions: dict = _table(Choice((1, -1)))
    min_abs_flux: float = setting(1e-6, NON_NEGATIVE)
    flux_budget: float | None = setting(2.0, OrNone(Float(1.0, low_open=True)))
    weight_spread: float = setting(1.0, NON_NEGATIVE)
    time_limit: float = setting(60.0, POSITIVE)
    ln_keq_uncertainty: dict = _table(NON_NEGATIVE)
    default_ln_keq_uncertainty: float = setting(0.0, NON_NEGATIVE)

    def _check(self) -> None:
        """Growth scaling and minimum growth need the growth reaction they apply to."""
        if self.growth_reaction is None and (self.growth_scaling != 1.0 or self.min_growth != 0.0):
            raise SettingsError(f"TFASettings.growth_reaction == None, but growth_scaling == {self.growth_scaling!r} "
                                f"and min_growth == {self.min_growth!r}: name the growth reaction they apply to")
