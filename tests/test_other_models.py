"""Models nobody here wrote, through every command: SKiMpy's kin_varma and its two parameterised
strains (tests/fixtures/skimpy_models, Apache-2.0, from SKiMpy's repository), and the shipped toy
model. Each goes through init, check-model, steady-state (kin_varma's shared constraints; the toy:
its starter constraints with a fixed uptake), train, generate, robustness, export-sbml (checked by
libRoadRunner); kin_varma also through the bioreactor with the medium init wrote, filled in."""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from renaissance.cli import app
from renaissance.parameterised import read_population
from renaissance.interop.sbml import sid
from renaissance.model import compile_model, load_model
from renaissance.steadystate import read_steady_state, validate_steady_state
from renaissance.steadystate.table import state_arrays

from .conftest import DATA

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SKIMPY_MODELS = FIXTURES / "skimpy_models"
#: the shared minimal constraints of kin_varma (growth >= 0.003 with scaling 1, glucose uptake <= 10)
KIN_VARMA_CONSTRAINTS = FIXTURES / "kin_varma" / "constraints.yaml"
#: name -> (model file, constraints file or None: init's starter with a fixed uptake)
MODELS = {
    "kin_varma": (DATA / "kin_varma.yaml", KIN_VARMA_CONSTRAINTS),
    "varma_strain_1": (SKIMPY_MODELS / "varma_strain_1.yml", KIN_VARMA_CONSTRAINTS),
    "varma_strain_2": (SKIMPY_MODELS / "varma_strain_2.yml", KIN_VARMA_CONSTRAINTS),
    "toy": (DATA / "toy_model.yaml", None),
}
#: reduced Jacobian size of each (SKiMpy's: 43 for the Varma models, 6 pools; the toy: 9 species, 2 pools)
REDUCED = {"kin_varma": 43, "varma_strain_1": 43, "varma_strain_2": 43, "toy": 7}
GENERATIONS = 8
runner = CliRunner()


def _ok(args: list) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, f"{args}\n{result.output[-3000:]}"
    return " ".join(result.output.split())


def _training_config(model: Path, state: Path, constraints: Path, path: Path) -> Path:
    """A small network, few generations: a short run that still has to learn."""
    path.write_text(f'final_samples = 100\n\n[problem]\nmodel = "{model}"\nsteady_state = "{state}"\n'
                    f'constraints = "{constraints}"\n\n[generator]\nhidden = [64, 64]\n\n'
                    f"[nes]\ngenerations = {GENERATIONS}\nmodels_per_child = 20\n")
    return path


@pytest.fixture(scope="module", params=sorted(MODELS))
def pipeline(request, tmp_path_factory):
    """init -> steady-state -> train -> generate, through the command line; the paths."""
    name = request.param
    model, constraints = MODELS[name]
    root = tmp_path_factory.mktemp(name)
    _ok(["init", model, "--out", root / "init"])
    if constraints is None:  # the user's edit of the starter: a measured uptake fixes the flux scale
        constraints = root / "constraints.yaml"
        text = (root / "init" / "constraints.yaml").read_text()
        constraints.write_text(text.replace("  fixed: {}", "  fixed: {GLCtex: 1.0}"))
    state = root / "state.csv"
    _ok(["steady-state", "--model", model, "--constraints", constraints, "--out", state])
    config = _training_config(model, state, constraints, root / "train.toml")
    _ok(["train", "--config", config, "--out", root / "run", "--no-plots"])
    _ok(["generate", root / "run", "--n", 20, "--valid-only", "--out", root / "pop.h5"])
    return {"name": name, "model": model, "constraints": constraints, "state": state, "root": root}


def test_check_model_and_steady_state(pipeline):
    name, model = pipeline["name"], pipeline["model"]
    cm = compile_model(load_model(model))
    state = read_steady_state(pipeline["state"])
    report = validate_steady_state(cm, state)  # mass balance, bounds, second law
    assert report.worst_imbalance < 1e-9
    text = _ok(["check-model", model, "--steady-state", pipeline["state"]])
    assert f"reduced Jacobian size │ {REDUCED[name]}" in text and "valid" in text
    if name == "toy":
        assert state.fluxes["GLCtex"] == pytest.approx(1.0)  # the edited starter's fixed uptake
    else:
        assert state.fluxes["LMPD_biomass_c_17_462"] >= 0.003 * (1 - 1e-9)  # growth bound of the constraints
        assert state.fluxes["GLCptspp"] <= 10 * (1 + 1e-9)


def test_training_raises_the_incidence(pipeline):
    with open(pipeline["root"] / "run" / "history.csv", newline="") as handle:
        history = list(csv.DictReader(handle))
    incidence = [float(row["generator_incidence"]) for row in history]
    assert len(incidence) == GENERATIONS
    assert incidence[-1] >= 0.8 and incidence[-1] > incidence[0]
    pop = read_population(pipeline["root"] / "pop.h5")
    assert len(pop) == 20 and pop.valid.all() and np.all(pop.lambda_max <= -2.5)
    assert pop.problem.constraints == str(Path(pipeline["constraints"]).resolve())


def test_robustness_groups_come_from_the_model(pipeline):
    root = pipeline["root"]
    text = _ok(["robustness", root / "pop.h5", "--max-models", 4, "--workers", 1, "--perturbation", 0.1,
                "--times", "24,120", "--out", root / "robustness", "--plot", ""])
    with open(root / "robustness" / "summary.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if not r["group"].startswith("species:")]
    groups = {r["group"] for r in rows}
    assert all(r["paper"] == "" for r in rows)  # the paper's numbers are E. coli's
    assert "paper" not in text
    if pipeline["name"] == "toy":
        assert groups == {"ATP", "cytosolic", "all"}  # no growth reaction, no NADH/NADPH
        assert "note: group NADH skipped: nadh_c not a balanced species of the model" in text
    else:
        assert groups == {"biomass", "NADH", "ATP", "NADPH", "cytosolic", "all"}
        assert "skipped" not in text
    # +-10%: every valid model returns within 1% within two hours
    back = {r["group"]: float(r["fraction_returned"]) for r in rows if r["time_min"] == "120"}
    assert back["all"] == 1.0, back


def test_exported_sbml_reproduces_the_steady_state_in_roadrunner(pipeline):
    roadrunner = pytest.importorskip("roadrunner", reason="libroadrunner is a test dependency (pip install '.[test]')")
    root = pipeline["root"]
    _ok(["export-sbml", root / "pop.h5", "--index", 0, "--out", root / "model.xml"])
    cm = compile_model(load_model(pipeline["model"]))
    state = read_steady_state(pipeline["state"])
    rr = roadrunner.RoadRunner(str(root / "model.xml"))
    assert list(rr.model.getReactionIds()) == [sid(r) for r in cm.structure.reactions]
    v = state_arrays(cm, state).v  # model units (nM/h)
    np.testing.assert_allclose(rr.getReactionRates(), v, rtol=1e-8)
    index = {sid(s): i for i, s in enumerate(cm.structure.variables)}
    species = [index[s] for s in rr.model.getFloatingSpeciesIds()]
    turnover = np.abs(cm.structure.S[species]) @ np.abs(v)
    assert np.all(np.abs(rr.getRatesOfChange()) <= 1e-8 * turnover)


@pytest.mark.parametrize("pipeline", ["kin_varma"], indirect=True)
def test_kin_varma_in_the_bioreactor(pipeline, tmp_path):
    """The medium init wrote, filled in with the state's extracellular concentrations and every
    species but glucose held constant: the cells start at their steady state, so the culture grows
    at the state's growth rate and takes up glucose at the state's uptake rate."""
    state = read_steady_state(pipeline["state"])
    text = (pipeline["root"] / "init" / "bioreactor.yaml").read_text()
    filled = re.sub(r"^  (\w+): null.*$", lambda m: f"  {m[1]}: {state.concentrations[m[1]]!r}", text, flags=re.M)
    held = [s for s in re.findall(r"^  (\w+): ", filled.split("initial_medium:")[1], flags=re.M) if s != "glc_D_e"]
    medium = tmp_path / "medium.yaml"
    medium.write_text(filled + "boundary_conditions:\n" + "".join(
        f"  CC_{s}:\n    class: ConstantConcentration\n    reactant: {s}\n" for s in held))
    out, hours = tmp_path / "bio", 0.1
    report = _ok(["bioreactor", pipeline["root"] / "pop.h5", "--medium", medium, "--hours", hours, "--points", 3,
                  "--max-models", 2, "--workers", 1, "--out", out])
    assert "2 models: 2 integrated to" in report and "glucose" not in report and "glc_D_e used" in report
    with open(out / "timecourses.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert set(rows[0]) == {"model", "time_h", "status", "biomass", "glc_D_e"}  # the one dynamic species
    growth = state.fluxes["LMPD_biomass_c_17_462"]  # biomass_scaling 1: growth (1/h) = the flux
    units = read_population(pipeline["root"] / "pop.h5").problem.units
    cells = 0.037 / 0.28e-12 * 1e-15  # cell volume per reactor volume: cells per litre (0.037 g/L of 0.28 pg) x 1 um^3
    uptake = state.fluxes["GLCptspp"] * 1e-3 * units.density * units.gdw_per_gww * cells  # mol/L/h
    for model in ("0", "1"):
        run = [r for r in rows if r["model"] == model]
        biomass = [float(r["biomass"]) for r in run]
        glucose = [float(r["glc_D_e"]) for r in run]
        assert math.log(biomass[-1] / biomass[0]) / hours == pytest.approx(growth, rel=1e-2)
        assert (glucose[0] - glucose[-1]) / hours == pytest.approx(uptake, rel=2e-2)
    assert (out / "bioreactor.png").stat().st_size > 0
