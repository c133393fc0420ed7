"""Issue 23, items 2, 5 and 8: a resume never mixes inputs, an SBML import reads the rate laws,
a settings file runs no code."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from renaissance.analysis.landscape import LandscapeSettings, landscape_study
from renaissance.analysis.search import SearchSettings
from renaissance.cli import app
from renaissance.dynamics.robustness import RobustnessSettings, robustness_problem, robustness_study
from renaissance.errors import RenaissanceError
from renaissance.generator import load_settings, train
from renaissance.generator.population import generate_population
from renaissance.generator.settings import with_overrides
from renaissance.interop.sbml import SBMLError, import_parameter_set, model_to_sbml
from renaissance.plumbing.resumable import ResumeError
from renaissance.shipped import shipped_path
from renaissance.stability import back_calculate_vmax, prepare_stability
from renaissance.stability.rewards import resolve_reward
from renaissance.steadystate.table import SteadyState, model_for_state

from .test_bad_input import _fails

runner = CliRunner()
CHEAP = LandscapeSettings(search=SearchSettings(iterations=1, sets_per_iteration=10), robustness_models=0)
QUICK = RobustnessSettings(times_min=(24.0,))


def _texts(folder: Path) -> dict[str, str]:
    """Every file of ``folder`` by name: what a refused resume must leave as it was."""
    return {p.name: p.read_text() for p in sorted(folder.iterdir()) if p.is_file()}


def _km_vmax(cm, state, seed: int, n: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random Km sets (mol/L) of the toy model and their Vmax at ``state``."""
    ln_km = np.log(10.0) * np.random.default_rng(seed).uniform(-5, -3, (n, len(cm.km_names)))
    return np.exp(ln_km), back_calculate_vmax(prepare_stability(cm, state), ln_km)


# --- 2. resume mixes inputs -----------------------------------------------------------------

@pytest.fixture(scope="module")
def toy_problem(toy_cm, toy_state):
    return robustness_problem(model_for_state(toy_cm, toy_state), toy_state)


def test_robustness_resume_with_another_population_or_model_is_refused(toy_cm, toy_state, toy_problem, tmp_path):
    km, vmax = _km_vmax(toy_cm, toy_state, 0)
    files = {"model": "a" * 64}
    robustness_study(toy_problem, km, vmax, QUICK, tmp_path, n_workers=1, files=files)
    before = _texts(tmp_path)
    assert "runs.inputs.json" in before
    other_km, other_vmax = _km_vmax(toy_cm, toy_state, 1)
    with pytest.raises(ResumeError, match=r"^.*: cannot resume: inputs differ from the saved run \(Km/Vmax of models "
                                          r"0, 1\); run without --resume to start again$"):
        robustness_study(toy_problem, other_km, other_vmax, QUICK, tmp_path, resume=True, n_workers=1, files=files)
    with pytest.raises(ResumeError, match=r"\(model_file aaaaaaaaaaaaaaaa -> bbbbbbbbbbbbbbbb\)"):
        robustness_study(toy_problem, km, vmax, QUICK, tmp_path, resume=True, n_workers=1, files={"model": "b" * 64})
    assert _texts(tmp_path) == before  # nothing rewritten
    # the same population resumes, and may run more of its models
    more_km, more_vmax = np.vstack([km, other_km[:1]]), np.vstack([vmax, other_vmax[:1]])
    seen = []
    robustness_study(toy_problem, more_km, more_vmax, QUICK, tmp_path, resume=True, n_workers=1, files=files,
                     on_model=lambda r: seen.append(r.model))
    assert seen == [2]


@pytest.fixture(scope="module")
def two_populations(tmp_path_factory) -> tuple[Path, Path]:
    """Two populations (3 models each, other latent seeds) of one toy generator (2 generations)."""
    root = tmp_path_factory.mktemp("toy23")
    for name in ("toy_model.yaml", "toy_steady_state.csv", "toy_train.toml"):
        shutil.copy(shipped_path(name), root / name)
    settings = with_overrides(load_settings(root / "toy_train.toml"), nes={"generations": 2, "monitor_models": 0})
    train(settings, root / "run")
    for seed in (0, 1):
        generate_population(root / "run", 3, root / f"pop{seed}.h5", seed=seed)
    return root / "pop0.h5", root / "pop1.h5"


def test_cli_robustness_resume_with_another_population_is_refused(two_populations, tmp_path):
    first, second = two_populations
    args = ["--out", str(tmp_path / "rob"), "--all-models", "--max-models", "2", "--workers", "1", "--times", "24",
            "--plot", ""]
    result = runner.invoke(app, ["robustness", str(first), *args])
    assert result.exit_code == 0, result.output
    before = _texts(tmp_path / "rob")
    _fails(["robustness", str(second), *args, "--resume"], str(tmp_path / "rob"),
           "cannot resume: inputs differ from the saved run (Km/Vmax of models 0, 1)")
    assert _texts(tmp_path / "rob") == before


def _doubled(state: SteadyState) -> SteadyState:
    """The same concentrations with every flux doubled: another steady state (another states file)."""
    return dataclasses.replace(state, fluxes={r: 2 * v for r, v in state.fluxes.items()}, source="other.csv")


def test_landscape_resume_with_another_states_file_or_model_is_refused(toy_cm, toy_state, tmp_path):
    landscape_study(toy_cm, [toy_state, toy_state], CHEAP, tmp_path, n_workers=0, inputs={"states": "a.csv"})
    before = _texts(tmp_path)
    with pytest.raises(ResumeError, match=r": cannot resume: inputs differ from the saved run \(states 1\); "
                                          "use another directory$"):
        landscape_study(toy_cm, [toy_state, _doubled(toy_state)], CHEAP, tmp_path, n_workers=0, resume=True,
                        inputs={"states": "b.csv"})
    other_model = model_for_state(toy_cm, dataclasses.replace(toy_state, k_equilibrium={"HEX": 1e3}))
    with pytest.raises(ResumeError, match=r"inputs differ from the saved run \(model [0-9a-f]{16} -> [0-9a-f]{16}\)"):
        landscape_study(other_model, [toy_state, toy_state], CHEAP, tmp_path, n_workers=0, resume=True)
    assert _texts(tmp_path) == before  # landscape.toml and the table untouched
    # more states of the same file resume
    seen = []
    landscape_study(toy_cm, [toy_state, toy_state, _doubled(toy_state)], CHEAP, tmp_path, n_workers=0, resume=True,
                    on_state=lambda row: seen.append(row["state"]))
    assert seen == [2]


# --- 5. import-sbml reads the rate laws --------------------------------------------------------

@pytest.fixture(scope="module")
def toy_sbml(toy_cm, toy_state) -> str:
    km, vmax = _km_vmax(toy_cm, toy_state, 0, n=1)
    return model_to_sbml(model_for_state(toy_cm, toy_state), toy_state, km[0], vmax[0])


def _edited(text: str, edit) -> str:
    """``text`` after ``edit(model)`` on its libSBML model."""
    import libsbml

    doc = libsbml.readSBMLFromString(text)
    edit(doc.getModel())
    return libsbml.writeSBMLToString(doc)


def _scale_km(model) -> None:
    parameter = model.getParameter("km_substrate_FBA")
    parameter.setValue(parameter.getValue() * 3)


def _set_law(reaction: str, formula):
    """An edit replacing ``reaction``'s kinetic law by ``formula(old formula, model)``."""
    import libsbml

    def edit(model):
        law = model.getReaction(reaction).getKineticLaw()
        law.setMath(libsbml.parseL3Formula(formula(libsbml.formulaToL3String(law.getMath()), model)))

    return edit


def test_an_exported_model_imports_with_its_laws_checked(toy_cm, toy_sbml, tmp_path):
    (tmp_path / "m.xml").write_text(toy_sbml)
    imported = import_parameter_set(tmp_path / "m.xml", toy_cm)
    assert imported.law_error < 1e-9 and imported.imbalance < 1e-9


def test_import_of_an_edited_km_is_refused_as_not_steady(toy_cm, toy_sbml, tmp_path):
    path = tmp_path / "edited.xml"
    path.write_text(_edited(toy_sbml, _scale_km))
    with pytest.raises(SBMLError, match=r"edited.xml: species '\w+': not mass balanced: \|N.v\| = .* not a steady state "
                                        "of the file's own kinetic laws"):
        import_parameter_set(path, toy_cm)
    _fails(["import-sbml", str(path), "--out", str(tmp_path / "out"), "--model", str(shipped_path("toy_model.yaml"))],
           str(path), "not mass balanced: |N.v| =", "not a steady state of the file's own kinetic laws")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("edit, problem", [
    (lambda model: model.getReaction("FBA").unsetKineticLaw(), "reaction 'FBA': no kinetic law"),
    (_set_law("LDH", lambda old, model: "vmax_forward_LDH * pyr_c"),
     "reaction 'LDH': kinetic law differs from the model's rate law"),
    # equal at the file's own concentrations, different elsewhere: caught at the perturbed points
    (_set_law("HEX", lambda old, model: f"({old}) * atp_c / {model.getSpecies('atp_c').getInitialConcentration()!r}"),
     "reaction 'HEX': kinetic law differs from the model's rate law"),
    (_set_law("TPI", lambda old, model: f"exp(0) * ({old})"), "reaction 'TPI': kinetic law: 'exp(0)' is not a rate law"),
    (_set_law("TPI", lambda old, model: f"k_unknown * ({old})"), "'k_unknown' is not a species, compartment or parameter"),
])
def test_import_of_a_missing_or_unknown_kinetic_law_is_refused(toy_sbml, tmp_path, edit, problem):
    path = tmp_path / "law.xml"
    path.write_text(_edited(toy_sbml, edit))
    _fails(["import-sbml", str(path), "--out", str(tmp_path / "out"), "--model", str(shipped_path("toy_model.yaml"))],
           f"{path}: ", problem)
    assert not (tmp_path / "out").exists()


# --- 8. a settings file runs no code ------------------------------------------------------------

@pytest.fixture
def sneaky(tmp_path, monkeypatch) -> Path:
    """A module ``sneaky23`` whose import leaves a file ``ran`` and whose reward is the incidence."""
    (tmp_path / "sneaky23.py").write_text(
        "from pathlib import Path\nPath(__file__).with_name('ran').write_text('imported')\n"
        "def reward(lambda_max, valid, threshold):\n    return valid.mean(axis=1).astype(float)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path / "ran"
    import sys

    sys.modules.pop("sneaky23", None)


def test_a_module_reward_is_imported_only_when_allowed(sneaky):
    for allow in (False, (), ["other"]):
        with pytest.raises(RenaissanceError, match=r"^x.toml: reward 'sneaky23:reward': would import and run Python "
                                                   "module 'sneaky23'.*--allow-code sneaky23"):
            resolve_reward("sneaky23:reward", allow, "x.toml")
    assert not sneaky.exists()
    assert resolve_reward("sneaky23:reward", ["sneaky23"]).__name__ == "reward" and sneaky.exists()
    assert resolve_reward("incidence") is resolve_reward("incidence", True)  # names and callables need no opt-in


def _toy_config(folder: Path, reward: str) -> Path:
    for name in ("toy_model.yaml", "toy_steady_state.csv"):
        shutil.copy(shipped_path(name), folder / name)
    text = shipped_path("toy_train.toml").read_text().replace("[nes]\n", f'[nes]\nreward = "{reward}"\n')
    (folder / "train.toml").write_text(text.replace("models_per_child = 20", "models_per_child = 4\npopulation = 4"))
    return folder / "train.toml"


def test_train_refuses_a_module_reward_of_its_config_or_option_without_allow_code(sneaky, tmp_path):
    config = _toy_config(tmp_path, "sneaky23:reward")
    out = tmp_path / "run"
    base = ["train", "--config", str(config), "--out", str(out), "--generations", "1", "--no-plots"]
    _fails(base, f"{config}: reward 'sneaky23:reward': would import and run Python module 'sneaky23'",
           "--allow-code sneaky23")
    _fails(base + ["--reward", "builtins:print"], "--reward: reward 'builtins:print'", "--allow-code builtins")
    assert not out.exists() and not sneaky.exists()
    result = runner.invoke(app, base + ["--allow-code", "sneaky23"])
    assert result.exit_code == 0, result.output
    assert sneaky.exists() and (out / "checkpoint.npz").exists()
