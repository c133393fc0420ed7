"""SBML export checked by libRoadRunner (an independent simulator), SBML/SKiMpy round trips."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from renaissance.analysis.search import SearchSettings, search_fast_km
from renaissance.cli import app
from renaissance.dynamics import IntegrationSettings, cell_ode, integrate, perturb_conserving
from renaissance.generator import train
from renaissance.generator.population import generate_population
from renaissance.parameterised import read_population
from renaissance.interop.sbml import consistency_errors, import_parameter_set, model_to_sbml, read_sbml
from renaissance.interop.skimpy import population_sets, read_skimpy_population
from renaissance.settings import UnitSettings
from renaissance.stability import back_calculate_vmax, evaluate_stability, prepare_stability
from renaissance.stability.km import read_km_table
from renaissance.steadystate import read_steady_state
from renaissance.steadystate.table import model_for_state, state_arrays

from .conftest import FIXTURES
from .test_training import tiny_settings

roadrunner = pytest.importorskip("roadrunner", reason="libroadrunner is a test dependency (pip install '.[test]')")
#: libRoadRunner's Jacobian is a one-sided finite difference with an absolute step in model units
#: (default 1e-5, i.e. 1e-5 nM): lambda_max then agrees to 2e-5 (fixture state) and 1e-3
#: (sampled state); with a step of 0.1 nM to 2.5e-9 and 8.7e-7 (measured).
JACOBIAN_STEP = 0.1


def _export(cm, state, ln_km):
    problem = prepare_stability(cm, state)
    vmax = back_calculate_vmax(problem, ln_km[None])[0]
    lam = evaluate_stability(problem, np.exp(ln_km)[None]).lambda_max[0]
    return model_to_sbml(model_for_state(cm, state), state, np.exp(ln_km), vmax), vmax, lam


@pytest.fixture(scope="module")
def fixture_export(ecoli_cm, fixture_state):
    ln_km = np.log(read_km_table(FIXTURES / "valid_km.csv", ecoli_cm.km_names)[0])
    return (*_export(ecoli_cm, fixture_state, ln_km), ln_km)


@pytest.fixture(scope="module")
def sampled_export(ecoli_cm):
    state = read_steady_state(FIXTURES / "fast_state.csv")
    found = search_fast_km(prepare_stability(ecoli_cm, state), SearchSettings(iterations=3), np.random.default_rng(0))
    ln_km = found.valid_ln_km[0]
    return (*_export(ecoli_cm, state, ln_km), ln_km, state)


def _reduced_lambda_max(text: str) -> float:
    previous = roadrunner.Config.getValue(roadrunner.Config.ROADRUNNER_JACOBIAN_STEP_SIZE)
    roadrunner.Config.setValue(roadrunner.Config.ROADRUNNER_JACOBIAN_STEP_SIZE, JACOBIAN_STEP)
    try:
        rr = roadrunner.RoadRunner(text)
        rr.conservedMoietyAnalysis = True
        return float(np.linalg.eigvals(np.array(rr.getReducedJacobian())).real.max())
    finally:
        roadrunner.Config.setValue(roadrunner.Config.ROADRUNNER_JACOBIAN_STEP_SIZE, previous)


def test_exported_ecoli_model_passes_libsbml_and_reproduces_fluxes_in_roadrunner(ecoli_cm, fixture_state,
                                                                                 fixture_export):
    text, vmax, lam, _ = fixture_export
    assert consistency_errors(text) == []
    rr = roadrunner.RoadRunner(text)
    ids = list(rr.model.getReactionIds())
    assert len(ids) == 123 and "D_LACt2pp" in ids
    v = state_arrays(ecoli_cm, fixture_state).v  # model units (nM/h)
    np.testing.assert_allclose(rr.getReactionRates(), v, rtol=1e-8)
    # every balanced species is at steady state: |dx/dt| <= 1e-8 of its turnover
    species = list(rr.model.getFloatingSpeciesIds())
    S = ecoli_cm.structure.S[[ecoli_cm.structure.variables.index(s) for s in _names(species)]]
    turnover = np.abs(S) @ np.abs(v)
    assert len(species) == 90 and np.all(np.abs(rr.getRatesOfChange()) <= 1e-8 * turnover)
    assert _reduced_lambda_max(text) == pytest.approx(lam, rel=1e-6)  # lambda_max -32.2 1/h


def _names(ids):
    return [i.replace("D_LAC", "D-LAC") for i in ids]


def test_roadrunner_lambda_max_and_trajectory_at_a_sampled_state(ecoli_cm, sampled_export):
    text, vmax, lam, ln_km, state = sampled_export
    assert lam <= -2.5
    assert _reduced_lambda_max(text) == pytest.approx(lam, rel=1e-6)
    # a +-20% conserving perturbation, integrated by libRoadRunner (CVODE) and by our LSODA
    cm = model_for_state(ecoli_cm, state)
    st = cm.structure
    ln_x = state_arrays(cm, state).ln_x
    x_star = np.exp(ln_x[: len(st.variables)])
    x0 = perturb_conserving(x_star, st.conservation / st.weights, 0.2, 1, np.random.default_rng(3))[0]
    times = np.array([0.0, 0.05, 0.2, 0.5, 1.0])
    ode = cell_ode(cm, ln_x, ln_km + UnitSettings().log_concentration_scale, vmax)
    ours = np.exp(integrate(ode, np.log(x0), times, IntegrationSettings(rtol=1e-10, atol=1e-12)).y)
    rr = roadrunner.RoadRunner(text)
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-12 * float(x_star.min())
    ids = list(rr.model.getFloatingSpeciesIds())
    order = [st.variables.index(s) for s in _names(ids)]
    rr.model.setFloatingSpeciesConcentrations(x0[order])
    result = rr.simulate(times=list(times))
    theirs = np.array([[result[f"[{i}]"][t] for i in ids] for t in range(len(times))])
    deviation = ours[:, order] / x_star[order] - 1
    np.testing.assert_allclose(theirs / x_star[order] - 1, deviation, atol=1e-6)
    assert np.abs(deviation[-1]).max() < 0.5 * np.abs(deviation[0]).max()  # on its way back


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    """Five valid models of a small generator trained at a sampled state (100% valid after 20 generations)."""
    root = tmp_path_factory.mktemp("interop")
    settings = tiny_settings(generations=20)
    settings = replace(settings, problem=replace(settings.problem, steady_state=str(FIXTURES / "fast_state.csv")))
    train(settings, root / "run")
    generate_population(root / "run", 5, root / "pop.h5", valid_only=True)
    return root / "pop.h5"


def test_export_and_import_sbml_commands_round_trip(ecoli_cm, population, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["export-sbml", str(population), "--index", "2", "--out", str(tmp_path / "m2.xml")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["export-sbml", str(population), "--all", "--out", str(tmp_path / "all")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == [f"model_{i}.xml" for i in range(5)]
    assert (tmp_path / "all" / "model_2.xml").read_text() == (tmp_path / "m2.xml").read_text()
    pop = read_population(population)
    sb = read_sbml(tmp_path / "m2.xml")
    # libSBML writes doubles with 15 significant digits
    np.testing.assert_allclose([sb.parameters[n] for n in pop.km_names], pop.km[2] * 1e9, rtol=1e-14)
    state = read_steady_state(FIXTURES / "fast_state.csv")
    imported = import_parameter_set(tmp_path / "m2.xml", ecoli_cm)
    np.testing.assert_allclose(imported.km, pop.km[2], rtol=1e-14)
    assert imported.law_error < 1e-9 and imported.imbalance < 1e-8
    for name, value in state.concentrations.items():
        assert imported.state.concentrations[name] == pytest.approx(value, rel=1e-14)
    for name, value in state.fluxes.items():
        assert imported.state.fluxes[name] == pytest.approx(value, rel=1e-9, abs=1e-12 * max(map(abs, state.fluxes.values())))
    result = runner.invoke(app, ["import-sbml", str(tmp_path / "m2.xml"), "--out", str(tmp_path / "imported")])
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(read_km_table(tmp_path / "imported" / "km.csv", ecoli_cm.km_names)[0], pop.km[2], rtol=1e-14)
    bad = runner.invoke(app, ["import-sbml", str(tmp_path / "m2.xml"), "--out", str(tmp_path / "x"), "--model",
                              str(FIXTURES.parent.parent.parent / "src" / "renaissance" / "data" / "toy_model.yaml")])
    assert bad.exit_code == 1 and "not in the file" in bad.output


def test_skimpy_population_round_trip(ecoli_cm, population, tmp_path):
    import h5py

    runner = CliRunner()
    out = tmp_path / "skimpy.h5"
    result = runner.invoke(app, ["export-skimpy", str(population), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with h5py.File(out, "r") as f:  # SKiMpy's layout: one dataset per parameter set
        assert int(f["num_parameters_sets"][()]) == 5 and f["parameter_set_4"].shape == (len(f["parameter_names"]),)
    sets = read_skimpy_population(out)
    with h5py.File(population, "r") as f:
        stored = f["parameter_values"][()]
        names = [n.decode() for n in f["parameter_names"][()]]
    assert list(sets.names[: len(names)]) == names and sets.index == tuple("01234")
    np.testing.assert_array_equal(sets.values[:, : len(names)], stored)  # bitwise
    keq = [n for n in sets.names if n.startswith("k_equilibrium_")]
    assert len(keq) == int(ecoli_cm.reversible.sum())
    assert population_sets(population).values.tobytes() == sets.values.tobytes()
    result = runner.invoke(app, ["import-skimpy", str(out), "--out", str(tmp_path / "km.csv")])
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(read_km_table(tmp_path / "km.csv", ecoli_cm.km_names), read_population(population).km,
                               rtol=1e-15)


CLASS_MODELS = FIXTURES.parent / "skimpy_classes"


@pytest.mark.parametrize("name", sorted(p.stem for p in CLASS_MODELS.glob("*.yml") if not p.stem.startswith("nomad")))
def test_every_class_exports_to_sbml_and_roadrunner_reproduces_it(name):
    """Each small model of one SKiMpy class (tests/fixtures/skimpy_classes): libSBML-consistent,
    libRoadRunner's rates equal the steady-state fluxes, every balanced species is at rest, and its
    reduced Jacobian has our lambda_max."""
    from renaissance.model import compile_model, load_model

    cm = compile_model(load_model(CLASS_MODELS / f"{name}.yml"))
    state = read_steady_state(CLASS_MODELS / f"{name}_ss.csv")
    ln_km = np.log(read_km_table(CLASS_MODELS / f"{name}_params.csv", cm.km_names)[0])
    text, vmax, lam = _export(cm, state, ln_km)
    assert consistency_errors(text) == []
    rr = roadrunner.RoadRunner(text)
    v = state_arrays(cm, state).v
    np.testing.assert_allclose(rr.getReactionRates()[: cm.n_reactions], v, rtol=1e-9)
    turnover = np.abs(cm.structure.S) @ np.abs(v)
    order = [cm.structure.variables.index(s) for s in rr.model.getFloatingSpeciesIds()]
    assert np.all(np.abs(rr.getRatesOfChange()) <= 1e-9 * turnover[order] + 1e-12)
    assert _reduced_lambda_max(text) == pytest.approx(lam, rel=1e-5)
