"""Kinetic model objects: species, reactions, modifiers, boundary conditions, parameters.

Models are plain data. Nothing here mutates a model; :func:`renaissance.model.compile_model`
turns one into arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .mechanisms import (
    MECHANISMS,
    mechanism_constants,
    mechanism_fixed_parameters,
    modifier_constants,
    modifier_fixed_parameters,
)


@dataclass(frozen=True)
class Modifier:
    """A modifier of one reaction: a small molecule, an activator or an inhibitor.

    ``key`` is the YAML label (e.g. ``DSM_x``), ``kind`` the SKiMpy class name,
    ``stoichiometry`` the signed coefficient nu of ``species`` (negative: consumed; 0 for
    activators and inhibitors, which are not reactants).
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
    ``inhibitors`` maps ``inhibitor<k>`` -> species for the inhibited mechanism classes.
    """

    id: str
    mechanism: str
    roles: dict[str, str]
    stoichiometry: dict[str, float]
    modifiers: tuple[Modifier, ...] = ()
    explicit_stoichiometry: bool = True
    inhibitors: dict[str, str] = field(default_factory=dict)

    @property
    def reversible(self) -> bool:
        """True when the mechanism has a backward term (needs ``k_equilibrium``)."""
        return MECHANISMS[self.mechanism].reversible

    @property
    def km_names(self) -> list[str]:
        """Declared constants generated like Km (Michaelis, inhibition, activation), in SKiMpy
        order: the mechanism's, then each modifier's (some may not enter the rate)."""
        names = mechanism_constants(self.mechanism, self.id, list(self.roles), list(self.inhibitors))
        for mod in self.modifiers:
            names += modifier_constants(mod.kind, mod.species, self.id)
        return names

    @property
    def rate_km_names(self) -> list[str]:
        """Declared constants that enter the rate law (IrrevMM product Km do not)."""
        if MECHANISMS[self.mechanism].irreversible_product_km:
            return [n for n in self.km_names if not n.startswith("km_product")]
        return self.km_names

    @property
    def fixed_parameter_names(self) -> list[str]:
        """Parameters that must be numbers in the model file (Hill coefficients, a_max)."""
        names = mechanism_fixed_parameters(self.mechanism, self.id, list(self.roles))
        for mod in self.modifiers:
            names += modifier_fixed_parameters(mod.kind, mod.species, self.id)
        return names

    def net_stoichiometry(self) -> dict[str, float]:
        """Species -> net coefficient (mechanism roles, then modifier small molecules with a
        non-zero coefficient, assigned as SKiMpy does)."""
        net: dict[str, float] = {}
        for role, species in self.roles.items():
            net[species] = net.get(species, 0.0) + self.stoichiometry[role]
        for mod in self.modifiers:
            if mod.stoichiometry:
                net[mod.species] = mod.stoichiometry
        return net

    def species_in_order(self) -> list[str]:
        """Species as SKiMpy meets them: roles in YAML order, then modifier species, then the
        mechanism's inhibitors."""
        seen = dict.fromkeys(self.roles.values())
        seen.update(dict.fromkeys(m.species for m in self.modifiers))
        seen.update(dict.fromkeys(self.inhibitors.values()))
        return list(seen)


@dataclass(frozen=True)
class BoundaryCondition:
    """A boundary condition of SKiMpy's: ``ConstantConcentration`` (the species is a parameter,
    no balance) or ``BoundaryFlux`` (``flux``, model concentration per hour). As in SKiMpy's
    ``KineticModel``, a ``BoundaryFlux`` leaves its species balanced and does not enter the
    model's ODE (SKiMpy applies boundary fluxes only in a ``Reactor``); it is kept for the round
    trip and named by ``check-model``."""

    kind: str
    species: str
    flux: float | None = None


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
        Label (e.g. ``CC_<species>``) -> :class:`BoundaryCondition`.
    parameters : dict
        Flat parameter symbol -> value (None when unset), e.g. ``k_equilibrium_<reaction>``.
    dependent_reactants : tuple
        Dependent species as listed in the file (recomputed by the structure analysis).
    extra : dict
        Other top-level entries kept for a faithful round trip (constraints, initial_conditions).
    """

    name: str
    compartments: dict[str, str]
    species: dict[str, str]
    reactions: dict[str, Reaction]
    boundary_conditions: dict[str, BoundaryCondition] = field(default_factory=dict)
    parameters: dict[str, float | None] = field(default_factory=dict)
    dependent_reactants: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)

    @property
    def boundary_species(self) -> list[str]:
        """Species held at constant concentration, in file order."""
        return [bc.species for bc in self.boundary_conditions.values() if bc.kind == "ConstantConcentration"]


    @property
    def km_names(self) -> list[str]:
        """All declared constants generated like Km (Michaelis, inhibition, activation),
        reactions in file order (the generator's order)."""
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
