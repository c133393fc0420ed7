"""SKiMpy YAML reading/writing on the shipped E. coli model, and clear errors on bad input."""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

from renaissance.errors import ModelFormatError
from renaissance.model import load_model, model_from_dict, model_to_dict, save_model
from renaissance.model.io import read_yaml

from .conftest import DATA


def test_ecoli_counts(ecoli):
    assert len(ecoli.reactions) == 123
    assert len(ecoli.species) == 112
    assert len(ecoli.boundary_species) == 22
    mechanisms = Counter(r.mechanism for r in ecoli.reactions.values())
    assert mechanisms == {
        "ReversibleMichaelisMenten": 38, "H1GeneralizedReversibleHill": 33, "RevMassaction": 20,
        "Convenience": 15, "UniBiReversibleHill": 9, "IrrevMichaelisMenten": 7, "BiUniReversibleHill": 1,
    }
    modifiers = Counter(m.kind for r in ecoli.reactions.values() for m in r.modifiers)
    assert modifiers == {"DisplacementSmallMoleculeModifier": 68, "FirstOrderSmallMoleculeModifier": 10}
    assert sum(r.reversible for r in ecoli.reactions.values()) == 116


def test_km_names_match_reference_order(ecoli):
    assert ecoli.km_names == (DATA / "ecoli_km_names.txt").read_text().split()
    used = [n for r in ecoli.reactions.values() for n in r.rate_km_names]
    assert len(ecoli.km_names) == 384 and len(used) == 384 - 26


def test_dict_layer_reproduces_the_file(ecoli, ecoli_path):
    assert model_to_dict(ecoli) == read_yaml(ecoli_path)


def test_yaml_round_trip(ecoli, tmp_path):
    out = tmp_path / "model.yaml"
    save_model(ecoli, out)
    again = load_model(out)
    assert again == ecoli
    assert "&id" not in out.read_text()  # anchors resolved, plain YAML


def _raw(path):
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["reactions"]["PGI"]["mechanism"].update({"class": "MM2"}), "reaction 'PGI': unknown mechanism class 'MM2'"),
        (lambda d: d["reactions"]["PGI"]["mechanism"].update({"substrate": "zz_c"}), "reaction 'PGI': role 'substrate' uses undeclared reactant 'zz_c'"),
        (lambda d: d["parameters"].update({"k_equilibrium_PGI": None}), "reaction 'PGI': reversible mechanism ReversibleMichaelisMenten needs a positive finite k_equilibrium_PGI"),
        (lambda d: d["parameters"].pop("k_equilibrium_ENO"), "reaction 'ENO': reversible mechanism"),
        (lambda d: d["reactions"]["PGI"]["modifiers"].update({"X": {"class": "Allosteric", "small_molecule": "h_c", "mechanism_stoichiometry": {"small_molecule": 1}}}), "reaction 'PGI' modifier 'X': unknown modifier class 'Allosteric'"),
        (lambda d: d["boundary_conditions"].update({"CC_x": {"class": "ConstantFlux", "reactant": "h_e"}}), "boundary condition 'CC_x': unknown class 'ConstantFlux'"),
        (lambda d: d.update({"reactionz": {}}), "top level: unknown keys ['reactionz']"),
        (lambda d: d["reactions"]["PGI"]["mechanism"].update({"product": "g6p_c"}), "reaction 'PGI': reactant 'g6p_c' fills two roles"),
        (lambda d: d["reactions"]["ACALD"]["mechanism"]["mechanism_stoichiometry"].update({"substrate1": 1.0}), "reaction 'ACALD': role 'substrate1' has stoichiometry 1.0"),
    ],
)
def test_bad_model_errors(ecoli_path, tmp_path, edit, message):
    data = _raw(ecoli_path)
    edit(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ModelFormatError) as err:
        load_model(path)
    assert str(err.value).startswith(f"{path}: {message}")


def test_duplicate_ids_are_errors(ecoli_path, tmp_path):
    text = ecoli_path.read_text()
    path = tmp_path / "dup.yaml"
    path.write_text(text.replace("\nreactants:\n", "\nreactants:\n  pyr_c:\n    compartment: c\n    name: pyr_c\n", 1))
    with pytest.raises(ModelFormatError, match=r"dup.yaml: duplicate key 'pyr_c' at line \d+"):
        load_model(path)


def test_malformed_yaml(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("reactions: [unclosed\n")
    with pytest.raises(ModelFormatError, match="broken.yaml: malformed YAML"):
        load_model(path)


def test_missing_file(tmp_path):
    with pytest.raises(ModelFormatError, match="nope.yaml: cannot read file"):
        load_model(tmp_path / "nope.yaml")


@pytest.mark.parametrize("value", [None, 0.0, -1.0, float("inf")])
def test_hill_coefficient_must_be_a_positive_number(ecoli_path, value):
    data = _raw(ecoli_path)
    data["parameters"]["hill_coefficient_FBA"] = value
    with pytest.raises(ModelFormatError, match="m.yaml: reaction 'FBA': parameter hill_coefficient_FBA must be a "
                                               "finite number > 0 in 'parameters'"):
        model_from_dict(data, source="m.yaml")


def test_model_without_michaelis_constants_compiles():
    from renaissance.model import compile_model

    model = model_from_dict({
        "reactants": {"a_e": {"compartment": "e"}, "a_c": {"compartment": "c"}},
        "boundary_conditions": {"CC_a_e": {"class": "ConstantConcentration", "reactant": "a_e"}},
        "parameters": {"k_equilibrium_T": 2.0},
        "reactions": {"T": {"mechanism": {"class": "RevMassaction", "substrate1": "a_e", "product1": "a_c",
                                          "mechanism_stoichiometry": {"substrate1": -1.0, "product1": 1.0}}}},
    })
    cm = compile_model(model)
    assert cm.km_names == [] and cm.mono_km.shape == (0, 0) and cm.structure.n_independent == 1
