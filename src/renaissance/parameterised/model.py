"""The model at one steady state, built once: what every stage after the steady state works on.

:func:`parameterise` reads the problem's files once (model, state, fixed Km, the growth reaction
of its constraints), validates the state against the model and precomputes the stability
problem. Training, generation, robustness, the bioreactor and the exports all take the
resulting :class:`ParameterisedModel`; a population file embeds its :class:`ProblemFiles`, so
:func:`renaissance.parameterised.population.open_population` rebuilds the same object from the
population alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .._files import read_text
from ..errors import ModelFormatError, ParameterFileError, SteadyStateError, located
from ..model import compile_model
from ..model.compiled import CompiledModel
from ..model.io import parse_model
from ..settings import UnitSettings
from ..stability import StabilityProblem, prepare_stability
from ..steadystate import SteadyState, validate_steady_state
from ..steadystate.samples_io import read_sample_state
from ..steadystate.table import model_for_state, parse_steady_state, steady_state_text
from .fixed import FixedKm, no_fixed_km, parse_fixed_km
from .settings import ProblemSettings


@dataclass(frozen=True)
class ProblemFiles:
    """The text of every file a problem is built from, as read (what a population embeds).

    ``steady_state`` is an ``id,kind,value`` CSV (the chosen row of a samples file is written
    out); ``fixed_km`` the fixed/measured Km CSV or None; ``growth_reaction`` the
    ``growth.reaction`` of the problem's constraints file (None: none recorded).
    """

    model: str
    steady_state: str
    fixed_km: str | None = None
    growth_reaction: str | None = None

    def digests(self) -> dict[str, str]:
        """SHA-256 (hex) of each text present, by field name."""
        return {name: text_digest(text) for name, text in
                (("model", self.model), ("steady_state", self.steady_state), ("fixed_km", self.fixed_km))
                if text is not None}


def text_digest(text: str) -> str:
    """SHA-256 (hex) of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ParameterisedModel:
    """A kinetic model at one steady state, with the Km the generator emits and those held fixed.

    Attributes
    ----------
    cm : CompiledModel            the model with the state's Keq overrides
    state : SteadyState           the steady state (mmol/gDW/h fluxes, mol/L concentrations)
    units : UnitSettings          model units of Km, Vmax and time
    stability : StabilityProblem  the precomputed reduced-Jacobian problem at the state
    fixed : FixedKm               constants drawn in given ranges, not emitted
    free : (n_free,) int          columns of ``km_names`` the generator emits
    label : str                   the state, for messages
    files : ProblemFiles          the texts it was built from
    settings : ProblemSettings    the files it was read from (None: built from texts alone)
    """

    cm: CompiledModel
    state: SteadyState
    units: UnitSettings
    stability: StabilityProblem
    fixed: FixedKm
    free: np.ndarray
    label: str
    files: ProblemFiles
    settings: ProblemSettings | None = None

    @property
    def n_km(self) -> int:
        return len(self.stability.km_names)

    @property
    def km_names(self) -> tuple[str, ...]:
        return tuple(self.stability.km_names)

    @property
    def reactions(self) -> tuple[str, ...]:
        return tuple(self.stability.reactions)

    @property
    def state_name(self) -> str:
        """The state's file name (``<states file> state <i>`` for a sampled state), for titles."""
        return Path(self.settings.state_label if self.settings is not None else self.label).name

    @property
    def growth_reaction(self) -> str | None:
        """The growth reaction the problem's constraints name (None: none recorded)."""
        return self.files.growth_reaction

    @property
    def free_kinds(self) -> np.ndarray:
        """(n_free,) kind (``km``, ``ki``, ``ka``) of each emitted constant."""
        return self.cm.km_kinds[self.free]

    @property
    def used(self) -> np.ndarray:
        """(n_km,) bool: Km that enter some rate law."""
        return np.any(self.stability.mono_km != 0, axis=1) | np.any(self.stability.prefactor != 0, axis=1)

    def with_fixed(self, fixed_km_text: str | None, source: str = "fixed Km",
                   settings: ProblemSettings | None = None) -> ParameterisedModel:
        """The same model and state with other fixed Km (CSV text; None: every Km emitted);
        ``settings``: the problem settings that name them (default: unchanged)."""
        fixed = parse_fixed_km(fixed_km_text, self.km_names, source) if fixed_km_text is not None else no_fixed_km()
        return replace(self, fixed=fixed, free=fixed.free_columns(self.n_km),
                       files=replace(self.files, fixed_km=fixed_km_text), settings=settings or self.settings)


def read_problem_files(settings: ProblemSettings) -> ProblemFiles:
    """The texts of the files ``settings`` names, each read once."""
    if settings.steady_state is not None:
        state_text = read_text(settings.steady_state, SteadyStateError)
    else:
        state_text = steady_state_text(read_sample_state(settings.states, settings.state_index))
    growth = None
    if settings.constraints is not None:
        from ..growth import constraints_growth

        growth = constraints_growth(settings.constraints)
    return ProblemFiles(
        model=read_text(settings.model, ModelFormatError), steady_state=state_text,
        fixed_km=read_text(settings.fixed_km, ParameterFileError) if settings.fixed_km else None,
        growth_reaction=growth)


def parameterise(settings: ProblemSettings) -> ParameterisedModel:
    """Read the problem's files, validate the state and precompute its stability problem."""
    files = read_problem_files(settings)
    return build_parameterised(files, settings.units, model_source=settings.model, state_source=settings.state_label,
                               fixed_source=settings.fixed_km, settings=settings)


def build_parameterised(files: ProblemFiles, units: UnitSettings, *, model_source: str, state_source: str,
                        fixed_source: str | None = None, settings: ProblemSettings | None = None) -> ParameterisedModel:
    """The :class:`ParameterisedModel` of ``files`` (``*_source`` name the texts in errors)."""
    cm = compile_model(parse_model(files.model, model_source))
    state = parse_steady_state(files.steady_state, state_source)
    validate_steady_state(cm, state, units)
    stability = prepare_stability(cm, state, units)
    if stability.wrong_direction:
        raise SteadyStateError(located(state_source, f"reactions {stability.wrong_direction[:5]}",
                                       "flux against dG: no Km set can be valid"))
    fixed = (parse_fixed_km(files.fixed_km, cm.km_names, fixed_source or "fixed Km") if files.fixed_km is not None
             else no_fixed_km())
    return ParameterisedModel(model_for_state(cm, state), state, units, stability, fixed,
                              fixed.free_columns(len(cm.km_names)), state_source, files, settings)
