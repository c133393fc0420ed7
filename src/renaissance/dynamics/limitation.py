"""What ends the exponential phase of a batch culture: measured by holding nutrients constant.

For one model of the reactor (:mod:`.bioreactor`), the nutrients are the dynamic extracellular
species the cell takes up at its steady state (``S_b v < 0``). The baseline run gives the time
growth stops, t_stop: the first output time at which the specific growth rate
mu(t) = d ln X / dt has fallen below ``stop_fraction`` x mu(0) (inf: never), and the share of
each nutrient left then. Each nutrient is then held at its initial concentration (as if it could
not run out) and the run repeated; so are, together, all nutrients with less than
``exhausted_share`` left at t_stop (co-limitation: holding one of two nutrients that run out
together changes nothing). Growth is *limited* by the nutrient (or set) whose holding raises the
final biomass most, if by more than ``gain`` (relative).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np

from .._files import write_text_atomic
from ..errors import RenaissanceError
from ..plumbing.streaming import map_models
from .bioreactor import ReactorContext, ReactorRun, dynamic_species, simulate_reactor
from .system import rate_laws

LIMITATION_TABLE = "limitation.csv"


@dataclass(frozen=True)
class Hold:
    """A re-run with ``species`` held at their initial concentrations: its final biomass relative
    to the baseline's (nan when the run did not end ``ok``) and its status."""

    species: tuple[str, ...]
    biomass_ratio: float
    status: str


@dataclass(frozen=True)
class Limitation:
    """The limitation analysis of one model (see module docstring)."""

    model: int
    stop_h: float  # baseline growth-stop time (h; inf: never)
    final_biomass: float  # baseline, g/L
    left: dict[str, float]  # nutrient -> share of its initial concentration left at stop_h (at the end if never)
    holds: tuple[Hold, ...]
    gain: float

    @property
    def limiting(self) -> tuple[str, ...]:
        """The nutrients of the hold that raises the final biomass most, if by more than ``gain``;
        () when none does."""
        best = self.holds[0] if self.holds else None
        return best.species if best and best.status == "ok" and best.biomass_ratio > 1 + self.gain else ()

    def describe(self) -> str:
        """One line: when growth stops, what is left, what holding each nutrient changes."""
        stop = "never stops" if not np.isfinite(self.stop_h) else f"stops at {self.stop_h:.3g} h"
        left = ", ".join(f"{s} {100 * f:.3g}%" for s, f in sorted(self.left.items(), key=lambda kv: kv[1]))
        holds = ", ".join(f"{'+'.join(h.species)} x{h.biomass_ratio:.3g}" if h.status == "ok" else
                          f"{'+'.join(h.species)} {h.status}" for h in self.holds)
        cause = "+".join(self.limiting) or f"none of the nutrients alone or exhausted together (gain <= {self.gain:g})"
        return (f"model {self.model}: growth {stop} at {self.final_biomass:.3g} g/L; left then: {left}; "
                f"final biomass when held: {holds}; limited by: {cause}")


def consumed_species(context: ReactorContext, km: np.ndarray, vmax: np.ndarray) -> list[str]:
    """Dynamic extracellular species the cell takes up at its steady state (Km in mol/L)."""
    cm, units = context.cm, context.units
    laws = rate_laws(cm, np.log(km) + units.log_concentration_scale, vmax)
    uptake = cm.structure.S_boundary @ laws.rates(context.ln_x)  # (n_bnd,) < 0: taken up
    return [cm.structure.boundary[i] for i in dynamic_species(cm, context.settings) if uptake[i] < 0]


def growth_stop(run: ReactorRun, stop_fraction: float) -> float:
    """The first output time (h) at which mu = d ln X / dt < ``stop_fraction`` x mu(0); inf if none."""
    mu = np.gradient(np.log(run.biomass), run.t)
    below = np.flatnonzero(mu < stop_fraction * mu[0])
    return float(run.t[below[0]]) if len(below) else float("inf")


def limitation(context: ReactorContext, km: np.ndarray, vmax: np.ndarray, model: int = 0, *,
               stop_fraction: float = 0.1, exhausted_share: float = 0.1, gain: float = 0.05) -> Limitation:
    """The limitation analysis of one model (``km`` (n_km,) mol/L, ``vmax`` (n_rxn,)); see module docstring."""
    def run_with(held: tuple[str, ...]) -> ReactorRun:
        settings = replace(context.settings, constant=tuple(context.settings.constant) + held)
        return simulate_reactor(context.cm, context.ln_x, km, vmax, settings, context.units, context.times, model)

    base = run_with(())
    if base.status != "ok":
        raise RenaissanceError(f"model {model}: the baseline fermentation did not finish ({base.status}: {base.message})")
    stop = growth_stop(base, stop_fraction)
    at = np.searchsorted(base.t, stop) if np.isfinite(stop) else len(base.t) - 1
    nutrients = consumed_species(context, km, vmax)
    left = {s: float(base.medium[s][at] / base.medium[s][0]) for s in nutrients}
    exhausted = tuple(s for s in nutrients if left[s] < exhausted_share)
    sets = [(s,) for s in nutrients] + ([exhausted] if len(exhausted) > 1 else [])
    holds = []
    for held in sets:
        run = run_with(held)
        ratio = float(run.biomass[-1] / base.biomass[-1]) if run.status == "ok" else float("nan")
        holds.append(Hold(held, ratio, run.status))
    holds.sort(key=lambda h: -np.nan_to_num(h.biomass_ratio, nan=-np.inf))  # largest gain first
    return Limitation(model, stop, float(base.biomass[-1]), left, tuple(holds), gain)


def _limitation_task(context: ReactorContext, model: int, km: np.ndarray, vmax: np.ndarray) -> Limitation:
    return limitation(context, km, vmax, model)


def limitation_study(context: ReactorContext, models, km: np.ndarray, vmax: np.ndarray,
                     path: str | os.PathLike | None = None, n_workers: int | None = None) -> list[Limitation]:
    """:func:`limitation` of every model (``km`` (N, n_km) mol/L and ``vmax`` (N, n_rxn) rows of
    ``models``) in a process pool; with ``path``, a CSV (atomic): ``model, stop_h,
    final_biomass_g_per_l, limited_by`` ('+'-joined; empty: none), then per nutrient the share left
    at the stop and the final biomass ratio when it is held."""
    found: list[Limitation] = []
    map_models(_limitation_task, context, [(int(m), km[i], vmax[i]) for i, m in enumerate(models)], n_workers,
               found.append)
    if path is not None:
        nutrients = sorted({s for item in found for s in item.left})
        header = ["model", "stop_h", "final_biomass_g_per_l", "limited_by", *(f"left_{s}" for s in nutrients),
                  *(f"held_{s}" for s in nutrients), "held_exhausted_together"]
        lines = [",".join(header)]
        for item in found:
            ratio = {h.species: h.biomass_ratio for h in item.holds}
            together = next((h.biomass_ratio for h in item.holds if len(h.species) > 1), float("nan"))
            lines.append(",".join([str(item.model), repr(item.stop_h), repr(item.final_biomass),
                                   "+".join(item.limiting), *(repr(item.left.get(s, float("nan"))) for s in nutrients),
                                   *(repr(ratio.get((s,), float("nan"))) for s in nutrients), repr(together)]))
        write_text_atomic(path, "\n".join(lines) + "\n")
    return found
