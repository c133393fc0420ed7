"""Paths of the files shipped in ``renaissance/data`` (see its NOTICE.md for their origin), and the
command defaults that belong to one shipped model only (:func:`model_presets`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .model.kinetic_model import KineticModel


def shipped_path(name: str) -> Path:
    """The path of the shipped data file ``name``."""
    return Path(str(files("renaissance") / "data" / name))


#: the E. coli W3110 trpD9923 kinetic model (SKiMpy YAML)
ECOLI_MODEL = shipped_path("ecoli_varma_curated.yaml")
#: its steady-state constraints (the paper's set-up plus measured concentrations)
ECOLI_CONSTRAINTS = shipped_path("ecoli_constraints.yaml")
#: the same constraints with the medium of the measured batch culture at inoculation (the showcase state's)
ECOLI_CULTURE_CONSTRAINTS = shipped_path("ecoli_culture_constraints.yaml")
#: its reaction -> subsystem mapping
ECOLI_SUBSYSTEMS = shipped_path("ecoli_subsystems.csv")
#: its bioreactor set-up
ECOLI_BIOREACTOR = shipped_path("ecoli_bioreactor.yaml")
#: the measured batch fermentation of the strain (description; its CSV: ecoli_trpD9923_batch.csv)
ECOLI_EXPERIMENT = shipped_path("ecoli_trpD9923_batch.yaml")
#: SKiMpy's tutorial model (the tutorial "Your own SKiMpy model")
KIN_VARMA_MODEL = shipped_path("kin_varma.yaml")
#: the cofactor groups of the robustness study, found by species id in any model
ROBUSTNESS_GROUPS = shipped_path("robustness_groups.yaml")
#: files of command defaults per shipped model (layout: ecoli_presets.yaml)
PRESET_FILES = ("ecoli_presets.yaml",)


@dataclass(frozen=True)
class ModelPresets:
    """Command defaults that belong to one shipped model; every field empty for any other model.

    Attributes
    ----------
    constraints, medium, subsystems, experiment : Path or None
        Default constraints file (steady-state, sample, cycles, screen, landscape-check),
        bioreactor medium (bioreactor), ``reaction,subsystem`` CSV (km-integration) and measured
        fermentation (bioreactor --measured).
    plot_species : tuple of str
        Species of the robustness trajectory figure.
    paper : mapping group -> (percent at 24 min, percent at 34 min)
        The published robustness table of this model (None where the paper gives no value).
    enzyme : tuple of str
        Reactions of the enzyme of km-integration's local design.
    subsystem : str
        Subsystem of km-integration's subsystem-wide design ('' : none).
    """

    constraints: Path | None = None
    medium: Path | None = None
    subsystems: Path | None = None
    experiment: Path | None = None
    plot_species: tuple[str, ...] = ()
    paper: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    enzyme: tuple[str, ...] = ()
    subsystem: str = ""


def model_fingerprint(model: KineticModel) -> str:
    """SHA-256 (hex) of a model's sorted reaction ids and sorted ``species@compartment`` ids: equal
    for copies of a model file, different as soon as a reaction or species differs."""
    ids = sorted(model.reactions) + sorted(f"{s}@{c}" for s, c in model.species.items())
    return hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()


def model_presets(model: KineticModel) -> ModelPresets:
    """The presets of the shipped model that ``model`` is (by :func:`model_fingerprint`; a copy of
    the shipped file counts), else empty presets (:class:`ModelPresets` ()): model-neutral defaults."""
    fingerprint = model_fingerprint(model)
    for name in PRESET_FILES:
        data = _read_presets(shipped_path(name))
        if data["fingerprint"] == fingerprint:
            return _presets_from_dict(data)
    return ModelPresets()


def _read_presets(path: Path) -> dict:
    from .model.io import read_yaml

    return read_yaml(path)


def _presets_from_dict(data: dict) -> ModelPresets:
    robustness = data.get("robustness", {})
    km = data.get("km_integration", {})
    paper = {group: tuple(values) for group, values in robustness.get("paper", {}).items()}
    return ModelPresets(
        **{key: shipped_path(data[key]) for key in ("constraints", "medium", "subsystems", "experiment")
           if data.get(key)},
        plot_species=tuple(robustness.get("plot", ())), paper=MappingProxyType(paper),
        enzyme=tuple(km.get("enzyme", ())), subsystem=km.get("subsystem", ""))
