"""SKiMpy YAML <-> :class:`KineticModel`, through one dict layer.

``model_from_dict`` validates everything once and raises :class:`ModelFormatError` naming the
file, the entity and the problem; ``model_to_dict`` writes the same layout back (stable key
order, no anchors). Files are read with a ``yaml.SafeLoader`` that also rejects duplicate keys.
"""

from __future__ import annotations

import os

import yaml

from .._files import read_text, write_text_atomic
from ..errors import ModelFormatError, located
from .kinetic_model import KineticModel, Modifier, Reaction
from .mechanisms import MECHANISMS, MODIFIERS, parse_role

_TOP_LEVEL = (
    "boundary_conditions", "compartments", "constraints", "dependent_reactants",
    "initial_conditions", "name", "parameters", "reactants", "reactions",
)
_BOUNDARY_CLASSES = ("ConstantConcentration",)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of keeping the last one."""

    def construct_mapping(self, node, deep=False):  # noqa: D102
        keys = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in keys:
                raise ModelFormatError(f"duplicate key {key!r} at line {key_node.start_mark.line + 1}")
            keys.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | os.PathLike) -> object:
    """Parse a YAML file safely; any syntax error becomes a :class:`ModelFormatError`."""
    text = read_text(path, ModelFormatError)
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except ModelFormatError as exc:
        raise ModelFormatError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ModelFormatError(f"{path}: malformed YAML: {exc}") from None


def load_model(path: str | os.PathLike) -> KineticModel:
    """Read a SKiMpy YAML kinetic model."""
    return model_from_dict(read_yaml(path), source=str(path))


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
    return float(value)


def model_from_dict(data: object, source: str | None = None) -> KineticModel:
    """Build and validate a model from the SKiMpy YAML dict layout."""
    data = _mapping(data, source, "top level")
    unknown = sorted(set(data) - set(_TOP_LEVEL))
    if unknown:
        raise ModelFormatError(located(source, "top level", f"unknown keys {unknown}; known: {list(_TOP_LEVEL)}"))
    for key in ("reactants", "reactions"):
        if not data.get(key):
            raise ModelFormatError(located(source, "top level", f"missing or empty '{key}'"))

    species: dict[str, str] = {}
    for sid, entry in _mapping(data["reactants"], source, "reactants").items():
        entry = _mapping(entry, source, f"reactant '{sid}'")
        if "compartment" not in entry:
            raise ModelFormatError(located(source, f"reactant '{sid}'", "has no compartment"))
        species[str(sid)] = str(entry["compartment"])

    parameters = {
        str(k): (None if v is None else _number(v, source, f"parameter '{k}'"))
        for k, v in _mapping(data.get("parameters"), source, "parameters").items()
    }

    boundary: dict[str, tuple[str, str]] = {}
    for label, entry in _mapping(data.get("boundary_conditions"), source, "boundary_conditions").items():
        entry = _mapping(entry, source, f"boundary condition '{label}'")
        cls, sid = entry.get("class"), entry.get("reactant")
        if cls not in _BOUNDARY_CLASSES:
            raise ModelFormatError(located(
                source, f"boundary condition '{label}'", f"unknown class {cls!r}; known: {list(_BOUNDARY_CLASSES)}"))
        if sid not in species:
            raise ModelFormatError(located(source, f"boundary condition '{label}'", f"undeclared reactant {sid!r}"))
        boundary[str(label)] = (cls, sid)

    reactions = {
        str(rid): _reaction_from_dict(str(rid), entry, species, parameters, source)
        for rid, entry in _mapping(data["reactions"], source, "reactions").items()
    }
    dependent = tuple(_mapping(data.get("dependent_reactants"), source, "dependent_reactants"))
    return KineticModel(
        name=str(data.get("name") or "Unnamed"),
        compartments={str(k): str(v) for k, v in _mapping(data.get("compartments"), source, "compartments").items()},
        species=species,
        reactions=reactions,
        boundary_conditions=boundary,
        parameters=parameters,
        dependent_reactants=dependent,
        extra={k: data[k] for k in ("constraints", "initial_conditions") if k in data},
    )


def _reaction_from_dict(rid, entry, species, parameters, source) -> Reaction:
    where = f"reaction '{rid}'"
    entry = _mapping(entry, source, where)
    if entry.get("name", rid) != rid:
        raise ModelFormatError(located(source, where, f"name {entry.get('name')!r} differs from its key"))
    mech = _mapping(entry.get("mechanism"), source, f"{where} mechanism")
    cls = mech.get("class")
    if cls not in MECHANISMS:
        raise ModelFormatError(located(source, where, f"unknown mechanism class {cls!r}; known: {sorted(MECHANISMS)}"))
    spec = MECHANISMS[cls]
    roles = _roles_from_dict(mech, species, source, where)
    stoich = _stoichiometry_from_dict(mech, spec, cls, roles, source, where)
    _check_substrates(cls, roles, stoich, source, where)
    modifiers = _modifiers_from_dict(entry, species, source, where)
    _check_reaction_parameters(rid, spec, cls, parameters, source, where)
    return Reaction(rid, cls, roles, stoich, tuple(modifiers), explicit_stoichiometry=spec.fixed_roles is None)


def _roles_from_dict(mech: dict, species, source, where: str) -> dict[str, str]:
    """Role -> reactant of a mechanism mapping: valid role names, declared reactants, one role each."""
    roles: dict[str, str] = {}
    for role, sid in mech.items():
        if role in ("class", "mechanism_stoichiometry"):
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
        stoich = {r: _number(given[r], source, f"{where} stoichiometry of '{r}'") for r in roles}
    for role, coeff in stoich.items():
        kind = parse_role(role)[0]
        if coeff == 0 or (coeff < 0) != (kind == "substrate"):
            raise ModelFormatError(located(source, where, f"role '{role}' has stoichiometry {coeff}"))
    return stoich


def _check_substrates(cls, roles: dict[str, str], stoich: dict, source, where: str) -> None:
    """At least one substrate; the Hill mechanism needs n:n roles with |stoichiometry| 1."""
    subs = [r for r in roles if parse_role(r)[0] == "substrate"]
    if not subs:
        raise ModelFormatError(located(source, where, "has no substrate"))
    if cls == "H1GeneralizedReversibleHill" and (
        len(subs) * 2 != len(roles) or any(abs(c) != 1 for c in stoich.values())
    ):
        raise ModelFormatError(located(source, where, "H1GeneralizedReversibleHill needs n:n roles, all |stoichiometry| 1"))


def _modifiers_from_dict(entry: dict, species, source, where: str) -> list[Modifier]:
    """The reaction's ``modifiers`` mapping: known classes, declared small molecules, numeric stoichiometry."""
    modifiers = []
    for key, mod in _mapping(entry.get("modifiers"), source, f"{where} modifiers").items():
        mod = _mapping(mod, source, f"{where} modifier '{key}'")
        if mod.get("class") not in MODIFIERS:
            raise ModelFormatError(located(
                source, f"{where} modifier '{key}'", f"unknown modifier class {mod.get('class')!r}; known: {list(MODIFIERS)}"))
        sid = mod.get("small_molecule")
        if sid not in species:
            raise ModelFormatError(located(source, f"{where} modifier '{key}'", f"undeclared reactant {sid!r}"))
        nu = _mapping(mod.get("mechanism_stoichiometry"), source, f"{where} modifier '{key}'").get("small_molecule")
        modifiers.append(Modifier(str(key), mod["class"], sid, _number(nu, source, f"{where} modifier '{key}' stoichiometry")))
    return modifiers


def _check_reaction_parameters(rid, spec, cls, parameters, source, where: str) -> None:
    """A reversible mechanism needs a positive finite Keq; a Hill coefficient, if given, must be 1."""
    if spec.reversible:
        keq = parameters.get(f"k_equilibrium_{rid}")
        if keq is None or not keq > 0 or keq == float("inf"):
            raise ModelFormatError(located(
                source, where, f"reversible mechanism {cls} needs a positive finite k_equilibrium_{rid}, got {keq!r}"))
    if spec.uses_hill:
        hill = parameters.get(f"hill_coefficient_{rid}")
        if hill is not None and hill != 1.0:
            raise ModelFormatError(located(
                source, where, f"hill_coefficient_{rid} = {hill}: only Hill coefficient 1 is implemented"))


def model_to_dict(model: KineticModel) -> dict:
    """The SKiMpy YAML dict layout of ``model`` (top-level keys sorted, as SKiMpy writes them)."""
    reactions = {}
    for rid, rxn in model.reactions.items():
        mech: dict = {"class": rxn.mechanism}
        if rxn.explicit_stoichiometry:
            mech["mechanism_stoichiometry"] = dict(rxn.stoichiometry)
        mech.update(rxn.roles)
        reactions[rid] = {
            "enzyme": None,
            "mechanism": mech,
            "modifiers": {
                m.key: {"class": m.kind, "mechanism_stoichiometry": {"small_molecule": m.stoichiometry},
                        "small_molecule": m.species}
                for m in rxn.modifiers
            },
            "name": rid,
        }
    out = {
        "boundary_conditions": {
            label: {"class": cls, "reactant": sid} for label, (cls, sid) in model.boundary_conditions.items()
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
