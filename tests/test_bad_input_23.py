"""Issue 23, items 4, 9, 10 and 11: hostile inputs that gave a traceback, an error without its
file, or no error at all. Each is one clear line naming the file (or option) and the problem,
exit code != 0, no traceback, nothing half-written."""

from __future__ import annotations

import errno
import shutil
from dataclasses import replace

import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from renaissance._files import write_hdf5_atomic
from renaissance.cli import app
from renaissance.errors import ParameterFileError, RenaissanceError, SettingsError
from renaissance.generator import load_settings, train
from renaissance.generator.checkpoint import load_checkpoint, save_checkpoint
from renaissance.generator.population import generate_population
from renaissance.generator.settings import with_overrides
from renaissance.parameterised import PopulationWriter, ProblemSettings, open_population, parameterise
from renaissance.plumbing import resumable
from renaissance.steadystate import read_steady_state

from .conftest import DATA, FIXTURES
from .test_bad_input import _fails

runner = CliRunner()
TOY_MODEL, TOY_STATE = DATA / "toy_model.yaml", DATA / "toy_steady_state.csv"
V1_POPULATION = FIXTURES.parent / "population_v1" / "toy_population_v0.3.h5"
#: the folder the 0.3 fixture's settings name (where it was written)
V1_DATA_DIR = "/tmp/wt_v1/src/renaissance/data"
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this torch has CUDA")


# --- helpers ------------------------------------------------------------------------------------

def _toy_config(path, top: str = "", problem: str = "", nes: str = ""):
    """A toy training configuration at ``path`` (absolute paths; 1 small generation) with extra
    TOML lines for the top level, [problem] and [nes]."""
    path.write_text(f"{top}\nfinal_samples = 5\n[problem]\nmodel = '{TOY_MODEL}'\nsteady_state = '{TOY_STATE}'\n"
                    f"{problem}\n[generator]\nhidden = [8]\n[nes]\ngenerations = 1\nmodels_per_child = 5\n"
                    f"monitor_models = 0\n{nes}\n")
    return path


def _toy_settings(generations: int = 1):
    settings = with_overrides(load_settings(DATA / "toy_train.toml"), generator={"hidden": (8,)},
                              nes={"generations": generations, "models_per_child": 5, "monitor_models": 0})
    return replace(settings, final_samples=5)


def _write_population(model, path, n: int = 4, seed: int = 0):
    """A population of ``n`` random Km sets of ``model`` (Vmax back-calculated), as generate writes it."""
    ln_km = np.random.default_rng(seed).uniform(np.log(1e-5), np.log(1e-2), (n, model.n_km))

    def write(f, check):
        writer = PopulationWriter(f, model)
        writer.append(ln_km, np.full(n, -3.0), np.ones(n, dtype=bool), np.zeros(n, dtype=np.int8))
        writer.finish(path, {"threshold": -2.5, "seed": seed})

    write_hdf5_atomic(path, write)
    return path


def _replace_datasets(path, **datasets):
    """Replace datasets of an HDF5 file (strings as HDF5 strings)."""
    with h5py.File(path, "r+") as f:
        for key, data in datasets.items():
            del f[key]
            string = np.asarray(data).dtype.kind in "OSU"
            f.create_dataset(key, data=data, dtype=h5py.string_dtype() if string else None)


def _copy(source, target):
    shutil.copy(source, target)
    return target


def _edited_model(tmp_path, old: str, new: str, after: str = "") -> str:
    """The toy model with the first ``old`` after ``after`` replaced by ``new``, as a file."""
    text = TOY_MODEL.read_text()
    start = text.index(after) if after else 0
    assert old in text[start:], old
    path = tmp_path / "model.yaml"
    path.write_text(text[:start] + text[start:].replace(old, new, 1))
    return str(path)


def _refused_option(args: list[str], option: str) -> None:
    """A value outside an option's range: click's one usage line, exit code 2, no traceback."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"Invalid value for '{option}'" in result.output and "greater than or equal to 1" in result.output


@pytest.fixture(scope="module")
def models():
    """The toy model and the E. coli model (reference fixture state), parameterised."""
    toy = parameterise(ProblemSettings(model=str(TOY_MODEL), steady_state=str(TOY_STATE)))
    ecoli = parameterise(ProblemSettings(model=str(DATA / "ecoli_varma_curated.yaml"),
                                         steady_state=str(FIXTURES / "steady_state.csv")))
    return toy, ecoli


@pytest.fixture(scope="module")
def populations(models, tmp_path_factory):
    """(toy population, E. coli population) files."""
    root = tmp_path_factory.mktemp("populations")
    return _write_population(models[0], root / "toy.h5"), _write_population(models[1], root / "ecoli.h5")


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("toy_run") / "run"
    train(_toy_settings(), run_dir)
    return run_dir


# --- item 4 (and 10, 11): populations are checked when they open ----------------------------------

def test_population_with_reversed_parameter_names(populations, tmp_path):
    path = _copy(populations[0], tmp_path / "reversed.h5")
    with h5py.File(path) as f:
        names = [n.decode() for n in f["parameter_names"][()]]
    _replace_datasets(path, parameter_names=np.array(names[::-1], dtype=object))
    with pytest.raises(ParameterFileError, match=r"reversed\.h5: parameter_names: the Km names are not the model's "
                                                 r"\(20 stored, 20 in the model; first difference at column 0"):
        open_population(path)


def test_ecoli_values_under_the_toy_models_names(populations, models, tmp_path):
    """E. coli Km values in a toy population (names untouched): the stored Vmax no longer follow
    from the Km at the toy state; export-sbml refuses it and writes nothing."""
    path = _copy(populations[0], tmp_path / "mixed.h5")
    with h5py.File(populations[1]) as f:
        ecoli_values = f["parameter_values"][()]
    with h5py.File(path, "r+") as f:
        values = f["parameter_values"][()]
        values[:, :models[0].n_km] = ecoli_values[:, :models[0].n_km]
        f["parameter_values"][...] = values
    with pytest.raises(ParameterFileError, match=r"mixed\.h5: parameter_values: the Vmax are not those of the model"):
        open_population(path)
    out = tmp_path / "toy.xml"
    _fails(["export-sbml", str(path), "--out", str(out)], str(path), "the Vmax are not those of the model",
           "made with another model or state")
    assert not out.exists()


def test_ecoli_names_and_values_under_the_toy_problem(populations, tmp_path):
    path = _copy(populations[0], tmp_path / "ecoli_in_toy.h5")
    with h5py.File(populations[1]) as f:
        names, values = f["parameter_names"][()], f["parameter_values"][()]
    _replace_datasets(path, parameter_names=names.astype(object), parameter_values=values)
    _fails(["export-sbml", str(path), "--out", str(tmp_path / "m.xml")], str(path),
           "the Km names are not the model's (384 stored, 20 in the model")
    assert not (tmp_path / "m.xml").exists()


def test_toy_values_under_ecoli_attributes(populations, tmp_path):
    """Item 11: was "matmul: Input operand 1 has a mismatch ..." without the file."""
    path = _copy(populations[1], tmp_path / "toy_in_ecoli.h5")
    with h5py.File(populations[0]) as f:
        names, values = f["parameter_names"][()], f["parameter_values"][()]
    _replace_datasets(path, parameter_names=names.astype(object), parameter_values=values)
    out = tmp_path / "rob"
    text = _fails(["robustness", str(path), "--all-models", "--workers", "1", "--out", str(out)], str(path),
                  "the Km names are not the model's (20 stored, 384 in the model")
    assert "matmul" not in text and not out.exists()


def test_population_with_lambda_max_of_the_wrong_length(populations, tmp_path):
    path = _copy(populations[0], tmp_path / "short.h5")
    _replace_datasets(path, lambda_max=np.zeros(3))
    with pytest.raises(ParameterFileError, match=r"short\.h5: inconsistent shapes: .*lambda_max \(3,\)"):
        open_population(path)


@pytest.mark.parametrize("bad", [np.nan, -1.0])
def test_population_with_a_nan_or_negative_km_row(populations, tmp_path, bad):
    path = _copy(populations[0], tmp_path / "bad_km.h5")
    with h5py.File(path, "r+") as f:
        values = f["parameter_values"][()]
        values[2, 1] = bad
        f["parameter_values"][...] = values
    _fails(["export-sbml", str(path), "--out", str(tmp_path / "m.xml")], str(path),
           "parameter_values: 1 row(s) with Km that are not finite numbers > 0 (first: row 2,", repr(bad))


def test_version_2_embedded_state_changed_is_refused_by_its_digest(populations, tmp_path):
    """Version 2: the state travels inside the file, so a state "pointing elsewhere" is an embedded
    state changed after writing (here: every flux doubled, still a valid state)."""
    path = _copy(populations[0], tmp_path / "pop.h5")
    with h5py.File(path) as f:
        text = f["problem/steady_state"][()].decode()
    doubled = "\n".join(_doubled_flux(line) for line in text.splitlines()) + "\n"
    _replace_datasets(path, **{"problem/steady_state": doubled})
    with pytest.raises(RenaissanceError, match=r"pop\.h5: problem/steady_state: does not match its digest"):
        open_population(path)


def test_version_2_steady_state_attribute_is_only_a_label(populations, tmp_path):
    path = _copy(populations[0], tmp_path / "pop.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["steady_state"] = str(tmp_path / "elsewhere.csv")
    _, model = open_population(path)
    assert model.state.fluxes == read_steady_state(TOY_STATE).fluxes


def _doubled_flux(line: str) -> str:
    sid, kind, value = line.split(",")
    return f"{sid},{kind},{2 * float(value)!r}" if kind == "flux" else line


def _v1_population(tmp_path, state=TOY_STATE):
    """The 0.3 fixture, its settings pointed at the shipped toy model and at ``state``."""
    path = _copy(V1_POPULATION, tmp_path / "old.h5")
    with h5py.File(path, "r+") as f:
        config = f.attrs["config"].replace(f"{V1_DATA_DIR}/toy_steady_state.csv", str(state))
        f.attrs["config"] = config.replace(V1_DATA_DIR, str(DATA))
    return path


def test_version_1_settings_naming_another_state_are_refused(tmp_path):
    """Version 1 reads the state its settings (``config``) name: another state than the rows were
    made at (every flux doubled) gives other Vmax, and the population is refused."""
    state = tmp_path / "doubled.csv"
    state.write_text("\n".join(_doubled_flux(line) if i else line
                               for i, line in enumerate(TOY_STATE.read_text().splitlines())) + "\n")
    path = _v1_population(tmp_path, state)
    _fails(["robustness", str(path), "--all-models", "--workers", "1", "--out", str(tmp_path / "rob")], str(path),
           f"the Vmax are not those of the model at {state}", "made with another model or state")
    assert not (tmp_path / "rob").exists()


def test_version_1_steady_state_attribute_is_only_a_label(tmp_path):
    """The attribute ``steady_state`` pointing elsewhere: the state used is the one the settings record."""
    path = _v1_population(tmp_path)
    with h5py.File(path, "r+") as f:
        f.attrs["steady_state"] = str(tmp_path / "elsewhere.csv")
    pop, model = open_population(path)
    assert model.label == str(TOY_STATE) and len(pop) == 6


# --- item 9: tracebacks ----------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["0", "-1.0", ".nan", ".inf"])
def test_model_with_a_bad_volume(tmp_path, value):
    path = _edited_model(tmp_path, "volume_c: 0.9", f"volume_c: {value}")
    _fails(["check-model", path], path, "parameter 'volume_c': volume", "must be a finite number > 0 (the mass "
                                                                       "balances of compartment 'c' divide by it)")


@pytest.mark.parametrize("value", [".inf", ".nan"])
def test_model_with_a_non_finite_stoichiometry(tmp_path, value):
    """Item 9 (.inf: OverflowError) and item 11 (NaN: an error without the file)."""
    path = _edited_model(tmp_path, "product1: 1.0", f"product1: {value}", after="mechanism_stoichiometry")
    _fails(["check-model", path], path, "stoichiometry of 'product1': expected a finite number, got")


@pytest.mark.parametrize("device, expected", [
    pytest.param("cuda", ("'cuda': cuda is not available (this torch", "built without CUDA"), marks=NO_CUDA),
    ("foo", ("'foo', must be a torch device such as cpu, cuda",)),
])
def test_device_that_cannot_run(toy_run, tmp_path, device, expected):
    """Item 9: --device cuda with the CPU build of torch, and a device torch does not know."""
    out = tmp_path / "pop.h5"
    config = _toy_config(tmp_path / "toy.toml")
    for args in (["train", "--config", str(config), "--out", str(tmp_path / "run"), "--device", device],
                 ["generate", str(toy_run), "--n", "2", "--out", str(out), "--device", device],
                 _stability_args(tmp_path) + ["--backend", "torch", "--device", device]):
        _fails(args, *expected)
    assert not (tmp_path / "run").exists() and not out.exists() and not (tmp_path / "l.csv").exists()


def _stability_args(tmp_path, km=FIXTURES / "km.csv") -> list[str]:
    return ["stability", "--km", str(km), "--steady-state", str(FIXTURES / "steady_state.csv"),
            "--out", str(tmp_path / "l.csv")]


# --- item 10: accepted silently ----------------------------------------------------------------

@pytest.mark.parametrize("nes, expected", [
    ("learning_rate = 1e300", "nes.learning_rate == 1e+300, must be a finite number in [0.0, 1.0]"),
    ("sigma = 1e300", "nes.sigma == 1e+300, must be a finite number in (0.0, 1.0]"),
    ("threshold = 5.0", "nes.threshold == 5.0, must be a finite number in [-inf, 0.0)"),
    ("threshold = nan", "nes.threshold == nan, must be a finite number in [-inf, 0.0)"),
])
def test_training_settings_out_of_range(tmp_path, nes, expected):
    config = _toy_config(tmp_path / "toy.toml", nes=nes)
    _fails(["train", "--config", str(config), "--out", str(tmp_path / "run")], str(config), expected)
    assert not (tmp_path / "run").exists()


def test_weights_that_become_non_finite_stop_training_and_keep_the_last_checkpoint(tmp_path):
    """A run whose learning rate is 1e300 from its second generation on (the rate a checkpoint
    carries): the update overflows the weights; the run stops with one error and its checkpoint
    is still generation 1's."""
    run_dir = tmp_path / "run"
    train(_toy_settings(generations=1), run_dir)
    state = load_checkpoint(run_dir)
    good = state.theta.clone()
    state.learning_rate = 1e300
    save_checkpoint(run_dir, state)
    config = run_dir / "config.toml"
    config.write_text(config.read_text().replace("generations = 1", "generations = 3"))
    _fails(["train", "--out", str(run_dir), "--resume", "--no-plots"], str(run_dir), "generation 2",
           "weights NaN or infinite", f"{run_dir / 'checkpoint.npz'} keeps generation 1")
    kept = load_checkpoint(run_dir)
    assert kept.generation == 1 and torch.equal(kept.theta, good)
    with pytest.raises(RenaissanceError, match="weights NaN or infinite"):
        train(None, run_dir, resume=True)


@pytest.mark.parametrize("row, expected", [
    ("km_substrate1_ATPM,,,1e300,mM,x", "value: '1e300' mM = 1e+297 mol/L is outside the physical range"),
    ("km_substrate1_ATPM,,,500,M,x", "value: '500' M is outside the physical range 1e-15..100 mol/L"),
    (None, "no fixed Km (an empty file"),
])
def test_fixed_km_out_of_range_or_empty(tmp_path, row, expected):
    fixed = tmp_path / "fixed.csv"
    fixed.write_text("" if row is None else f"name,min,max,value,unit,source\n{row}\n")
    config = _toy_config(tmp_path / "toy.toml", problem=f"fixed_km = '{fixed}'")
    _fails(["train", "--config", str(config), "--out", str(tmp_path / "run")], str(fixed), expected)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("value", ["1e300", "1e-300"])
def test_km_table_outside_the_physical_range(tmp_path, value):
    lines = (FIXTURES / "km.csv").read_text().splitlines()
    name = lines[0].split(",")[0]
    km = tmp_path / "km.csv"
    km.write_text("\n".join([lines[0], value + lines[1][lines[1].index(","):]]) + "\n")
    _fails(_stability_args(tmp_path, km), str(km), f"row 1, '{name}': value '{value}' mol/L is outside the physical "
                                                   "range 1e-15..100 mol/L")
    assert not (tmp_path / "l.csv").exists()


def test_model_with_an_undeclared_compartment(tmp_path):
    path = _edited_model(tmp_path, "compartment: c", "compartment: x", after="\nreactants:")
    _fails(["check-model", path], path, "reactant 'adp_c': compartment 'x' is not declared under 'compartments'")


def test_reactant_whose_name_differs_from_its_key(tmp_path):
    path = _edited_model(tmp_path, "name: adp_c", "name: atp_c", after="\nreactants:")
    _fails(["check-model", path], path, "reactant 'adp_c': name 'atp_c' differs from its key")


def test_steady_state_without_any_flux(tmp_path):
    state = tmp_path / "still.csv"
    state.write_text("\n".join(line.rsplit(",", 1)[0] + ",0.0" if ",flux," in line else line
                               for line in TOY_STATE.read_text().splitlines()) + "\n")
    _fails(["check-model", str(TOY_MODEL), "--steady-state", str(state)], str(state), "fluxes: all", "are 0")


def test_counts_below_one_are_refused(toy_run, populations, tmp_path):
    _refused_option(["generate", str(toy_run), "--n", "-5", "--out", str(tmp_path / "p.h5")], "--n")
    _refused_option(["robustness", str(populations[0]), "--max-models", "-1", "--out", str(tmp_path / "r")],
                    "--max-models")
    _refused_option(["robustness", str(populations[0]), "--workers", "-3", "--out", str(tmp_path / "r")], "--workers")
    _refused_option(["train", "--config", str(_toy_config(tmp_path / "toy.toml")), "--generations", "0",
                     "--out", str(tmp_path / "run")], "--generations")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.toml"]


# --- item 11: errors without their file ----------------------------------------------------------

def test_seed_beyond_64_bits(toy_run, tmp_path):
    config = _toy_config(tmp_path / "toy.toml", top=f"seed = {10**20}")
    _fails(["train", "--config", str(config), "--out", str(tmp_path / "run")], str(config),
           f"seed == {10**20}, must be an int >= 0 and <= {2**63 - 1}")
    with pytest.raises(SettingsError, match=r"seed == 100000000000000000000, must be an int >= 0 and <="):
        generate_population(toy_run, 2, tmp_path / "pop.h5", seed=10**20)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.toml"]


class _FullDisk:
    """An open file on a full disk: every write fails."""

    def __init__(self, *args, **kwargs):
        pass

    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def test_disk_full_during_robustness(populations, tmp_path, monkeypatch):
    """The first model's rows cannot be appended: one line naming runs.csv; the table keeps its
    header and nothing else (a resume runs every model)."""
    monkeypatch.setattr(resumable, "open", _FullDisk, raising=False)
    out = tmp_path / "rob"
    _fails(["robustness", str(populations[0]), "--all-models", "--max-models", "1", "--workers", "1",
            "--perturbation", "0.05", "--out", str(out)],
           f"{out / 'runs.csv'}: cannot write file (No space left on device)", "run again with --resume")
    assert len((out / "runs.csv").read_text().splitlines()) == 1
