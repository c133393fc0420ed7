"""Uniform sampling of thermodynamically consistent steady states (coordinate hit-and-run).

Within one direction pattern (the sign of every reversible flux, chosen by TFA's MILP; see
:mod:`renaissance.steadystate.problem`) the feasible set is the product of two polytopes:

* ``P_v`` -- net fluxes ``u`` (TFA's u-units: the growth reaction's flux times
  ``growth_scaling``): ``S u = 0``, fixed fluxes, flux bounds with ``|u| >= eps`` in the
  pattern's direction and, when ``TFASettings.flux_budget`` is set, the total flux
  ``sum |v| <= flux_budget x`` its minimum. The budget is kept, so that the sampler draws from
  the same set as :func:`~renaissance.steadystate.tfa.find_steady_state`; ``flux_budget=None``
  drops it (E. coli, 500 states: total flux median 439 -> 513 mmol/gDW/h, max 444 -> 629;
  volume concentrates at the cap, as uniform samples in many dimensions do).
* ``P_x`` -- ``y = (ln x, delta)``: concentration bounds, ``|delta_k| <= u_k`` (``ln Keq_k +
  delta_k`` is the state's equilibrium constant; half-widths ``u_k`` from
  ``TFASettings.ln_keq_uncertainty``; no delta when all are 0), and
  ``dG_k/RT = D_k (ln x + ln c) - ln Keq_k - delta_k`` on the pattern's side of the margin
  and within ``dg_bounds``.

Each polytope is sampled uniformly and independently; pairing the i-th draws gives the
uniform distribution on their product. Method (numbers measured on the E. coli polytopes,
P_v: d = 37, P_x: d = 112; see benchmarks/bench_sampler.py):

1. Redundant inequalities are removed (one LP per row not already seen tight at an earlier
   LP optimum; P_v 245 -> 62 rows, P_x 341 -> 219).
2. Coordinates stay aligned with the bounds: P_x uses ``(ln x, delta)`` directly; P_v uses
   a subset of the fluxes as free coordinates (pivoted QR of the equalities). An orthonormal
   null-space basis rotates the box, and coordinate hit-and-run then mixed 15x slower.
3. Rounding: ``f = L z`` with ``L L^T`` the inverse log-barrier Hessian at the analytic
   centre of the non-redundant rows (its Dikin ellipsoid becomes the unit ball). This mixed
   as well as the maximum-volume inscribed ellipsoid; a diagonal scaling alone did not mix
   (ESS ~ 10 of 10,000).
4. Coordinate hit-and-run (CHRR) from the centre, one *sweep* = one step along every
   coordinate in a fixed order. Chains advance together in blocks as numpy arrays: a step
   updates one coordinate of every chain of the block and the slacks ``r - M z`` of every
   inequality (O(m) per chain). Blocks run on a thread pool.
5. Every chain has its own ``numpy.random.Generator`` (``SeedSequence(seed)`` children per
   pattern, polytope and chain), the kernel is elementwise per chain (so blocking does not
   change a bit) and BLAS runs on one thread: the same seed gives bitwise identical states
   whatever ``n_threads`` or the machine's thread count.

Further direction patterns (``n_patterns > 1``) come from the same MILP with one integer
no-good cut per pattern found (:func:`~renaissance.steadystate.problem.direction_pattern`,
``exclude``); the states are split equally between them.

Defaults (measured on E. coli, see ``_BURN_IN`` and ``_THINNING``): the integrated
autocorrelation time of the slowest coordinate is ~14 sweeps in P_x and ~20 in P_v, and
1,000 chains started at the centre match the stationary means within noise after ~20
(P_x) and ~50 (P_v) sweeps; so states are kept every 20 sweeps after 100 sweeps of burn-in.
"""

from __future__ import annotations

import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.linalg import qr
from scipy.optimize import linprog
from threadpoolctl import threadpool_limits

from .._validation import check_int
from ..errors import InfeasibleError, SettingsError
from ..model.compiled import CompiledModel
from ..settings import UnitSettings
from .conflicts import infeasibility_message
from .problem import (
    LP_OPTIONS,
    Problem,
    build_problem,
    check_names,
    direction_pattern,
    flux_constraints,
    inequalities,
    interior_point,
    pattern_dg_bounds,
    pattern_flux_bounds,
)
from .settings import TFASettings
from .table import SteadyState, second_law_margins

_BURN_IN = 100  # sweeps before the first kept state (default)
_THINNING = 20  # sweeps between kept states (default)
_MAX_CHAINS = 512  # default number of chains per polytope and pattern ...
_MIN_DRAWS = 10  # ... fewer when each would keep fewer states than this (the ESS needs chain lengths)
_BLOCK_MAX = 131072  # slacks per block of chains at most (cache: 1 MiB) ...
_BLOCK_MIN = 32768  # ... and at least when split over threads (per-call overhead holds the GIL)
_RESYNC = 8  # sweeps between exact recomputations of the slacks
_RNG_SWEEPS = 16  # sweeps of uniforms drawn per chain at a time
_TIGHT = 1e-7  # an inequality within this distance of an LP optimum touches the polytope
_QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
_VIOLATION_TOLERANCE = 1e-9  # a check is satisfied when its worst violation is at most this (SampleReport.ok)
#: the checks of SampleReport: (field, label, unit of its worst value; None: the second law, worded by sign)
_CHECKS = (
    ("max_imbalance_relative", "mass balance", "relative"),
    ("max_flux_bound_violation", "flux bounds", "mmol/gDW/h outside"),
    ("max_ln_x_bound_violation", "ln x bounds", "ln(mol/L) outside"),
    ("max_second_law_violation", "second law", None),
    ("max_dg_bound_violation", "dG bounds", "dG/RT outside"),
)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SampleReport:
    """Diagnostics of :func:`sample_steady_states`.

    Violations are measured on the returned arrays (every state); a check is satisfied when its
    worst violation is at most ``_VIOLATION_TOLERANCE`` (1e-9). ``max_imbalance_relative``
    = max |N v|_i / sum_k |N_ik v_k| over balanced species; ``max_flux_bound_violation``
    (mmol/gDW/h) against the flux bounds of the state's pattern (|v| >= min_abs_flux in its
    direction included); ``max_ln_x_bound_violation`` (ln units); ``max_dg_bound_violation``
    against ``dg_bounds``; these four are >= 0 (0: within the bounds).
    ``max_second_law_violation`` = max of sign(v) dG/RT + min_margin over the reactions with
    a thermodynamic Keq (reversible ones and irreversible ones with a stored Keq) and flux:
    positive, some reaction misses the margin (or runs uphill) by that much; negative, every
    one keeps the margin with at least -value to spare; -inf when none carries flux.

    Thermodynamic margin (every reaction with a Keq, ``cm.thermodynamic``, that carries flux
    in some state): ``n_keq`` such reactions (``n_keq_irreversible`` of them irreversible);
    ``min_thermo_margin`` = min over states and reactions of -sign(v) dG/RT (> 0: every one
    runs downhill; +inf when none carries flux); ``closest_to_equilibrium``: the 5 reactions
    with the smallest margin, as (reaction, min margin over states); ``uphill``: every reaction
    with -sign(v) dG/RT < 0 in some state, as (reaction, max sign(v) dG/RT, number of states).

    ESS: multi-chain effective sample size (Geyer's initial monotone sequence) per
    coordinate, summed over patterns; P_v coordinates are the fluxes, P_x coordinates
    ln x, dG/RT and the ln Keq shifts. ``slowest_*``: the 5 lowest (name, ESS).
    ``watch``: reaction -> dG/RT at the quantiles ``quantile_levels`` over all states.
    """

    n_states: int
    seconds: float
    n_patterns: int
    differing_reactions: tuple
    n_chains: int
    burn_in: int
    thinning: int
    max_imbalance_relative: float
    max_flux_bound_violation: float
    max_ln_x_bound_violation: float
    max_second_law_violation: float
    max_dg_bound_violation: float
    min_ess_fluxes: float
    min_ess_concentrations: float
    slowest_fluxes: tuple
    slowest_concentrations: tuple
    n_keq: int = 0
    n_keq_irreversible: int = 0
    min_thermo_margin: float = math.inf
    closest_to_equilibrium: tuple = ()
    uphill: tuple = ()
    watch: dict = field(default_factory=dict)
    quantile_levels: tuple = _QUANTILES

    @property
    def min_ess(self) -> float:
        return min(self.min_ess_fluxes, self.min_ess_concentrations)

    @property
    def checks(self) -> dict[str, bool]:
        """Check label -> satisfied (worst violation within 1e-9; relative imbalance; flux, ln x and dG/RT units)."""
        return {label: getattr(self, name) <= _VIOLATION_TOLERANCE for name, label, _ in _CHECKS}

    @property
    def ok(self) -> bool:
        """Every check satisfied (see :attr:`checks`)."""
        return all(self.checks.values())

    def summary(self) -> str:
        """Human-readable multi-line summary."""
        rate = self.n_states / self.seconds if self.seconds > 0 else float("inf")
        differ = "" if self.n_patterns < 2 else f", {len(self.differing_reactions)} reactions differ"
        lines = [
            (f"{self.n_states} states in {self.seconds:.1f} s ({rate:.0f} states/s); "
             f"{self.n_patterns} direction pattern(s){differ}"),
            f"chains {self.n_chains} per polytope and pattern, burn-in {self.burn_in} sweeps, thinning {self.thinning}",
            (f"min ESS: fluxes {self.min_ess_fluxes:.0f} (slowest {_names(self.slowest_fluxes)}), "
             f"concentrations {self.min_ess_concentrations:.0f} (slowest {_names(self.slowest_concentrations)})"),
            "checks over every state (violated: worst violation above the tolerance; second law: every reaction "
            "with flux runs downhill, |dG/RT| >= margin):",
        ]
        satisfied = self.checks
        for name, label, measure in _CHECKS:
            worst = getattr(self, name)
            detail = f"worst {worst:.2g} {measure}" if measure else _second_law_detail(worst)
            lines.append(f"  {label:<14}{'satisfied' if satisfied[label] else 'violated':<11}"
                         f"({detail}, tolerance {_VIOLATION_TOLERANCE:g})")
        lines.append(self.margin_summary())
        levels = "/".join(f"{100 * q:g}" for q in self.quantile_levels)
        for rid, values in self.watch.items():
            lines.append(f"dG/RT of {rid} at {levels}%: " + ", ".join(f"{v:.3g}" for v in values))
        return "\n".join(lines)


    def margin_summary(self) -> str:
        """The thermodynamic margin of every reaction with a Keq, in words (one or two lines)."""
        head = (f"thermodynamic margin over the {self.n_keq} reactions with a Keq "
                f"({self.n_keq_irreversible} irreversible): min -sign(v) dG/RT = {self.min_thermo_margin:.4g}")
        closest = ", ".join(f"{r} {m:.3g}" for r, m in self.closest_to_equilibrium) or "none"
        uphill = "; ".join(f"{r} dG/RT = {g:+.3g} in {k} state(s)" for r, g, k in self.uphill) or "none"
        return f"{head}; closest to equilibrium: {closest}\nrunning uphill: {uphill}"


def _second_law_detail(worst: float) -> str:
    """The second-law check in words; ``worst`` = max sign(v) dG/RT + margin (see :class:`SampleReport`).

    "margin kept": every reaction with flux runs downhill with |dG/RT| >= margin (worst <= 0).
    """
    if worst == -math.inf:
        return "no reaction with a Keq carries flux"
    if worst <= 0:
        return f"margin kept with {abs(worst):.2g} dG/RT to spare"
    return f"margin missed by {worst:.2g} dG/RT"


def _names(pairs) -> str:
    return ", ".join(f"{name} {ess:.0f}" for name, ess in pairs) or "nothing varies"


@dataclass(frozen=True)
class StateSample:
    """States sampled uniformly from the thermodynamically feasible set, one row per state.

    fluxes : (n, n_rxn) net fluxes in mmol/gDW/h
    ln_concentrations : (n, n_sp) ln(mol/L), species order of the compiled model
    ln_keq : (n, n_rxn) ln Keq in model units (stored value where not varied, +inf for
        irreversible reactions), or None when every Keq keeps its stored value
    dg : (n, n_rxn) dG/RT = ln(Gamma/Keq) of every reaction with a thermodynamic Keq
        (``cm.thermodynamic``; irreversible ones over their full stoichiometry with the
        stored Keq), NaN for reactions without one
    pattern : (n,) index into ``patterns``
    patterns : (n_patterns, n_rxn) direction of every reaction (+1/-1; 0 when fixed at 0)
    varied_keq : reactions whose Keq varies between states
    """

    fluxes: np.ndarray
    ln_concentrations: np.ndarray
    ln_keq: np.ndarray | None
    dg: np.ndarray
    pattern: np.ndarray
    patterns: np.ndarray
    reactions: tuple
    species: tuple
    varied_keq: tuple
    seed: int
    report: SampleReport

    def __len__(self) -> int:
        return len(self.fluxes)

    def state(self, i: int) -> SteadyState:
        """State ``i`` as a :class:`SteadyState` (mol/L, mmol/gDW/h; Keq overrides when varied)."""
        i = range(len(self))[i]
        keq = {}
        if self.ln_keq is not None:
            index = {r: k for k, r in enumerate(self.reactions)}
            keq = dict(zip(self.varied_keq, np.exp(self.ln_keq[i, [index[r] for r in self.varied_keq]]).tolist()))
        return SteadyState(
            concentrations=dict(zip(self.species, np.exp(self.ln_concentrations[i]).tolist())),
            fluxes=dict(zip(self.reactions, self.fluxes[i].tolist())),
            source=f"sample(seed={self.seed}) state {i}",
            k_equilibrium=keq,
        )


# --------------------------------------------------------------------------- polytopes


@dataclass(frozen=True)
class _Polytope:
    """``{y = y0 + T z : M z <= r}`` in rounded coordinates ``z`` (d,); the origin is the centre.

    y0 : (n_y,)  T : (n_y, d)  M : (m, d)  r : (m,) > 0
    obs : (n_obs, n_y), obs_offset : (n_obs,), obs_names : quantities whose ESS is reported
    (``obs @ y + obs_offset``).
    """

    y0: np.ndarray
    T: np.ndarray
    M: np.ndarray
    r: np.ndarray
    obs: np.ndarray
    obs_offset: np.ndarray
    obs_names: tuple

    @property
    def dim(self) -> int:
        return self.M.shape[1]

    def blocks(self, n_chains: int, n_threads: int) -> list[range]:
        """Chain blocks: at most ~_BLOCK_MAX slacks each, split over the threads down to ~_BLOCK_MIN.

        Every operation of the kernel is elementwise per chain (or an exact min / max), so the
        states do not depend on how the chains are blocked.
        """
        size = n_chains * len(self.r)
        n_blocks = min(n_chains, max(1, math.ceil(size / _BLOCK_MAX), min(n_threads, size // _BLOCK_MIN)))
        edges = np.linspace(0, n_chains, n_blocks + 1).round().astype(int)
        return [range(a, b) for a, b in zip(edges[:-1], edges[1:])]


def _nonredundant(G: sparse.csr_matrix, h: np.ndarray, A_eq, b_eq, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(m,) bool: rows of ``G y <= h`` that touch ``{A_eq y = b_eq, lo <= y <= hi, G y <= h}``.

    Row i is dropped when max G_i y over the polytope stays more than ``_TIGHT`` (distance)
    below h_i, so a dropped row holds strictly at every point. Rows tight at the optimum of an
    earlier LP are kept without an LP of their own.
    """
    m = G.shape[0]
    norms = np.sqrt(np.asarray(G.multiply(G).sum(axis=1)).ravel())
    keep = np.zeros(m, dtype=bool)
    done = np.zeros(m, dtype=bool)
    bounds = np.column_stack([lo, hi])
    for i in range(m):
        if done[i]:
            continue
        res = linprog(-G[i].toarray().ravel(), A_ub=G, b_ub=h, A_eq=A_eq, b_eq=b_eq, bounds=bounds,
                      method="highs", options=LP_OPTIONS)
        if res.status != 0:
            raise InfeasibleError(f"sampler: redundancy LP failed ({res.message})")
        tight = (h - G @ res.x) <= _TIGHT * norms
        keep |= tight
        done |= tight
        done[i] = True
    return keep


def _free_basis(E: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(K (n, d), free (d,)): ``E K = 0`` with ``K[free] = I``, free columns chosen by pivoted QR of E."""
    if E.shape[0] == 0:
        return np.eye(n), np.arange(n)
    _, R, piv = qr(E, pivoting=True, mode="economic")
    diag = np.abs(np.diag(R))
    rank = int(np.sum(diag > 1e-10 * diag[0])) if len(diag) else 0
    basic, free = piv[:rank], np.sort(piv[rank:])
    K = np.zeros((n, len(free)))
    K[free, np.arange(len(free))] = 1.0
    K[basic] = -np.linalg.lstsq(E[:, basic], E[:, free], rcond=None)[0]
    return K, free


def _make_polytope(A_eq: np.ndarray, b_eq: np.ndarray, lo: np.ndarray, hi: np.ndarray, A_ub, b_ub,
                   obs: np.ndarray, obs_offset: np.ndarray, obs_names, rounding: bool = True) -> _Polytope:
    """Rounded CHRR form of ``{A_eq y = b_eq, lo <= y <= hi, A_ub y <= b_ub}`` (y (n,), lo == hi fixes y_i).

    Drops redundant rows, centres at the analytic centre of the rest, parametrises the
    equalities by free coordinates and rounds by the Dikin ellipsoid (``rounding=False``:
    the free coordinates themselves, a baseline for benchmarks). ``obs`` (n_obs, n) with
    ``obs_offset`` and ``obs_names``: reported quantities; those constant on the set are
    dropped. Raises InfeasibleError when the set has no interior or is unbounded.
    """
    n = len(lo)
    A_eq = np.asarray(A_eq, dtype=float).reshape(-1, n)
    fixed = lo == hi
    E = np.vstack([A_eq, np.eye(n)[fixed]])
    target = np.concatenate([b_eq, lo[fixed]])
    K, _ = _free_basis(E, n)
    G, h = inequalities(lo, hi, A_ub, b_ub)
    if K.shape[1] == 0:  # the equalities leave a single point
        return _point(E, target, G, h, obs, obs_offset)
    keep = _nonredundant(G, h, A_eq if len(A_eq) else None, b_eq if len(A_eq) else None, lo, hi)
    G, h = G[keep], h[keep]
    y_c, t = interior_point(A_eq, b_eq, np.where(fixed, lo, -np.inf), np.where(fixed, hi, np.inf),
                            np.random.default_rng(0), 0.0, G, h)
    if t <= 1e-9:
        raise InfeasibleError("sampler: the feasible set of this direction pattern has no interior")
    if len(E):
        y_c = y_c - np.linalg.lstsq(E, E @ y_c - target, rcond=None)[0]
    M0 = np.asarray(G @ K)
    r = h - G @ y_c
    if np.any(r <= 0):
        raise InfeasibleError("sampler: the centre of the feasible set is not interior (numerically degenerate set)")
    d = K.shape[1]
    if not rounding or d == 0:
        L = np.eye(d)
    else:
        H = M0.T @ (M0 / r[:, None] ** 2)
        L = np.linalg.cholesky(np.linalg.inv(H))
    M = M0 @ L
    if np.any(np.all(M <= 0, axis=0)) or np.any(np.all(M >= 0, axis=0)):
        raise InfeasibleError("sampler: the feasible set is unbounded; bound every flux and concentration")
    T = K @ L
    spread = np.abs(obs @ T).max(axis=1, initial=0.0)
    varies = spread > 1e-12 * max(spread.max(initial=0.0), 1e-300)
    return _Polytope(y0=y_c, T=T, M=M, r=r, obs=obs[varies], obs_offset=obs_offset[varies],
                     obs_names=tuple(name for name, v in zip(obs_names, varies) if v))


def _point(E: np.ndarray, target: np.ndarray, G, h: np.ndarray, obs: np.ndarray, obs_offset: np.ndarray) -> _Polytope:
    """The polytope of a set that the equalities ``E y = target`` reduce to one point (d = 0)."""
    y = np.linalg.lstsq(E, target, rcond=None)[0]
    if np.any(G @ y > h + 1e-9 * (1.0 + np.abs(h))):
        raise InfeasibleError("sampler: the equalities fix every coordinate at a point that violates the bounds")
    n = len(y)
    return _Polytope(y0=y, T=np.zeros((n, 0)), M=np.zeros((0, 0)), r=np.zeros(0), obs=obs[:0],
                     obs_offset=obs_offset[:0], obs_names=())


def _flux_polytope(p: Problem, pattern: np.ndarray, settings: TFASettings, reactions, rounding: bool = True) -> _Polytope:
    """P_v (:func:`~.problem.flux_constraints`, with ``settings.flux_budget``); the reported quantities are the fluxes."""
    con = flux_constraints(p, pattern, settings.flux_budget)
    vary = con["lo"] < con["hi"]
    obs = np.eye(len(vary))[vary]
    return _make_polytope(**con, obs=obs, obs_offset=np.zeros(len(obs)),
                          obs_names=[f"flux:{r}" for r, v in zip(reactions, vary) if v], rounding=rounding)


def _concentration_constraints(p: Problem, pattern: np.ndarray, unc: np.ndarray) -> tuple[dict, np.ndarray]:
    """P_x for ``pattern`` as arrays, and ``P`` (n_th, n_y) with dG/RT = P y + p.c.

    y = (ln x (n_sp,), delta (n_unc,)), delta only where ``unc`` (n_th,) > 0; no equalities;
    dG/RT within the pattern's bounds (:func:`~.problem.pattern_dg_bounds`).
    """
    n_th = len(p.thermo)
    iu = np.flatnonzero(unc > 0)
    P = np.hstack([p.D, -np.eye(n_th)[:, iu]])
    g_lo, g_hi = pattern_dg_bounds(p, pattern)
    rows_hi, rows_lo = np.isfinite(g_hi), np.isfinite(g_lo)
    A_ub = np.vstack([P[rows_hi], -P[rows_lo]])
    b_ub = np.concatenate([g_hi[rows_hi] - p.c[rows_hi], p.c[rows_lo] - g_lo[rows_lo]])
    lo = np.concatenate([p.x_lo, -unc[iu]])
    hi = np.concatenate([p.x_hi, unc[iu]])
    return dict(A_eq=np.zeros((0, len(lo))), b_eq=np.zeros(0), lo=lo, hi=hi, A_ub=A_ub, b_ub=b_ub), P


def _concentration_polytope(p: Problem, pattern: np.ndarray, unc: np.ndarray, species, reactions,
                            rounding: bool = True) -> _Polytope:
    """P_x (see :func:`_concentration_constraints`); reported: ln x, dG/RT and the ln Keq shifts."""
    con, P = _concentration_constraints(p, pattern, unc)
    n_sp, n_y = len(p.x_lo), P.shape[1]
    vary = (con["lo"] < con["hi"])[:n_sp]
    obs = np.vstack([np.eye(n_y)[:n_sp][vary], P, np.eye(n_y)[n_sp:]])
    offset = np.concatenate([np.zeros(int(vary.sum())), p.c, np.zeros(n_y - n_sp)])
    th = [reactions[k] for k in p.thermo]
    names = ([f"ln_x:{s}" for s, v in zip(species, vary) if v] + [f"dg_rt:{r}" for r in th]
             + [f"delta_ln_keq:{th[i]}" for i in np.flatnonzero(unc > 0)])
    return _make_polytope(**con, obs=obs, obs_offset=offset, obs_names=names, rounding=rounding)


# --------------------------------------------------------------------------- CHRR kernel


def _sweep(M: np.ndarray, z: np.ndarray, s: np.ndarray, uniforms: np.ndarray, q: np.ndarray) -> None:
    """One CHRR sweep of every chain of a block, in place.

    M : (m, d) rows of M z <= r; z : (d, n_b) chain states; s : (m, n_b) slacks r - M z (> 0);
    uniforms : (d, n_b) in [0, 1); q : (m, n_b) scratch. Coordinate j of chain c moves to a
    uniform point of the chord {z + t e_j}: t in [1 / min_i q_i, 1 / max_i q_i] with
    q_i = M_ij / s_i (rows with M_ij > 0 bound t above, M_ij < 0 below).
    """
    for j in range(M.shape[1]):
        a = M[:, j, None]
        np.divide(a, s, out=q)
        hi = 1.0 / np.fmax.reduce(q, axis=0)
        lo = 1.0 / np.fmin.reduce(q, axis=0)
        t = lo + uniforms[j] * (hi - lo)
        z[j] += t
        np.multiply(a, t, out=q)
        s -= q


def _slacks(M: np.ndarray, r: np.ndarray, z: np.ndarray) -> np.ndarray:
    """(m, n_b) r - M z, summed in a fixed order (bitwise independent of the block size), >= tiny."""
    s = np.repeat(r[:, None], z.shape[1], axis=1)
    for j in range(M.shape[1]):
        s -= M[:, j, None] * z[j]
    return np.maximum(s, np.finfo(float).tiny, out=s)


def _run_block(poly: _Polytope, seeds: list, burn_in: int, n_keep: int, thinning: int, tick) -> np.ndarray:
    """Run one block of chains from the centre; returns kept states z (n_b, n_keep, d).

    ``seeds``: one SeedSequence per chain; ``tick(poly, n_chains, n_sweeps)`` reports progress.
    Uniforms are drawn per chain for ``_RNG_SWEEPS`` sweeps at a time (the only loop over chains).
    """
    d, n_b = poly.dim, len(seeds)
    gens = [np.random.default_rng(s) for s in seeds]
    z = np.zeros((d, n_b))
    q = np.empty((len(poly.r), n_b))
    out = np.empty((n_b, n_keep, d))
    total = burn_in + n_keep * thinning
    uniforms = None
    with np.errstate(divide="ignore", invalid="ignore"):  # a slack of exactly 0 gives +-inf or NaN: ignored
        for k in range(total):
            if k % _RNG_SWEEPS == 0:
                chunk = min(_RNG_SWEEPS, total - k)
                uniforms = np.stack([g.random((chunk, d)) for g in gens], axis=-1)  # (chunk, d, n_b)
            if k % _RESYNC == 0:
                s = _slacks(poly.M, poly.r, z)
            _sweep(poly.M, z, s, uniforms[k % _RNG_SWEEPS], q)
            kept = k + 1 - burn_in
            if kept > 0 and kept % thinning == 0:
                out[:, kept // thinning - 1] = z.T
            if (k + 1) % _RESYNC == 0 or k + 1 == total:
                tick(poly, n_b, (k % _RESYNC) + 1)
    return out


def _ess(x: np.ndarray) -> np.ndarray:
    """Effective sample size per coordinate of many chains, (n_chains, n_draws, k) -> (k,).

    Autocorrelations are pooled over the chains around the overall mean and variance
    (unbiased per lag), then summed with Geyer's initial monotone sequence:
    ESS = n_chains n_draws / (1 + 2 sum_t rho_t). Unlike per-chain centring (Stan's
    estimator), this is not biased upwards for many short chains, and chains that have not
    forgotten their common start show up as positive autocorrelation at every lag. Chains
    shorter than the autocorrelation time cannot show it: the sum stops at lag n_draws - 1.
    Constant coordinates get n_chains n_draws.
    """
    n_c, n, k = x.shape
    total = float(n_c * n)
    if k == 0:
        return np.zeros(0)
    xc = x - x.mean(axis=(0, 1))
    var = np.mean(xc * xc, axis=(0, 1))
    const = var <= 1e-28 * (1.0 + np.abs(x).max(axis=(0, 1))) ** 2
    f = np.fft.rfft(xc, n=2 * n, axis=1)
    acov = np.fft.irfft(f * np.conj(f), n=2 * n, axis=1)[:, :n].sum(axis=0)  # (n, k) sums over pairs
    rho = acov / (n_c * (n - np.arange(n)))[:, None] / np.where(const, 1.0, var)
    rho = np.vstack([rho, np.zeros((n % 2, k))])  # even length
    pairs = rho.reshape(-1, 2, k).sum(axis=1)  # Geyer's P_t = rho_2t + rho_2t+1
    positive = np.cumprod(pairs > 0, axis=0).astype(bool)  # initial positive sequence ...
    pairs = np.minimum.accumulate(np.where(positive, pairs, np.inf), axis=0)  # ... made monotone
    tau = np.maximum(-1.0 + 2.0 * np.where(positive, pairs, 0.0).sum(axis=0), 1.0 / math.log10(max(total, 10.0)))
    return np.where(const, total, total / tau)


# --------------------------------------------------------------------------- driver


class _Progress:
    """Maps sweeps done (weighted by their cost d x m) to an integer advance of ``n`` states in all."""

    def __init__(self, callback, n: int, total_work: float):
        self.callback, self.n, self.total = callback, n, max(total_work, 1.0)
        self.work, self.reported = 0.0, 0
        self.lock = threading.Lock()

    def tick(self, poly: _Polytope, n_chains: int, n_sweeps: int) -> None:
        if self.callback is None:
            return
        with self.lock:
            self.work += n_chains * n_sweeps * poly.dim * len(poly.r)
            due = min(self.n, int(self.n * self.work / self.total))
            if due > self.reported:
                self.callback(due - self.reported)
                self.reported = due

    def finish(self) -> None:
        if self.callback is not None and self.reported < self.n:
            self.callback(self.n - self.reported)
            self.reported = self.n


def _chains_layout(n_states: int, n_chains: int | None) -> tuple[int, int]:
    """(chains, kept draws per chain) with chains x draws - n_states < draws.

    ``n_chains`` None: min(_MAX_CHAINS, n_states / _MIN_DRAWS), at least 1.
    """
    if n_chains is None:
        n_chains = min(_MAX_CHAINS, max(1, n_states // _MIN_DRAWS))
    n_keep = math.ceil(n_states / min(n_chains, n_states))
    return math.ceil(n_states / n_keep), n_keep


def _sample_polytope(poly: _Polytope, n_states: int, seed: np.random.SeedSequence, n_chains: int | None,
                     burn_in: int, thinning: int, pool: ThreadPoolExecutor, n_threads: int, progress: _Progress):
    """Submit the chains of ``poly``; returns a function giving (Y (n_states, n_y), ESS (n_obs,))."""
    n_c, n_keep = _chains_layout(n_states, n_chains)
    seeds = seed.spawn(n_c)
    futures = [pool.submit(_run_block, poly, seeds[b.start:b.stop], burn_in, n_keep, thinning, progress.tick)
               for b in poly.blocks(n_c, n_threads)]

    def collect():
        Z = np.concatenate([f.result() for f in futures])  # (n_c, n_keep, d)
        Y = poly.y0 + Z @ poly.T.T  # (n_c, n_keep, n_y)
        ess = _ess(Y @ poly.obs.T + poly.obs_offset)
        states = Y.transpose(1, 0, 2).reshape(-1, Y.shape[2])[:n_states]  # draw-major: prefixes span chains
        return states, ess

    return collect


def _patterns(p: Problem, n_patterns: int, time_limit: float) -> list[np.ndarray]:
    """Up to ``n_patterns`` distinct direction patterns (n_th,), the MILP's best first (no-good cuts)."""
    found: list[np.ndarray] = []
    for _ in range(n_patterns):
        d = direction_pattern(p, time_limit, exclude=tuple(found))
        if d is None:
            break
        found.append(d)
    return found


def _uncertainty(cm: CompiledModel, s: TFASettings, p: Problem) -> np.ndarray:
    """(n_th,) half-widths of ln Keq for the reactions ``p.thermo``."""
    rxns = cm.structure.reactions
    unknown = sorted(set(s.ln_keq_uncertainty) - set(rxns))
    if unknown:
        raise SettingsError(f"TFASettings.ln_keq_uncertainty: unknown reactions {unknown}")
    irreversible = sorted(r for r in s.ln_keq_uncertainty if not cm.reversible[rxns.index(r)])
    if irreversible:
        raise SettingsError(f"TFASettings.ln_keq_uncertainty: reactions {irreversible} are irreversible (no Keq)")
    # irreversible reactions keep their stored Keq: no rate law uses it, a state cannot override it
    return np.array([float(s.ln_keq_uncertainty.get(rxns[k], s.default_ln_keq_uncertainty))
                     if cm.reversible[k] else 0.0 for k in p.thermo])


def _split(n: int, k: int) -> list[int]:
    """``n`` states split equally over ``k`` patterns (the first ``n % k`` get one more)."""
    return [n // k + (i < n % k) for i in range(k)]


def sample_steady_states(
    cm: CompiledModel,
    settings: TFASettings,
    n: int = 5000,
    *,
    seed: int = 0,
    units: UnitSettings = UnitSettings(),
    n_patterns: int = 1,
    thinning: int | None = None,
    burn_in: int | None = None,
    n_chains: int | None = None,
    n_threads: int | None = None,
    watch: tuple | None = None,
    progress=None,
) -> StateSample:
    """``n`` steady states drawn uniformly from the TFA feasible set of ``cm`` (see module docstring).

    Parameters
    ----------
    cm : CompiledModel
    settings : TFASettings
        Constraints, as for :func:`~renaissance.steadystate.tfa.find_steady_state`, plus the
        ln Keq half-widths ``ln_keq_uncertainty`` / ``default_ln_keq_uncertainty``.
    n : int
        Number of states.
    seed : int
        Same seed, same states (bitwise, whatever ``n_threads``).
    units : UnitSettings
        Only ``concentration_scale`` matters (the stored Keq are in model units).
    n_patterns : int
        Direction patterns to sample: the MILP's best, then each next-best pattern that
        differs from all earlier ones (integer no-good cuts). The states are split equally
        (uniform within each pattern, not weighted by volume); fewer patterns are used when
        fewer exist (see ``report.n_patterns``).
    thinning, burn_in : int, optional
        Sweeps (one CHRR step along every coordinate) between kept states and before the
        first one; defaults 20 and 100 (module docstring).
    n_chains : int, optional
        Chains per polytope and pattern (default: 512, fewer so that each keeps at least 10
        states); each keeps about n / (n_patterns n_chains) states.
    n_threads : int, optional
        Worker threads (default: the cores available); the output does not depend on it.
    watch : tuple of str, optional
        Reactions whose dG/RT quantiles the report lists (those present in the model and
        reversible); default: the reactions whose dG/RT the constraints bound (``dg_bounds``).
    progress : callable(int), optional
        Called with integer advances that sum to ``n`` (e.g. a rich progress bar's advance).

    Returns
    -------
    StateSample

    Raises
    ------
    InfeasibleError
        No feasible direction pattern (the message names the conflicting constraint groups).
    ValueError
        Invalid arguments or settings naming unknown reactions.
    """
    start = time.perf_counter()
    n = check_int(n, "n")
    n_patterns = check_int(n_patterns, "n_patterns")
    thinning = _THINNING if thinning is None else check_int(thinning, "thinning")
    burn_in = _BURN_IN if burn_in is None else check_int(burn_in, "burn_in", min_value=0)
    n_chains = None if n_chains is None else check_int(n_chains, "n_chains")
    n_threads = check_int(n_threads, "n_threads") if n_threads is not None else _cores()
    check_names(cm, settings)
    with threadpool_limits(1):  # one BLAS thread: the same bits whatever the machine's thread count
        p = build_problem(cm, settings, units)
        unc = _uncertainty(cm, settings, p)
        patterns = _patterns(p, min(n_patterns, n), settings.time_limit)  # every pattern gets a state
        if not patterns:
            raise InfeasibleError(infeasibility_message(cm, settings, units, p))
        counts = _split(n, len(patterns))
        rxns, species = cm.structure.reactions, cm.species
        polys = [(_flux_polytope(p, d, settings, rxns), _concentration_polytope(p, d, unc, species, rxns))
                 for d in patterns]
        results = _run_all(polys, counts, np.random.SeedSequence(seed), n_chains, burn_in, thinning, n_threads,
                           progress, n)
        sample = _assemble(cm, p, units, unc, patterns, counts, results)
        report = _report(cm, p, settings, sample, patterns, polys, results, _chains_layout(counts[0], n_chains)[0],
                         burn_in, thinning, tuple(settings.dg_bounds) if watch is None else watch,
                         time.perf_counter() - start)
    return StateSample(**sample, seed=seed, report=report)


def _run_all(polys: list, counts: list, seed: np.random.SeedSequence, n_chains, burn_in: int, thinning: int,
             n_threads: int, progress, n: int) -> list:
    """[((U, ess_v), (Y, ess_x)) per pattern]: both polytopes of every pattern, all chains on one thread pool."""
    work = sum(math.prod(_chains_layout(c, n_chains)) * (burn_in / _chains_layout(c, n_chains)[1] + thinning)
               * q.dim * len(q.r) for c, pair in zip(counts, polys) for q in pair)
    tracker = _Progress(progress, n, work)
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        jobs = [tuple(_sample_polytope(q, c, s, n_chains, burn_in, thinning, pool, n_threads, tracker)
                      for q, s in zip(pair, seq.spawn(2)))
                for c, pair, seq in zip(counts, polys, seed.spawn(len(polys)))]
        results = [(jv(), jx()) for jv, jx in jobs]
    tracker.finish()
    return results


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


# --------------------------------------------------------------------------- assembly and report


def _project_batch(S: np.ndarray, v: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """Least-norm correction of the non-fixed fluxes of every row of ``v`` (n, n_rxn) so that S v = 0."""
    v = v.copy()
    free = ~fixed
    for _ in range(3):
        v[:, free] += np.linalg.lstsq(S[:, free], -(S @ v.T), rcond=None)[0].T
    return v


def _assemble(cm, p: Problem, units: UnitSettings, unc, patterns, counts, results) -> dict:
    """Arrays of the StateSample from the per-pattern (P_v, P_x) draws."""
    n_sp, n_rxn = len(p.x_lo), len(p.u_lo)
    U = np.concatenate([res[0][0] for res in results])
    Y = np.concatenate([res[1][0] for res in results])
    v = U / p.scale
    v[:, p.fixed] = p.u_lo[p.fixed] / p.scale[p.fixed]
    v = _project_batch(cm.structure.S, v, p.fixed)
    ln_x = np.clip(Y[:, :n_sp], p.x_lo, p.x_hi)
    iu = np.flatnonzero(unc > 0)
    ln_keq = np.broadcast_to(cm.ln_keq, (len(v), n_rxn)).copy()
    if len(iu):
        ln_keq[:, p.thermo[iu]] += np.clip(Y[:, n_sp:], -unc[iu], unc[iu])
    # the second law of every reaction with a thermodynamic Keq (irreversible ones included:
    # full stoichiometry, stored Keq; see CompiledModel.thermo_displacement)
    thermo_keq = np.where(cm.reversible, ln_keq, cm.irreversible_ln_keq)
    dg = (ln_x + units.log_concentration_scale) @ cm.thermo_displacement.T - thermo_keq
    dg[:, ~cm.thermodynamic] = np.nan
    directions = np.where(p.u_lo > 0, 1, np.where(p.u_hi < 0, -1, 0))
    table = np.tile(directions, (len(patterns), 1))
    table[:, p.thermo] = np.array(patterns)
    rxns = cm.structure.reactions
    return dict(
        fluxes=v, ln_concentrations=ln_x, ln_keq=ln_keq if len(iu) else None, dg=dg,
        pattern=np.repeat(np.arange(len(patterns)), counts), patterns=table, reactions=tuple(rxns),
        species=tuple(cm.species), varied_keq=tuple(rxns[k] for k in p.thermo[iu]),
    )


def _violations(cm, p: Problem, sample: dict, patterns, margin: float) -> dict:
    """Worst violations over every state (see :class:`SampleReport`)."""
    v, ln_x, dg, which = sample["fluxes"], sample["ln_concentrations"], sample["dg"], sample["pattern"]
    scale = np.abs(v) @ np.abs(cm.structure.S).T  # (n, n_var) turnover sum_k |N_ik v_k|
    balance = np.abs(v @ cm.structure.S.T)
    relative = np.divide(balance, scale, out=np.zeros_like(balance), where=scale > 0)
    bounds = np.array([pattern_flux_bounds(p, d) for d in patterns]) / p.scale  # (n_pat, 2, n_rxn)
    lo, hi = bounds[which, 0], bounds[which, 1]
    flux_viol = np.maximum(lo - v, v - hi).max(initial=0.0)
    x_viol = np.maximum(p.x_lo - ln_x, ln_x - p.x_hi).max(initial=0.0)
    th = p.thermo
    g = dg[:, th]
    carrying = v[:, th] != 0
    second = np.where(carrying, np.sign(v[:, th]) * g + margin, -np.inf).max(initial=-np.inf)
    dg_viol = np.maximum(p.g_lo - g, g - p.g_hi).max(initial=0.0)  # explicit dg_bounds (+-inf where none)
    return dict(max_imbalance_relative=float(relative.max(initial=0.0)), max_flux_bound_violation=float(max(flux_viol, 0.0)),
                max_ln_x_bound_violation=float(max(x_viol, 0.0)), max_second_law_violation=float(second),
                max_dg_bound_violation=float(max(dg_viol, 0.0)))


def thermo_margins(cm, fluxes: np.ndarray, dg: np.ndarray) -> dict:
    """The thermodynamic-margin fields of :class:`SampleReport` from ``fluxes`` and ``dg`` (n, n_rxn).

    Over the reactions with a thermodynamic Keq (``cm.thermodynamic``) that carry flux.
    """
    keq = cm.thermodynamic
    margin = second_law_margins(cm, fluxes, dg)  # (n, n_rxn)
    per_rxn = margin.min(axis=0, initial=np.inf)
    rxns = cm.structure.reactions
    order = [k for k in np.argsort(per_rxn, kind="stable") if np.isfinite(per_rxn[k])]
    uphill = tuple((rxns[k], float(-per_rxn[k]), int((margin[:, k] < 0).sum())) for k in order if per_rxn[k] < 0)
    return dict(n_keq=int(keq.sum()), n_keq_irreversible=int((keq & ~cm.reversible).sum()),
                min_thermo_margin=float(per_rxn.min(initial=np.inf)),
                closest_to_equilibrium=tuple((rxns[k], float(per_rxn[k])) for k in order[:5]), uphill=uphill)


def _slowest(polys: list, results: list, part: int, n_states: int) -> tuple[float, tuple]:
    """(min ESS, 5 slowest (name, ESS)) of polytope ``part`` (0: P_v, 1: P_x), ESS summed over patterns."""
    total: dict[str, float] = {}
    for pair, res in zip(polys, results):
        for name, value in zip(pair[part].obs_names, res[part][1].tolist()):
            total[name] = total.get(name, 0.0) + value
    slowest = sorted(total.items(), key=lambda item: item[1])[:5]
    return (slowest[0][1] if slowest else float(n_states)), tuple(slowest)


def _report(cm, p, settings, sample, patterns, polys, results, n_chains, burn_in, thinning, watch, seconds):
    n_states = len(sample["fluxes"])
    ess = {part: _slowest(polys, results, part, n_states) for part in (0, 1)}
    rxns = cm.structure.reactions
    quantiles = {r: tuple(np.quantile(sample["dg"][:, rxns.index(r)], _QUANTILES).tolist())
                 for r in watch if r in rxns and cm.thermodynamic[rxns.index(r)]}
    table = sample["patterns"]
    differ = tuple(r for k, r in enumerate(rxns) if len(set(table[:, k].tolist())) > 1)
    return SampleReport(
        n_states=n_states, seconds=seconds, n_patterns=len(patterns), differing_reactions=differ,
        n_chains=n_chains, burn_in=burn_in, thinning=thinning,
        **_violations(cm, p, sample, patterns, settings.min_margin),
        min_ess_fluxes=ess[0][0], min_ess_concentrations=ess[1][0],
        slowest_fluxes=ess[0][1], slowest_concentrations=ess[1][1],
        **thermo_margins(cm, sample["fluxes"], sample["dg"]), watch=quantiles,
    )
