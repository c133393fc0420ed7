"""The growth reaction of a model: named by the user, by a constraints or medium file, or guessed from ids.

Robustness (the ``biomass`` group), the bioreactor (growth of the culture) and ``renaissance
init`` need the model's lumped growth reaction. In order of precedence it is the reaction named
on the command line, the ``growth.reaction`` of a constraints file, the ``biomass`` entry of a
bioreactor medium file, or, failing these, the only reaction whose id contains 'biomass' or
'growth' (any case); a model with none has no growth reaction, a model with several must name one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from .errors import RenaissanceError

#: words that mark a reaction id as a growth (lumped biomass) reaction
GROWTH_WORDS = ("biomass", "growth")


def growth_candidates(reactions: Sequence[str]) -> list[str]:
    """The reactions whose id contains one of :data:`GROWTH_WORDS` (any case), in model order."""
    return [r for r in reactions if any(word in r.lower() for word in GROWTH_WORDS)]


def guess_growth_reaction(reactions: Sequence[str]) -> str | None:
    """The only growth candidate (:func:`growth_candidates`); None when there is none.

    Raises :class:`RenaissanceError` naming the candidates when there are several."""
    candidates = growth_candidates(reactions)
    if len(candidates) > 1:
        raise RenaissanceError(f"growth reaction: {len(candidates)} reactions contain 'biomass' or 'growth' "
                               f"({candidates[:5]}); name one (--growth, or growth.reaction in the constraints)")
    return candidates[0] if candidates else None


def constraints_growth(path: str | os.PathLike) -> str | None:
    """The ``growth.reaction`` of a constraints file (None when it names none)."""
    from .steadystate.constraints import read_constraints

    return read_constraints(path).settings.growth_reaction


def resolve_growth(reactions: Sequence[str], *, given: str | None = None,
                   constraints: str | os.PathLike | None = None, medium: str | os.PathLike | None = None,
                   recorded: str | None = None) -> str | None:
    """The growth reaction: ``given``, else the ``growth.reaction`` of the ``constraints`` file,
    else the ``biomass`` entry of the bioreactor ``medium`` file, else ``recorded`` (the growth
    reaction of the constraints a parameterised model was made under), else
    :func:`guess_growth_reaction`. A named reaction the model lacks is an error naming it (and
    the file it comes from)."""
    from .dynamics.bioreactor import medium_growth

    source, entity = None, "growth reaction "
    if given is None and constraints is not None:
        given, source, entity = constraints_growth(constraints), constraints, "growth.reaction: "
    if given is None and medium is not None:
        given, source, entity = medium_growth(medium), medium, "biomass: "
    if given is None and recorded is not None:
        given, entity = recorded, "growth.reaction of the problem's constraints: "
    if given is None:
        return guess_growth_reaction(reactions)
    if given not in reactions:
        raise RenaissanceError(f"{'' if source is None else f'{source}: '}{entity}'{given}': not a reaction of the model")
    return given
