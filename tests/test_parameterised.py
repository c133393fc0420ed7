"""The parameterised model and the population that carries it: built once, embedded, moved, 0.3 files."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from renaissance.cli import app
from renaissance.errors import RenaissanceError
from renaissance.generator import load_settings, train
from renaissance.generator.population import generate_population
from renaissance.generator.settings import with_overrides
from renaissance.parameterised import ParameterisedModel, open_population, parameterise, read_population
from renaissance.shipped import shipped_path
from renaissance.stability import evaluate_stability

FIXTURES = Path(__file__).parent / "fixtures"
V1_POPULATION = FIXTURES / "population_v1" / "toy_population_v0.3.h5"
#: the folder the 0.3 fixture's settings name (where it was written)
V1_DATA_DIR = "/tmp/wt_v1/src/renaissance/data"


@pytest.fixture(scope="module")
def toy_population(tmp_path_factory) -> Path:
    """A population of the toy model trained from copies of its files, in a folder of its own."""
    root = tmp_path_factory.mktemp("toy")
    for name in ("toy_model.yaml", "toy_steady_state.csv", "toy_train.toml"):
        shutil.copy(shipped_path(name), root / name)
    settings = with_overrides(load_settings(root / "toy_train.toml"), nes={"generations": 3, "monitor_models": 0})
    train(settings, root / "run")
    generate_population(root / "run", 8, root / "pop.h5", seed=0)
    return root


def test_parameterise_builds_the_model_at_its_state_once(toy_population):
    model = parameterise(load_settings(toy_population / "toy_train.toml").problem)
    assert isinstance(model, ParameterisedModel)
    assert model.n_km == len(model.km_names) == len(model.cm.km_names) and len(model.free) == model.n_km
    assert model.files.model == (toy_population / "toy_model.yaml").read_text()
    assert model.label.endswith("toy_steady_state.csv") and model.growth_reaction is None


def test_population_opens_with_its_model_after_the_folder_moves(toy_population, tmp_path):
    """The model and state travel inside the file: the population opens, and gives the same
    lambda_max, after its folder is moved and the files it was made from are deleted."""
    pop, model = open_population(toy_population / "pop.h5")
    moved = tmp_path / "elsewhere"
    shutil.copytree(toy_population, moved)
    for name in ("toy_model.yaml", "toy_steady_state.csv"):
        (moved / name).unlink()
    pop2, model2 = open_population(moved / "pop.h5")
    np.testing.assert_array_equal(pop2.km, pop.km)
    assert model2.km_names == model.km_names
    lam = evaluate_stability(model2.stability, pop2.km).lambda_max
    np.testing.assert_allclose(lam, pop.lambda_max, rtol=1e-12)
    # the recorded problem names its files relative to the population's folder
    assert read_population(moved / "pop.h5").problem.model == str((moved / "toy_model.yaml").resolve())
    with h5py.File(moved / "pop.h5") as f:
        assert f.attrs["format_version"] == 2 and "config" not in f.attrs
        assert 'model = "toy_model.yaml"' in f.attrs["problem"]


def test_a_changed_embedded_model_is_refused(toy_population, tmp_path):
    path = tmp_path / "pop.h5"
    shutil.copy(toy_population / "pop.h5", path)
    with h5py.File(path, "r+") as f:
        text = f["problem/model"][()].decode()
        del f["problem/model"]
        f.create_dataset("problem/model", data=text.replace("name:", "name: x", 1), dtype=h5py.string_dtype())
    with pytest.raises(RenaissanceError, match=r"pop\.h5: problem/model: does not match its digest model_sha256"):
        open_population(path)


def test_a_population_of_renaissance_0_3_still_opens(tmp_path):
    """A file written by renaissance 0.3 (format version 1, training settings with absolute
    paths) opens from the files its settings name; here the shipped toy model and state."""
    path = tmp_path / "old.h5"
    shutil.copy(V1_POPULATION, path)
    with h5py.File(path, "r+") as f:
        assert f.attrs["format_version"] == 1
        f.attrs["config"] = f.attrs["config"].replace(V1_DATA_DIR, str(shipped_path("toy_model.yaml").parent))
    pop, model = open_population(path)
    assert len(pop) == 6 and model.km_names == pop.km_names
    lam = evaluate_stability(model.stability, pop.km).lambda_max
    np.testing.assert_allclose(lam, pop.lambda_max, rtol=1e-10)


def test_interop_and_analysis_do_not_import_torch():
    code = ("import sys, renaissance.interop.sbml, renaissance.interop.skimpy, renaissance.analysis.landscape, "
            "renaissance.analysis.report, renaissance.analysis.km_integration, renaissance.parameterised, "
            "renaissance.dynamics.fermentation; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_bug_keeps_its_traceback_and_bad_input_gets_one_line(monkeypatch, toy_population):
    """The command guard turns the project's errors into one line, not every ValueError."""
    runner = CliRunner()
    result = runner.invoke(app, ["export-sbml", str(toy_population / "missing.h5"), "--out", "x.xml"])
    assert result.exit_code == 1 and "missing.h5" in result.output and result.exception.__class__ is SystemExit

    def broken(*args, **kwargs):
        raise ValueError("operands could not be broadcast together")

    monkeypatch.setattr("renaissance.interop.sbml.model_to_sbml", broken)
    result = runner.invoke(app, ["export-sbml", str(toy_population / "pop.h5"), "--out", str(toy_population / "m.xml")])
    assert isinstance(result.exception, ValueError)
