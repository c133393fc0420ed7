"""Modes no Km set can move, named before any work: exact conservation analysis (rationalised
coefficients, count checked against the rank), zero-flux pools, dead-end species, a sampled
Km-independent unstable mode; training refuses such a state with the cause."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from renaissance.cli import app
from renaissance.errors import ModelFormatError, StructureError
from renaissance.generator import train
from renaissance.generator.settings import settings_from_dict
from renaissance.model import compile_model, load_model, model_from_dict
from renaissance.model.structure import dependent_note
from renaissance.settings import UnitSettings
from renaissance.stability import evaluate_stability, prepare_stability
from renaissance.stability.structural import check_structure, shared_unstable_mode, structural_modes
from renaissance.steadystate import SteadyState, state_arrays, validate_steady_state, write_steady_state

from .conftest import FIXTURES

SKIMPY_MODELS = FIXTURES.parent / "skimpy_models"
UNITS = UnitSettings(concentration_scale=1.0, density=1000.0, gdw_per_gww=1.0)  # mol/L, flux factor 1


def _chain_model(extra_reactions: dict, extra_species=()) -> dict:
    """A_e -> a -> b -> B_e (mass action, irreversible MM) plus ``extra_reactions``."""
    species = ["A_e", "B_e", "a", "b", *extra_species]
    reactions = {
        "UPT": {"mechanism": {"class": "RevMassaction", "substrate1": "A_e", "product1": "a",
                              "mechanism_stoichiometry": {"substrate1": -1.0, "product1": 1.0}}},
        "R1": {"mechanism": {"class": "IrrevMichaelisMenten", "substrate1": "a", "product1": "b",
                             "mechanism_stoichiometry": {"substrate1": -1.0, "product1": 1.0}}},
        "EX": {"mechanism": {"class": "IrrevMichaelisMenten", "substrate1": "b", "product1": "B_e",
                             "mechanism_stoichiometry": {"substrate1": -1.0, "product1": 1.0}}},
        **extra_reactions,
    }
    return {
        "name": "chain",
        "compartments": {"c": "c", "e": "e"},
        "reactants": {s: {"compartment": "e" if s.endswith("_e") else "c"} for s in species},
        "boundary_conditions": {f"CC_{s}": {"class": "ConstantConcentration", "reactant": s}
                                for s in species if s.endswith("_e")},
        "parameters": {"k_equilibrium_UPT": 1.0, "k_equilibrium_SIDE": 2.0},
        "reactions": reactions,
    }


def _state(cm, fluxes: dict) -> SteadyState:
    return SteadyState({s: 1e-3 * (1 + i) for i, s in enumerate(cm.species)} | {"A_e": 1.0}, fluxes)


def test_zero_flux_reaction_freezes_a_pool():
    side = {"SIDE": {"mechanism": {"class": "ReversibleMichaelisMenten", "substrate": "c", "product": "d"}}}
    cm = compile_model(model_from_dict(_chain_model(side, ("c", "d"))))
    state = _state(cm, {"UPT": 1.0, "R1": 1.0, "EX": 1.0, "SIDE": 0.0})
    validate_steady_state(cm, state, UNITS)
    modes = structural_modes(cm, state_arrays(cm, state, UNITS))
    assert [(m.kind, m.reactions) for m in modes] == [("zero_flux_pool", ("SIDE",))]
    assert modes[0].species == ("c", "d") and "the pool of c, d is frozen" in modes[0].describe()
    # the eigenvalue is 0 for every Km set
    lam = evaluate_stability(prepare_stability(cm, state, UNITS), np.exp(np.random.default_rng(0).uniform(
        np.log(1e-4), np.log(1e-2), (5, len(cm.km_names)))), threshold=0.0).lambda_max
    assert np.all(np.abs(lam) <= 1e-12)
    with pytest.raises(StructureError, match="no parameter set can be valid at this state.*pool of"):
        check_structure(cm, state, UNITS, "s.csv")


def test_species_no_rate_law_reads_is_a_dead_end():
    """h is made by R1 and consumed by R3 through small-molecule modifiers of irreversible laws:
    balanced, but no rate depends on it."""
    r3 = {"R3": {"mechanism": {"class": "IrrevMichaelisMenten", "substrate1": "c", "product1": "C_e",
                               "mechanism_stoichiometry": {"substrate1": -1.0, "product1": 1.0}},
                 "modifiers": {"DSM_h": {"class": "DisplacementSmallMoleculeModifier", "small_molecule": "h",
                                         "mechanism_stoichiometry": {"small_molecule": -1.0}}}},
          "R4": {"mechanism": {"class": "RevMassaction", "substrate1": "D_e", "product1": "c",
                               "mechanism_stoichiometry": {"substrate1": -1.0, "product1": 1.0}}}}
    data = _chain_model(r3, ("c", "h", "C_e", "D_e"))
    data["reactions"]["R1"]["modifiers"] = {"DSM_h": {"class": "DisplacementSmallMoleculeModifier",
                                                      "small_molecule": "h", "mechanism_stoichiometry": {"small_molecule": 1.0}}}
    data["parameters"]["k_equilibrium_R4"] = 1.0
    cm = compile_model(model_from_dict(data))
    assert cm.structure.n_independent == 4 and not len(cm.structure.dependent)
    state = _state(cm, {"UPT": 1.0, "R1": 1.0, "EX": 1.0, "R3": 1.0, "R4": 1.0})
    state = SteadyState({**state.concentrations, "D_e": 1.0}, state.fluxes)
    validate_steady_state(cm, state, UNITS)
    modes = structural_modes(cm, state_arrays(cm, state, UNITS))
    assert [(m.kind, m.species) for m in modes] == [("dead_end_species", ("h",))]
    assert "dead-end species" in modes[0].describe()


def test_training_refuses_a_structurally_singular_state_before_writing(tmp_path):
    side = {"SIDE": {"mechanism": {"class": "ReversibleMichaelisMenten", "substrate": "c", "product": "d"}}}
    model = tmp_path / "m.yaml"
    from renaissance.model import save_model

    kinetic = model_from_dict(_chain_model(side, ("c", "d")))
    save_model(kinetic, model)
    cm = compile_model(kinetic)
    write_steady_state(_state(cm, {"UPT": 1e-3, "R1": 1e-3, "EX": 1e-3, "SIDE": 0.0}), tmp_path / "s.csv")
    settings = settings_from_dict({"problem": {"model": str(model), "steady_state": str(tmp_path / "s.csv")},
                                   "nes": {"generations": 1, "population": 2, "models_per_child": 2}})
    with pytest.raises(StructureError, match="s.csv: no parameter set can be valid.*SIDE"):
        train(settings, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    result = CliRunner().invoke(app, ["check-model", str(model), "--steady-state", str(tmp_path / "s.csv")])
    assert result.exit_code == 0 and "frozen" in result.output


def test_shared_unstable_mode_is_named_only_when_every_set_has_it():
    rng = np.random.default_rng(1)
    species = ("x", "y", "z")
    base = np.diag([5.0, -3.0, -8.0])  # x carries lambda = 5
    J = base + 0.05 * rng.standard_normal((6, 3, 3))
    mode = shared_unstable_mode(J, species)
    assert mode.kind == "km_independent_unstable_mode" and mode.species[0] == "x" and mode.shares[0] > 0.99
    assert 4.5 < mode.lambda_max < 5.5 and "x 1.00" in mode.describe()
    spread = J.copy()
    spread[0, 0, 0] = 50.0  # one set far more unstable: Km moves it
    assert shared_unstable_mode(spread, species) is None
    stable = J.copy()
    stable[2, 0, 0] = -1.0  # one set stable
    assert shared_unstable_mode(stable, species) is None


def test_rationalised_coefficients_find_every_pool_of_kin_varma():
    """kin_varma's biomass reaction has decimal coefficients: converted exactly from binary floats
    they break the ATP/AMP/PPi relations (5 pools); rationalised, as SKiMpy does, 6 (= rank deficiency)."""
    model = load_model(SKIMPY_MODELS / "kin_varma.yml")
    st = compile_model(model).structure
    assert len(st.dependent) == 6 == len(st.variables) - np.linalg.matrix_rank(st.S)
    assert np.abs(st.conservation @ st.S).max() <= 1e-9
    note = dependent_note(model, st)
    assert note.startswith("the file declares dependent reactants ['accoa_c', 'amp_c', 'nadh_c', 'nadp_c'")
    assert "makes ['accoa_c', 'amp_c', 'nadh_c', 'nadph_c', 'ppi_c', 'q8_c'] dependent" in note


def test_coefficients_that_do_not_rationalise_are_one_error():
    """a -> c b, b -> c d, d -> 2 a conserves a + b/c + d/c^2 only if c^2 = 1/2: true for the
    float c = 0.7071067811865476 (to 1e-16, so S is numerically rank deficient), false for the
    closest fraction with a denominator <= 1e6. One error naming the reactions."""
    c = 0.7071067811865476

    def step(s, p, nu):
        return {"mechanism": {"class": "RevMassaction", "substrate1": s, "product1": p,
                              "mechanism_stoichiometry": {"substrate1": -1.0, "product1": nu}}}

    data = {"name": "irrational", "reactants": {s: {"compartment": "c"} for s in "abd"},
            "parameters": {f"k_equilibrium_{r}": 1.0 for r in ("R1", "R2", "R3")},
            "reactions": {"R1": step("a", "b", c), "R2": step("b", "d", c), "R3": step("d", "a", 2.0)}}
    with pytest.raises(ModelFormatError, match=r"0 exact conservation relations but the stoichiometric matrix is "
                                               r"rank deficient by 1.*reactions \['R1', 'R2'\]"):
        compile_model(model_from_dict(data, source="m.yaml"))


def test_landscape_names_the_structural_mode(tmp_path):
    from renaissance.analysis.landscape import LandscapeSettings, score_state

    side = {"SIDE": {"mechanism": {"class": "ReversibleMichaelisMenten", "substrate": "c", "product": "d"}}}
    cm = compile_model(model_from_dict(_chain_model(side, ("c", "d"))))
    state = _state(cm, {"UPT": 1.0, "R1": 1.0, "EX": 1.0, "SIDE": 0.0})
    row = score_state(cm, state, 3, LandscapeSettings(units=UNITS))
    assert row["reason"] == "structural_zero_mode" and "state 3: no parameter set can be valid" in row["detail"]
    assert row["admits"] is False
