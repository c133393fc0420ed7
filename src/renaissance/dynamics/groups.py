"""Cofactor groups of a robustness study: the species whose return is checked together.

Groups come from the shipped ``robustness_groups.yaml`` (NADH, ATP, NADPH by species id), from
the user's YAML file of that layout, or from the command line (``NAME=a+b,NAME2=c``). The names
of :data:`BUILT_IN_GROUPS` are reserved: ``biomass`` (the growth flux), ``cytosolic`` (every
balanced species of compartment :data:`CYTOSOL`) and ``all``.
"""

from __future__ import annotations

import os

from ..config import read_config
from ..errors import ConstraintsError, located

#: groups that do not come from a groups file
BUILT_IN_GROUPS = ("biomass", "cytosolic", "all")
#: the compartment of the ``cytosolic`` group
CYTOSOL = "c"


def read_groups(path: str | os.PathLike) -> dict[str, tuple[str, ...]]:
    """The cofactor groups of a YAML file ``groups: {NAME: [species, ...]}`` (layout of the shipped
    ``robustness_groups.yaml``); a malformed file is one :class:`ConstraintsError` naming it."""
    source = str(path)
    table = read_config(path, ConstraintsError, default="yaml").get("groups")
    if not isinstance(table, dict):
        raise ConstraintsError(located(source, "groups", "missing: a mapping NAME: [species, ...]"))
    groups = {}
    for name, species in table.items():
        if not (isinstance(species, list) and species and all(isinstance(s, str) and s for s in species)):
            raise ConstraintsError(located(source, f"groups.{name}", f"must be a list of species ids, got {species!r}"))
        groups[str(name)] = tuple(species)
    return _checked_names(groups, source)


def parse_groups(spec: str) -> dict[str, tuple[str, ...]]:
    """Cofactor groups from the command line: ``NAME=species1+species2,NAME2=species3`` (empty:
    none), or the path of a YAML groups file (:func:`read_groups`) when ``spec`` ends in
    ``.yaml`` or ``.yml``."""
    if spec.endswith((".yaml", ".yml")):
        return read_groups(spec)
    groups = {}
    for item in (part.strip() for part in spec.split(",") if part.strip()):
        name, sep, members = item.partition("=")
        species = tuple(s.strip() for s in members.split("+"))
        if not sep or not name.strip() or not all(species):
            raise ConstraintsError(f"--groups '{item}': expected NAME=species1+species2")
        groups[name.strip()] = species
    return _checked_names(groups, "--groups")


def _checked_names(groups: dict, source: str) -> dict:
    reserved = sorted(set(groups) & set(BUILT_IN_GROUPS))
    if reserved:
        raise ConstraintsError(located(source, f"groups {reserved}", f"reserved names; {list(BUILT_IN_GROUPS)} are "
                                       "built in (growth flux, compartment c, every species)"))
    return groups


def missing_members(groups: dict[str, tuple[str, ...]], species) -> dict[str, list[str]]:
    """Per group of ``groups``, its members that are not in ``species`` (groups complete: left out)."""
    known = set(species)
    return {name: [s for s in members if s not in known] for name, members in groups.items()
            if not set(members) <= known}
