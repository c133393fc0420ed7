"""Modes of the reduced Jacobian that no Km set can move, found before any training.

At a steady state, J = W N_R diag(v) E(K) diag(1/x) L (see :mod:`.problem`). Two structures make
an eigenvalue exactly 0 for *every* Km set, so that no model can be valid:

* **zero-flux pool** (left null vector): a reaction with zero flux gets Vmax = 0 and drops out
  of the dynamics; if the species it connects are then joined by a relation that the flux-carrying
  reactions conserve (exact left null space of S over the reactions with v != 0, beyond the
  model's conserved pools), that combination is frozen;
* **dead-end species** (right null vector): no rate law of a flux-carrying reaction reads the
  species (nor a dependent species computed from it), so its column of J is zero.

A third, sampled check flags a mode that is unstable for every random Km set and hardly moves
(max/min of lambda_max over the sets <= ``spread``): a Km-independent unstable mode, with the
species that carry it (shares of the squared eigenvector). None of these is cured by training
longer or by another Km set; they are named with their likely cause.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import StructureError
from ..model.compiled import CompiledModel
from ..model.structure import left_null_space
from ..settings import UnitSettings
from ..steadystate.table import StateArrays, SteadyState, model_for_state, state_arrays
from .problem import StabilityProblem, jacobians_and_vmax

#: shown at most per mode
_NAMES = 6


@dataclass(frozen=True)
class StructuralMode:
    """A mode no Km set can move.

    ``kind``: ``"zero_flux_pool"``, ``"dead_end_species"`` or ``"km_independent_unstable_mode"``;
    ``species`` carry it (with ``shares`` of the eigenvector for the sampled kind); ``reactions``
    the reactions involved (zero-flux reactions for a pool); ``lambda_max`` (1/h) the eigenvalue
    (0 for the structural kinds; the median over the sampled sets otherwise).
    """

    kind: str
    species: tuple[str, ...]
    reactions: tuple[str, ...] = ()
    shares: tuple[float, ...] = ()
    lambda_max: float = 0.0

    def describe(self) -> str:
        species = ", ".join(self.species[:_NAMES]) + (" ..." if len(self.species) > _NAMES else "")
        if self.kind == "zero_flux_pool":
            return (f"eigenvalue 0 for every Km set: the pool of {species} is frozen because the reactions that "
                    f"change it carry zero flux at this state ({', '.join(self.reactions[:_NAMES])}); a zero flux "
                    "gives Vmax = 0. Give them a non-zero flux, or remove them from the model")
        if self.kind == "dead_end_species":
            return (f"eigenvalue 0 for every Km set: no rate law of a reaction with flux reads {species} (dead-end "
                    "species: nothing responds to its concentration). Make a reaction that consumes it depend on it "
                    "(a reversible or saturable rate law), or hold it constant (ConstantConcentration)")
        carried = ", ".join(f"{s} {share:.2f}" for s, share in zip(self.species[:_NAMES], self.shares))
        return (f"lambda_max > 0 for every random Km set, median {self.lambda_max:.3g} 1/h, hardly moved by Km: an "
                f"unstable mode carried by {carried} (share of the eigenvector). Its rates do not saturate (mass "
                "action, first-order modifiers) or their reactions sit far from equilibrium at this state: check the "
                "state's displacements of the reactions of these species, or the mechanisms that use them")


def structural_modes(cm: CompiledModel, arrays: StateArrays) -> list[StructuralMode]:
    """The exact structural zero modes (zero-flux pools, dead-end species) of ``cm`` at the state
    ``arrays`` (model units); empty when there is none."""
    st = cm.structure
    active = arrays.v != 0
    modes = []
    span = st.conservation
    for relation in left_null_space(st.S[:, active]):  # the model's pools, and those frozen by zero fluxes
        stacked = np.vstack([span, relation])
        if np.linalg.matrix_rank(stacked) > len(span):
            span = stacked
            touching = np.flatnonzero(~active & np.any(st.S[relation != 0] != 0, axis=0))
            members = np.flatnonzero((relation != 0) | np.any(st.S[:, touching] != 0, axis=1))
            modes.append(StructuralMode("zero_flux_pool", tuple(st.variables[i] for i in members),
                                        tuple(st.reactions[k] for k in touching)))
    n_var = len(st.variables)
    read = cm.reads[active][:, :n_var].any(axis=0)  # (n_var,) read by a flux-carrying rate law
    reaches = (st.link != 0).T @ read  # per independent species: dependent or itself read
    frozen = {s for mode in modes for s in mode.species}  # their zero mode is named already
    dead = [st.variables[i] for i, hits in zip(st.independent, reaches) if not hits and st.variables[i] not in frozen]
    if dead:
        modes.append(StructuralMode("dead_end_species", tuple(dead)))
    return modes


def modes_at_state(cm: CompiledModel, state: SteadyState, units: UnitSettings = UnitSettings()) -> list[StructuralMode]:
    """:func:`structural_modes` of ``cm`` (with the state's Keq) at ``state``."""
    cm = model_for_state(cm, state)
    return structural_modes(cm, state_arrays(cm, state, units))


def check_structure(cm: CompiledModel, state: SteadyState, units: UnitSettings = UnitSettings(),
                    label: str | None = None) -> None:
    """Raise :class:`StructureError` naming every structural zero mode of ``cm`` at ``state``
    (``label`` names the state in the message)."""
    modes = modes_at_state(cm, state, units)
    if modes:
        where = label or state.source or "steady state"
        raise StructureError(f"{where}: no parameter set can be valid at this state (found before any work): "
                             + "; ".join(mode.describe() for mode in modes))


def km_independent_mode(problem: StabilityProblem, ln_km: np.ndarray, spread: float = 1.5) -> StructuralMode | None:
    """The sampled check (module docstring) over ln Km sets ``ln_km`` (B, n_km), ln(mol/L)."""
    J, _ = jacobians_and_vmax(problem, ln_km)
    return shared_unstable_mode(J, problem.species, spread)


def shared_unstable_mode(J: np.ndarray, species, spread: float = 1.5) -> StructuralMode | None:
    """A mode when every Jacobian of ``J`` (B, n, n) is finite with lambda_max > 0, max/min of
    lambda_max <= ``spread``, and the same species leads the eigenvector of lambda_max; the
    species are ranked by their mean share |v_i|^2 (those >= 1%). None otherwise."""
    if not np.isfinite(J).all():
        return None
    values, vectors = np.linalg.eig(J)
    top = np.argmax(values.real, axis=1)
    lam = values.real[np.arange(len(J)), top]
    if not (lam > 0).all() or lam.max() > spread * lam.min():
        return None
    shares = np.abs(vectors[np.arange(len(J)), :, top]) ** 2
    shares /= shares.sum(axis=1, keepdims=True)
    leaders = np.argmax(shares, axis=1)
    if not (leaders == leaders[0]).all():
        return None
    mean = shares.mean(axis=0)
    order = np.argsort(-mean, kind="stable")[:_NAMES]
    order = order[mean[order] >= 0.01]
    return StructuralMode("km_independent_unstable_mode", tuple(species[i] for i in order),
                          shares=tuple(float(mean[i]) for i in order), lambda_max=float(np.median(lam)))
