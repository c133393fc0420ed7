"""The second law for every stored equilibrium constant, irreversible reactions included
(CompiledModel.thermo_*, the TFA/sampler constraint, the margin reports) and the batch-culture
constraints of trpD9923 (ecoli_culture_constraints.yaml, ecoli_culture_state.csv)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from typer.testing import CliRunner

from renaissance.cli import app
from renaissance.model import compile_model, load_model
from renaissance.steadystate import (
    read_steady_state, state_arrays, thermodynamic_displacement, validate_steady_state,
)
from renaissance.steadystate.constraints import ECOLI_CONSTRAINTS, load_constraints, read_constraints
from renaissance.steadystate.sampler import sample_steady_states, thermo_margins

from .conftest import DATA

IRREVERSIBLE_WITH_KEQ = ["ATPM", "FDH4pp", "NADH16pp", "NADH5"]
CULTURE = DATA / "ecoli_culture_constraints.yaml"
#: the medium bands of ecoli_culture_constraints.yaml (mol/L; see its header)
MEDIUM = {"glc_D_e": (0.050, 0.055), "trp_L_e": (7.0e-5, 9.8e-5), "pi_e": (0.060, 0.064),
          "nh4_e": (0.016, 0.018), "o2_e": (2.0e-5, 2.5e-4)}


def _margins(cm, state) -> np.ndarray:
    """-sign(v) dG/RT of every reaction with a Keq and flux (NaN elsewhere), from the model file's numbers."""
    dg = thermodynamic_displacement(cm, state_arrays(cm, state).ln_x)
    v = np.array([state.fluxes[r] for r in cm.structure.reactions])
    return np.where(cm.thermodynamic & (v != 0), -np.sign(v) * dg, np.nan)


# --------------------------------------------------------------------------- compiled model


def test_every_stored_keq_is_thermodynamic(ecoli, ecoli_cm):
    cm, rxns = ecoli_cm, ecoli_cm.structure.reactions
    assert int(cm.thermodynamic.sum()) == 120 and int(cm.reversible.sum()) == 116
    assert [r for r, th, rev in zip(rxns, cm.thermodynamic, cm.reversible) if th and not rev] == IRREVERSIBLE_WITH_KEQ
    for r in IRREVERSIBLE_WITH_KEQ:
        k = rxns.index(r)
        assert cm.thermo_ln_keq[k] == math.log(ecoli.parameters[f"k_equilibrium_{r}"])
        assert cm.ln_keq[k] == math.inf  # the rate laws are unchanged
    np.testing.assert_array_equal(cm.thermo_ln_keq[cm.reversible], cm.ln_keq[cm.reversible])
    # NADH16pp: nadh + 4 h_c + q8 -> nad + 3 h_p + q8h2 (the rate law's Gamma lacks the products)
    k = rxns.index("NADH16pp")
    full = dict(zip(cm.species, cm.thermo_displacement[k]))
    assert {s: e for s, e in full.items() if e} == {"nadh_c": -1, "nad_c": 1, "h_c": -4, "h_p": 3, "q8_c": -1, "q8h2_c": 1}


@pytest.mark.parametrize("name", ["ecoli_varma_curated.yaml", "kin_varma.yaml", "toy_model.yaml"])
def test_reversible_displacement_is_the_full_stoichiometry(name):
    """The Keq convention: for every reversible reaction the rate law's Gamma is over the full
    stoichiometry (FirstOrder modifiers such as h_c included), so irreversible ones use it too."""
    cm = compile_model(load_model(DATA / name))
    np.testing.assert_array_equal(cm.displacement[cm.reversible], cm.stoichiometry[cm.reversible])
    np.testing.assert_array_equal(cm.thermo_displacement, np.where(cm.reversible[:, None], cm.displacement,
                                                                   cm.stoichiometry))


def test_models_without_irreversible_keq_are_unchanged(toy_cm):
    assert np.array_equal(toy_cm.thermodynamic, toy_cm.reversible)
    assert np.isnan(toy_cm.irreversible_ln_keq).all()


# --------------------------------------------------------------------------- states and reports


def test_showcase_state_runs_nadh16pp_uphill_and_the_fixture_state_does_not(ecoli_cm, fixture_state):
    showcase = validate_steady_state(ecoli_cm, read_steady_state(DATA / "ecoli_showcase_state.csv"))
    assert [r for r, _ in showcase.uphill] == ["NADH16pp"]
    assert showcase.uphill[0][1] == pytest.approx(6.5276, abs=1e-3)
    assert showcase.thermo_margin == pytest.approx(-6.5276, abs=1e-3) and showcase.thermo_margin_reaction == "NADH16pp"
    fixture = validate_steady_state(ecoli_cm, fixture_state)
    assert fixture.uphill == () and fixture.thermo_margin == pytest.approx(0.125, abs=1e-3)
    assert np.nanmin(_margins(ecoli_cm, fixture_state)) >= 0.12


def test_check_model_names_the_uphill_reactions(ecoli_path, fixture_state):
    runner = CliRunner()
    args = ["check-model", str(ecoli_path), "--steady-state"]
    result = runner.invoke(app, args + [str(DATA / "ecoli_showcase_state.csv")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "NADH16pp dG/RT = +6.53" in result.output and "all 120 Keq (4 irreversible)" in result.output
    result = runner.invoke(app, args + [str(DATA / "ecoli_steady_state.csv")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "running uphill" in line)
    assert "none" in line


def test_margin_report_of_a_state_with_an_uphill_reaction(ecoli_cm):
    state = read_steady_state(DATA / "ecoli_showcase_state.csv")
    v = np.array([[state.fluxes[r] for r in ecoli_cm.structure.reactions]])
    dg = thermodynamic_displacement(ecoli_cm, state_arrays(ecoli_cm, state).ln_x)[None, :]
    report = thermo_margins(ecoli_cm, v, dg)
    assert report["n_keq"] == 120 and report["n_keq_irreversible"] == 4
    assert [(r, k) for r, _, k in report["uphill"]] == [("NADH16pp", 1)]
    assert report["min_thermo_margin"] == pytest.approx(-6.5276, abs=1e-3)
    assert report["closest_to_equilibrium"][0][0] == "NADH16pp"


def test_sampled_states_respect_every_keq(ecoli_cm):
    settings = read_constraints(ECOLI_CONSTRAINTS).without_measurements()
    sample = sample_steady_states(ecoli_cm, settings, n=20, seed=3)
    irr = [ecoli_cm.structure.reactions.index(r) for r in IRREVERSIBLE_WITH_KEQ]
    assert np.all(sample.dg[:, irr] <= -settings.min_margin + 1e-9)  # irreversible: forward and downhill
    report = sample.report
    assert report.ok and report.n_keq == 120 and report.n_keq_irreversible == 4 and report.uphill == ()
    assert report.min_thermo_margin >= settings.min_margin - 1e-9
    assert report.min_thermo_margin == report.closest_to_equilibrium[0][1] and len(report.closest_to_equilibrium) == 5
    assert "running uphill: none" in report.summary()
    for i in (0, 19):
        assert np.nanmin(_margins(ecoli_cm, sample.state(i))) >= settings.min_margin - 1e-9


# --------------------------------------------------------------------------- batch culture


def test_culture_constraints_are_the_shipped_ones_with_the_medium(ecoli_cm):
    culture, shipped = read_constraints(CULTURE, ecoli_cm), read_constraints(ECOLI_CONSTRAINTS, ecoli_cm)
    s, ref = culture.settings, shipped.settings
    for sp, band in MEDIUM.items():
        assert s.species_bounds[sp] == pytest.approx(band), sp
    assert {sp: b for sp, b in s.species_bounds.items() if sp not in MEDIUM} == \
        {sp: b for sp, b in ref.species_bounds.items() if sp not in MEDIUM}
    assert culture.measured == shipped.measured
    for name in ("growth_reaction", "min_growth", "fixed_fluxes", "flux_bounds", "fixed_directions", "min_margin",
                 "dg_bounds", "flux_budget"):
        assert getattr(s, name) == getattr(ref, name), name


def test_culture_states_respect_every_keq(ecoli_cm):
    settings = load_constraints(CULTURE, ecoli_cm)
    sample = sample_steady_states(ecoli_cm, settings, n=10, seed=0)
    assert sample.report.ok and sample.report.uphill == () and sample.report.n_keq == 120
    for i in range(len(sample)):
        state = sample.state(i)
        assert validate_steady_state(ecoli_cm, state).uphill == ()
        assert np.nanmin(_margins(ecoli_cm, state)) >= settings.min_margin - 1e-9
        for sp, (lo, hi) in MEDIUM.items():
            assert lo * (1 - 1e-12) <= state.concentrations[sp] <= hi * (1 + 1e-12), (i, sp)


def test_shipped_culture_state(ecoli_cm):
    state = read_steady_state(DATA / "ecoli_culture_state.csv")
    report = validate_steady_state(ecoli_cm, state)
    assert report.uphill == () and report.thermo_margin >= 0.12 - 1e-9
    assert np.nanmin(_margins(ecoli_cm, state)) >= 0.12 - 1e-9
    assert 5e5 * state.fluxes["LMPD_biomass_c_1_420"] >= 0.26 * (1 - 1e-9) and state.fluxes["ANTHtex"] == 0.14
    for sp, (lo, hi) in MEDIUM.items():
        assert lo * (1 - 1e-12) <= state.concentrations[sp] <= hi * (1 + 1e-12), sp
