"""Rate-law mechanisms and modifiers of the SKiMpy YAML format, as exponent tables.

Every rate law of SKiMpy's loader (docs/math.md writes each one out) has the form

    v = V * prod_K K^b * (T_f(x) - T_b(x) / Keq) * prod_f F_f(x, K)^e_f
    F_f = sum_t c_t * (sum_{m in t} M_m)^p_t,     M_m = prod_j x_j^a_mj * prod_K K^c_mK

with ``T_f``/``T_b`` monomials in the concentrations, ``b`` the exponents of the saturation
constants in the prefactor, and each factor ``F_f`` a sum of terms, each term a coefficient times
a power of a sum of monomials. A Michaelis-Menten denominator is one factor with exponent -1
whose terms are single monomials; a Hill law adds terms raised to the Hill coefficient and a
factor ``H^(h-1)``; an inhibition or activation modifier adds a factor ``(1 + I/Ki)^-1`` or
``1 + A/Ka``. A mechanism is therefore described by a :class:`RateForm`, built once per reaction
by :func:`rate_form`; the compiler turns the forms of all reactions into index arrays.

The saturation constants (Michaelis ``km_*``, inhibition ``ki_*``/``k_inhibition_*`` and
activation ``k_activation_*`` constants) are the parameters a generator emits. Hill
coefficients and ``a_max`` are fixed numbers read from the model file.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field

#: monomial: ({species: exponent}, {parameter name: exponent})
Monomial = tuple[dict[str, float], dict[str, float]]

_ROLE = re.compile(r"^(substrate|product)(\d*)$")
_ONE: Monomial = ({}, {})


@dataclass
class Term:
    """``coefficient * (sum of monomials)^power``."""

    monomials: list[Monomial]
    power: float = 1.0
    coefficient: float = 1.0


@dataclass
class Factor:
    """``(sum of terms)^exponent`` (a Michaelis-Menten denominator: exponent -1)."""

    terms: list[Term]
    exponent: float = -1.0


def denominator(monomials: list[Monomial]) -> Factor:
    """The factor ``1 / sum(monomials)``."""
    return Factor([Term([m]) for m in monomials])


@dataclass
class RateForm:
    """Exponent description of one reaction's net rate with ``V = 1``.

    Attributes
    ----------
    forward : dict
        Species exponents of the forward monomial ``T_f``.
    backward : dict or None
        Species exponents of ``T_b`` (None: irreversible, ``v^- = 0``).
    prefactor : dict
        Parameter-name exponents of the constant prefactor (shared by both directions).
    factors : list of Factor
        Factors shared by both directions (denominators, Hill and modifier factors).
    """

    forward: dict[str, float] = field(default_factory=dict)
    backward: dict[str, float] | None = field(default_factory=dict)
    prefactor: dict[str, float] = field(default_factory=dict)
    factors: list[Factor] = field(default_factory=list)


@dataclass(frozen=True)
class MechanismClass:
    """Static facts of one mechanism class.

    ``fixed_roles`` maps role -> stoichiometry for classes whose stoichiometry is built in
    (the YAML then has no ``mechanism_stoichiometry``); None means roles and stoichiometries
    are read from ``mechanism_stoichiometry``. ``hill``: the class has a Hill coefficient
    ``hill_coefficient_<rxn>`` (``"per_substrate"``: ``hill_coefficient_substrate<i>_<rxn>``).
    ``shape``: ``"n:n"`` classes pair substrate k with product k, all |stoichiometry| 1.
    """

    name: str
    reversible: bool
    fixed_roles: dict[str, float] | None
    hill: str | None = None
    has_km: bool = True
    inhibitors: bool = False
    shape: str | None = None
    irreversible_product_km: bool = False  # declares km_product<j> that enter no rate (IrrevMM)


MECHANISMS: dict[str, MechanismClass] = {
    m.name: m
    for m in (
        MechanismClass("ReversibleMichaelisMenten", True, {"substrate": -1.0, "product": 1.0}),
        MechanismClass("Convenience", True, None),
        MechanismClass("ConvenienceInhibited", True, None, inhibitors=True),
        MechanismClass("H1GeneralizedReversibleHill", True, None, shape="n:n"),
        MechanismClass("H1GeneralizedReversibleHillInhibited", True, None, inhibitors=True, shape="n:n"),
        MechanismClass("GeneralizedReversibleHill", True, None, hill="reaction", shape="n:n"),
        MechanismClass("UniBiReversibleHill", True, {"substrate": -1.0, "product1": 1.0, "product2": 1.0},
                       hill="reaction"),
        MechanismClass("BiUniReversibleHill", True, {"substrate1": -1.0, "substrate2": -1.0, "product": 1.0},
                       hill="reaction"),
        MechanismClass("RandBiBiReversibleMichaelisMenten", True,
                       {"substrate1": -1.0, "substrate2": -1.0, "product1": 1.0, "product2": 1.0}),
        MechanismClass("IrrevMichaelisMenten", False, None, irreversible_product_km=True),
        MechanismClass("IrreversibleHill", False, {"substrate": -1.0, "product": 1.0}, hill="reaction"),
        MechanismClass("IrrevHillNM", False, None, hill="per_substrate"),
        MechanismClass("RevMassaction", True, None, has_km=False),
        MechanismClass("IrrevMassaction", False, None, has_km=False),
    )
}

#: saturation constants of RandBiBi, in SKiMpy's declaration order
_RAND_BI_BI = ("ki_substrate1", "ki_substrate2", "km_substrate2", "km_product1", "ki_product1", "ki_product2")


@dataclass(frozen=True)
class ModifierClass:
    """A modifier class: its role (``small_molecule``, ``activator`` or ``inhibitor``), the
    prefix of its SKiMpy name, its constant (generated like Km) and its fixed parameters."""

    name: str
    role: str
    prefix: str
    constant: str | None = None
    fixed: tuple[str, ...] = ()


MODIFIERS: dict[str, ModifierClass] = {
    m.name: m
    for m in (
        ModifierClass("DisplacementSmallMoleculeModifier", "small_molecule", "DSM"),
        ModifierClass("FirstOrderSmallMoleculeModifier", "small_molecule", "HSM"),
        ModifierClass("ActivationModifier", "activator", "AM", "k_activation"),
        ModifierClass("InhibitionModifier", "inhibitor", "IM", "k_inhibition"),
        ModifierClass("HillActivationModifier", "activator", "HAM", "k_activation", ("a_max", "hill_coefficient")),
        ModifierClass("SimpleHillActivationModifier", "activator", "SHAM", "k_activation", ("hill_coefficient",)),
        ModifierClass("HillInhibitionModifier", "inhibitor", "HIM", "k_inhibition", ("hill_coefficient",)),
    )
}

#: kinds of generated constants, by name prefix: Michaelis, inhibition, activation
CONSTANT_KINDS = {"km": ("km_",), "ki": ("ki_", "k_inhibition_"), "ka": ("k_activation_",)}


def constant_kind(name: str) -> str:
    """``"km"``, ``"ki"`` or ``"ka"`` for a generated constant's name."""
    for kind, prefixes in CONSTANT_KINDS.items():
        if name.startswith(prefixes):
            return kind
    raise ValueError(f"{name!r} is not a saturation, inhibition or activation constant")


def parse_role(role: str) -> tuple[str, int]:
    """Split ``'substrate12'`` into ``('substrate', 12)``; an unnumbered role has index 0."""
    match = _ROLE.match(role)
    if match is None:
        raise ValueError(f"role {role!r} is not substrate<i> or product<j>")
    return match.group(1), int(match.group(2) or 0)


def km_name(role: str, reaction_id: str) -> str:
    """SKiMpy name of the Michaelis constant of ``role`` in ``reaction_id``."""
    return f"km_{role}_{reaction_id}"


def modifier_parameter(parameter: str, kind: str, species: str, reaction_id: str) -> str:
    """SKiMpy name of a modifier's parameter, e.g. ``k_inhibition_IM_<species>_<reaction>``."""
    return f"{parameter}_{MODIFIERS[kind].prefix}_{species}_{reaction_id}"


def _index_order(roles) -> list[str]:
    """Roles sorted as SKiMpy numbers them: by index, the substrate before the product."""
    return sorted(roles, key=lambda r: (parse_role(r)[1], parse_role(r)[0] != "substrate"))


def mechanism_constants(mechanism: str, reaction_id: str, roles: list[str], inhibitors: list[str]) -> list[str]:
    """Constants of the mechanism (generated like Km), in SKiMpy's parameter order.

    Generic classes interleave by index (substrate1, product1, substrate2, ...), then their
    inhibitors; fixed classes use their declaration order; mass action declares none.
    """
    spec = MECHANISMS[mechanism]
    if not spec.has_km:
        return []
    if mechanism == "RandBiBiReversibleMichaelisMenten":
        return [f"{p}_{reaction_id}" for p in _RAND_BI_BI]
    if spec.fixed_roles is not None:
        names = [km_name(r, reaction_id) for r in spec.fixed_roles]
        return names[:1] if mechanism == "IrreversibleHill" else names
    ordered = _index_order(roles)
    if mechanism == "IrrevHillNM":
        ordered = [r for r in ordered if parse_role(r)[0] == "substrate"]
    return [km_name(r, reaction_id) for r in ordered] + [f"ki_{i}_{reaction_id}" for i in inhibitors]


def mechanism_fixed_parameters(mechanism: str, reaction_id: str, roles: list[str]) -> list[str]:
    """Parameters of the mechanism that must be numbers in the file (Hill coefficients)."""
    hill = MECHANISMS[mechanism].hill
    if hill == "reaction":
        return [f"hill_coefficient_{reaction_id}"]
    if hill == "per_substrate":
        return [f"hill_coefficient_{r}_{reaction_id}" for r in _index_order(roles) if parse_role(r)[0] == "substrate"]
    return []


def rate_form(
    mechanism: str,
    reaction_id: str,
    roles: dict[str, str],
    stoichiometry: dict[str, float],
    inhibitors: dict[str, str],
    fixed: dict[str, float],
) -> RateForm:
    """Exponent form of ``mechanism`` for one reaction (no modifiers).

    ``roles`` maps role -> species id, ``stoichiometry`` role -> signed stoichiometry,
    ``inhibitors`` inhibitor<k> -> species id, ``fixed`` the values of the mechanism's fixed
    parameters (:func:`mechanism_fixed_parameters`).
    """
    subs = sorted((r for r in roles if parse_role(r)[0] == "substrate"), key=lambda r: parse_role(r)[1])
    prods = sorted((r for r in roles if parse_role(r)[0] == "product"), key=lambda r: parse_role(r)[1])
    if mechanism == "RandBiBiReversibleMichaelisMenten":
        km = {}
    else:
        km = {r: km_name(r, reaction_id) for r in roles}

    def ratio(role: str, power: float = 1.0, constant: str | None = None) -> Monomial:
        return {roles[role]: power}, {constant or km[role]: -power}

    def product(*monomials: Monomial) -> Monomial:
        xs: dict[str, float] = {}
        ks: dict[str, float] = {}
        for mx, mk in monomials:
            for s, e in mx.items():
                xs[s] = xs.get(s, 0.0) + e
            for name, e in mk.items():
                ks[name] = ks.get(name, 0.0) + e
        return xs, ks

    inhibition = [({sid: 1.0}, {f"ki_{i}_{reaction_id}": -1.0}) for i, sid in inhibitors.items()]
    form = RateForm(
        forward={roles[r]: 1.0 for r in subs},
        backward={roles[r]: 1.0 for r in prods},
        prefactor={km[r]: -1.0 for r in subs} if km else {},
    )
    hill = fixed.get(f"hill_coefficient_{reaction_id}", 1.0)
    if mechanism in ("ReversibleMichaelisMenten", "UniBiReversibleHill", "BiUniReversibleHill"):
        form.factors = _hill_bi_factors(mechanism, subs, prods, roles, km, ratio, product, hill)
    elif mechanism in ("Convenience", "ConvenienceInhibited"):
        n = {r: abs(stoichiometry[r]) for r in roles}
        form.forward = {roles[r]: n[r] for r in subs}
        form.backward = {roles[r]: n[r] for r in prods}
        form.prefactor = {km[r]: -n[r] for r in subs}
        form.factors = [denominator(
            _convenience_denominator(subs, roles, km, n)
            + _convenience_denominator(prods, roles, km, n, skip_one=True) + inhibition)]
    elif mechanism == "H1GeneralizedReversibleHill":
        form.factors = [denominator([_ONE, ratio(s), ratio(p)]) for s, p in zip(subs, prods)]
    elif mechanism == "H1GeneralizedReversibleHillInhibited":  # prod_k (1 + s_k + p_k) + sum_i I_i/Ki_i
        pairs = [[_ONE, ratio(s), ratio(p)] for s, p in zip(subs, prods)]
        form.factors = [denominator([product(*combo) for combo in itertools.product(*pairs)] + inhibition)]
    elif mechanism == "GeneralizedReversibleHill":  # prod_k (s_k + p_k)^(h-1) / (1 + (s_k + p_k)^h)
        for s, p in zip(subs, prods):
            pair = [ratio(s), ratio(p)]
            form.factors.append(Factor([Term([_ONE]), Term(pair, power=hill)], exponent=-1.0))
            if hill != 1.0:
                form.factors.append(Factor([Term(pair)], exponent=hill - 1.0))
    elif mechanism == "RandBiBiReversibleMichaelisMenten":
        s1, s2 = (roles[r] for r in subs)
        p1, p2 = (roles[r] for r in prods)
        k = {name: f"{name}_{reaction_id}" for name in _RAND_BI_BI}
        form.prefactor = {k["ki_substrate1"]: -1.0, k["km_substrate2"]: -1.0}
        form.factors = [denominator([
            _ONE, ({s1: 1.0}, {k["ki_substrate1"]: -1.0}), ({s2: 1.0}, {k["ki_substrate2"]: -1.0}),
            ({p1: 1.0}, {k["ki_product1"]: -1.0}), ({p2: 1.0}, {k["ki_product2"]: -1.0}),
            ({s1: 1.0, s2: 1.0}, {k["ki_substrate1"]: -1.0, k["km_substrate2"]: -1.0}),
            ({p1: 1.0, p2: 1.0}, {k["ki_product2"]: -1.0, k["km_product1"]: -1.0}),
        ])]
    elif mechanism == "IrrevMichaelisMenten":
        form.backward = None
        form.factors = [denominator([_ONE, ratio(s)]) for s in subs]
    elif mechanism in ("IrreversibleHill", "IrrevHillNM"):  # prod_i (s_i/K_i)^h_i / (1 + (s_i/K_i)^h_i)
        form.backward = None
        h = {s: fixed.get(f"hill_coefficient_{s}_{reaction_id}", hill) for s in subs}
        form.forward = {roles[s]: h[s] for s in subs}
        form.prefactor = {km[s]: -h[s] for s in subs}
        form.factors = [denominator([_ONE, ratio(s, h[s])]) for s in subs]
    elif mechanism == "RevMassaction":
        form.prefactor = {}
    elif mechanism == "IrrevMassaction":
        form.backward = None
        form.prefactor = {}
    else:  # pragma: no cover - guarded by the loader
        raise KeyError(mechanism)
    return form


def _hill_bi_factors(mechanism, subs, prods, roles, km, ratio, product, hill) -> list[Factor]:
    """Factors of the uni-uni, uni-bi and bi-uni reversible laws.

    With Hill coefficient 1 every one is a single denominator of monomials. Otherwise SKiMpy's
    UniBi law is ``H^(h-1) / D`` with ``H = s/Ks + p1/Kp1 p2/Kp2`` and
    ``D = 1 + (s/Ks + p1/Kp1)^h + (s/Ks + p2/Kp2)^h + H^h - 2 s/Ks^h`` (the last term as SKiMpy
    writes it, ``s / Ks**h``); BiUni swaps the roles of substrates and products.
    """
    if mechanism == "ReversibleMichaelisMenten":
        (s,), (p,) = subs, prods
        return [denominator([_ONE, ratio(s), ratio(p)])]
    if mechanism == "UniBiReversibleHill":
        (single,), pair = subs, prods
    else:
        pair, (single,) = subs, prods
    a, b = pair
    joint = product(ratio(a), ratio(b))
    if hill == 1.0:  # 1 + s + p1 + p2 + p1 p2 (UniBi), 1 + s1 + s2 + s1 s2 + p (BiUni)
        if mechanism == "UniBiReversibleHill":
            return [denominator([_ONE, ratio(single), ratio(a), ratio(b), joint])]
        return [denominator([_ONE, ratio(a), ratio(b), joint, ratio(single)])]
    correction = ({roles[single]: 1.0}, {km[single]: -hill})
    return [
        Factor([Term([ratio(single), joint])], exponent=hill - 1.0),
        Factor([Term([_ONE]), Term([ratio(single), ratio(a)], hill), Term([ratio(single), ratio(b)], hill),
                Term([ratio(single), joint], hill), Term([correction], coefficient=-2.0)]),
    ]


def _convenience_denominator(
    group: list[str], roles: dict[str, str], km: dict[str, str], n: dict[str, float], skip_one: bool = False
) -> list[Monomial]:
    """Expand prod_i sum_{a=0}^{floor n_i} (x_i/K_i)^a into monomials."""
    powers = [range(int(math.floor(n[r])) + 1) for r in group]
    terms: list[Monomial] = []
    for combo in itertools.product(*powers):
        if skip_one and not any(combo):
            continue
        terms.append(
            ({roles[r]: float(a) for r, a in zip(group, combo) if a},
             {km[r]: -float(a) for r, a in zip(group, combo) if a})
        )
    return terms


def apply_modifier(form: RateForm, kind: str, species: str, nu: float, reaction_id: str, fixed: dict[str, float]) -> None:
    """Fold a modifier of ``species`` into ``form`` (in place).

    Displacement: ``v^- *= x^nu``. First order: ``nu < 0`` gives ``v^+ *= x^|nu|``, ``nu > 0``
    gives ``v^- *= x^nu`` (no effect on irreversible laws). Activation: both directions times
    ``1 + A/Ka``; inhibition: divided by ``1 + I/Ki``; Hill activation: times
    ``1 + a_max M/(1 + M)``; simple Hill activation: times ``1 + M``; Hill inhibition: divided by
    ``1 + M``, with ``M = (x/K)^h``. ``fixed`` holds the modifier's fixed parameters by full name.
    """
    spec = MODIFIERS[kind]
    if spec.role == "small_molecule":
        if kind == "DisplacementSmallMoleculeModifier" or nu > 0:
            if form.backward is not None:
                form.backward[species] = form.backward.get(species, 0.0) + nu
        else:
            form.forward[species] = form.forward.get(species, 0.0) - nu
        return
    name = modifier_parameter(spec.constant, kind, species, reaction_id)
    h = fixed.get(modifier_parameter("hill_coefficient", kind, species, reaction_id), 1.0)
    saturation: Monomial = ({species: h}, {name: -h})
    if kind == "HillActivationModifier":  # (1 + (1 + a_max) M) / (1 + M)
        a_max = fixed[modifier_parameter("a_max", kind, species, reaction_id)]
        form.factors.append(Factor([Term([_ONE]), Term([saturation], coefficient=1.0 + a_max)], exponent=1.0))
        form.factors.append(denominator([_ONE, saturation]))
    else:
        exponent = 1.0 if spec.role == "activator" else -1.0
        form.factors.append(Factor([Term([_ONE]), Term([saturation])], exponent=exponent))


def modifier_constants(kind: str, species: str, reaction_id: str) -> list[str]:
    """The constant a modifier adds (generated like Km), if any."""
    spec = MODIFIERS[kind]
    return [] if spec.constant is None else [modifier_parameter(spec.constant, kind, species, reaction_id)]


def modifier_fixed_parameters(kind: str, species: str, reaction_id: str) -> list[str]:
    """Parameters of the modifier that must be numbers in the file."""
    return [modifier_parameter(p, kind, species, reaction_id) for p in MODIFIERS[kind].fixed]
