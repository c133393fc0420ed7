"""Our Jacobians, Vmax and lambda_max against the original SKiMpy's, on models nobody here wrote
the numbers for: one small model per mechanism/modifier class (made and evaluated with the
SKiMpy tree that supports the class, see tests/fixtures/skimpy_classes/README.md), SKiMpy's own
kin_varma model at the shared state, and the parameter sets stored in varma_strain_1/2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from renaissance.model import compile_model, load_model
from renaissance.stability import evaluate_stability, jacobians_and_vmax, prepare_stability
from renaissance.stability.km import read_km_table
from renaissance.steadystate import read_steady_state, validate_steady_state

HERE = Path(__file__).resolve().parent / "fixtures"
CLASSES = HERE / "skimpy_classes"
KIN_VARMA = HERE / "kin_varma"
SKIMPY_MODELS = HERE / "skimpy_models"
MODELS = sorted(p.name[: -len("_reference.npz")] for p in CLASSES.glob("*_reference.npz")
                if (CLASSES / p.name.replace("_reference.npz", ".yml")).exists())


def _reference(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _compare(cm, state, km, ref):
    """Our J, Vmax and lambda_max against SKiMpy's ``ref`` for Km sets ``km`` (B, n_km) mol/L.

    lambda_max to 1e-6, or twice SKiMpy's noise floor where its eigenvalue is ill-conditioned
    (the largest change of its lambda_max under 1-ulp perturbations of its J, stored with it)."""
    st = cm.structure
    assert [st.variables[i] for i in st.independent] == list(ref["species"])
    assert [st.variables[i] for i in st.dependent] == list(ref["dependent_species"])
    problem = prepare_stability(cm, state)
    J, vmax = jacobians_and_vmax(problem, np.log(km))
    ok = ref["reasons"] == "ok"
    assert ok.any()
    for i in np.flatnonzero(ok):
        scale = np.abs(ref["jacobians"][i]).max()
        assert np.abs(J[i] - ref["jacobians"][i]).max() <= 1e-9 * scale, i
        np.testing.assert_allclose(vmax[i], ref["vmax"][i], rtol=1e-9)
    result = evaluate_stability(problem, km)
    rtol = np.maximum(1e-6, 2 * ref["lambda_max_noise_rel"])
    assert np.all(np.abs(result.lambda_max[ok] / ref["lambda_max"][ok] - 1) <= rtol[ok])
    return result


@pytest.mark.parametrize("name", MODELS)
def test_every_class_matches_skimpy(name):
    cm = compile_model(load_model(CLASSES / f"{name}.yml"))
    state = read_steady_state(CLASSES / f"{name}_ss.csv")
    validate_steady_state(cm, state)
    ref = _reference(CLASSES / f"{name}_reference.npz")
    assert cm.km_names == list(ref["parameter_names"])
    km = read_km_table(CLASSES / f"{name}_params.csv", cm.km_names)
    result = _compare(cm, state, km, ref)
    torch = evaluate_stability(prepare_stability(cm, state), km, backend="torch")  # same code on tensors
    np.testing.assert_allclose(torch.lambda_max, result.lambda_max, rtol=1e-9)


def test_the_fixtures_cover_every_class(ecoli_path):
    """The class models, kin_varma and the E. coli model (its own fixtures) use every class."""
    from renaissance.model.mechanisms import MECHANISMS, MODIFIERS

    seen = set()
    for path in [CLASSES / f"{name}.yml" for name in MODELS] + [SKIMPY_MODELS / "kin_varma.yml", ecoli_path]:
        model = load_model(path)
        seen |= {r.mechanism for r in model.reactions.values()} | {m.kind for r in model.reactions.values()
                                                                    for m in r.modifiers}
        seen |= {bc.kind for bc in model.boundary_conditions.values()}
    missing = (set(MECHANISMS) | set(MODIFIERS) | {"BoundaryFlux"}) - seen
    assert not missing, sorted(missing)




@pytest.fixture(scope="module")
def kin_varma():
    cm = compile_model(load_model(SKIMPY_MODELS / "kin_varma.yml"))
    state = read_steady_state(KIN_VARMA / "steady_state.csv")
    validate_steady_state(cm, state)
    return cm, state


def test_kin_varma_matches_skimpy(kin_varma):
    cm, state = kin_varma
    st = cm.structure
    assert (len(st.variables), st.n_independent, len(st.dependent)) == (49, 43, 6)
    km = read_km_table(KIN_VARMA / "km.csv", cm.km_names)
    result = _compare(cm, state, km, _reference(CLASSES / "kin_varma_reference.npz"))
    exact = np.loadtxt(KIN_VARMA / "lambda_max_exact.csv", skiprows=1)
    shared = np.loadtxt(KIN_VARMA / "lambda_max.csv", delimiter=",", skiprows=1, usecols=0)
    # exact: eigenvalues of SKiMpy's own Jacobians in 40 digits; shared: SKiMpy's double values,
    # up to 1e-6 from the exact ones (an ill-conditioned eigenvalue, see the fixture's README)
    np.testing.assert_allclose(result.lambda_max, exact, rtol=1e-6)
    noise = _reference(CLASSES / "kin_varma_reference.npz")["lambda_max_noise_rel"]
    assert np.all(np.abs(result.lambda_max / shared - 1) <= np.maximum(1e-6, 2 * noise))
    assert result.valid.tolist() == [False] * 6  # the stable ones are slower than 24 min


@pytest.mark.parametrize("strain", [1, 2])
def test_parameter_sets_stored_in_a_model_file(kin_varma, strain):
    """varma_strain_<k>.yml carries its own Km (µM): evaluated at the kin_varma state with kin_varma's Keq."""
    from renaissance.stability.km import read_model_constants

    cm, state = kin_varma
    km = read_model_constants(SKIMPY_MODELS / f"varma_strain_{strain}.yml", cm.km_names, concentration_scale=1e6)
    own = read_km_table(CLASSES / f"varma_strain_{strain}_own_km.csv", cm.km_names)
    np.testing.assert_allclose(km, own, rtol=1e-15)
    _compare(cm, state, km, _reference(CLASSES / f"varma_strain_{strain}_reference.npz"))


@pytest.mark.parametrize("name", ["convenience_inhibited", "h1_inhibited", "activation_modifier",
                                  "inhibition_modifier"])
def test_import_a_population_written_by_skimpy(name, tmp_path):
    """Populations written by SKiMpy's own ParameterValuePopulation.save (NOMAD's tree, which
    knows the regulated classes: every parameter of each set, model units) -> constants table ->
    lambda_max equal to SKiMpy's for the same sets."""
    from typer.testing import CliRunner

    from renaissance.cli import app

    model, out = CLASSES / f"{name}.yml", tmp_path / "km.csv"
    result = CliRunner().invoke(app, ["import-skimpy", str(CLASSES / f"{name}_population.h5"), "--model", str(model),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "wrote 5 parameter sets x" in text and "not imported:" in text and " Vmax, " in text and "does not know" not in text
    cm = compile_model(load_model(model))
    assert set(cm.km_kinds) - {"km"}  # inhibition or activation constants among them
    km = read_km_table(out, cm.km_names)
    np.testing.assert_allclose(km, read_km_table(CLASSES / f"{name}_params.csv", cm.km_names), rtol=1e-15)
    _compare(cm, read_steady_state(CLASSES / f"{name}_ss.csv"), km, _reference(CLASSES / f"{name}_reference.npz"))


def test_import_names_what_it_cannot_place_once(tmp_path):
    from typer.testing import CliRunner

    from renaissance.cli import app
    from renaissance.interop.skimpy import ParameterSets, read_skimpy_population, write_skimpy_population

    sets = read_skimpy_population(CLASSES / "activation_modifier_population.h5")
    extra = ParameterSets((*sets.names, "k_activation_AM_zz_c_R9", "foo"),
                          np.hstack([sets.values, np.ones((len(sets.values), 2))]), sets.index)
    write_skimpy_population(tmp_path / "pop.h5", extra)
    result = CliRunner().invoke(app, ["import-skimpy", str(tmp_path / "pop.h5"), "--model",
                                      str(CLASSES / "activation_modifier.yml"), "--out", str(tmp_path / "km.csv")])
    assert result.exit_code == 0, result.output
    warning = " ".join(result.output.split())
    assert warning.count("2 names this model does not know: k_activation_AM_zz_c_R9, foo") == 1
    # constants of another model: one error naming them
    result = CliRunner().invoke(app, ["import-skimpy", str(tmp_path / "pop.h5"), "--model",
                                      str(CLASSES / "convenience_inhibited.yml"), "--out", str(tmp_path / "x.csv")])
    assert result.exit_code == 1 and "not in parameter_names" in result.output


def _regulated_ecoli(path: Path, ecoli_path: Path) -> Path:
    """The shipped E. coli model with regulation added the way NOMAD adds it (competitive
    inhibitors by class change, allosteric inhibitors and activators as modifiers); the
    stoichiometry is unchanged, so the E. coli states stay steady states."""
    import yaml

    data = yaml.safe_load(ecoli_path.read_text())
    reactions = data["reactions"]
    reactions["PGK"]["mechanism"]["class"] = "H1GeneralizedReversibleHillInhibited"  # competitive
    reactions["PGK"]["mechanism"]["inhibitors"] = {"inhibitor1": "atp_c", "inhibitor2": "pep_c"}
    reactions["CS"]["mechanism"]["class"] = "ConvenienceInhibited"
    reactions["CS"]["mechanism"]["inhibitors"] = {"inhibitor1": "nadh_c"}
    regulator = lambda cls, role, sp: {"class": cls, role: sp, "mechanism_stoichiometry": {role: 0}}  # noqa: E731
    reactions["PPC"]["modifiers"]["accoa_c"] = regulator("ActivationModifier", "activator", "accoa_c")
    reactions["PPC"]["modifiers"]["fdp_c"] = regulator("ActivationModifier", "activator", "fdp_c")
    reactions["PFK"]["modifiers"]["pep_c"] = regulator("InhibitionModifier", "inhibitor", "pep_c")
    path.write_text(yaml.safe_dump(data))
    return path


def test_regulated_model_trains_with_its_own_bounds_and_fixed_constants(tmp_path, ecoli_path):
    """A regulated E. coli model at the shipped fixture state: the generator emits Km,
    inhibition and activation constants, each kind within its own bounds; an inhibition and an
    activation constant fixed by a file are drawn within their ranges."""
    from renaissance.generator import train
    from renaissance.generator.settings import settings_from_dict

    model = _regulated_ecoli(tmp_path / "regulated.yaml", ecoli_path)
    fixed = tmp_path / "fixed.csv"
    fixed.write_text("name,min,max,value,unit\nki_inhibitor2_PGK,2,3,,mM\nk_activation_AM_fdp_c_PPC,,,0.05,mM\n")
    settings = settings_from_dict({
        "problem": {"model": str(model), "fixed_km": str(fixed), "steady_state": str(HERE / "ecoli" / "steady_state.csv")},
        "generator": {"latent_dim": 8, "hidden": [16, 16], "ki_bounds": [1e-4, 1e-1], "ka_bounds": [1e-7, 1e-5]},
        "nes": {"generations": 2, "population": 4, "models_per_child": 10}, "final_samples": 40})
    run = train(settings, tmp_path / "run")
    cm = compile_model(load_model(model))
    assert {n for n, kind in zip(cm.km_names, cm.km_kinds) if kind != "km"} == {
        "ki_inhibitor1_PGK", "ki_inhibitor2_PGK", "ki_inhibitor1_CS", "k_activation_AM_accoa_c_PPC",
        "k_activation_AM_fdp_c_PPC", "k_inhibition_IM_pep_c_PFK"}
    km = np.exp(run.final_ln_km)
    kinds = cm.km_kinds
    fixed_columns = [cm.km_names.index(n) for n in ("ki_inhibitor2_PGK", "k_activation_AM_fdp_c_PPC")]
    free = np.setdiff1d(np.arange(len(kinds)), fixed_columns)
    for kind, (low, high) in (("km", (1.3e-6, 2e-2)), ("ki", (1e-4, 1e-1)), ("ka", (1e-7, 1e-5))):
        columns = free[kinds[free] == kind]
        assert len(columns) and np.all((km[:, columns] >= low * (1 - 1e-12)) & (km[:, columns] <= high * (1 + 1e-12)))
    assert np.all((km[:, fixed_columns[0]] >= 2e-3) & (km[:, fixed_columns[0]] <= 3e-3))
    assert np.all((km[:, fixed_columns[1]] >= 4e-5) & (km[:, fixed_columns[1]] <= 6e-5))
    assert len(run.free) == len(cm.km_names) - 2 and np.isfinite(run.final_lambda_max).all()
