"""Kinetic model objects: species, reactions, modifiers, boundary conditions, parameters.

Models are plain data. Nothing here mutates a model; :func:`renaissance.model.compile_model`
turns one into arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .mechanisms import MECHANISMS, km_name, km_roles, parse_role


@dataclass(frozen=True)
class Modifier:
    """A small-molecule modifier of one reaction.

    ``key`` is the YAML label (e.g. ``DSM_h_c``), ``kind`` the SKiMpy class name,
    ``stoichiometry`` the signed coefficient nu of ``species`` (negative: consumed).
    """

    key: str
    kind: str
    species: str
    stoichiometry: float


@dataclass(frozen=True)
class Reaction:
    """One reaction: mechanism class, roles (role -> species, YAML order), signed stoichiometry.

    ``stoichiometry`` maps role -> coefficient; for classes with built-in stoichiometry it holds
    the class's values and ``explicit_stoichiometry`` is False (nothing is written back).
    """

    id: str
    mechanism: str
    roles: dict[str, str]
    stoichiometry: dict[str, float]
    modifiers: tuple[Modifier, ...] = ()
    explicit_stoichiometry: bool = True

    @property
    def reversible(self) -> bool:
        """True when the mechanism has a backward term (needs ``k_equilibrium``)."""
        return MECHANISMS[self.mechanism].reversible

    @property
    def uses_hill(self) -> bool:
        return MECHANISMS[self.mechanism].uses_hill

    @property
    def km_names(self) -> list[str]:
        """Declared Michaelis constants, in SKiMpy order (some may not enter the rate)."""
        return [km_name(r, self.id) for r in km_roles(self.mechanism, list(self.roles))]

    @property
    def rate_km_names(self) -> list[str]:
        """Michaelis constants that enter the rate law (IrrevMM product Km do not)."""
        if self.mechanism == "IrrevMichaelisMenten":
            return [n for n in self.km_names if parse_role(n.split("_")[1])[0] == "substrate"]
        return self.km_names

    def net_stoichiometry(self) -> dict[str, float]:
        """Species -> net coefficient (mechanism roles, then modifier small molecules, assigned)."""
        net: dict[str, float] = {}
        for role, species in self.roles.items():
            net[species] = net.get(species, 0.0) + self.stoichiometry[role]
        for mod in self.modifiers:
            net[mod.species] = mod.stoichiometry
        return net

    def species_in_order(self) -> list[str]:
        """Species as SKiMpy meets them: roles in YAML order, then modifier small molecules."""
        seen = dict.fromkeys(self.roles.values())
        seen.update(dict.fromkeys(m.species for m in self.modifiers))
        return list(seen)


@dataclass(frozen=True)
class KineticModel:
    """A kinetic model in SKiMpy's vocabulary.

    Attributes
    ----------
    name : str
    compartments : dict
        Compartment id -> name.
    species : dict
        Reactant id -> compartment id, in file order.
    reactions : dict
        Reaction id -> :class:`Reaction`, in file order.
    boundary_conditions : dict
        Label (e.g. ``CC_glc_D_e``) -> (class name, species id).
    parameters : dict
        Flat parameter symbol -> value (None when unset), e.g. ``k_equilibrium_PGI``.
    dependent_reactants : tuple
        Dependent species as listed in the file (recomputed by the structure analysis).
    extra : dict
        Other top-level entries kept for a faithful round trip (constraints, initial_conditions).
    """

    name: str
    compartments: dict[str, str]
    species: dict[str, str]
    reactions: dict[str, Reaction]
    boundary_conditions: dict[str, tuple[str, str]] = field(default_factory=dict)
    parameters: dict[str, float | None] = field(default_factory=dict)
    dependent_reactants: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)

    @property
    def boundary_species(self) -> list[str]:
        """Species held at constant concentration, in file order."""
        return [species for _, species in self.boundary_conditions.values()]

    @property
    def km_names(self) -> list[str]:
        """All declared Michaelis constants, reactions in file order (the generator's order)."""
        return [name for reaction in self.reactions.values() for name in reaction.km_names]

    def parameter(self, name: str, default: float | None = None) -> float | None:
        """Value of a flat parameter, ``default`` when absent or null."""
        value = self.parameters.get(name)
        return default if value is None else value

    def k_equilibrium(self, reaction_id: str) -> float | None:
        return self.parameter(f"k_equilibrium_{reaction_id}")

    def volume_weight(self, compartment: str) -> float:
        """``cell_volume_<c> / volume_<c>``: the factor on a species' mass balance (1 if unset)."""
        return self.parameter(f"cell_volume_{compartment}", 1.0) / self.parameter(f"volume_{compartment}", 1.0)
