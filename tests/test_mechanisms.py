"""Every mechanism and modifier class of SKiMpy's YAML loader: the compiled rate law equals the
law written out by hand from SKiMpy's source (``skimpy/mechanisms/*.py``,
``skimpy/core/modifiers.py``), its analytic elasticities equal complex-step derivatives, the
stability Jacobian equals complex-step and finite-difference Jacobians of the ODE, and the
YAML round-trips. Reference numbers of the original SKiMpy for small models of each class are
checked in ``test_skimpy_classes.py``."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from renaissance.dynamics.system import rate_laws
from renaissance.errors import ModelFormatError
from renaissance.model import compile_model, model_from_dict, model_to_dict
from renaissance.model.mechanisms import MECHANISMS, MODIFIERS

from .all_classes import HILL, all_classes_dict
from .oracle_rates import reaction_rates

@pytest.fixture(scope="module")
def all_cm(all_classes_cm):
    return all_classes_cm


def _by_hand(x: dict, K: dict, p: dict) -> dict:
    """Rates with V = 1 written out from SKiMpy's expressions (x, K by name; p: Keq and fixed)."""
    a, b, c, d, e, h, xe = (x[s] for s in ("a", "b", "c", "d", "e", "h", "x_e"))
    k = lambda name, r: K[f"{name}_{r}"]  # noqa: E731
    keq = lambda r: p[f"k_equilibrium_{r}"]  # noqa: E731
    out = {}
    s, pr = a / k("km_substrate", "RMM"), b / k("km_product", "RMM")
    out["RMM"] = (a - b / keq("RMM")) / k("km_substrate", "RMM") / (1 + s + pr) * (1 + d / k("k_activation_AM_d", "RMM"))
    s1, s2, p1 = a / k("km_substrate1", "CONV"), b / k("km_substrate2", "CONV"), c / k("km_product1", "CONV")
    den = (1 + s1) * (1 + s2 + s2 ** 2) + (1 + p1) - 1
    sham = 1 + (e / k("k_activation_SHAM_e", "CONV")) ** p["hill_coefficient_SHAM_e_CONV"]
    out["CONV"] = (s1 * s2 ** 2 - c / keq("CONV") / (k("km_substrate1", "CONV") * k("km_substrate2", "CONV") ** 2)) / den * sham
    s1, s2, p1 = a / k("km_substrate1", "CONVI"), b / k("km_substrate2", "CONVI"), c / k("km_product1", "CONVI")
    den = (1 + s1) * (1 + s2) + (1 + p1 + p1 ** 2) - 1 + d / k("ki_inhibitor1", "CONVI") + xe / k("ki_inhibitor2", "CONVI")
    out["CONVI"] = (s1 * s2 - c ** 2 / keq("CONVI") / (k("km_substrate1", "CONVI") * k("km_substrate2", "CONVI"))) / den

    def nn(r, extra=0.0, hill=1.0):
        ks1, ks2, kp1, kp2 = (k(n, r) for n in ("km_substrate1", "km_substrate2", "km_product1", "km_product2"))
        num = (a * b - c * d / keq(r)) / (ks1 * ks2)
        pairs = [a / ks1 + c / kp1, b / ks2 + d / kp2]
        if extra:
            return num / ((1 + pairs[0]) * (1 + pairs[1]) + extra)
        return num * np.prod([q ** (hill - 1) / (1 + q ** hill) for q in pairs])

    out["H1"] = nn("H1") / (1 + e / k("k_inhibition_IM_e", "H1"))
    out["H1I"] = nn("H1I", extra=e / k("ki_inhibitor1", "H1I"))
    out["GRH"] = nn("GRH", hill=HILL["GRH"])
    hh = HILL["UNIBI"]
    ks, kp1, kp2 = (k(n, "UNIBI") for n in ("km_substrate", "km_product1", "km_product2"))
    big_h = a / ks + b / kp1 * c / kp2
    den = 1 + (a / ks + b / kp1) ** hh + (a / ks + c / kp2) ** hh + big_h ** hh - 2 * a / ks ** hh
    out["UNIBI"] = (a - b * c / keq("UNIBI")) / ks * big_h ** (hh - 1) / den
    hh = HILL["BIUNI"]
    ks1, ks2, kp = (k(n, "BIUNI") for n in ("km_substrate1", "km_substrate2", "km_product"))
    big_g = a / ks1 * b / ks2 + c / kp
    den = 1 + (a / ks1 + c / kp) ** hh + (b / ks2 + c / kp) ** hh + big_g ** hh - 2 * c / kp ** hh
    out["BIUNI"] = (a * b - c / keq("BIUNI")) / (ks1 * ks2) * big_g ** (hh - 1) / den
    kis1, kis2, kms2, kmp1, kip1, kip2 = (k(n, "RBB") for n in (
        "ki_substrate1", "ki_substrate2", "km_substrate2", "km_product1", "ki_product1", "ki_product2"))
    den = 1 + a / kis1 + b / kis2 + c / kip1 + d / kip2 + a * b / (kis1 * kms2) + c * d / (kip2 * kmp1)
    out["RBB"] = (a * b - c * d / keq("RBB")) / (kis1 * kms2) / den
    m = (d / k("k_activation_HAM_d", "IMM")) ** p["hill_coefficient_HAM_d_IMM"]
    out["IMM"] = (a / (a + k("km_substrate1", "IMM")) * b / (b + k("km_substrate2", "IMM"))
                  * (1 + p["a_max_HAM_d_IMM"] * m / (1 + m)))
    sig = (a / k("km_substrate", "IH")) ** HILL["IH"]
    out["IH"] = sig / (1 + sig) / (1 + (e / k("k_inhibition_HIM_e", "IH")) ** p["hill_coefficient_HIM_e_IH"])
    s1 = (a / k("km_substrate1", "IHNM")) ** p["hill_coefficient_substrate1_IHNM"]
    s2 = (b / k("km_substrate2", "IHNM")) ** p["hill_coefficient_substrate2_IHNM"]
    out["IHNM"] = s1 / (1 + s1) * s2 / (1 + s2)
    out["RMA"] = a - b * h ** 2 / keq("RMA")
    out["IMA"] = a * b * h
    return out


def _random_point(cm, rng):
    ln_x = rng.uniform(math.log(1e2), math.log(1e6), len(cm.species))
    ln_k = rng.uniform(math.log(1e2), math.log(1e6), len(cm.km_names))
    return ln_x, ln_k


def test_every_class_of_the_loader_is_in_the_model(all_cm):
    reactions = all_cm.model.reactions.values()
    assert {r.mechanism for r in reactions} == set(MECHANISMS)
    assert {m.kind for r in reactions for m in r.modifiers} == set(MODIFIERS)
    kinds = dict(zip(all_cm.km_names, all_cm.km_kinds))
    assert kinds["ki_inhibitor2_CONVI"] == kinds["k_inhibition_IM_e_H1"] == kinds["ki_substrate1_RBB"] == "ki"
    assert kinds["k_activation_HAM_d_IMM"] == "ka" and kinds["km_product1_RBB"] == "km"
    # SKiMpy's declaration order: mechanism constants, then the modifiers'
    assert [n for n in all_cm.km_names if n.endswith("_RBB")] == [
        f"{n}_RBB" for n in ("ki_substrate1", "ki_substrate2", "km_substrate2", "km_product1", "ki_product1", "ki_product2")]
    assert [n for n in all_cm.km_names if n.endswith("_RMM")] == ["km_substrate_RMM", "km_product_RMM",
                                                                  "k_activation_AM_d_RMM"]


def test_rates_equal_the_laws_written_out(all_cm):
    rng = np.random.default_rng(3)
    for _ in range(5):
        ln_x, ln_k = _random_point(all_cm, rng)
        v = reaction_rates(all_cm, ln_x, ln_k, np.ones(all_cm.n_reactions))
        expected = _by_hand(dict(zip(all_cm.species, np.exp(ln_x))), dict(zip(all_cm.km_names, np.exp(ln_k))),
                            all_cm.model.parameters)
        for k, rid in enumerate(all_cm.structure.reactions):
            assert v[k] == pytest.approx(expected[rid], rel=1e-12), rid


def test_analytic_elasticities_equal_complex_step(all_cm):
    rng = np.random.default_rng(4)
    step = 1e-30
    for _ in range(3):
        ln_x, ln_k = _random_point(all_cm, rng)
        vmax = np.exp(rng.uniform(0, 5, all_cm.n_reactions))
        v, dv = rate_laws(all_cm, ln_k, vmax).rates_and_elasticities(ln_x)
        exact = np.stack([reaction_rates(all_cm, ln_x + 1j * step * np.eye(len(ln_x))[j], ln_k, vmax).imag / step
                          for j in range(len(ln_x))], axis=1)
        np.testing.assert_allclose(v, reaction_rates(all_cm, ln_x, ln_k, vmax), rtol=1e-13)
        assert np.abs(dv - exact).max() <= 1e-12 * np.abs(exact).max()
        for k, rid in enumerate(all_cm.structure.reactions):  # each reaction on its own scale
            assert np.abs(dv[k] - exact[k]).max() <= 1e-11 * np.abs(exact[k]).max(), rid


def test_yaml_round_trip_keeps_every_class(all_cm):
    data = model_to_dict(all_cm.model)
    again = compile_model(model_from_dict(copy.deepcopy(data)))
    assert again.km_names == all_cm.km_names
    for name in ("forward", "backward", "prefactor", "mono_x", "mono_km", "term_power", "term_coef", "fac_exponent"):
        np.testing.assert_array_equal(getattr(again, name), getattr(all_cm, name), err_msg=name)
    regulators = data["reactions"]["H1"]["modifiers"]["e"]
    assert regulators == {"class": "InhibitionModifier", "mechanism_stoichiometry": {"inhibitor": 0}, "inhibitor": "e"}
    assert data["reactions"]["CONVI"]["mechanism"]["inhibitors"] == {"inhibitor1": "d", "inhibitor2": "x_e"}


def test_regulators_are_variables_not_reactants(all_cm):
    st = all_cm.structure
    # 'e' only regulates: a balanced species with no stoichiometry, hence its own trivial pool
    assert "e" in st.variables
    row = st.variables.index("e")
    assert not st.S[row].any() and "e" in [st.variables[i] for i in st.dependent]
    # the inhibitor held constant is a boundary species, read by CONVI's rate law
    assert "x_e" in st.boundary and all_cm.reads[st.reactions.index("CONVI"), all_cm.species.index("x_e")]


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["reactions"]["RMM"]["mechanism"].update({"class": "MM2"}),
     "reaction 'RMM': unknown mechanism class 'MM2'; known: ['BiUniReversibleHill'"),
    (lambda d: d["reactions"]["H1"]["modifiers"]["e"].update({"class": "Repressor"}),
     "reaction 'H1' modifier 'e': unknown modifier class 'Repressor'; known: ['DisplacementSmallMoleculeModifier'"),
    (lambda d: d["parameters"].pop("a_max_HAM_d_IMM"),
     "reaction 'IMM': parameter a_max_HAM_d_IMM must be a finite number >= 0"),
    (lambda d: d["parameters"].update({"hill_coefficient_substrate2_IHNM": None}),
     "reaction 'IHNM': parameter hill_coefficient_substrate2_IHNM must be a finite number > 0"),
    (lambda d: d["reactions"]["CONVI"]["mechanism"].pop("inhibitors"),
     "reaction 'CONVI': ConvenienceInhibited needs an 'inhibitors' mapping"),
    (lambda d: d["reactions"]["CONV"]["mechanism"].update({"inhibitors": {"inhibitor1": "d"}}),
     "reaction 'CONV': Convenience takes no inhibitors"),
    (lambda d: d["reactions"]["H1I"]["mechanism"].update({"inhibitors": {"inhibitor2": "e"}}),
     "reaction 'H1I': inhibitors ['inhibitor2'] must be named ['inhibitor1']"),
    (lambda d: d["reactions"]["RMM"]["modifiers"]["d"].update({"mechanism_stoichiometry": {"activator": 1}}),
     "an activator is not a reactant: stoichiometry must be 0"),
    (lambda d: d["reactions"]["RMM"]["modifiers"]["d"].update({"activator": "zz"}),
     "reaction 'RMM' modifier 'd': activator: undeclared reactant 'zz'"),
    (lambda d: d["reactions"]["GRH"]["mechanism"]["mechanism_stoichiometry"].update({"substrate1": -2.0}),
     "GeneralizedReversibleHill needs n:n roles, all |stoichiometry| 1"),
    (lambda d: d["reactions"]["RMM"].update({"enzyme": "E1"}), "enzyme 'E1': rates written as kcat x enzyme"),
])
def test_bad_classes_are_one_clear_error(edit, message):
    data = all_classes_dict()
    edit(data)
    with pytest.raises(ModelFormatError, match="^m.yaml: " if "m.yaml" in message else None) as info:
        model_from_dict(data, source="m.yaml")
    assert str(info.value).startswith("m.yaml: ") and message in str(info.value), str(info.value)
