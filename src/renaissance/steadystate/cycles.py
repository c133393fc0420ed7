"""Thermodynamic loops: Keq-inconsistent (energy-generating) cycles and internal flux loops.

Two kinds of closed loops matter for a second-law-consistent steady state:

* **Keq-inconsistent cycles.** A cycle is an integer combination ``c`` of reversible
  (Keq-carrying) reactions that converts nothing: ``D^T c = 0`` over *all* species, variables
  and boundary species alike, with ``D = cm.displacement`` (n_rxn, n_sp), the rate laws' own
  exponents of the mass-action ratio (ln Gamma_k = D_k . ln x, modifiers included). Around
  such a cycle the displacements dG_k/RT = D_k . (ln x + ln s) - ln Keq_k sum to

      sum_k c_k dG_k/RT = (D^T c) . (ln x + ln s) - sum_k c_k ln Keq_k = - sum_k c_k ln Keq_k

  at *every* state and concentration scale ``s``. For consistent equilibrium constants the
  sum is zero; if ``G = sum_k c_k ln Keq_k > 0`` the cycle, run as written (c_k > 0 forward,
  c_k < 0 backward), can have every step downhill at once: a perpetual-motion machine whose
  free-energy gain per turn is G (in units of RT). Such cycles exist exactly when ln Keq is
  not in the range of D: the least-squares residual ``r = D mu - ln Keq`` (over reversible
  reactions, potentials ``mu`` per species) is non-zero, and for every cycle G = -c . r.
  Imposing the direction of one member against the cycle's energy-generating direction blocks
  it (its reverse runs uphill overall and is excluded by the second law anyway).

* **Internal (type-III) loops.** Flux vectors ``v != 0`` with ``S v = 0`` for every species,
  boundary species included (no exchange with the environment), within the directions the
  flux settings allow. A loop of reversible reactions is excluded by the second law exactly
  when it is not an energy-generating cycle in an allowed direction. A loop through
  irreversible reactions (no Keq: no second-law constraint in the TFA, e.g. ATP maintenance, the
  respiratory chain, biomass) is generally *not* excluded: those are the dangerous ones.

Method: minimal-support loops are found by a MILP (HiGHS via :func:`scipy.optimize.milp`):
integer coefficients c = p - n (0 <= p <= K f, 0 <= n <= K b, binaries f + b <= 1), minimise
the number of members sum(f + b) subject to the balance rows and a normalisation row; after
each solution an exclusion cut sum_{k in support}(f_k + b_k) <= |support| - 1 removes it and
its supersets. Minimal supports are elementary loops. Columns whose stoichiometry is not
half-integral (a lumped biomass reaction) are scaled to max |entry| 1 and kept continuous.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import reduce

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from ..errors import SettingsError
from ..model.compiled import CompiledModel
from ..settings import UnitSettings
from .settings import TFASettings

#: largest |integer coefficient| of a cycle member in the search
_MAX_COEFFICIENT = 24
#: the normalisation sum c ln Keq >= this (above the MILP's feasibility tolerances x sum |ln Keq|)
_MIN_GAIN = 1e-3
_TIME_LIMIT = 20.0


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Cycle:
    """A closed combination of reactions that converts nothing.

    Attributes
    ----------
    coefficients : dict reaction -> float
        Multiples of each member (integers where the stoichiometry allows); > 0 runs the
        reaction forward, < 0 backward. For a Keq-inconsistent cycle the orientation is the
        energy-generating one (``ln_keq_sum > 0``).
    ln_keq_sum : float
        sum_k c_k ln Keq_k (dimensionless, free-energy gain per turn in units of RT; equal to
        -sum_k c_k dG_k/RT at every state). NaN when the cycle has members without Keq.
    keq_less : tuple of str
        Members without an equilibrium constant (irreversible reactions).
    """

    coefficients: Mapping[str, float]
    ln_keq_sum: float
    keq_less: tuple[str, ...] = ()

    @property
    def reactions(self) -> list[str]:
        return list(self.coefficients)

    def equation(self) -> str:
        """``"R1 + R2 - 4 R3"`` (members in the order stored)."""
        parts = []
        for i, (r, c) in enumerate(self.coefficients.items()):
            mag = abs(c)
            term = r if mag == 1 else (f"{mag:g} {r}" if float(mag).is_integer() else f"{mag:.4g} {r}")
            if i == 0:
                parts.append(f"-{term}" if c < 0 else term)
            else:
                parts.append(f"{'-' if c < 0 else '+'} {term}")
        return " ".join(parts)

    def describe(self) -> str:
        """One readable line: members, ln Keq sum and what it means."""
        if self.keq_less:
            return (f"{self.equation()}: loop through reactions without Keq ({', '.join(self.keq_less)}), "
                    f"only its other members are constrained by the second law")
        if abs(self.ln_keq_sum) <= 1e-9:
            return f"{self.equation()}: sum ln Keq = 0 (consistent)"
        what = "energy-generating when run as written" if self.ln_keq_sum > 0 else \
            "uphill as written; its reverse is energy-generating"
        return f"{self.equation()}: sum ln Keq = {self.ln_keq_sum:+.4g} ({what})"

    def blocked_by(self, directions: Mapping[str, int]) -> list[str]:
        """Members whose imposed direction (+1 / -1; 0 = no flux) opposes this orientation."""
        return [r for r, c in self.coefficients.items()
                if r in directions and directions[r] != (1 if c > 0 else -1)]


@dataclass(frozen=True)
class Loop:
    """An internal flux loop that the flux settings allow.

    Attributes
    ----------
    cycle : Cycle
        Oriented in a direction the flux bounds allow (energy-generating if that is allowed).
    kind : str
        ``"keq_less"`` (has members without Keq), ``"energy_generating"`` (Keq members only,
        ln_keq_sum > tol in the allowed direction), ``"uphill"`` (Keq-inconsistent, but only
        the uphill direction is allowed) or ``"keq_consistent"`` (|ln_keq_sum| <= tol).
    excluded : bool
        True when no concentrations within the settings' bounds put every Keq-carrying member
        downhill by the margin (dG_k/RT <= -min_margin in its direction; dg_bounds included),
        i.e. the second law forbids the loop. Checked on the loop alone.
    """

    cycle: Cycle
    kind: str
    excluded: bool

    def describe(self) -> str:
        verdict = "excluded by the second law" if self.excluded else "NOT excluded by the second law"
        return f"{self.cycle.describe()} -- {verdict}"


# --------------------------------------------------------------------------- MILP enumeration


def _column_scale(A: np.ndarray) -> np.ndarray:
    """(n,) divisor per column: 1 for half-integral columns, else max |entry| (continuous)."""
    half = np.all(np.abs(2 * A - np.round(2 * A)) <= 1e-9, axis=0)
    peak = np.abs(A).max(axis=0)
    return np.where(half | (peak == 0), 1.0, np.where(peak > 0, peak, 1.0))


def _enumerate_supports(A: np.ndarray, allow_fwd: np.ndarray, allow_bwd: np.ndarray,
                        norm: tuple[np.ndarray, float] | None, max_count: int, time_limit: float,
                        cuts: list[np.ndarray] | None = None, require: np.ndarray | None = None) -> list[np.ndarray]:
    """Minimal-support non-zero c with A c = 0 and a normalisation, distinct supports.

    A : (n_rows, n) balance rows; allow_fwd / allow_bwd : (n,) bool, sign allowed for c_k;
    require : (n,) int, +1 / -1 forces c_k >= 1 / c_k <= -1 (scaled units), 0 free.
    norm : (a, b) for the row a . c >= b (a in original column units), or None for "c != 0"
    (then c = p - n with direction binaries, sum p + n >= 1). Columns that are not
    half-integral are scaled to max |entry| 1 and continuous; the others take integer values
    in [-K, K]. ``cuts`` (index arrays of earlier supports) is extended in place. Returns
    the coefficient vectors (n,) in the original column units, in solution order.
    """
    cuts = [] if cuts is None else cuts
    n = A.shape[1]
    scale = _column_scale(A)
    As = A / scale
    integer = scale == 1.0
    if norm is not None:
        base, lb, ub, integrality, iy = _normalised_milp(As, norm[0] / scale, norm[1], allow_fwd, allow_bwd,
                                                         require, integer)
    else:
        base, lb, ub, integrality, iy = _nonzero_milp(As, allow_fwd, allow_bwd, require, integer)
    n_var = len(lb)
    cost = np.zeros(n_var)
    cost[iy] = 1.0
    found: list[np.ndarray] = []
    while len(found) < max_count:
        cons = list(base)
        if cuts:
            rows = np.zeros((len(cuts), n_var))
            for i, sup in enumerate(cuts):
                rows[i, iy[sup]] = 1.0
                if norm is None:
                    rows[i, iy[n + sup]] = 1.0
            cons.append(LinearConstraint(sparse.csr_matrix(rows), -np.inf, [len(s) - 1 for s in cuts]))
        res = milp(cost, constraints=cons, integrality=integrality, bounds=Bounds(lb, ub),
                   options={"time_limit": time_limit, "presolve": True, "disp": False})
        if res.x is None:
            break
        cs = res.x[:n] if norm is not None else res.x[:n] - res.x[n:2 * n]
        cs = np.where(integer, np.round(cs), cs)
        support = np.flatnonzero(np.abs(cs) > 1e-7)
        if len(support) == 0:
            break
        cuts.append(support)
        c = _exact_loop(As, cs, support)
        if c is not None:
            found.append(c / scale)
    return found


def _normalised_milp(As: np.ndarray, a: np.ndarray, b: float, allow_fwd: np.ndarray, allow_bwd: np.ndarray,
                     require: np.ndarray | None, integer: np.ndarray) -> tuple:
    """MILP of :func:`_enumerate_supports` with a normalisation row a . c >= b (``a`` in scaled units).

    Variables [c (n), y (n)]: As c = 0, |c_k| <= K y_k, y binary. Returns (constraints, lb,
    ub, integrality, indices of y).
    """
    n = As.shape[1]
    K = float(_MAX_COEFFICIENT)
    I = sparse.identity(n, format="csr")
    base = [
        LinearConstraint(sparse.hstack([sparse.csr_matrix(As), sparse.csr_matrix((As.shape[0], n))]), 0.0, 0.0),
        LinearConstraint(sparse.bmat([[I, -K * I], [-I, -K * I]]), -np.inf, 0.0),
        LinearConstraint(np.concatenate([a, np.zeros(n)])[None, :], b, np.inf),
    ]
    lb = np.concatenate([np.where(allow_bwd, -K, 0.0), np.zeros(n)])
    ub = np.concatenate([np.where(allow_fwd, K, 0.0), (allow_fwd | allow_bwd).astype(float)])
    if require is not None:
        lb[:n] = np.where(require > 0, 1.0, lb[:n])
        ub[:n] = np.where(require < 0, -1.0, ub[:n])
    integrality = np.concatenate([integer, np.ones(n, bool)]).astype(int)
    return base, lb, ub, integrality, np.arange(n, 2 * n)


def _nonzero_milp(As: np.ndarray, allow_fwd: np.ndarray, allow_bwd: np.ndarray, require: np.ndarray | None,
                  integer: np.ndarray) -> tuple:
    """MILP of :func:`_enumerate_supports` for "c != 0": c = p - n with direction binaries.

    Variables [p, n, f, b] (n each): As (p - n) = 0, p <= K f, n <= K b, f + b <= 1,
    sum(p + n) >= 1. Returns (constraints, lb, ub, integrality, indices of f and b).
    """
    n = As.shape[1]
    K = float(_MAX_COEFFICIENT)
    I = sparse.identity(n, format="csr")
    O = sparse.csr_matrix((n, n))
    base = [
        LinearConstraint(sparse.hstack([sparse.csr_matrix(As), sparse.csr_matrix(-As),
                                        sparse.csr_matrix((As.shape[0], 2 * n))]), 0.0, 0.0),
        LinearConstraint(sparse.bmat([[I, O, -K * I, O], [O, I, O, -K * I]]), -np.inf, 0.0),
        LinearConstraint(sparse.hstack([O, O, I, I]), -np.inf, 1.0),
        LinearConstraint(np.concatenate([np.ones(2 * n), np.zeros(2 * n)])[None, :], 1.0, np.inf),
    ]
    lb = np.zeros(4 * n)
    ub = np.concatenate([np.where(allow_fwd, K, 0.0), np.where(allow_bwd, K, 0.0),
                         allow_fwd.astype(float), allow_bwd.astype(float)])
    if require is not None:
        lb[:n] = np.where(require > 0, 1.0, 0.0)
        lb[n:2 * n] = np.where(require < 0, 1.0, 0.0)
    integrality = np.concatenate([integer, integer, np.ones(2 * n, bool)]).astype(int)
    return base, lb, ub, integrality, np.arange(2 * n, 4 * n)


def _exact_loop(As: np.ndarray, cs: np.ndarray, support: np.ndarray) -> np.ndarray | None:
    """The loop on ``support`` in scaled units, exact (null vector of As[:, support]) or None."""
    sub = As[:, support]
    _, sv, vt = np.linalg.svd(sub, full_matrices=True)
    tol = 1e-9 * max(1.0, sv.max() if len(sv) else 1.0)
    rank = int(np.sum(sv > tol))
    if len(support) - rank != 1:
        # not elementary (or numerical trouble): keep the MILP's vector if it balances
        ok = np.abs(sub @ cs[support]).max() <= 1e-7 * max(1.0, np.abs(sub).max())
        return cs.copy() if ok else None
    w = vt[-1]
    w = w * np.sign(w @ cs[support])
    out = np.zeros_like(cs)
    out[support] = w
    return out


def _integerize(c: np.ndarray, integer: np.ndarray) -> np.ndarray:
    """Scale a loop so that its coefficients are small integers where possible.

    Members in ``integer`` (bool mask) set the scale: the smallest |c_k| among them becomes a
    rational with small denominator; if every such member is then rational, multiply by the
    lcm of denominators and divide by the gcd. Otherwise the smallest |c_k| becomes 1.
    """
    nz = np.flatnonzero(c)
    ref = nz[integer[nz]] if np.any(integer[nz]) else nz
    c = c / np.abs(c[ref]).min()
    fr = [Fraction(float(x)).limit_denominator(_MAX_COEFFICIENT) for x in c[ref]]
    if all(abs(float(f) - x) <= 1e-6 * max(1.0, abs(x)) for f, x in zip(fr, c[ref])):
        lcm = reduce(lambda p, q: p * q // math.gcd(p, q), (f.denominator for f in fr), 1)
        nums = [abs(f.numerator) * (lcm // f.denominator) for f in fr]
        g = reduce(math.gcd, nums)
        c = c * lcm / g
        c[ref] = np.round(c[ref])
    return c


def _cycle(cm: CompiledModel, c: np.ndarray, ln_keq: np.ndarray, orient_by_gain: bool) -> Cycle:
    """A :class:`Cycle` from a loop vector (n_rxn,) in reaction order; members sorted by name."""
    rxns = cm.structure.reactions
    nz = np.flatnonzero(c)
    keq_less = tuple(sorted(rxns[k] for k in nz if not cm.reversible[k]))
    gain = float("nan") if keq_less else float(c[nz] @ ln_keq[nz])
    if orient_by_gain and not keq_less and gain < 0:
        c, gain = -c, -gain
    order = sorted(nz, key=lambda k: rxns[k])
    coeff = {rxns[k]: (int(c[k]) if float(c[k]).is_integer() else float(c[k])) for k in order}
    return Cycle(coefficients=coeff, ln_keq_sum=gain, keq_less=keq_less)


# --------------------------------------------------------------------------- Keq consistency


def keq_residual(cm: CompiledModel, ln_keq: np.ndarray | None = None) -> dict[str, float]:
    """Least-squares ln Keq inconsistency per reversible reaction.

    Returns {reaction: r_k} with r = D mu - ln Keq for the potentials mu (n_sp,) minimising
    ||D mu - ln Keq|| over reversible reactions (D = cm.displacement). r is zero exactly when
    the Keq are consistent around every cycle; ``ln Keq + r`` is the smallest (least-squares)
    correction that makes them consistent; every cycle c has sum c ln Keq = -c . r.
    """
    ln_keq = cm.ln_keq if ln_keq is None else np.asarray(ln_keq, dtype=float)
    rev = np.flatnonzero(cm.reversible)
    D = cm.displacement[rev]
    mu, *_ = np.linalg.lstsq(D, ln_keq[rev], rcond=None)
    r = D @ mu - ln_keq[rev]
    return {cm.structure.reactions[k]: float(x) for k, x in zip(rev, r)}


def keq_inconsistent_cycles(cm: CompiledModel, tol: float = 1e-6, max_cycles: int = 50, *,
                            directions: Mapping[str, int] | None = None,
                            through: Mapping[str, int] | None = None,
                            ln_keq: np.ndarray | None = None,
                            time_limit: float = _TIME_LIMIT) -> list[Cycle]:
    """Energy-generating cycles of Keq-carrying reactions, fewest members first.

    Parameters
    ----------
    cm : CompiledModel
    tol : float
        Cycles with |sum c ln Keq| <= tol count as consistent (the search itself normalises by
        sum c ln Keq >= 1e-3 for integer c, so cycles with a smaller gain are not listed).
    max_cycles : int
        Stop after this many (distinct member sets).
    directions : dict reaction -> +1 / -1 / 0, optional
        Restrict the search to cycles that run each listed reaction only forward (+1), only
        backward (-1) or not at all (0): e.g. the directions the flux settings impose (only
        cycles they do not block), or -sign(dG) at a state (cycles running downhill there).
    through : dict reaction -> +1 / -1, optional
        Only cycles that run these reactions in these directions (the smallest such loop may
        then be a combination of elementary cycles).
    ln_keq : (n_rxn,) array, optional
        Equilibrium constants to check instead of ``cm.ln_keq`` (model units).
    time_limit : float
        Seconds per MILP.

    Returns
    -------
    list of Cycle
        Oriented so that ``ln_keq_sum > tol`` (energy-generating as written); elementary
        (no proper subset of members forms a cycle), integer coefficients, members sorted.
    """
    ln_keq = cm.ln_keq if ln_keq is None else np.asarray(ln_keq, dtype=float)
    for name, mapping in (("directions", directions), ("through", through)):
        unknown = sorted(set(mapping or {}) - set(cm.structure.reactions))
        if unknown:
            raise SettingsError(f"keq_inconsistent_cycles: {name} names unknown reactions {unknown}")
    residual = keq_residual(cm, ln_keq)
    if max_cycles <= 0 or max(map(abs, residual.values()), default=0.0) <= tol:
        return []
    rev = np.flatnonzero(cm.reversible)
    D = cm.displacement[rev]
    rxns = cm.structure.reactions
    fwd, bwd = _direction_masks(rxns, rev, directions or {})
    through = through or {}
    require = np.array([through.get(rxns[k], 0) for k in rev])
    lk = ln_keq[rev]
    found = _enumerate_supports(D.T, fwd, bwd, (lk, max(_MIN_GAIN, tol)), max_cycles, time_limit,
                                require=require)
    out = []
    for c_rev in found:
        c = np.zeros(cm.n_reactions)
        c[rev] = _integerize(c_rev, np.ones(len(rev), bool))
        cycle = _cycle(cm, c, ln_keq, orient_by_gain=not (directions or through))
        if cycle.ln_keq_sum > tol:
            out.append(cycle)
    return out


def _direction_masks(rxns: list[str], cols: np.ndarray, directions: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """(allow_fwd, allow_bwd) bool (len(cols),) from a direction mapping (+1 / -1 / 0)."""
    d = np.array([directions.get(rxns[k], None) for k in cols], dtype=object)
    fwd = np.array([x is None or x > 0 for x in d])
    bwd = np.array([x is None or x < 0 for x in d])
    return fwd, bwd


def downhill_directions(cm: CompiledModel, ln_x: np.ndarray, units: UnitSettings = UnitSettings(),
                        ln_keq: np.ndarray | None = None) -> dict[str, int]:
    """-sign(dG/RT) per reversible reaction at a state (+1: forward is downhill).

    ln_x : (n_sp,) ln concentration in mol/L in ``cm.species`` order. Passing the result as
    ``directions`` to :func:`keq_inconsistent_cycles` lists the cycles that run downhill at
    that state: perpetual motion the state's thermodynamics allows.
    """
    ln_keq = cm.ln_keq if ln_keq is None else np.asarray(ln_keq, dtype=float)
    rev = np.flatnonzero(cm.reversible)
    dg = cm.displacement[rev] @ (np.asarray(ln_x, dtype=float) + units.log_concentration_scale) - ln_keq[rev]
    return {cm.structure.reactions[k]: (1 if g < 0 else -1 if g > 0 else 0) for k, g in zip(rev, dg)}


# --------------------------------------------------------------------------- flux settings


def allowed_directions(cm: CompiledModel, settings: TFASettings) -> dict[str, tuple[int, str]]:
    """Directions the flux settings impose: {reaction: (sign, why)} for restricted reactions.

    sign +1: forward only, -1: backward only, 0: no loop flux (fixed flux or bounds (0, 0)).
    why names the setting: ``"fixed_directions +1"``, ``"flux_bounds [0, 15]"``,
    ``"fixed_fluxes = 0.14"``, ``"growth >= 0.26 1/h"``, ``"irreversible"``. Reactions
    absent from the result may run either way.
    """
    s = settings
    out: dict[str, tuple[int, str]] = {}
    for k, r in enumerate(cm.structure.reactions):
        lo, hi = -s.default_flux_bound, s.default_flux_bound
        why = f"|v| <= {s.default_flux_bound:g}"
        if r in s.flux_bounds:
            lo, hi = s.flux_bounds[r]
            why = f"flux_bounds [{lo:g}, {hi:g}]"
        if r in s.fixed_fluxes:
            out[r] = (0, f"fixed_fluxes = {s.fixed_fluxes[r]:g}")
            continue
        if r == s.growth_reaction and s.min_growth > 0:
            lo, why = max(lo, s.min_growth / s.growth_scaling), f"growth >= {s.min_growth:g} 1/h"
        if not cm.reversible[k] and lo < 0:
            lo, why = 0.0, "irreversible"
        if lo == 0 and hi == 0:
            out[r] = (0, why)
        elif r in s.fixed_directions:
            out[r] = (s.fixed_directions[r], f"fixed_directions {s.fixed_directions[r]:+d}")
        elif lo >= 0:
            out[r] = (1, why)
        elif hi <= 0:
            out[r] = (-1, why)
    return out


def blocking(cycle: Cycle, cm: CompiledModel, settings: TFASettings) -> dict[str, str]:
    """Members of ``cycle`` whose imposed direction blocks it as oriented: {reaction: why}."""
    imposed = allowed_directions(cm, settings)
    return {r: imposed[r][1] for r in cycle.blocked_by({r: d for r, (d, _) in imposed.items()})}


def _vector(cm: CompiledModel, cycle: Cycle) -> np.ndarray:
    """(n_rxn,) coefficient vector of ``cycle`` in reaction order."""
    c = np.zeros(cm.n_reactions)
    for r, x in cycle.coefficients.items():
        c[cm.structure.reactions.index(r)] = x
    return c


def _second_law_allows(cm: CompiledModel, c: np.ndarray, settings: TFASettings, units: UnitSettings,
                       ln_keq: np.ndarray) -> bool:
    """Whether some ln x in the settings' box puts every Keq member of loop c (n_rxn,) downhill.

    Rows: sign(c_k) dG_k/RT <= -min_margin and dg_bounds, dG_k/RT = D_k . (ln x + ln s) - ln Keq_k.
    Members: every reaction with a thermodynamic Keq (``cm.thermodynamic``; irreversible ones
    with a stored Keq over their full stoichiometry, ``cm.thermo_displacement``), as the TFA.
    """
    s = settings
    ln_keq = np.where(cm.reversible, ln_keq, cm.irreversible_ln_keq)
    members = [k for k in np.flatnonzero(c) if np.isfinite(ln_keq[k])]
    if not members:
        return True
    rxns = cm.structure.reactions
    lo = np.full(len(cm.species), math.log(s.concentration_bounds[0]))
    hi = np.full(len(cm.species), math.log(s.concentration_bounds[1]))
    for i, sp in enumerate(cm.species):
        if sp in s.species_bounds:
            lo[i], hi[i] = (math.log(x) for x in s.species_bounds[sp])
    D = cm.thermo_displacement[members]
    off = D.sum(axis=1) * units.log_concentration_scale - ln_keq[members]
    sign = np.sign(c[members])
    A_ub, b_ub = [sign[:, None] * D], [-s.min_margin - sign * off]
    for i, k in enumerate(members):
        if rxns[k] in s.dg_bounds:
            g_lo, g_hi = s.dg_bounds[rxns[k]]
            if math.isfinite(g_hi):
                A_ub.append(D[i][None, :])
                b_ub.append(np.array([g_hi - off[i]]))
            if math.isfinite(g_lo):
                A_ub.append(-D[i][None, :])
                b_ub.append(np.array([off[i] - g_lo]))
    res = linprog(np.zeros(len(lo)), A_ub=np.vstack(A_ub), b_ub=np.concatenate(b_ub),
                  bounds=np.column_stack([lo, hi]), method="highs")
    return res.status == 0


def internal_loops(cm: CompiledModel, settings: TFASettings,
                   units: UnitSettings = UnitSettings(), *, max_loops: int = 10, max_consistent: int = 3,
                   tol: float = 1e-6, time_limit: float = _TIME_LIMIT) -> list[Loop]:
    """Internal flux loops (S v = 0 over every species, no exchange) the flux settings allow.

    Three searches, fewest members first, each up to ``max_loops`` (the last up to
    ``max_consistent``): loops through reactions without Keq (not constrained by the second
    law); energy-generating Keq cycles in an allowed direction; other loops of Keq-carrying
    reactions (examples, normally excluded). Directions come from :func:`allowed_directions`;
    fixed fluxes take no part. Each loop is checked against the second law with the settings'
    margin, concentration and dG bounds (``Loop.excluded``).
    """
    ln_keq = cm.ln_keq
    rxns = cm.structure.reactions
    S = np.vstack([cm.structure.S, cm.structure.S_boundary])  # (n_sp, n_rxn), every species
    imposed = allowed_directions(cm, settings)
    fwd, bwd = _direction_masks(rxns, np.arange(len(rxns)), {r: d for r, (d, _) in imposed.items()})
    keq_less = ~cm.reversible
    integer = _column_scale(S) == 1.0
    loops: list[Loop] = []
    cuts: list[np.ndarray] = []

    def add(vectors, kind_of):
        for v in vectors:
            c = _integerize(v, integer)
            cycle = _cycle(cm, c, ln_keq, orient_by_gain=False)
            kind = kind_of(cycle)
            loops.append(Loop(cycle=cycle, kind=kind,
                              excluded=not _second_law_allows(cm, c, settings, units, ln_keq)))

    if keq_less.any():
        # normalisation sum of the Keq-less members >= 1 in scaled units (biomass: max |S| = 1)
        a = keq_less * _column_scale(S)
        found = _enumerate_supports(S, fwd, bwd, (a, 1.0), max_loops, time_limit, cuts)
        add(found, lambda cy: "keq_less")
    # Keq-carrying members only
    fwd_r, bwd_r = fwd & ~keq_less, bwd & ~keq_less
    lk = np.where(keq_less, 0.0, ln_keq)
    found = _enumerate_supports(S, fwd_r, bwd_r, (lk, max(_MIN_GAIN, tol)), max_loops, time_limit, cuts)
    add(found, lambda cy: "energy_generating")
    if max_consistent > 0:
        found = _enumerate_supports(S, fwd_r, bwd_r, None, max_consistent, time_limit, cuts)
        add(found, lambda cy: ("energy_generating" if cy.ln_keq_sum > tol
                               else "uphill" if cy.ln_keq_sum < -tol else "keq_consistent"))
    return loops


# --------------------------------------------------------------------------- report


def _count(items) -> str:
    counts: dict[str, int] = {}
    for x in items:
        counts[x] = counts.get(x, 0) + 1
    return ", ".join(f"{k} ({v})" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def cycle_report(cm: CompiledModel, settings: TFASettings, units: UnitSettings = UnitSettings(),
                 *, max_cycles: int = 30, max_loops: int = 10, tol: float = 1e-6) -> str:
    """Readable summary of the Keq-inconsistent cycles and of the internal loops (multi-line).

    Lists the ln Keq least-squares residuals (the smallest correction that would make the Keq
    consistent), the energy-generating cycles with the settings' constraints that block each,
    and the internal loops the flux settings allow with the second law's verdict on each.
    """
    lines = []
    residual = keq_residual(cm)
    bad = {r: x for r, x in residual.items() if abs(x) > tol}
    n_rev = int(cm.reversible.sum())
    keq_less = [r for r, rev in zip(cm.structure.reactions, cm.reversible) if not rev]
    lines.append(f"Keq consistency: {n_rev} reactions with Keq, {len(keq_less)} without"
                 + (f" ({', '.join(keq_less)})" if keq_less else ""))
    if not bad:
        lines.append("  the equilibrium constants are consistent around every cycle")
    else:
        top = sorted(bad.items(), key=lambda kv: -abs(kv[1]))
        lines.append(f"  inconsistent around cycles: {len(bad)} reactions carry a least-squares ln Keq "
                     f"residual (ln Keq + residual would be consistent); largest: "
                     + ", ".join(f"{r} {x:+.3g}" for r, x in top[:12]))
        cycles = keq_inconsistent_cycles(cm, tol=tol, max_cycles=max_cycles)
        imposed = allowed_directions(cm, settings)
        signs = {r: d for r, (d, _) in imposed.items()}
        more = " (listing limit reached)" if len(cycles) >= max_cycles else ""
        lines.append(f"  energy-generating cycles, fewest members first: {len(cycles)}{more}")
        blockers = []
        for cycle in cycles:
            blocked = cycle.blocked_by(signs)
            blockers += blocked
            if blocked:
                why = "blocked by " + ", ".join(f"{r} ({imposed[r][1]})" for r in blocked)
            elif _second_law_allows(cm, _vector(cm, cycle), settings, units, cm.ln_keq):
                why = "NOT blocked: can run downhill within the settings' bounds"
            else:
                why = "not blocked, but the margin and bounds keep it from running downhill"
            lines.append(f"    {cycle.describe()}; {why}")
        n_blocked = sum(1 for c in cycles if c.blocked_by(signs))
        lines.append(f"  blocked by the settings' directions: {n_blocked} of {len(cycles)}"
                     + (f"; blocking members: {_count(blockers)}" if blockers else ""))
    loops = internal_loops(cm, settings, units, max_loops=max_loops, tol=tol)
    lines.append("Internal loops (no exchange) that the flux settings allow, fewest members first:")
    titles = {"keq_less": "through reactions without Keq", "energy_generating": "energy-generating (Keq members only)",
              "uphill": "Keq-inconsistent, allowed only uphill", "keq_consistent": "Keq-consistent"}
    for kind, title in titles.items():
        group = [lp for lp in loops if lp.kind == kind]
        if group:
            lines.append(f"  {title}:")
            lines += [f"    {lp.describe()}" for lp in group]
    if not loops:
        lines.append("  none")
    open_ = [lp for lp in loops if not lp.excluded]
    lines.append(f"  not excluded by the second law within the bounds: {len(open_)} of {len(loops)} listed"
                 + (" (a steady state may run these; check states with keq_inconsistent_cycles("
                    "directions=downhill_directions(...)))" if open_ else ""))
    return "\n".join(lines)


def cycles_run_by_patterns(cm: CompiledModel, patterns, max_cycles: int = 3) -> list:
    """The energy-generating cycles (stored Keq inconsistent, :func:`keq_inconsistent_cycles`, at
    most ``max_cycles`` per pattern) that each flux direction pattern (n_rxn,) runs."""
    found = []
    for pattern in patterns:
        directions = {r: int(np.sign(d)) for r, d, rev in zip(cm.structure.reactions, pattern, cm.reversible) if rev}
        found += keq_inconsistent_cycles(cm, max_cycles=max_cycles, directions=directions)
    return found
