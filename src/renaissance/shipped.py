"""Paths of the files shipped in ``renaissance/data`` (see its NOTICE.md for their origin)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def shipped_path(name: str) -> Path:
    """The path of the shipped data file ``name``."""
    return Path(str(files("renaissance") / "data" / name))


#: the E. coli W3110 trpD9923 kinetic model (SKiMpy YAML)
ECOLI_MODEL = shipped_path("ecoli_varma_curated.yaml")
#: its steady-state constraints (the paper's set-up plus measured concentrations)
ECOLI_CONSTRAINTS = shipped_path("ecoli_constraints.yaml")
#: its reaction -> subsystem mapping
ECOLI_SUBSYSTEMS = shipped_path("ecoli_subsystems.csv")
#: its bioreactor set-up
ECOLI_BIOREACTOR = shipped_path("ecoli_bioreactor.yaml")
