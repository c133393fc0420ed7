"""TFA: one interior, mass-balanced, second-law-consistent steady state of the E. coli model."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from renaissance.errors import InfeasibleError
from renaissance.settings import UnitSettings
from renaissance.stability import evaluate_stability, prepare_stability
from renaissance.steadystate import displacement, state_arrays, validate_steady_state
from renaissance.steadystate.constraints import ECOLI_CONSTRAINTS, read_constraints
from renaissance.steadystate.tfa import TFASettings, find_steady_state

#: the shipped E. coli constraints without the measured concentrations (the paper's reference set-up)
SETTINGS = read_constraints(ECOLI_CONSTRAINTS).without_measurements()


@pytest.fixture(scope="module")
def cm(ecoli_cm):
    return ecoli_cm


@pytest.fixture(scope="module")
def state(cm):
    return find_steady_state(cm, SETTINGS, seed=0)


@pytest.fixture(scope="module")
def dg(cm, state):
    """dG/RT of every reaction at the state, shape (n_rxn,)."""
    return displacement(cm, state_arrays(cm, state).ln_x)


def _fluxes(cm, state) -> np.ndarray:
    return np.array([state.fluxes[r] for r in cm.structure.reactions])


def _bounds(cm, settings: TFASettings) -> tuple[np.ndarray, np.ndarray]:
    """ln concentration bounds (mol/L) per species of ``cm.species``."""
    lo = np.full(len(cm.species), math.log(settings.concentration_bounds[0]))
    hi = np.full(len(cm.species), math.log(settings.concentration_bounds[1]))
    for i, sp in enumerate(cm.species):
        if sp in settings.species_bounds:
            lo[i], hi[i] = (math.log(b) for b in settings.species_bounds[sp])
    return lo, hi


def test_state_is_complete_and_valid(cm, state):
    assert set(state.concentrations) == set(cm.species)
    assert set(state.fluxes) == set(cm.structure.reactions)
    report = validate_steady_state(cm, state)
    assert report.worst_imbalance_relative <= 1e-9
    assert report.min_margin >= SETTINGS.min_margin * 0.99


def test_experimental_constraints(state):
    growth = SETTINGS.growth_scaling * state.fluxes["LMPD_biomass_c_1_420"]
    assert growth >= 0.26 * (1 - 1e-9)
    assert state.fluxes["ANTHtex"] == 0.14
    lo, hi = SETTINGS.flux_bounds["GLCtex"]
    assert 0.0 <= lo <= state.fluxes["GLCtex"] <= hi
    for rid, (lo, hi) in SETTINGS.flux_bounds.items():  # e.g. non-medium species secreted only
        assert lo <= state.fluxes[rid] <= hi, rid
    assert state.fluxes["AKGtex"] < 0 and state.fluxes["FORtex"] < 0


def test_second_law_with_margin(cm, state, dg):
    v = _fluxes(cm, state)
    rev = cm.reversible
    assert np.all(v[~rev] >= 0)
    carrying = rev & (v != 0)
    assert carrying.sum() == rev.sum()  # every reversible reaction carries flux
    assert np.all(np.abs(dg[carrying]) >= SETTINGS.min_margin * 0.99)
    assert np.all(np.sign(dg[carrying]) == -np.sign(v[carrying]))


def test_atp_synthase_near_equilibrium(cm, dg):
    lo, hi = SETTINGS.dg_bounds["ATPS4rpp"]
    assert lo <= dg[cm.structure.reactions.index("ATPS4rpp")] <= hi


def test_fixed_directions_kept(state):
    for rid, direction in SETTINGS.fixed_directions.items():
        assert np.sign(state.fluxes[rid]) == direction, rid


def test_fluxes_clearly_away_from_zero(cm, state):
    v = np.abs(_fluxes(cm, state))
    growth = cm.structure.reactions.index(SETTINGS.growth_reaction)
    others = np.delete(v, growth)
    # with the second law on every stored Keq (irreversible ATPM, FDH4pp, NADH16pp, NADH5 too) the
    # MILP's pattern runs TKT1 backward, and the flux polytope allows it only [-0.049, -1e-6]
    # mmol/gDW/h: the interior point puts it at ~2e-4 (seeds 0-2: 1.9e-4 .. 4.1e-4), so 1e2 x min_abs_flux
    assert others.min() > 1e2 * SETTINGS.min_abs_flux


def test_concentrations_within_bounds_and_interior(cm, state):
    ln_x = np.log([state.concentrations[s] for s in cm.species])
    lo, hi = _bounds(cm, SETTINGS)
    assert np.all(ln_x >= lo) and np.all(ln_x <= hi)
    inside = np.minimum(ln_x - lo, hi - ln_x) > 1e-3
    assert inside.mean() >= 0.9


def test_seed_reproducible(cm, state):
    again = find_steady_state(cm, SETTINGS, seed=0)
    assert again.concentrations == state.concentrations
    assert again.fluxes == state.fluxes
    other = find_steady_state(cm, SETTINGS, seed=1)
    assert other.concentrations != state.concentrations
    validate_steady_state(cm, other)


def test_infeasible_growth_is_named(cm):
    with pytest.raises(InfeasibleError, match="growth") as info:
        find_steady_state(cm, replace(SETTINGS, min_growth=1e6))
    message = str(info.value)
    assert "min_growth = 1e+06" in message
    assert "ANTHtex = 0.14" in message  # active fixed fluxes are listed


def test_contradictory_direction_is_named(cm):
    with pytest.raises(InfeasibleError, match="fixed_directions") as info:
        find_steady_state(cm, replace(SETTINGS, fixed_directions={"GLCtex": -1}))
    assert "GLCtex" in str(info.value)


@pytest.mark.parametrize("kwargs", [
    {"min_growth": -1.0},
    {"concentration_bounds": (1e-2, 1e-3)},
    {"species_bounds": {"h_c": (0.0, 1e-6)}},
    {"fixed_directions": {"GLCtex": 2}},
    {"flux_budget": 1.0},
    {"fixed_fluxes": {"ANTHtex": float("nan")}},
])
def test_settings_rejected(kwargs):
    with pytest.raises(ValueError):
        replace(SETTINGS, **kwargs)


def test_unknown_names_rejected(cm):
    with pytest.raises(ValueError, match="NOPE"):
        find_steady_state(cm, replace(SETTINGS, fixed_fluxes={"NOPE": 1.0}))
    with pytest.raises(ValueError, match="nope_c"):
        find_steady_state(cm, replace(SETTINGS, species_bounds={"nope_c": (1e-6, 1e-3)}))


def test_defaults_are_model_neutral():
    # the E. coli choices live in the shipped constraints file, not in the class
    s = TFASettings(growth_reaction="R")
    assert not (s.fixed_fluxes or s.flux_bounds or s.species_bounds or s.dg_bounds or s.fixed_directions
                or s.ln_keq_uncertainty)
    assert (s.growth_scaling, s.min_growth) == (1.0, 0.0)
    assert TFASettings().growth_reaction is None  # no growth reaction, no growth bound


def test_settings_mappings_are_read_only():
    with pytest.raises(TypeError):
        SETTINGS.fixed_fluxes["ANTHtex"] = 1.0


def test_stability_evaluation_runs_on_state(cm, state):
    problem = prepare_stability(cm, state, UnitSettings())
    assert problem.wrong_direction == []
    rng = np.random.default_rng(0)
    km = np.exp(rng.uniform(math.log(1.3e-6), math.log(2e-2), size=(50, len(problem.km_names))))
    result = evaluate_stability(problem, km)
    assert np.all(result.reason == "ok")
    assert np.all(np.isfinite(result.lambda_max))
