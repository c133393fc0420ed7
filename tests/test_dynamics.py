"""Nonlinear dynamics: rate-law Jacobians, stiff integration, perturbations, robustness studies."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from renaissance.dynamics.integrate import IntegrationSettings, integrate
from renaissance.dynamics.perturb import perturb_conserving
from renaissance.plumbing.resumable import ResumeError
from renaissance.dynamics.robustness import RobustnessSettings, returned, robustness_problem, robustness_study, run_model
from renaissance.dynamics.robustness_report import study_report
from renaissance.dynamics.system import cell_ode
from renaissance.errors import RenaissanceError
from renaissance.model import compile_model, model_from_dict
from .oracle_rates import reaction_rates
from renaissance.settings import UnitSettings
from renaissance.stability import evaluate_stability
from renaissance.stability.km import read_km_table
from renaissance.steadystate.table import model_for_state, state_arrays

from .conftest import FIXTURES

UNITS = UnitSettings()


def _mass_action(name, substrate, product):
    return {"enzyme": None, "name": name, "modifiers": {}, "mechanism": {
        "class": "RevMassaction", "mechanism_stoichiometry": {"substrate1": -1.0, "product1": 1.0},
        "substrate1": substrate, "product1": product}}


def decay_chain():
    """a -> b -> c (c constant), first order (mass action, Keq = 1e30)."""
    return compile_model(model_from_dict({
        "name": "chain", "compartments": {"c": "c"},
        "reactants": {s: {"compartment": "c", "name": s} for s in ("a", "b", "c")},
        "boundary_conditions": {"CC_c": {"class": "ConstantConcentration", "reactant": "c"}},
        "parameters": {"k_equilibrium_R1": 1e30, "k_equilibrium_R2": 1e30, "volume_c": 1.0, "cell_volume_c": 1.0},
        "reactions": {"R1": _mass_action("R1", "a", "b"), "R2": _mass_action("R2", "b", "c")},
    }))


@pytest.mark.parametrize("method", ["LSODA", "BDF", "Radau"])
def test_decay_chain_matches_analytic_solution(method):
    cm = decay_chain()
    k1, k2, a0, b0 = 2.0, 0.5, 1.0, 0.1
    ode = cell_ode(cm, np.log([a0, b0, 1.0]), np.zeros(0), np.array([k1, k2]))
    t = np.array([0.1, 0.5, 1.0, 3.0, 6.0])
    traj = integrate(ode, np.log([a0, b0]), t, IntegrationSettings(method=method, rtol=1e-10, atol=1e-12, escape_fold=0))
    a = a0 * np.exp(-k1 * t)
    b = b0 * np.exp(-k2 * t) + a0 * k1 / (k2 - k1) * (np.exp(-k1 * t) - np.exp(-k2 * t))
    assert traj.status == "ok"
    np.testing.assert_allclose(np.exp(traj.y), np.column_stack([a, b]), rtol=1e-6)


@pytest.fixture(scope="module")
def ecoli_dynamics(ecoli_cm, fixture_state):
    cm = model_for_state(ecoli_cm, fixture_state)
    km = read_km_table(FIXTURES / "valid_km.csv", cm.km_names)
    problem = robustness_problem(cm, fixture_state, UNITS)
    from renaissance.stability import back_calculate_vmax, prepare_stability

    stability = prepare_stability(ecoli_cm, fixture_state, UNITS)
    return problem, km, back_calculate_vmax(stability, np.log(km)), stability


def test_valid_fixture_models_and_rates(ecoli_dynamics, fixture_state):
    problem, km, vmax, stability = ecoli_dynamics
    assert np.all(evaluate_stability(stability, km).lambda_max <= -2.5)
    arrays = state_arrays(problem.cm, fixture_state, UNITS)
    ln_k = np.log(km[0]) + UNITS.log_concentration_scale
    ode = cell_ode(problem.cm, arrays.ln_x, ln_k, vmax[0])
    np.testing.assert_allclose(ode.laws.rates(arrays.ln_x), arrays.v, rtol=1e-9, atol=1e-9 * np.abs(arrays.v).max())
    np.testing.assert_allclose(ode.laws.rates(arrays.ln_x), reaction_rates(problem.cm, arrays.ln_x, ln_k, vmax[0]),
                               rtol=1e-12)


def test_log_jacobian_matches_finite_differences(ecoli_dynamics):
    problem, km, vmax, _ = ecoli_dynamics
    ode = cell_ode(problem.cm, problem.ln_x, np.log(km[0]) + problem.ln_km_shift, vmax[0])
    y = problem.ln_x[:ode.n] + np.random.default_rng(0).uniform(-0.3, 0.3, ode.n)
    h = 1e-6
    numeric = np.column_stack([(ode.rhs(0, y + h * e) - ode.rhs(0, y - h * e)) / (2 * h) for e in np.eye(ode.n)])
    J = ode.jac(0, y)
    assert np.abs(J - numeric).max() <= 1e-8 * np.abs(J).max()


def test_perturbations_keep_pools_and_box(ecoli_dynamics):
    problem, *_ = ecoli_dynamics
    st = problem.cm.structure
    x_star = np.exp(problem.ln_x[: len(st.variables)])
    pools = st.conservation / st.weights
    x = perturb_conserving(x_star, pools, 0.5, 2000, np.random.default_rng(1))
    assert np.all(x >= 0.5 * x_star * (1 - 1e-12)) and np.all(x <= 1.5 * x_star * (1 + 1e-12))
    np.testing.assert_allclose(x @ pools.T, np.broadcast_to(pools @ x_star, (2000, len(pools))), rtol=1e-12)
    nadh = st.variables.index("nadh_c")  # a small pool member keeps its full perturbation range
    assert np.quantile(x[:, nadh] / x_star[nadh], [0.02, 0.98]) == pytest.approx([0.52, 1.48], abs=0.03)


def test_small_perturbation_returns_and_conserves_pools(ecoli_dynamics):
    problem, km, vmax, _ = ecoli_dynamics
    st = problem.cm.structure
    y_star = problem.ln_x[: len(st.variables)]
    ode = cell_ode(problem.cm, problem.ln_x, np.log(km[0]) + problem.ln_km_shift, vmax[0])
    pools = st.conservation / st.weights
    x0 = perturb_conserving(np.exp(y_star), pools, 0.02, 1, np.random.default_rng(2))[0]
    traj = integrate(ode, np.log(x0), [1e-4, 1e-2, 0.4], reference=y_star)
    assert traj.status == "ok"
    totals = np.exp(traj.y) @ pools.T
    np.testing.assert_allclose(totals, np.broadcast_to(pools @ x0, totals.shape), rtol=1e-5)
    assert np.abs(np.expm1(traj.y[-1] - y_star)).max() < 1e-3  # back within 0.1% at 24 min


def test_returning_escaping_and_unstable_models(ecoli_dynamics, fixture_km):
    problem, km, vmax, stability = ecoli_dynamics
    settings = RobustnessSettings(perturbation=0.5)
    back = [run_model(problem, settings, model, km[i], vmax[i]) for i, model in enumerate((21, 22, 0, 1))]
    assert [r.status[0] for r in back] == ["ok", "ok", "escaped", "escaped"]
    flags = [returned(r, problem, settings.tolerance) for r in back]
    assert all(f[g].all() for f in flags[:2] for g in f) and not any(f[g].any() for f in flags[2:] for g in f)
    assert back[2].escaped[0] and back[2].escaped[0] in problem.species
    # an unstable Km set (lambda_max > 0) does not return from a 1% perturbation
    unstable = fixture_km[1][:1]
    assert evaluate_stability(stability, unstable).lambda_max[0] > 0
    from renaissance.stability import back_calculate_vmax

    result = run_model(problem, RobustnessSettings(perturbation=0.01), 5, unstable[0],
                       back_calculate_vmax(stability, np.log(unstable))[0])
    assert result.status[0] == "escaped"
    assert not any(v.any() for v in returned(result, problem, 0.01).values())


def test_study_streams_resumes_and_ignores_worker_count(ecoli_dynamics, tmp_path):
    problem, km, vmax, _ = ecoli_dynamics
    settings = RobustnessSettings(perturbation=0.5, n_perturbations=2)
    models = [21, 22, 0, 1]
    whole = robustness_study(problem, km, vmax, settings, tmp_path / "whole", models=models, n_workers=2)
    # an interrupted run: the last model missing and its first line cut in half
    path = tmp_path / "whole" / "runs.csv"
    lines = path.read_text().splitlines(keepends=True)
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "runs.csv").write_text("".join(lines[:-4]) + lines[-4][:30])
    seen = []
    resumed = robustness_study(problem, km, vmax, settings, cut, models=models, resume=True, n_workers=1,
                               on_model=lambda r: seen.append(r.model))
    assert seen == [1]  # only the unfinished model ran again
    assert (cut / "runs.csv").read_text() == path.read_text()
    for g, values in whole.fractions().items():
        np.testing.assert_array_equal(resumed.fractions()[g], values)
    # the first perturbation of each model is the single-perturbation draw: 21 and 22 come back
    assert [r.status[0] for r in whole.results] == ["ok", "ok", "escaped", "escaped"]
    flags = [returned(r, problem, settings.tolerance)["biomass"] for r in whole.results]
    assert whole.fractions()["biomass"] == pytest.approx(np.mean(np.concatenate(flags), axis=0))
    assert 0.25 <= whole.fractions()["biomass"][0] <= 0.75
    summary = (tmp_path / "whole" / "summary.csv").read_text()
    needed = whole.paper_tolerances()["cytosolic"]
    lab = float(whole.fractions(0.05)["cytosolic"][0])
    assert lab >= whole.fractions()["cytosolic"][0]  # a wider tolerance returns at least as many runs
    assert f"cytosolic,24,{float(whole.fractions()['cytosolic'][0])!r},{lab!r},0.754,{needed[0]!r}" in summary
    assert 'np.float64' not in summary
    # the tolerance a paper percentage needs: the runs' largest deviations, escaped runs never back
    deviations = whole.deviations()["biomass"]
    assert deviations.shape == (8, 2) and np.isinf(deviations).sum() >= 2
    quarter = whole.tolerance_for(0.25)["biomass"]
    assert np.all(np.isfinite(quarter)) and np.all(whole.fractions(tolerance=float(quarter.max()))["biomass"] >= 0.25)
    below = whole.fractions(tolerance=float(quarter[0]) * (1 - 1e-9))["biomass"][0]
    assert below < 0.25 or quarter[0] == 0  # the smallest such tolerance
    assert np.all(np.isinf(whole.tolerance_for(1.0)["biomass"]))
    assert math.isinf(needed[0])  # 75.4% cannot be met when half the runs escape
    report = " ".join(study_report(whole))
    left = 8 - whole.status_counts()["ok"]
    assert f"{left} of 8 runs did not return: {whole.status_counts()['escaped']} escaped" in report
    assert "species furthest out: " + next(iter(whole.escaped_species())) in report
    assert "last to return at 24 min" in report and "turnover" in report and "mM" in report
    assert f"cytosolic at 24 min: never ({left} of 8 runs did not return)" in report


def test_settings_and_problem_errors(ecoli_cm, fixture_state):
    with pytest.raises(ValueError, match="times_min"):
        RobustnessSettings(times_min=(34.0, 24.0))
    with pytest.raises(ValueError, match="method"):
        IntegrationSettings(method="RK45")
    with pytest.raises(RenaissanceError, match="growth reaction 'GROW'"):
        robustness_problem(model_for_state(ecoli_cm, fixture_state), fixture_state, UNITS, growth_reaction="GROW")
    assert math.isfinite(RobustnessSettings().tolerance)


def test_resume_with_other_settings_is_refused_and_leaves_the_table(ecoli_dynamics, tmp_path):
    problem, km, vmax, _ = ecoli_dynamics
    settings = RobustnessSettings(perturbation=0.5)
    robustness_study(problem, km, vmax, settings, tmp_path, models=[21], n_workers=1)
    runs, saved = (tmp_path / "runs.csv").read_text(), (tmp_path / "runs.settings.json").read_text()
    assert '"seed": 0' in saved and '"times_min": [' in saved
    changed = RobustnessSettings(perturbation=0.2, seed=1)
    with pytest.raises(ResumeError) as info:
        robustness_study(problem, km, vmax, changed, tmp_path, models=[21, 22], resume=True, n_workers=1)
    assert str(info.value) == (f"{tmp_path}: cannot resume: settings differ from the saved run "
                               "(perturbation 0.5 -> 0.2, seed 0 -> 1); run without --resume to start again")
    with pytest.raises(ResumeError, match=r"times_min \[24.0, 34.0\] -> \[24.0\]"):
        robustness_study(problem, km, vmax, RobustnessSettings(times_min=(24,)), tmp_path, models=[21], resume=True)
    # models of another steady state (e.g. another run's population) are refused as well
    other_state = dataclasses.replace(problem, ln_x=problem.ln_x + 1e-9)
    with pytest.raises(ResumeError, match=r"steady_state [0-9a-f]{16} -> [0-9a-f]{16}\)"):
        robustness_study(other_state, km, vmax, settings, tmp_path, models=[21], resume=True)
    assert (tmp_path / "runs.csv").read_text() == runs and (tmp_path / "runs.settings.json").read_text() == saved
    seen = []  # the same settings resume; a table without saved settings (older versions) too
    (tmp_path / "runs.settings.json").unlink()
    robustness_study(problem, km, vmax, settings, tmp_path, models=[21], resume=True, on_model=seen.append)
    assert seen == [] and (tmp_path / "runs.csv").read_text() == runs
    assert (tmp_path / "runs.settings.json").read_text() == saved


def test_cli_robustness(tmp_path):
    from renaissance.cli import app

    from .test_training import tiny_settings
    from renaissance.generator import train
    from renaissance.generator.population import generate_population

    train(tiny_settings(generations=1), tmp_path / "run")
    generate_population(tmp_path / "run", 3, tmp_path / "pop.h5")
    runner = CliRunner()
    result = runner.invoke(app, ["robustness", str(tmp_path / "pop.h5"), "--out", str(tmp_path / "rob"),
                                 "--perturbation", "0.01", "--workers", "1"])
    assert result.exit_code == 1 and "no valid models" in result.output
    result = runner.invoke(app, ["robustness", str(tmp_path / "pop.h5"), "--out", str(tmp_path / "rob"),
                                 "--all-models", "--perturbation", "0.01", "--workers", "1", "--plot", "atp_c"])
    assert result.exit_code == 0, result.output
    assert "cytosolic" in result.output and (tmp_path / "rob" / "trajectories.png").exists()
    # under the table, in words: the species last to return, with pool size and turnover
    text = " ".join(result.output.split())
    assert "last to return at 24 min (share of runs back within 1%):" in text and "turnover" in text
    assert len((tmp_path / "rob" / "runs.csv").read_text().splitlines()) == 1 + 3 * 2
    runs = (tmp_path / "rob" / "runs.csv").read_text()
    result = runner.invoke(app, ["robustness", str(tmp_path / "pop.h5"), "--out", str(tmp_path / "rob"), "--all-models",
                                 "--perturbation", "0.01", "--workers", "1", "--resume", "--seed", "1"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"error: {tmp_path / 'rob'}: cannot resume: settings differ from the saved run (seed 0 -> 1)" in result.output
    assert (tmp_path / "rob" / "runs.csv").read_text() == runs
    (tmp_path / "bad.h5").write_text("no")
    result = runner.invoke(app, ["robustness", str(tmp_path / "bad.h5")])
    assert result.exit_code == 1 and "bad.h5" in result.output


def test_robustness_of_a_model_without_growth_reaction(toy_cm, toy_state):
    """The toy model has no biomass reaction: no biomass group, every species in group 'all'."""
    from renaissance.stability import back_calculate_vmax, prepare_stability

    problem = robustness_problem(model_for_state(toy_cm, toy_state), toy_state)
    assert problem.growth is None and "biomass" not in problem.groups
    ln_km = np.log(np.full((1, len(toy_cm.km_names)), 1e-3))
    vmax = back_calculate_vmax(prepare_stability(toy_cm, toy_state), ln_km)[0]
    settings = RobustnessSettings(perturbation=0.05, times_min=(60.0,))
    result = run_model(problem, settings, 0, np.exp(ln_km[0]), vmax)
    back = returned(result, problem, 0.01)
    assert set(back) == {"ATP", "cytosolic", "all"} and np.all(np.isnan(result.growth))
    deviation_ok = np.all(np.abs(result.deviation) <= 0.01)
    assert back["all"][0, 0] == (result.status[0] == "ok" and deviation_ok)
