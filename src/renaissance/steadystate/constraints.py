"""Constraints files: the experimental and thermodynamic constraints of a steady state, in YAML.

A constraints file holds everything :class:`~renaissance.steadystate.settings.TFASettings` holds,
plus measured concentrations with their sources. It is read by
:func:`renaissance.config.read_config` (``yaml.safe_load`` semantics, duplicate keys refused).
Units: fluxes in mmol/gDW/h, growth in 1/h, concentrations in mol/L, displacements as dG/RT
(dimensionless). Every key is optional (``growth.scaling`` and
``growth.min`` need ``growth.reaction``); unknown keys are errors. Layout, with placeholder ids
(the shipped E. coli file ``renaissance/data/ecoli_constraints.yaml`` uses every section;
``renaissance init`` writes a starter file for any model)::

    growth:                      # growth [1/h] = scaling x v(reaction); no section: no growth bound
      reaction: BIOMASS          # the lumped biomass reaction
      scaling: 5.0e5             # default 1
      min: 0.26                  # lower bound on growth, 1/h; default 0
    fluxes:                      # mmol/gDW/h
      default_bound: 100         # |v| <= this for every reaction not in `bounds`
      fixed: {EX_product: 0.14}  # fluxes held exactly
      bounds: {EX_substrate: [0, 15], EX_byproduct: [-100, 0]}   # [lo, hi]; lo >= 0 fixes the direction
      fixed_directions: {TRANSPORT: 1}              # +1 forward, -1 backward
      min_abs_flux: 1.0e-6       # every reaction not bounded to 0 carries |v| >= this
      flux_budget: 2.0           # total flux <= this x its minimum; null: no budget
    concentrations:              # mol/L
      default_bounds: [1.0e-7, 2.0e-2]              # every species not listed below
      bounds: {proton_c: [3.16e-9, 1.0e-6]}         # per species; override `measured`
      measured:                  # value v -> bounds [v / fold, v x fold]
        fold: 2                  # default 2 ("within twofold"); an entry may set its own
        values:
          a_c: {value: 7.88e-3, source: "Author et al. 2016, Suppl. Table 5", note: "free text"}
          b_c: {value: 9.6e-2, fold: 1.5, source: "..."}   # own fold
      measured_not_applied:      # same layout plus `why`; recorded, not applied
        values:
          c_c: {value: 8.98e-5, source: "Author et al. 2009, ...", why: "infeasible with ..."}
    thermodynamics:
      min_margin: 0.12           # |dG/RT| >= this for every reaction with a Keq and flux
      dg_bounds: {SYNTHASE: [-0.15, 0.15]}          # dG/RT bounds (.inf allowed)
      ln_keq_uncertainty: {default: 0.0, reactions: {ISOMERASE: 0.5}}   # half-widths in ln units
    solver:
      time_limit: 60             # seconds for the direction MILP
      weight_spread: 1.0         # spread of the analytic-centre weights (0: plain centre)

Defaults: keys left out take the (model-neutral) :class:`TFASettings` defaults: no growth
reaction, ``growth.scaling`` 1, ``growth.min`` 0, ``default_bound`` 100, ``default_bounds``
[1e-7, 2e-2] mol/L, ``min_margin`` 0.12, ``min_abs_flux`` 1e-6, ``flux_budget`` 2,
``time_limit`` 60, ``weight_spread`` 1, ``ln_keq_uncertainty.default`` 0; tables left out
(``fixed``, ``bounds``, ``fixed_directions``, ``dg_bounds``, ...) are empty, so a file states
its whole constraint set. An empty file gives ``TFASettings()``, the model-neutral defaults.

Concentration bounds of a species: its ``concentrations.bounds`` entry if any, else the
bounds from its ``measured`` value (even where they leave ``default_bounds``), else
``default_bounds``. Numbers may be written ``1e-7`` (YAML 1.1 reads that as a string; it is
accepted as a number). With a compiled model, every reaction and species id is checked.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import MISSING, dataclass, field, fields, replace
from types import MappingProxyType

import yaml

from .._files import write_text_atomic
from ..config import read_config
from ..errors import ConstraintsError, SettingsError, located
from ..model.compiled import CompiledModel
from ..shipped import ECOLI_CONSTRAINTS, model_presets
from .settings import TFASettings

__all__ = [
    "ECOLI_CONSTRAINTS", "Constraints", "Measurement", "constraints_from_dict", "constraints_to_dict",
    "load_constraints", "model_constraints", "read_constraints", "save_constraints",
]

_SECTIONS = {
    "growth": ("reaction", "scaling", "min"),
    "fluxes": ("default_bound", "fixed", "bounds", "fixed_directions", "min_abs_flux", "flux_budget"),
    "concentrations": ("default_bounds", "bounds", "measured", "measured_not_applied"),
    "thermodynamics": ("min_margin", "dg_bounds", "ln_keq_uncertainty"),
    "solver": ("time_limit", "weight_spread"),
}
_MEASURED_KEYS = ("fold", "values")
_ENTRY_KEYS = ("value", "fold", "source", "note")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
DEFAULT_FOLD = 2.0
#: TFASettings defaults, for keys a file leaves out (every field but growth_reaction has one)
_DEFAULT = {f.name: f.default for f in fields(TFASettings) if f.default is not MISSING}


@dataclass(frozen=True)
class Measurement:
    """A measured concentration (mol/L) and the bounds it implies, ``[value / fold, value * fold]``."""

    value: float
    fold: float = DEFAULT_FOLD
    source: str = ""
    note: str = ""
    why: str = ""  # only for measurements that are recorded but not applied

    @property
    def bounds(self) -> tuple[float, float]:
        return (self.value / self.fold, self.value * self.fold)


@dataclass(frozen=True)
class Constraints:
    """A constraints file: the :class:`TFASettings` it defines and the measurements behind them.

    ``settings.species_bounds`` already contains the bounds of every applied measurement
    (unless an explicit bound overrides it); ``not_applied`` lists measurements the file records
    but does not apply, each with its ``why``.
    """

    settings: TFASettings
    measured: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    not_applied: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    def without_measurements(self) -> TFASettings:
        """``settings`` without the species bounds that come from ``measured`` (explicit bounds kept).

        For the shipped E. coli file (:data:`ECOLI_CONSTRAINTS`) this is the reference set-up of
        the RENAISSANCE paper, whose measured concentrations were not published.
        """
        return replace(self.settings, species_bounds=_explicit_bounds(self.settings.species_bounds, self.measured))


def _explicit_bounds(species_bounds, measured) -> dict:
    """The species bounds that are not their measurement's bounds (species -> (lo, hi) mol/L)."""
    return {sp: b for sp, b in species_bounds.items()
            if sp not in measured or tuple(map(float, b)) != measured[sp].bounds}


# --------------------------------------------------------------------------- reading


def model_constraints(cm: CompiledModel, path: str | os.PathLike | None = None) -> tuple[TFASettings, str | None]:
    """(settings, file) of the constraints of ``cm``: the file ``path``; without one, the
    constraints of the model's presets (the shipped E. coli constraints for the shipped E. coli
    model, :func:`renaissance.shipped.model_presets`); for any other model the model-neutral
    ``TFASettings()`` defaults (no growth bound, default flux and concentration bounds) and file None."""
    path = model_presets(cm.model).constraints if path is None else path
    return (TFASettings(), None) if path is None else (load_constraints(path, cm), str(path))


def load_constraints(path: str | os.PathLike, cm: CompiledModel | None = None) -> TFASettings:
    """The :class:`TFASettings` of a constraints file (see the module docstring for the layout).

    Raises :class:`~renaissance.errors.ConstraintsError` naming the file and the offending key,
    entity or value; with ``cm``, unknown reaction and species ids are errors too.
    """
    return read_constraints(path, cm).settings


def read_constraints(path: str | os.PathLike, cm: CompiledModel | None = None) -> Constraints:
    """Like :func:`load_constraints`, also returning the measurements (applied and not applied)."""
    return constraints_from_dict(read_config(path, ConstraintsError, default="yaml"), source=str(path), cm=cm)


def constraints_from_dict(data: object, source: str | None = None, cm: CompiledModel | None = None) -> Constraints:
    """Validate the dict layout of a constraints file and build its :class:`Constraints`."""
    r = _Reader(source)
    data = r.mapping(data, "top level", allowed=tuple(_SECTIONS))
    sec = {name: r.mapping(data.get(name), name, allowed=keys) for name, keys in _SECTIONS.items()}
    kw = {**_growth(r, sec["growth"]), **_fluxes(r, sec["fluxes"])}
    concentrations, explicit, measured, not_applied = _concentrations(r, sec["concentrations"])
    kw.update(concentrations)
    kw.update(_thermodynamics(r, sec["thermodynamics"]))
    kw.update(_solver(r, sec["solver"]))
    if cm is not None:
        _check_ids(cm, kw, explicit, measured, not_applied, source)
    try:
        settings = TFASettings(**kw)
    except SettingsError as exc:  # defensive: everything above should already be checked
        raise ConstraintsError(located(source, "settings", str(exc))) from None
    return Constraints(settings, MappingProxyType(measured), MappingProxyType(not_applied))


def _growth(r: _Reader, g: dict) -> dict:
    """TFASettings fields of the ``growth`` section (none when it is left out: no growth bound)."""
    if not g:
        return {}
    if "reaction" not in g:
        raise r.fail("growth.reaction", f"missing: {sorted(g)} need the growth reaction they apply to")
    return dict(
        growth_reaction=r.identifier(g["reaction"], "growth.reaction"),
        growth_scaling=r.number(g.get("scaling", _DEFAULT["growth_scaling"]), "growth.scaling", positive=True),
        min_growth=r.number(g.get("min", _DEFAULT["min_growth"]), "growth.min", nonnegative=True),
    )


def _fluxes(r: _Reader, f: dict) -> dict:
    """TFASettings fields of the ``fluxes`` section."""
    kw = dict(
        default_flux_bound=r.number(f.get("default_bound", _DEFAULT["default_flux_bound"]), "fluxes.default_bound",
                                    positive=True),
        fixed_fluxes={k: r.number(v, f"fluxes.fixed.{k}") for k, v in r.table(f.get("fixed"), "fluxes.fixed").items()},
        flux_bounds={k: r.interval(v, f"fluxes.bounds.{k}")
                     for k, v in r.table(f.get("bounds"), "fluxes.bounds").items()},
        fixed_directions={k: r.direction(v, f"fluxes.fixed_directions.{k}")
                          for k, v in r.table(f.get("fixed_directions"), "fluxes.fixed_directions").items()},
        min_abs_flux=r.number(f.get("min_abs_flux", _DEFAULT["min_abs_flux"]), "fluxes.min_abs_flux",
                              nonnegative=True),
    )
    budget = f.get("flux_budget", _DEFAULT["flux_budget"])
    if budget is not None:
        budget = r.number(budget, "fluxes.flux_budget")
        if not budget > 1:
            raise r.fail("fluxes.flux_budget", f"must be > 1 or null, got {budget:g}")
    kw["flux_budget"] = budget
    return kw


def _concentrations(r: _Reader, c: dict) -> tuple[dict, dict, dict, dict]:
    """(TFASettings fields, explicit bounds, measured, not applied) of the ``concentrations`` section."""
    default_bounds = r.interval(c.get("default_bounds", _DEFAULT["concentration_bounds"]),
                                "concentrations.default_bounds", positive=True)
    measured = r.measurements(c.get("measured"), "concentrations.measured", why=False)
    not_applied = r.measurements(c.get("measured_not_applied"), "concentrations.measured_not_applied", why=True)
    both = sorted(set(measured) & set(not_applied))
    if both:
        raise r.fail("concentrations.measured_not_applied",
                     f"species {_ids(both)} also listed under concentrations.measured")
    explicit = {k: r.interval(v, f"concentrations.bounds.{k}", positive=True)
                for k, v in r.table(c.get("bounds"), "concentrations.bounds").items()}
    kw = dict(concentration_bounds=default_bounds,
              species_bounds={**{sp: m.bounds for sp, m in measured.items()}, **explicit})
    return kw, explicit, measured, not_applied


def _thermodynamics(r: _Reader, t: dict) -> dict:
    """TFASettings fields of the ``thermodynamics`` section."""
    kw = dict(
        min_margin=r.number(t.get("min_margin", _DEFAULT["min_margin"]), "thermodynamics.min_margin",
                            nonnegative=True),
        dg_bounds={k: r.interval(v, f"thermodynamics.dg_bounds.{k}", finite=False)
                   for k, v in r.table(t.get("dg_bounds"), "thermodynamics.dg_bounds").items()},
    )
    u = r.mapping(t.get("ln_keq_uncertainty"), "thermodynamics.ln_keq_uncertainty", allowed=("default", "reactions"))
    kw["default_ln_keq_uncertainty"] = r.number(u.get("default", _DEFAULT["default_ln_keq_uncertainty"]),
                                                "thermodynamics.ln_keq_uncertainty.default", nonnegative=True)
    entity = "thermodynamics.ln_keq_uncertainty.reactions"
    kw["ln_keq_uncertainty"] = {k: r.number(v, f"{entity}.{k}", nonnegative=True)
                                for k, v in r.table(u.get("reactions"), entity).items()}
    return kw


def _solver(r: _Reader, s: dict) -> dict:
    """TFASettings fields of the ``solver`` section."""
    return dict(
        time_limit=r.number(s.get("time_limit", _DEFAULT["time_limit"]), "solver.time_limit", positive=True),
        weight_spread=r.number(s.get("weight_spread", _DEFAULT["weight_spread"]), "solver.weight_spread",
                               nonnegative=True),
    )


def _ids(ids) -> str:
    return ", ".join(repr(i) for i in ids)


def _check_ids(cm: CompiledModel, kw: dict, explicit: dict, measured: dict, not_applied: dict,
               source: str | None) -> None:
    reactions, species = set(cm.structure.reactions), set(cm.species)
    if kw.get("growth_reaction") is not None and kw["growth_reaction"] not in reactions:
        raise ConstraintsError(located(source, "growth.reaction",
                                       f"unknown reaction {kw['growth_reaction']!r}"))
    checks = [
        ("fluxes.fixed", kw["fixed_fluxes"], reactions, "reaction"),
        ("fluxes.bounds", kw["flux_bounds"], reactions, "reaction"),
        ("fluxes.fixed_directions", kw["fixed_directions"], reactions, "reaction"),
        ("thermodynamics.dg_bounds", kw["dg_bounds"], reactions, "reaction"),
        ("thermodynamics.ln_keq_uncertainty.reactions", kw["ln_keq_uncertainty"], reactions, "reaction"),
        ("concentrations.bounds", explicit, species, "species"),
        ("concentrations.measured", measured, species, "species"),
        ("concentrations.measured_not_applied", not_applied, species, "species"),
    ]
    for section, ids, known, kind in checks:
        unknown = sorted(set(ids) - known)
        if unknown:
            raise ConstraintsError(located(source, section, f"unknown {kind} {_ids(unknown)}"))
    keq_less = {r for r, th in zip(cm.structure.reactions, cm.thermodynamic) if not th}
    bad = sorted(set(kw["dg_bounds"]) & keq_less)
    if bad:
        raise ConstraintsError(located(source, "thermodynamics.dg_bounds",
                                       f"reaction {_ids(bad)} is irreversible (no Keq, no dG bound)"))


class _Reader:
    """Typed access to the parsed YAML; every error names the file and the dotted key."""

    def __init__(self, source: str | None) -> None:
        self.source = source

    def fail(self, entity: str, problem: str) -> ConstraintsError:
        return ConstraintsError(located(self.source, entity, problem))

    def mapping(self, value: object, entity: str, *, allowed: tuple[str, ...]) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(entity, f"expected a mapping, got {type(value).__name__}")
        unknown = [k for k in value if k not in allowed]
        if unknown:
            raise self.fail(entity, f"unknown key {unknown[0]!r} (allowed: {', '.join(allowed)})")
        return value

    def table(self, value: object, entity: str) -> dict:
        """A mapping id -> anything, ids as strings."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(entity, f"expected a mapping id -> value, got {type(value).__name__}")
        for key in value:
            if not isinstance(key, str) or not key:
                raise self.fail(entity, f"ids must be non-empty strings, got {key!r}")
        return value

    def identifier(self, value: object, entity: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(entity, f"expected an id (string), got {value!r}")
        return value

    def number(self, value: object, entity: str, *, positive: bool = False, nonnegative: bool = False,
               finite: bool = True) -> float:
        if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(entity, f"expected a number, got {value!r}")
        value = float(value)
        if math.isnan(value) or (finite and math.isinf(value)):
            raise self.fail(entity, f"expected a finite number, got {value!r}")
        if positive and not value > 0:
            raise self.fail(entity, f"must be > 0, got {value:g}")
        if nonnegative and not value >= 0:
            raise self.fail(entity, f"must be >= 0, got {value:g}")
        return value

    def interval(self, value: object, entity: str, *, positive: bool = False, finite: bool = True) -> tuple:
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise self.fail(entity, f"expected an interval [lo, hi], got {value!r}")
        lo, hi = (self.number(v, entity, finite=finite) for v in value)
        if lo > hi:
            raise self.fail(entity, f"empty interval: lower bound {lo:g} > upper bound {hi:g}")
        if positive and not lo > 0:
            raise self.fail(entity, f"concentration bounds must be > 0, got [{lo:g}, {hi:g}]")
        return (lo, hi)

    def direction(self, value: object, entity: str) -> int:
        if isinstance(value, bool) or value not in (1, -1):
            raise self.fail(entity, f"expected +1 (forward) or -1 (backward), got {value!r}")
        return int(value)

    def text(self, value: object, entity: str) -> str:
        if not isinstance(value, str):
            raise self.fail(entity, f"expected a string, got {value!r}")
        return value

    def measurements(self, value: object, entity: str, *, why: bool) -> dict:
        block = self.mapping(value, entity, allowed=_MEASURED_KEYS)
        fold = self.fold(block.get("fold", DEFAULT_FOLD), f"{entity}.fold")
        out = {}
        allowed = _ENTRY_KEYS + (("why",) if why else ())
        for sp, entry in self.table(block.get("values"), f"{entity}.values").items():
            name = f"{entity}.values.{sp}"
            if not isinstance(entry, dict):  # a bare number is a value without provenance
                entry = {"value": entry}
            entry = self.mapping(entry, name, allowed=allowed)
            if "value" not in entry:
                raise self.fail(name, "missing key 'value' (mol/L)")
            out[sp] = Measurement(
                value=self.number(entry["value"], f"{name}.value", positive=True),
                fold=self.fold(entry.get("fold", fold), f"{name}.fold"),
                source=self.text(entry.get("source", ""), f"{name}.source"),
                note=self.text(entry.get("note", ""), f"{name}.note"),
                why=self.text(entry.get("why", ""), f"{name}.why"),
            )
        return out

    def fold(self, value: object, entity: str) -> float:
        fold = self.number(value, entity)
        if not fold > 1:
            raise self.fail(entity, f"fold range must be > 1, got {fold:g}")
        return fold


# --------------------------------------------------------------------------- writing


def constraints_to_dict(settings: TFASettings | Constraints) -> dict:
    """The dict layout of a constraints file; :func:`constraints_from_dict` inverts it.

    From a :class:`TFASettings`, every species bound is written under
    ``concentrations.bounds``. From a :class:`Constraints`, the measurements are written back
    under ``measured`` / ``measured_not_applied`` and only the species bounds that differ from
    their measurement's bounds go under ``bounds``.
    """
    measured, not_applied = {}, {}
    if isinstance(settings, Constraints):
        measured, not_applied = dict(settings.measured), dict(settings.not_applied)
        settings = settings.settings
    s = settings
    bounds = {sp: _pair(b) for sp, b in _explicit_bounds(s.species_bounds, measured).items()}
    concentrations: dict = {"default_bounds": _pair(s.concentration_bounds), "bounds": bounds}
    if measured:
        concentrations["measured"] = _measured_dict(measured, why=False)
    if not_applied:
        concentrations["measured_not_applied"] = _measured_dict(not_applied, why=True)
    growth = {} if s.growth_reaction is None else {
        "growth": {"reaction": s.growth_reaction, "scaling": float(s.growth_scaling), "min": float(s.min_growth)}}
    return {
        **growth,
        "fluxes": {
            "default_bound": float(s.default_flux_bound),
            "fixed": {r: float(v) for r, v in s.fixed_fluxes.items()},
            "bounds": {r: _pair(b) for r, b in s.flux_bounds.items()},
            "fixed_directions": {r: int(d) for r, d in s.fixed_directions.items()},
            "min_abs_flux": float(s.min_abs_flux),
            "flux_budget": None if s.flux_budget is None else float(s.flux_budget),
        },
        "concentrations": concentrations,
        "thermodynamics": {
            "min_margin": float(s.min_margin),
            "dg_bounds": {r: _pair(b) for r, b in s.dg_bounds.items()},
            "ln_keq_uncertainty": {"default": float(s.default_ln_keq_uncertainty),
                                   "reactions": {r: float(v) for r, v in s.ln_keq_uncertainty.items()}},
        },
        "solver": {"time_limit": float(s.time_limit), "weight_spread": float(s.weight_spread)},
    }


def save_constraints(settings: TFASettings | Constraints, path: str | os.PathLike) -> None:
    """Write a constraints file (atomic); :func:`load_constraints` reads back equal settings."""
    header = "# renaissance constraints file (layout: renaissance.steadystate.constraints)\n"
    text = yaml.safe_dump(constraints_to_dict(settings), sort_keys=False, default_flow_style=None, width=100)
    write_text_atomic(path, header + text)


def _pair(b) -> list[float]:
    return [float(b[0]), float(b[1])]


def _measured_dict(entries: dict, *, why: bool) -> dict:
    folds = {m.fold for m in entries.values()}
    common = folds.pop() if len(folds) == 1 else DEFAULT_FOLD
    values = {}
    for sp, m in entries.items():
        entry: dict = {"value": float(m.value)}
        if m.fold != common:
            entry["fold"] = float(m.fold)
        for key in ("source", "note") + (("why",) if why else ()):
            if getattr(m, key):
                entry[key] = getattr(m, key)
        values[sp] = entry
    return {"fold": float(common), "values": values}
