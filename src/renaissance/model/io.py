"""SKiMpy YAML <-> :class:`KineticModel`, through one dict layer.

``model_from_dict`` validates everything once and raises :class:`ModelFormatError` naming the
file, the entity and the problem; ``model_to_dict`` writes the same layout back (stable key
order, no anchors). Files are read with :func:`renaissance.config.parse_yaml` (a ``yaml.SafeLoader``
that also rejects duplicate keys).
"""

from __future__ import annotations

import math
import os

import yaml

from .. import config
from .._files import read_text, write_text_atomic
from ..errors import ModelFormatError, located
from .kinetic_model import BoundaryCondition, KineticModel, Modifier, Reaction
from .mechanisms import MECHANISMS, MODIFIERS, parse_role

_TOP_LEVEL = (
    "boundary_conditions", "compartments", "constraints", "dependent_reactants",
    "initial_conditions", "name", "parameters", "reactants", "reactions",
)
_BOUNDARY_CLASSES = ("ConstantConcentration", "BoundaryFlux")


def read_yaml(path: str | os.PathLike) -> object:
    """Parse a YAML file safely; any syntax error becomes a :class:`ModelFormatError`."""
    return parse_yaml(read_text(path, ModelFormatError), str(path))


def parse_yaml(text: str, source: str) -> object:
    """Parse YAML ``text`` safely, duplicate keys refused (``source`` names it in errors)."""
    return config.parse_yaml(text, source, ModelFormatError)


def load_model(path: str | os.PathLike) -> KineticModel:
    """Read a SKiMpy YAML kinetic model."""
    return model_from_dict(read_yaml(path), source=str(path))


def parse_model(text: str, source: str) -> KineticModel:
    """A SKiMpy YAML kinetic model from its ``text`` (``source`` names it in errors)."""
    return model_from_dict(parse_yaml(text, source), source=source)


def save_model(model: KineticModel, path: str | os.PathLike) -> None:
    """Write ``model`` as SKiMpy YAML (atomic)."""
    text = yaml.safe_dump(model_to_dict(model), sort_keys=False, default_flow_style=False)
    write_text_atomic(path, text)


def _mapping(value: object, source: str | None, entity: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ModelFormatError(located(source, entity, f"expected a mapping, got {type(value).__name__}"))
    return value


def _number(value: object, source: str | None, entity: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ModelFormatError(located(source, entity, f"expected a number, got {value!r}"))
    try:
        return float(value)
    except OverflowError:  # an int beyond the float range
        return math.inf


def _finite(value: object, source: str | None, entity: str) -> float:
    """``value`` as a finite float (``.nan``, ``.inf`` and ints beyond the float range refused)."""
    number = _number(value, source, entity)
    if not math.isfinite(number):
        raise ModelFormatError(located(source, entity, f"expected a finite number, got {value!r}"))
    return number


def _species_from_dict(reactants: object, compartments: dict[str, str], source: str | None) -> dict[str, str]:
    """Reactant id -> compartment: each entry's ``name`` (when given) is its key and, when the
    model declares ``compartments``, its compartment is one of them."""
    species: dict[str, str] = {}
    for sid, entry in _mapping(reactants, source, "reactants").items():
        where = f"reactant '{sid}'"
        entry = _mapping(entry, source, where)
        if entry.get("name", sid) != sid:
            raise ModelFormatError(located(source, where, f"name {entry.get('name')!r} differs from its key"))
        if "compartment" not in entry:
            raise ModelFormatError(located(source, where, "has no compartment"))
        if compartments and str(entry["compartment"]) not in compartments:
            raise ModelFormatError(located(source, where, f"compartment {entry['compartment']!r} is not declared under "
                                                          f"'compartments' (declared: {sorted(compartments)})"))
        species[str(sid)] = str(entry["compartment"])
    return species


def _check_volumes(parameters: dict[str, float | None], compartments: dict[str, str], source: str | None) -> None:
    """``volume_<c>`` and ``cell_volume_<c>`` of a declared compartment, when set, are finite
    and > 0 (the mass balances divide by them)."""
    for compartment in compartments:
        for name in (f"volume_{compartment}", f"cell_volume_{compartment}"):
            value = parameters.get(name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ModelFormatError(located(source, f"parameter '{name}'", f"volume {value!r} must be a finite number > 0 (the "
                                               f"mass balances of compartment '{compartment}' divide by it)"))


def model_from_dict(data: object, source: str | None = None) -> KineticModel:
    """Build and validate a model from the SKiMpy YAML dict layout."""
    data = _mapping(data, source, "top level")
    unknown = sorted(set(data) - set(_TOP_LEVEL))
    if unknown:
        raise ModelFormatError(located(source, "top level", f"unknown keys {unknown}; known: {list(_TOP_LEVEL)}"))
    for key in ("reactants", "reactions"):
        if not data.get(key):
            raise ModelFormatError(located(source, "top level", f"missing or empty '{key}'"))

    compartments = {str(k): str(v) for k, v in _mapping(data.get("compartments"), source, "compartments").items()}
    species = _species_from_dict(data["reactants"], compartments, source)
    parameters = {
        str(k): (None if v is None else _number(v, source, f"parameter '{k}'"))
        for k, v in _mapping(data.get("parameters"), source, "parameters").items()
    }
    _check_volumes(parameters, compartments, source)

    boundary = {
        str(label): _boundary_from_dict(label, entry, species, source)
        for label, entry in _mapping(data.get("boundary_conditions"), source, "boundary_conditions").items()
    }

    reactions = {
        str(rid): _reaction_from_dict(str(rid), entry, species, parameters, source)
        for rid, entry in _mapping(data["reactions"], source, "reactions").items()
    }
    dependent = tuple(_mapping(data.get("dependent_reactants"), source, "dependent_reactants"))
    return KineticModel(
        name=str(data.get("name") or "Unnamed"),
        compartments=compartments,
        species=species,
        reactions=reactions,
        boundary_conditions=boundary,
        parameters=parameters,
        dependent_reactants=dependent,
        extra={k: data[k] for k in ("constraints", "initial_conditions") if k in data},
    )


def _boundary_from_dict(label, entry, species, source) -> BoundaryCondition:
    """A ``ConstantConcentration`` or ``BoundaryFlux`` entry (the latter with a numeric ``flux_value``)."""
    where = f"boundary condition '{label}'"
    entry = _mapping(entry, source, where)
    cls, sid = entry.get("class"), entry.get("reactant")
    if cls not in _BOUNDARY_CLASSES:
        raise ModelFormatError(located(source, where, f"unknown class {cls!r}; known: {list(_BOUNDARY_CLASSES)}"))
    if sid not in species:
        raise ModelFormatError(located(source, where, f"undeclared reactant {sid!r}"))
    if cls == "BoundaryFlux":
        flux = _number(entry.get("flux_value"), source, f"{where} flux_value")
        if flux != flux or abs(flux) == float("inf"):
            raise ModelFormatError(located(source, where, f"flux_value {flux} must be finite"))
        return BoundaryCondition(cls, sid, flux)
    return BoundaryCondition(cls, sid)


def _reaction_from_dict(rid, entry, species, parameters, source) -> Reaction:
    where = f"reaction '{rid}'"
    entry = _mapping(entry, source, where)
    if entry.get("name", rid) != rid:
        raise ModelFormatError(located(source, where, f"name {entry.get('name')!r} differs from its key"))
    if entry.get("enzyme") is not None:
        raise ModelFormatError(located(source, where, f"enzyme {entry['enzyme']!r}: rates written as kcat x enzyme "
                                                      "are not supported; set enzyme: null (Vmax is back-calculated)"))
    mech = _mapping(entry.get("mechanism"), source, f"{where} mechanism")
    cls = mech.get("class")
    if cls not in MECHANISMS:
        raise ModelFormatError(located(source, where, f"unknown mechanism class {cls!r}; known: {sorted(MECHANISMS)}"))
    spec = MECHANISMS[cls]
    roles = _roles_from_dict(mech, species, source, where)
    stoich = _stoichiometry_from_dict(mech, spec, cls, roles, source, where)
    _check_substrates(cls, roles, stoich, source, where)
    inhibitors = _inhibitors_from_dict(mech, spec, cls, species, source, where)
    modifiers = _modifiers_from_dict(entry, species, source, where)
    reaction = Reaction(rid, cls, roles, stoich, tuple(modifiers), explicit_stoichiometry=spec.fixed_roles is None,
                        inhibitors=inhibitors)
    _check_reaction_parameters(reaction, spec, parameters, source, where)
    return reaction


def _inhibitors_from_dict(mech: dict, spec, cls, species, source, where: str) -> dict[str, str]:
    """``inhibitors: {inhibitor1: sp, ...}`` of the inhibited classes (numbered from 1, declared)."""
    given = _mapping(mech.get("inhibitors"), source, f"{where} inhibitors")
    if given and not spec.inhibitors:
        raise ModelFormatError(located(source, where, f"{cls} takes no inhibitors (use {cls}Inhibited or a modifier)"))
    if spec.inhibitors and not given:
        raise ModelFormatError(located(source, where, f"{cls} needs an 'inhibitors' mapping (inhibitor1: <reactant>)"))
    expected = [f"inhibitor{i}" for i in range(1, len(given) + 1)]
    if sorted(given, key=str) != sorted(expected):
        raise ModelFormatError(located(source, where, f"inhibitors {sorted(given)} must be named {expected}"))
    for key, sid in given.items():
        if sid not in species:
            raise ModelFormatError(located(source, where, f"inhibitor '{key}' uses undeclared reactant {sid!r}"))
    return {key: given[key] for key in expected}


def _roles_from_dict(mech: dict, species, source, where: str) -> dict[str, str]:
    """Role -> reactant of a mechanism mapping: valid role names, declared reactants, one role each."""
    roles: dict[str, str] = {}
    for role, sid in mech.items():
        if role in ("class", "mechanism_stoichiometry", "inhibitors"):
            continue
        try:
            parse_role(role)
        except ValueError as exc:
            raise ModelFormatError(located(source, where, str(exc))) from None
        if sid not in species:
            raise ModelFormatError(located(source, where, f"role '{role}' uses undeclared reactant {sid!r}"))
        if sid in roles.values():
            raise ModelFormatError(located(source, where, f"reactant {sid!r} fills two roles"))
        roles[role] = sid
    return roles


def _stoichiometry_from_dict(mech: dict, spec, cls, roles: dict[str, str], source, where: str) -> dict:
    """Role -> stoichiometric coefficient: the mechanism's fixed roles, or the file's
    ``mechanism_stoichiometry`` (same roles); substrates negative, the others positive."""
    given = mech.get("mechanism_stoichiometry")
    if spec.fixed_roles is not None:
        if set(roles) != set(spec.fixed_roles):
            raise ModelFormatError(located(
                source, where, f"{cls} needs roles {sorted(spec.fixed_roles)}, got {sorted(roles)}"))
        stoich = dict(spec.fixed_roles)
    else:
        given = _mapping(given, source, f"{where} mechanism_stoichiometry")
        if set(given) != set(roles):
            raise ModelFormatError(located(
                source, where, f"mechanism_stoichiometry roles {sorted(given)} differ from roles {sorted(roles)}"))
        stoich = {r: _finite(given[r], source, f"{where} stoichiometry of '{r}'") for r in roles}
    for role, coeff in stoich.items():
        kind = parse_role(role)[0]
        if coeff == 0 or (coeff < 0) != (kind == "substrate"):
            raise ModelFormatError(located(source, where, f"role '{role}' has stoichiometry {coeff}"))
    return stoich


def _check_substrates(cls, roles: dict[str, str], stoich: dict, source, where: str) -> None:
    """At least one substrate; roles numbered 1..n; the n:n Hill classes need |stoichiometry| 1."""
    subs = [r for r in roles if parse_role(r)[0] == "substrate"]
    if not subs:
        raise ModelFormatError(located(source, where, "has no substrate"))
    if MECHANISMS[cls].fixed_roles is None:
        for kind in ("substrate", "product"):
            numbers = sorted(parse_role(r)[1] for r in roles if parse_role(r)[0] == kind)
            if numbers != list(range(1, len(numbers) + 1)):
                raise ModelFormatError(located(source, where, f"{kind} roles must be numbered 1..{len(numbers)}, "
                                                              f"got {sorted(r for r in roles if r.startswith(kind))}"))
    if MECHANISMS[cls].shape == "n:n" and (len(subs) * 2 != len(roles) or any(abs(c) != 1 for c in stoich.values())):
        raise ModelFormatError(located(source, where, f"{cls} needs n:n roles, all |stoichiometry| 1"))


def _modifiers_from_dict(entry: dict, species, source, where: str) -> list[Modifier]:
    """The reaction's ``modifiers`` mapping: known classes, declared species in the class's role
    (``small_molecule``, ``activator`` or ``inhibitor``), numeric stoichiometry (0 for regulators)."""
    modifiers = []
    for key, mod in _mapping(entry.get("modifiers"), source, f"{where} modifiers").items():
        at = f"{where} modifier '{key}'"
        mod = _mapping(mod, source, at)
        spec = MODIFIERS.get(mod.get("class"))
        if spec is None:
            raise ModelFormatError(located(
                source, at, f"unknown modifier class {mod.get('class')!r}; known: {list(MODIFIERS)}"))
        sid = mod.get(spec.role)
        if sid not in species:
            raise ModelFormatError(located(source, at, f"{spec.role}: undeclared reactant {sid!r}"))
        stoichiometry = _mapping(mod.get("mechanism_stoichiometry"), source, at)
        if spec.role == "small_molecule":
            nu = _finite(stoichiometry.get("small_molecule"), source, f"{at} stoichiometry")
        else:
            nu = _finite(stoichiometry.get(spec.role, 0), source, f"{at} stoichiometry")
            if nu != 0:
                raise ModelFormatError(located(source, at, f"an {spec.role} is not a reactant: stoichiometry must be 0, got {nu}"))
        modifiers.append(Modifier(str(key), mod["class"], sid, nu))
    return modifiers


def _check_reaction_parameters(reaction: Reaction, spec, parameters, source, where: str) -> None:
    """A reversible mechanism needs a positive finite Keq; Hill coefficients and a_max must be
    finite numbers (Hill coefficients > 0, a_max >= 0)."""
    rid = reaction.id
    if spec.reversible:
        keq = parameters.get(f"k_equilibrium_{rid}")
        if keq is None or not keq > 0 or keq == float("inf"):
            raise ModelFormatError(located(
                source, where, f"reversible mechanism {reaction.mechanism} needs a positive finite k_equilibrium_{rid}, "
                               f"got {keq!r}"))
    for name in reaction.fixed_parameter_names:
        value = parameters.get(name)
        low_ok = value is not None and (value >= 0 if name.startswith("a_max") else value > 0)
        if not low_ok or value == float("inf"):
            need = "a finite number >= 0" if name.startswith("a_max") else "a finite number > 0"
            raise ModelFormatError(located(source, where, f"parameter {name} must be {need} in 'parameters', got {value!r}"))


def model_to_dict(model: KineticModel) -> dict:
    """The SKiMpy YAML dict layout of ``model`` (top-level keys sorted, as SKiMpy writes them)."""
    reactions = {}
    for rid, rxn in model.reactions.items():
        mech: dict = {"class": rxn.mechanism}
        if rxn.explicit_stoichiometry:
            mech["mechanism_stoichiometry"] = dict(rxn.stoichiometry)
        if rxn.inhibitors:
            mech["inhibitors"] = dict(rxn.inhibitors)
        mech.update(rxn.roles)
        reactions[rid] = {
            "enzyme": None,
            "mechanism": mech,
            "modifiers": {m.key: _modifier_to_dict(m) for m in rxn.modifiers},
            "name": rid,
        }
    out = {
        "boundary_conditions": {
            label: {"class": bc.kind, "reactant": bc.species, **({} if bc.flux is None else {"flux_value": bc.flux})}
            for label, bc in model.boundary_conditions.items()
        },
        "compartments": dict(model.compartments),
        "constraints": model.extra.get("constraints", {}),
        "dependent_reactants": {
            sid: {"compartment": model.species[sid], "name": sid} for sid in model.dependent_reactants
        },
        "initial_conditions": model.extra.get("initial_conditions", {}),
        "name": model.name,
        "parameters": dict(model.parameters),
        "reactants": {sid: {"compartment": comp, "name": sid} for sid, comp in model.species.items()},
        "reactions": reactions,
    }
    return out


def _modifier_to_dict(modifier: Modifier) -> dict:
    """A modifier as SKiMpy's exporter writes it: class, its role -> species, stoichiometry."""
    role = MODIFIERS[modifier.kind].role
    stoichiometry = modifier.stoichiometry if role == "small_molecule" else 0
    return {"class": modifier.kind, "mechanism_stoichiometry": {role: stoichiometry}, role: modifier.species}
