"""Steady-state tables: ``id,kind,value`` CSV, loading, validation, conversion to model units.

``kind`` is ``concentration`` (mol/L; every reactant, boundary species included), ``flux``
(net flux, mmol/gDW/h; every reaction) or, optionally, ``k_equilibrium`` (model units, as the
model file's ``k_equilibrium_<r>``): equilibrium constants of this state that replace the
model's (a sampler that varies ln Keq within its uncertainty writes them).
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field, replace

import numpy as np

from .._files import read_text, write_text_atomic
from ..errors import SteadyStateError, located
from ..model.compiled import CompiledModel
from ..settings import UnitSettings

KINDS = ("concentration", "flux", "k_equilibrium")


@dataclass(frozen=True)
class SteadyState:
    """Concentrations (mol/L), net fluxes (mmol/gDW/h) and optional Keq overrides by id."""

    concentrations: dict[str, float]
    fluxes: dict[str, float]
    source: str | None = None
    k_equilibrium: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SteadyStateReport:
    """What :func:`validate_steady_state` measured.

    ``worst_imbalance`` is max_i |(N v)_i| over balanced species in mmol/gDW/h, with
    ``worst_imbalance_relative`` = that over sum_k |N_ik v_k| (species ``worst_species``);
    ``min_margin`` is the smallest |ln(Gamma/Keq)| (= |dG/RT|) over reversible reactions
    with non-zero flux (``min_margin_reaction``).

    The second law over every reaction with a thermodynamic Keq (``cm.thermodynamic``:
    irreversible reactions with a stored Keq included, over their full stoichiometry; see
    :func:`thermodynamic_displacement`) that carries flux: ``thermo_margin`` = the smallest
    -sign(v) dG/RT (negative: that reaction runs uphill; +inf when none carries flux) of
    reaction ``thermo_margin_reaction``; ``uphill``: (reaction, dG/RT) of every reaction with
    -sign(v) dG/RT <= 0, most uphill first (only irreversible ones can be listed: a reversible
    one running uphill fails the validation).
    """

    worst_imbalance: float
    worst_imbalance_relative: float
    worst_species: str
    min_margin: float
    min_margin_reaction: str
    thermo_margin: float = math.inf
    thermo_margin_reaction: str = ""
    uphill: tuple = ()


@dataclass(frozen=True)
class StateArrays:
    """A steady state in model units, aligned with a :class:`CompiledModel`.

    ``ln_x``: (n_sp,) ln concentration in model units (species order of the compiled model);
    ``v``: (n_rxn,) net rates in model concentration per model time.
    """

    ln_x: np.ndarray
    v: np.ndarray

    @property
    def x(self) -> np.ndarray:
        return np.exp(self.ln_x)


def read_steady_state(path: str | os.PathLike) -> SteadyState:
    """Read an ``id,kind,value`` CSV (no model checks; see :func:`validate_steady_state`)."""
    return parse_steady_state(read_text(path, SteadyStateError), source=str(path))


def parse_steady_state(text: str, source: str | None = None) -> SteadyState:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [h.strip() for h in header] != ["id", "kind", "value"]:
        raise SteadyStateError(located(source, "header", f"expected 'id,kind,value', got {header!r}"))
    tables: dict[str, dict[str, float]] = {kind: {} for kind in KINDS}
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != 3:
            raise SteadyStateError(located(source, f"line {line}", f"expected 3 fields, got {len(row)}"))
        sid, kind, raw = (field.strip() for field in row)
        if kind not in KINDS:
            raise SteadyStateError(located(source, f"'{sid}' (line {line})", f"kind {kind!r} is not one of {KINDS}"))
        if sid in tables[kind]:
            raise SteadyStateError(located(source, f"'{sid}' (line {line})", f"duplicate {kind}"))
        try:
            value = float(raw)
        except ValueError:
            raise SteadyStateError(located(source, f"'{sid}' (line {line})", f"value {raw!r} is not a number")) from None
        tables[kind][sid] = value
    return SteadyState(tables["concentration"], tables["flux"], source, tables["k_equilibrium"])


def write_steady_state(state: SteadyState, path: str | os.PathLike) -> None:
    """Write ``state`` as ``id,kind,value`` CSV (atomic, full float precision)."""
    write_text_atomic(path, steady_state_text(state))


def steady_state_text(state: SteadyState) -> str:
    """``state`` as ``id,kind,value`` CSV text (full float precision; :func:`parse_steady_state` reads it back equal)."""
    lines = ["id,kind,value"]
    lines += [f"{sid},concentration,{value!r}" for sid, value in state.concentrations.items()]
    lines += [f"{rid},flux,{value!r}" for rid, value in state.fluxes.items()]
    lines += [f"{rid},k_equilibrium,{value!r}" for rid, value in state.k_equilibrium.items()]
    return "\n".join(lines) + "\n"


def model_for_state(cm: CompiledModel, state: SteadyState) -> CompiledModel:
    """``cm`` with the state's equilibrium constants (if it carries any) replacing the model's."""
    if not state.k_equilibrium:
        return cm
    ln_keq = cm.ln_keq.copy()
    index = {r: k for k, r in enumerate(cm.structure.reactions)}
    for rid, value in state.k_equilibrium.items():
        k = index.get(rid)
        if k is None or not cm.reversible[k]:
            raise SteadyStateError(located(state.source, f"reaction '{rid}'", "k_equilibrium given for an unknown or irreversible reaction"))
        if not (math.isfinite(value) and value > 0):
            raise SteadyStateError(located(state.source, f"reaction '{rid}'", f"k_equilibrium {value!r} must be finite and > 0"))
        ln_keq[k] = math.log(value)
    return replace(cm, ln_keq=ln_keq)


def state_arrays(cm: CompiledModel, state: SteadyState, settings: UnitSettings = UnitSettings()) -> StateArrays:
    """Align ``state`` with ``cm`` and convert to model units (checks that the ids are the model's,
    that none is missing and that concentrations are positive)."""
    src = state.source
    for kind, given, known in (("species", state.concentrations, cm.species),
                               ("reactions", state.fluxes, cm.structure.reactions)):
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise SteadyStateError(located(src, f"{kind} {unknown[:5]}", f"not in the model ({len(unknown)} in all); "
                                                                       "is this the state of another model?"))
    missing = [s for s in cm.species if s not in state.concentrations]
    if missing:
        raise SteadyStateError(located(src, f"species {missing[:5]}", f"missing concentration ({len(missing)} in all)"))
    missing = [r for r in cm.structure.reactions if r not in state.fluxes]
    if missing:
        raise SteadyStateError(located(src, f"reactions {missing[:5]}", f"missing flux ({len(missing)} in all)"))
    x = np.array([state.concentrations[s] for s in cm.species])
    for sid, value in zip(cm.species, x.tolist()):
        if not (math.isfinite(value) and value > 0):
            raise SteadyStateError(located(src, f"species '{sid}'", f"concentration {value!r} must be finite and > 0"))
    v = np.array([state.fluxes[r] for r in cm.structure.reactions])
    for rid, value in zip(cm.structure.reactions, v.tolist()):
        if not math.isfinite(value):
            raise SteadyStateError(located(src, f"reaction '{rid}'", f"flux {value!r} is not finite"))
    return StateArrays(np.log(x) + settings.log_concentration_scale, v * settings.flux_factor)


def pool_turnover(cm: CompiledModel, arrays: StateArrays) -> np.ndarray:
    """(n_var,) 1/h: the rate at which each balanced species' pool is turned over at the state,
    w_i sum_k |S_ik v_k| / (2 x_i) (half the total in- and outflow over the pool; model time)."""
    st = cm.structure
    return st.weights * (np.abs(st.S) @ np.abs(arrays.v)) / (2 * arrays.x[: len(st.variables)])


def displacement(cm: CompiledModel, ln_x: np.ndarray) -> np.ndarray:
    """ln(Gamma / Keq) = dG/RT of every reaction, shape (..., n_rxn); -inf for irreversible ones.

    ``ln_x`` has shape (..., n_sp) in model units.
    """
    return ln_x @ cm.displacement.T - cm.ln_keq


def thermodynamic_displacement(cm: CompiledModel, ln_x: np.ndarray) -> np.ndarray:
    """dG/RT = ln(Gamma / Keq) of every reaction with a thermodynamic Keq, shape (..., n_rxn);
    NaN for reactions without one.

    Unlike :func:`displacement` (the rate laws' Gamma), irreversible reactions with a stored
    ``k_equilibrium_<r>`` are included, with Gamma over their full stoichiometry
    (``cm.thermo_displacement``, ``cm.thermo_ln_keq``). ``ln_x`` (..., n_sp) in model units.
    """
    dg = ln_x @ cm.thermo_displacement.T - np.where(cm.thermodynamic, cm.thermo_ln_keq, 0.0)
    return np.where(cm.thermodynamic, dg, np.nan)


def second_law_margins(cm: CompiledModel, fluxes: np.ndarray, dg: np.ndarray) -> np.ndarray:
    """(n, n_rxn) -sign(v) dG/RT of every reaction with a thermodynamic Keq that carries flux
    (negative: running uphill), +inf elsewhere; ``fluxes`` and ``dg`` (n, n_rxn) or (n_rxn,)."""
    fluxes, dg = np.atleast_2d(fluxes), np.atleast_2d(dg)
    carrying = (fluxes != 0) & cm.thermodynamic[None, :]
    return np.where(carrying, -np.sign(fluxes) * np.nan_to_num(dg, nan=0.0), np.inf)


def validate_steady_state(
    cm: CompiledModel,
    state: SteadyState,
    settings: UnitSettings = UnitSettings(),
    *,
    balance_rtol: float = 1e-6,
) -> SteadyStateReport:
    """Check ``state`` against ``cm``; raise :class:`SteadyStateError` on the first problem.

    Checks: every species and reaction present; concentrations finite and > 0; fluxes finite, not all 0;
    irreversible reactions carry v >= 0; every reversible flux runs down its displacement
    (v > 0 => Gamma < Keq, v < 0 => Gamma > Keq); mass balance of each balanced species,
    |(N v)_i| <= balance_rtol * sum_k |N_ik v_k|. An irreversible reaction with a stored Keq
    that runs uphill does not fail the validation (no rate law uses that Keq): it is listed
    in ``report.uphill``.
    """
    src = state.source
    cm = model_for_state(cm, state)
    arrays = state_arrays(cm, state, settings)
    v = np.array([state.fluxes[r] for r in cm.structure.reactions])
    if len(v) and not v.any():
        raise SteadyStateError(located(src, "fluxes", f"all {len(v)} are 0: a state without flux has no Vmax to "
                                                      "back-calculate (every rate law would be switched off)"))
    dg = displacement(cm, arrays.ln_x)
    for k, rid in enumerate(cm.structure.reactions):
        if not cm.reversible[k] and v[k] < 0:
            raise SteadyStateError(located(src, f"reaction '{rid}'", f"irreversible but carries flux {float(v[k])!r} < 0"))
        if cm.reversible[k] and v[k] != 0 and not (np.sign(v[k]) * dg[k] < 0):
            relation = "Gamma >= Keq" if v[k] > 0 else "Gamma <= Keq"
            raise SteadyStateError(located(
                src, f"reaction '{rid}'", f"flux {v[k]:.6g} runs against its dG ({relation}: ln(Gamma/Keq) = {dg[k]:.6g})"))
    terms = cm.structure.S * v
    balance = np.abs(terms.sum(axis=1))
    scale = np.abs(terms).sum(axis=1)
    relative = np.divide(balance, scale, out=np.zeros_like(balance), where=scale > 0)
    worst = int(np.argmax(relative)) if len(relative) else 0
    if len(relative) and relative[worst] > balance_rtol:
        raise SteadyStateError(located(
            src, f"species '{cm.structure.variables[worst]}'",
            f"not mass balanced: |N.v| = {balance[worst]:.3g} mmol/gDW/h, {relative[worst]:.3g} of its turnover "
            f"(tolerance {balance_rtol:g})"))
    active = cm.reversible & (v != 0)
    margins = np.where(active, np.abs(dg), np.inf)
    tightest = int(np.argmin(margins))
    signed = second_law_margins(cm, v, thermodynamic_displacement(cm, arrays.ln_x))[0]
    closest = int(np.argmin(signed)) if len(signed) else 0
    uphill = tuple((cm.structure.reactions[k], float(-signed[k])) for k in np.argsort(signed, kind="stable")
                   if signed[k] <= 0)
    return SteadyStateReport(
        worst_imbalance=float(balance.max(initial=0.0)),
        worst_imbalance_relative=float(relative.max(initial=0.0)),
        worst_species=cm.structure.variables[worst] if len(relative) else "",
        min_margin=float(margins[tightest]),
        min_margin_reaction=cm.structure.reactions[tightest],
        thermo_margin=float(signed[closest]) if len(signed) else math.inf,
        thermo_margin_reaction=cm.structure.reactions[closest] if len(signed) and np.isfinite(signed[closest]) else "",
        uphill=uphill,
    )
