"""A model (SKiMpy YAML layout) with one reaction of every mechanism class and every modifier
of SKiMpy's YAML loader, for the derivative and rate-law tests."""

from __future__ import annotations

HILL = {"GRH": 2.3, "UNIBI": 1.5, "BIUNI": 0.7, "IH": 1.7}


def _reaction(cls, roles, stoichiometry=None, inhibitors=None, modifiers=None):
    mechanism = {"class": cls, **roles}
    if stoichiometry is not None:
        mechanism["mechanism_stoichiometry"] = stoichiometry
    if inhibitors:
        mechanism["inhibitors"] = inhibitors
    return {"enzyme": None, "mechanism": mechanism, "modifiers": modifiers or {}}


def _regulator(cls, role, species):
    return {"class": cls, role: species, "mechanism_stoichiometry": {role: 0}}


def all_classes_dict() -> dict:
    """A model (YAML layout) with one reaction of every mechanism class and every modifier."""
    n11 = {"substrate1": -1.0, "product1": 1.0}
    n22 = {"substrate1": -1.0, "substrate2": -1.0, "product1": 1.0, "product2": 1.0}
    ab_cd = {"substrate1": "a", "substrate2": "b", "product1": "c", "product2": "d"}
    reactions = {
        "RMM": _reaction("ReversibleMichaelisMenten", {"substrate": "a", "product": "b"},
                         modifiers={"d": _regulator("ActivationModifier", "activator", "d")}),
        "CONV": _reaction("Convenience", {"substrate1": "a", "substrate2": "b", "product1": "c"},
                          {"substrate1": -1.0, "substrate2": -2.0, "product1": 1.0},
                          modifiers={"e": _regulator("SimpleHillActivationModifier", "activator", "e")}),
        "CONVI": _reaction("ConvenienceInhibited", {"substrate1": "a", "substrate2": "b", "product1": "c"},
                           {"substrate1": -1.0, "substrate2": -1.0, "product1": 2.0},
                           inhibitors={"inhibitor1": "d", "inhibitor2": "x_e"}),
        "H1": _reaction("H1GeneralizedReversibleHill", ab_cd, n22,
                        modifiers={"e": _regulator("InhibitionModifier", "inhibitor", "e")}),
        "H1I": _reaction("H1GeneralizedReversibleHillInhibited", ab_cd, n22, inhibitors={"inhibitor1": "e"}),
        "GRH": _reaction("GeneralizedReversibleHill", ab_cd, n22),
        "UNIBI": _reaction("UniBiReversibleHill", {"substrate": "a", "product1": "b", "product2": "c"}),
        "BIUNI": _reaction("BiUniReversibleHill", {"substrate1": "a", "substrate2": "b", "product": "c"}),
        "RBB": _reaction("RandBiBiReversibleMichaelisMenten", ab_cd),
        "IMM": _reaction("IrrevMichaelisMenten", {"substrate1": "a", "substrate2": "b", "product1": "c"},
                         {"substrate1": -1.0, "substrate2": -1.0, "product1": 1.0},
                         modifiers={"d": _regulator("HillActivationModifier", "activator", "d")}),
        "IH": _reaction("IrreversibleHill", {"substrate": "a", "product": "b"},
                        modifiers={"e": _regulator("HillInhibitionModifier", "inhibitor", "e")}),
        "IHNM": _reaction("IrrevHillNM", {"substrate1": "a", "substrate2": "b", "product1": "c"},
                          {"substrate1": -1.0, "substrate2": -1.0, "product1": 1.0}),
        "RMA": _reaction("RevMassaction", {"substrate1": "a", "product1": "b"}, n11,
                         modifiers={"DSM_h": {"class": "DisplacementSmallMoleculeModifier", "small_molecule": "h",
                                              "mechanism_stoichiometry": {"small_molecule": 2.0}}}),
        "IMA": _reaction("IrrevMassaction", {"substrate1": "a", "substrate2": "b", "product1": "c"},
                         {"substrate1": -1.0, "substrate2": -1.0, "product1": 1.0},
                         modifiers={"FOSM_h": {"class": "FirstOrderSmallMoleculeModifier", "small_molecule": "h",
                                               "mechanism_stoichiometry": {"small_molecule": -1.0}}}),
    }
    for rid in reactions:
        reactions[rid]["name"] = rid
    parameters = {f"k_equilibrium_{r}": k for r, k in zip(
        ("RMM", "CONV", "CONVI", "H1", "H1I", "GRH", "UNIBI", "BIUNI", "RBB", "RMA"),
        (2.0, 3e-4, 50.0, 0.7, 1.3, 4.0, 2e3, 5e-3, 0.9, 1.5))}
    parameters.update({f"hill_coefficient_{r}": h for r, h in HILL.items()})
    parameters.update({"hill_coefficient_substrate1_IHNM": 1.3, "hill_coefficient_substrate2_IHNM": 2.1,
                       "hill_coefficient_SHAM_e_CONV": 1.8, "hill_coefficient_HAM_d_IMM": 2.0,
                       "a_max_HAM_d_IMM": 3.0, "hill_coefficient_HIM_e_IH": 1.4,
                       "volume_c": 0.9, "cell_volume_c": 1.0})
    species = ("a", "b", "c", "d", "e", "h", "x_e")
    return {
        "name": "all_classes",
        "compartments": {"c": "c", "e": "e"},
        "reactants": {s: {"compartment": "e" if s.endswith("_e") else "c", "name": s} for s in species},
        "boundary_conditions": {"CC_x_e": {"class": "ConstantConcentration", "reactant": "x_e"}},
        "parameters": parameters,
        "reactions": reactions,
    }
