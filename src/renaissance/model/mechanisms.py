"""Rate-law mechanisms of the SKiMpy YAML format, as exponent tables.

Every mechanism in MECHANISMS.md with Hill coefficient 1 has the form

    v = V * prod_K K^b * (T_f(x) - T_b(x) / Keq) / prod_d D_d(x, K)

with ``T_f``/``T_b`` monomials in the concentrations, ``b`` exponents of the Michaelis constants
(the prefactor) and each denominator ``D_d`` a sum of monomials ``prod x^a prod K^c``. A
mechanism is therefore described by a :class:`RateForm` of exponent dictionaries; modifiers
(:func:`apply_modifier`) only add exponents to ``T_f``/``T_b``. The compiler turns the forms of all
reactions into index arrays once per model.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field

#: monomial: ({species: exponent}, {parameter name: exponent})
Monomial = tuple[dict[str, float], dict[str, float]]

_ROLE = re.compile(r"^(substrate|product)(\d*)$")


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
        Parameter-name exponents of the Km prefactor.
    denominators : list of list of Monomial
        One list of monomials per denominator factor ``D_d`` (all coefficients 1).
    """

    forward: dict[str, float] = field(default_factory=dict)
    backward: dict[str, float] | None = field(default_factory=dict)
    prefactor: dict[str, float] = field(default_factory=dict)
    denominators: list[list[Monomial]] = field(default_factory=list)


@dataclass(frozen=True)
class MechanismClass:
    """Static facts of one mechanism class.

    ``fixed_roles`` maps role -> stoichiometry for classes whose stoichiometry is built in
    (the YAML then has no ``mechanism_stoichiometry``); None means roles and stoichiometries
    are read from ``mechanism_stoichiometry``.
    """

    name: str
    reversible: bool
    fixed_roles: dict[str, float] | None
    uses_hill: bool
    has_km: bool


MECHANISMS: dict[str, MechanismClass] = {
    m.name: m
    for m in (
        MechanismClass("ReversibleMichaelisMenten", True, {"substrate": -1.0, "product": 1.0}, False, True),
        MechanismClass("Convenience", True, None, False, True),
        MechanismClass("H1GeneralizedReversibleHill", True, None, False, True),
        MechanismClass(
            "UniBiReversibleHill", True, {"substrate": -1.0, "product1": 1.0, "product2": 1.0}, True, True
        ),
        MechanismClass(
            "BiUniReversibleHill", True, {"substrate1": -1.0, "substrate2": -1.0, "product": 1.0}, True, True
        ),
        MechanismClass("IrrevMichaelisMenten", False, None, False, True),
        MechanismClass("RevMassaction", True, None, False, False),
    )
}

MODIFIERS = ("DisplacementSmallMoleculeModifier", "FirstOrderSmallMoleculeModifier")


def parse_role(role: str) -> tuple[str, int]:
    """Split ``'substrate12'`` into ``('substrate', 12)``; an unnumbered role has index 0."""
    match = _ROLE.match(role)
    if match is None:
        raise ValueError(f"role {role!r} is not substrate<i> or product<j>")
    return match.group(1), int(match.group(2) or 0)


def km_name(role: str, reaction_id: str) -> str:
    """SKiMpy name of the Michaelis constant of ``role`` in ``reaction_id``."""
    return f"km_{role}_{reaction_id}"


def km_roles(mechanism: str, roles: list[str]) -> list[str]:
    """Roles that carry a declared Km, in SKiMpy's parameter order.

    Generic classes interleave by index (substrate1, product1, substrate2, ...); the fixed
    classes use their declaration order. RevMassaction declares none.
    """
    spec = MECHANISMS[mechanism]
    if not spec.has_km:
        return []
    if spec.fixed_roles is not None:
        return list(spec.fixed_roles)
    return sorted(roles, key=lambda r: (parse_role(r)[1], parse_role(r)[0] != "substrate"))


def rate_form(
    mechanism: str, reaction_id: str, roles: dict[str, str], stoichiometry: dict[str, float]
) -> RateForm:
    """Exponent form of ``mechanism`` for one reaction (Hill coefficient 1; no modifiers).

    ``roles`` maps role -> species id, ``stoichiometry`` role -> signed stoichiometry.
    """
    subs = sorted((r for r in roles if parse_role(r)[0] == "substrate"), key=lambda r: parse_role(r)[1])
    prods = sorted((r for r in roles if parse_role(r)[0] == "product"), key=lambda r: parse_role(r)[1])
    km = {r: km_name(r, reaction_id) for r in roles}

    def ratio(role: str, power: float = 1.0) -> Monomial:
        return {roles[role]: power}, {km[role]: -power}

    one: Monomial = ({}, {})
    form = RateForm(
        forward={roles[r]: 1.0 for r in subs},
        backward={roles[r]: 1.0 for r in prods},
        prefactor={km[r]: -1.0 for r in subs},
    )
    if mechanism == "ReversibleMichaelisMenten" or mechanism == "UniBiReversibleHill":
        (s,) = subs
        terms = [one, ratio(s)] + [ratio(p) for p in prods]
        if len(prods) == 2:  # pi1 * pi2
            p1, p2 = prods
            terms.append(({roles[p1]: 1.0, roles[p2]: 1.0}, {km[p1]: -1.0, km[p2]: -1.0}))
        form.denominators = [terms]
    elif mechanism == "BiUniReversibleHill":
        s1, s2 = subs
        (p,) = prods
        both = ({roles[s1]: 1.0, roles[s2]: 1.0}, {km[s1]: -1.0, km[s2]: -1.0})
        form.denominators = [[one, ratio(s1), ratio(s2), both, ratio(p)]]
    elif mechanism == "Convenience":
        n = {r: abs(stoichiometry[r]) for r in roles}
        form.forward = {roles[r]: n[r] for r in subs}
        form.backward = {roles[r]: n[r] for r in prods}
        form.prefactor = {km[r]: -n[r] for r in subs}
        form.denominators = [_convenience_denominator(subs, roles, km, n) + _convenience_denominator(
            prods, roles, km, n, skip_one=True)]
    elif mechanism == "H1GeneralizedReversibleHill":
        form.denominators = [[one, ratio(s), ratio(p)] for s, p in zip(subs, prods)]
    elif mechanism == "IrrevMichaelisMenten":
        form.backward = None
        form.denominators = [[one, ratio(s)] for s in subs]
    elif mechanism == "RevMassaction":
        form.prefactor = {}
    else:  # pragma: no cover - guarded by the loader
        raise KeyError(mechanism)
    return form


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


def apply_modifier(form: RateForm, kind: str, species: str, nu: float) -> None:
    """Fold a small-molecule modifier with signed stoichiometry ``nu`` into ``form`` (in place).

    Displacement: ``v^- *= x^nu``. First order: ``nu < 0`` gives ``v^+ *= x^|nu|``,
    ``nu > 0`` gives ``v^- *= x^nu`` (no effect on irreversible laws).
    """
    if kind == "DisplacementSmallMoleculeModifier" or nu > 0:
        if form.backward is not None:
            form.backward[species] = form.backward.get(species, 0.0) + nu
    else:
        form.forward[species] = form.forward.get(species, 0.0) - nu
