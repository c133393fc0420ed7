"""Starter files for a new SKiMpy model (``renaissance init``): constraints, training, bioreactor.

:func:`starter_files` reads nothing but the model and returns the text of three commented files,
to be edited before use:

* ``constraints.yaml`` -- the growth reaction (guessed from reaction ids containing 'biomass' or
  'growth', :mod:`renaissance.growth`, and named in a comment) with a placeholder lower bound,
  the bounds of every exchange/transport reaction (those that move a boundary species), with
  the direction each runs in words, and the default concentration bounds;
* ``train.toml`` -- a training configuration pointing at the model (path relative to the
  folder), at ``steady_state.csv`` (made with ``renaissance steady-state``) and at the
  constraints;
* ``bioreactor.yaml`` -- a batch-reactor medium listing the model's constant boundary species of
  the extracellular compartment, each concentration left for the user to fill in (mol/L).

:func:`write_starter` writes them (atomically, all texts built first) into a folder that must be
empty unless ``force``.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ._files import write_text_atomic
from .errors import OutputError
from .growth import growth_candidates
from .model.compiled import CompiledModel
from .settings import KM_BOUNDS, VALID_LAMBDA_MAX
from .steadystate.conflicts import growth_limit
from .steadystate.settings import TFASettings

CONSTRAINTS, TRAIN, MEDIUM, STATE = "constraints.yaml", "train.toml", "bioreactor.yaml", "steady_state.csv"
#: bound of every exchange/transport flux in a starter file (mmol/gDW/h), either direction
STARTER_EXCHANGE_BOUND = 10.0
#: the starter's lower bound on growth, as a share of the largest growth its flux bounds allow
STARTER_GROWTH_SHARE = 0.5
#: a boundary species moved by more reactions than this is a co-transported ion (e.g. protons),
#: not a medium substrate or product: moving it alone does not make a reaction an exchange
CURRENCY_REACTIONS = 3


@dataclass(frozen=True)
class Starter:
    """The texts of the starter files (name -> text) and what they were built from."""

    texts: dict[str, str]
    growth: str | None  # the growth reaction written (None: none found)
    growth_note: str  # how it was chosen, in words
    exchanges: int  # exchange/transport reactions bounded
    medium: tuple[str, ...]  # species of the starter medium


def exchange_reactions(cm: CompiledModel) -> dict[str, list[tuple[str, float]]]:
    """Reaction -> [(boundary species, stoichiometric coefficient)] of every exchange/transport
    reaction: those that move a boundary species other than the co-transported ions (boundary
    species moved by more than :data:`CURRENCY_REACTIONS` reactions), in model order."""
    st = cm.structure
    moved = st.S_boundary != 0  # (n_bnd, n_rxn)
    medium = np.count_nonzero(moved, axis=1) <= CURRENCY_REACTIONS
    return {r: [(st.boundary[i], float(st.S_boundary[i, k])) for i in np.flatnonzero(moved[:, k])]
            for k, r in enumerate(st.reactions) if np.any(moved[:, k] & medium)}


def constant_species(cm: CompiledModel) -> list[str]:
    """The model's boundary species held at a constant concentration (SKiMpy ConstantConcentration)."""
    return [bc.species for bc in cm.model.boundary_conditions.values() if bc.kind == "ConstantConcentration"]


def extracellular_compartment(cm: CompiledModel) -> str:
    """``e`` when a boundary species is in compartment ``e``, else the most common compartment of
    the boundary species ('' without boundary species)."""
    compartments = Counter(cm.model.species.get(s, "") for s in cm.structure.boundary)
    return "e" if "e" in compartments else (compartments.most_common(1)[0][0] if compartments else "")


def growth_choice(cm: CompiledModel) -> tuple[str | None, str]:
    """(growth reaction, how it was chosen) from the reaction ids (:func:`growth_candidates`)."""
    candidates = growth_candidates(cm.structure.reactions)
    if not candidates:
        return None, "no reaction id contains 'biomass' or 'growth': name your growth reaction"
    if len(candidates) == 1:
        return candidates[0], "guessed: the only reaction whose id contains 'biomass' or 'growth'"
    return candidates[0], (f"guessed: the first of {len(candidates)} reactions whose id contains 'biomass' or "
                           f"'growth' ({', '.join(candidates)}); check it")


def starter_settings(cm: CompiledModel) -> TFASettings:
    """The constraints of a starter file: the guessed growth reaction (scaling 1) bounded below by
    :data:`STARTER_GROWTH_SHARE` of the largest growth that the flux bounds allow (flux balance
    only), every exchange/transport flux within +-:data:`STARTER_EXCHANGE_BOUND` (irreversible:
    0 .. bound), model-neutral defaults otherwise."""
    growth, _ = growth_choice(cm)
    reversible = dict(zip(cm.structure.reactions, cm.reversible))
    bounds = {r: (-STARTER_EXCHANGE_BOUND if reversible[r] else 0.0, STARTER_EXCHANGE_BOUND)
              for r in exchange_reactions(cm)}
    settings = TFASettings(growth_reaction=growth, flux_bounds=bounds)
    if growth is None:
        return settings
    top, _ = growth_limit(cm, settings)
    share = STARTER_GROWTH_SHARE * top if np.isfinite(top) and top > 0 else 0.0
    return replace(settings, min_growth=float(f"{share:.2g}"))


def constraints_text(cm: CompiledModel, settings: TFASettings, model_name: str, growth_note: str) -> str:
    """The text of a starter constraints file holding ``settings``, each entry explained."""
    defaults = TFASettings()
    exchanges = exchange_reactions(cm)
    growth = settings.growth_reaction
    lines = [f"# Starter constraints for {model_name}, written by `renaissance init`: edit before use.",
             "# Layout and every key: renaissance.steadystate.constraints (docs: File formats).",
             "# Units: fluxes mmol/gDW/h, growth 1/h, concentrations mol/L. Keys left out take model-neutral",
             "# defaults; an unknown reaction or species id is an error naming it.", ""]
    if growth is None:
        lines += [f"# {growth_note}. Without a growth bound or a fixed flux the fluxes stay near",
                  "# fluxes.min_abs_flux: bound growth here, or fix a measured uptake in fluxes.fixed.",
                  "# growth:", "#   reaction: REACTION", "#   scaling: 1.0", "#   min: 0.1", ""]
    else:
        lines += ["growth:",
                  f"  reaction: {growth}   # {growth_note}",
                  f"  scaling: {_number(settings.growth_scaling)}   # growth (1/h) = scaling x its flux; 1 when the "
                  "flux is the growth rate",
                  f"  min: {_number(settings.min_growth)}   # lower bound on growth (1/h). Placeholder: "
                  f"{STARTER_GROWTH_SHARE:g} x the largest growth these flux bounds allow; put your measured "
                  "growth rate", ""]
    lines += ["fluxes:",
              f"  default_bound: {_number(settings.default_flux_bound)}   # |v| <= this for every reaction not in "
              "`bounds`",
              "  # exchange/transport reactions (they move a medium species): [lo, hi]. Bound what you",
              "  # measured (uptake, secretion); lo >= 0 allows the forward direction only, hi <= 0 the",
              f"  # backward one. Placeholders: +-{STARTER_EXCHANGE_BOUND:g} (irreversible: 0 .. "
              f"{STARTER_EXCHANGE_BOUND:g}).",
              "  bounds:" + ("" if exchanges else " {}")]
    for reaction, moved in exchanges.items():
        low, high = settings.flux_bounds[reaction]
        lines.append(f"    {reaction}: [{_number(low)}, {_number(high)}]   # forward {_direction(moved)}"
                     + ("" if low < 0 else " (irreversible)"))
    lines += ["  fixed: {}                 # fluxes held exactly, e.g. a measured secretion",
              "  fixed_directions: {}      # +1 forward, -1 backward",
              f"  min_abs_flux: {_number(defaults.min_abs_flux)}",
              f"  flux_budget: {_number(defaults.flux_budget)}        # total flux <= this x its minimum; null: no "
              "budget",
              "",
              "concentrations:",
              f"  default_bounds: [{_number(defaults.concentration_bounds[0])}, "
              f"{_number(defaults.concentration_bounds[1])}]   # every species not listed in `bounds`",
              "  bounds: {}                # per species [lo, hi], e.g. measured ranges or the medium's "
              "concentrations",
              "",
              "thermodynamics:",
              f"  min_margin: {_number(defaults.min_margin)}           # |dG/RT| >= this for every reversible "
              "reaction with flux",
              "  dg_bounds: {}             # dG/RT bounds per reaction (.inf allowed)", ""]
    return "\n".join(lines)


def _direction(moved: list[tuple[str, float]]) -> str:
    """'takes up a_e; secretes b_e' for the boundary species a reaction's forward direction moves."""
    taken = [s for s, c in moved if c < 0]
    given = [s for s, c in moved if c > 0]
    return "; ".join(part for part in (f"takes up {', '.join(taken)}" if taken else "",
                                       f"secretes {', '.join(given)}" if given else "") if part)


def train_text(model_path: str, model_name: str) -> str:
    """A starter training configuration (paths relative to its folder)."""
    return "\n".join([
        f"# Training a generator for {model_name}, written by `renaissance init`.",
        "# Paths are relative to this file. Make the steady state first (from this folder):",
        f"#   renaissance steady-state --model {model_path} --constraints {CONSTRAINTS} --out {STATE}",
        "# then: renaissance train --config train.toml --out RUN_DIR. Every key is optional but",
        "# problem.model and the state; all of them: renaissance.generator.settings (docs: File formats).",
        'preset = "default"       # "paper": the published algorithm and values',
        "seed = 0",
        "final_samples = 1000     # fresh models of the final generator evaluated at the end",
        "",
        "[problem]",
        f"model = {_toml_string(model_path)}",
        f'steady_state = "{STATE}"',
        f'constraints = "{CONSTRAINTS}"   # its growth.reaction: the growth reaction of robustness, bioreactor',
        "",
        "[generator]",
        f"km_bounds = [{KM_BOUNDS[0]:g}, {KM_BOUNDS[1]:g}]   # mol/L (paper: 1.3 uM .. 20 mM)",
        "",
        "[nes]",
        "generations = 50",
        f"threshold = {VALID_LAMBDA_MAX:<16} # valid: lambda_max <= threshold (1/h)",
        "",
    ])


def _number(x: float) -> str:
    """``x`` as a YAML float that YAML 1.1 does not read as text (``1.0e-07``, not ``1e-07``)."""
    text = repr(float(x))
    mantissa, e, exponent = text.partition("e")
    return f"{mantissa}.0e{exponent}" if e and "." not in mantissa else text


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def medium_text(cm: CompiledModel, model_name: str, growth: str | None) -> tuple[str, tuple[str, ...]]:
    """(text, species) of a starter bioreactor medium: the constant boundary species of the
    extracellular compartment, concentrations to fill in."""
    compartment = extracellular_compartment(cm)
    species = tuple(s for s in constant_species(cm) if cm.model.species.get(s) == compartment)
    lines = [f"# Batch bioreactor for {model_name}, written by `renaissance init`: fill in before use",
             "# (renaissance bioreactor POP.h5 --medium bioreactor.yaml). Layout: renaissance.dynamics.bioreactor.",
             "# Concentrations in mol/L. By default every extracellular species starts at the steady state's own",
             "# value (initial_conditions: steady_state, the cells at their steady state); with",
             "# initial_conditions: initial_medium the species below start at these values instead.",
             "# Extracellular species not held constant (boundary_conditions) are reactor states; an aerated",
             "# culture's O2: hold it, or gas_transfer: {SPECIES: {kla: 1/h, saturation: mol/L}}."]
    if growth is None:
        lines += ["# biomass: no reaction id contains 'biomass' or 'growth': name your growth reaction",
                  "# biomass:", "#   strain_1: REACTION"]
    else:
        lines += ["biomass:", f"  strain_1: {growth}   # the growth reaction (as in constraints.yaml)"]
    lines += ["biomass_scaling:", "  strain_1: 1.0   # growth (1/h) = this x the growth reaction's flux (mmol/gDW/h)",
              f"extracellular_compartment: {compartment}",
              "reactor_volume: 5.0e+13   # in cell volumes of 1 um^3: 50 mL",
              "initial_medium:" + ("" if species else " {}")]
    for s in species:
        stored = cm.model.parameters.get(s)
        hint = "" if stored is None else f"; the model file gives {stored:g} (in its own concentration unit)"
        lines.append(f"  {s}: null   # FILL IN (mol/L){hint}")
    lines += ["# boundary_conditions:      # species held constant in the reactor (e.g. protons, dissolved gases)",
              "#   CC_SPECIES:",
              "#     class: ConstantConcentration",
              "#     reactant: SPECIES",
              "# report:                   # species plotted beside biomass: label (default: initial_medium's)",
              "#   SPECIES: name", ""]
    return "\n".join(lines), species


def starter_files(cm: CompiledModel, model_path: str | os.PathLike, out_dir: str | os.PathLike) -> Starter:
    """The starter files for the model ``cm`` read from ``model_path``, to be written into ``out_dir``
    (the training configuration points at the model by a path relative to ``out_dir``)."""
    model_path = Path(model_path)
    name = model_path.name
    relative = os.path.relpath(model_path.resolve(), Path(out_dir).resolve())
    growth, note = growth_choice(cm)
    settings = starter_settings(cm)
    medium, species = medium_text(cm, name, growth)
    texts = {CONSTRAINTS: constraints_text(cm, settings, name, note), TRAIN: train_text(Path(relative).as_posix(), name),
             MEDIUM: medium}
    return Starter(texts, growth, note, len(settings.flux_bounds), species)


def write_starter(starter: Starter, out_dir: str | os.PathLike, *, force: bool = False) -> list[Path]:
    """Write the starter files into ``out_dir`` (created if needed); a folder that is not empty is
    refused unless ``force`` (then files of the same name are replaced). Returns the paths."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: is a file; give a folder")
    present = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if present and not force:
        raise OutputError(f"{out}: not empty ({', '.join(present[:3])}{', ...' if len(present) > 3 else ''}); "
                          "use --force to write the starter files into it")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the folder ({exc.strerror})") from None
    paths = [out / name for name in starter.texts]
    for path in paths:
        write_text_atomic(path, starter.texts[path.name])
    return paths


__all__ = ["STARTER_EXCHANGE_BOUND", "STARTER_GROWTH_SHARE", "Starter", "constant_species", "exchange_reactions",
           "extracellular_compartment", "growth_choice", "starter_files", "starter_settings", "write_starter"]
