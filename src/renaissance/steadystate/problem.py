"""The thermodynamics-based steady-state problem in arrays, and the solver steps shared by TFA and the sampler.

Unknowns: net fluxes ``v`` (mmol/gDW/h, every reaction), log concentrations ``ln x``
(ln mol/L, every species, boundary species included) and, for every reaction k with a
thermodynamic equilibrium constant (``cm.thermodynamic``: every reversible reaction and every
irreversible one whose ``k_equilibrium_<r>`` the model stores) that is not bounded to zero
flux, its displacement

    dG_k/RT = ln(Gamma_k / Keq_k) = D_k . (ln x + ln c) - ln Keq_k

(``D = cm.thermo_displacement``: the rate law's Gamma for reversible reactions, the full
stoichiometry for irreversible ones; ``c = units.concentration_scale``; ``ln Keq =
cm.thermo_ln_keq`` in model units). Constraints
(:class:`~renaissance.steadystate.settings.TFASettings`): ``S v = 0`` for the balanced
species; flux bounds; growth; fixed fluxes; concentration bounds; and the second law with a
margin ``m``: a reaction running forward (v >= min_abs_flux) has dG/RT <= -m, one running
backward (v <= -min_abs_flux) has dG/RT >= +m. An irreversible reaction with a Keq runs
forward, so it has dG/RT <= -m. Every reaction not bounded to zero flux carries |v| >=
``min_abs_flux``.

Pieces, in the order TFA uses them (:func:`~renaissance.steadystate.tfa.find_steady_state`):

* :func:`build_problem` -- the constraints as arrays (:class:`Problem`), fluxes in u-units.
* :func:`direction_pattern` -- a MILP (HiGHS through :func:`scipy.optimize.milp`) with one
  binary direction per reversible reaction whose direction the bounds leave open; big-M rows,
  M from the flux bounds and the dG/RT range implied by the concentration box.
* With a pattern fixed, fluxes and (ln x, dG/RT) decouple into two polytopes:
  :func:`flux_constraints` (with the :func:`flux_budget` cap) and :func:`pattern_dg_bounds`.
* :func:`interior_point` -- the weighted analytic centre of a polytope.
* :func:`project_fluxes` -- least-squares projection onto ``S v = 0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.linalg import null_space
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from ..errors import InfeasibleError, SettingsError
from ..model.compiled import CompiledModel
from ..settings import UnitSettings
from .settings import TFASettings

#: HiGHS options of every LP here and in the sampler
LP_OPTIONS = {"presolve": True, "primal_feasibility_tolerance": 1e-9, "dual_feasibility_tolerance": 1e-9}

_TAU_V = 0.01  # cap of the flux robustness of the direction pattern (mmol/gDW/h)
_TAU_G = 1.0  # cap of the dG/RT robustness of the direction pattern
_SLACK_CAP = 1.0  # cap on the common slack t (flux units resp. ln units), keeps the LP bounded
_NEWTON_ITERATIONS = 100


# --------------------------------------------------------------------------- problem data


@dataclass(frozen=True)
class Problem:
    """Constraint data in arrays.

    Flux variables are ``u = scale * v`` (``scale`` = growth_scaling for the growth reaction,
    so its column of ``S`` is O(10) instead of O(1e7); u is then growth in 1/h).

    S : (n_var, n_rxn) stoichiometry in u-units;  scale : (n_rxn,)
    u_lo, u_hi : (n_rxn,) flux bounds in u-units (irreversibility included)
    fixed : (n_rxn,) bool, u_lo == u_hi
    x_lo, x_hi : (n_sp,) ln(mol/L) bounds
    thermo : (n_th,) int, reactions with a second-law constraint (a thermodynamic Keq,
        ``cm.thermodynamic``, and not fixed at 0; irreversible ones with a stored Keq included)
    D : (n_th, n_sp), c : (n_th,)   dG/RT = D @ ln x + c
    g_lo, g_hi : (n_th,) explicit dG/RT bounds (dg_bounds; +-inf where none)
    g_min, g_max : (n_th,) finite dG/RT range implied by the box, intersected with g_lo, g_hi
    direction : (n_th,) int, +1/-1 imposed (fixed_directions or flux bounds), 0 = open
    eps : (n_rxn,) min |u| in u-units (0 for reactions bounded to zero)
    margin : min_margin (dG/RT)
    conflict : why the bounds alone are contradictory (then no solve is needed), or None
    """

    S: np.ndarray
    scale: np.ndarray
    u_lo: np.ndarray
    u_hi: np.ndarray
    fixed: np.ndarray
    x_lo: np.ndarray
    x_hi: np.ndarray
    thermo: np.ndarray
    D: np.ndarray
    c: np.ndarray
    g_lo: np.ndarray
    g_hi: np.ndarray
    g_min: np.ndarray
    g_max: np.ndarray
    direction: np.ndarray
    eps: np.ndarray
    margin: float
    conflict: str | None


def check_names(cm: CompiledModel, s: TFASettings) -> None:
    """Raise ValueError if ``s`` names a reaction or species that ``cm`` lacks, or bounds dG/RT of
    an irreversible reaction."""
    reactions, species = set(cm.structure.reactions), set(cm.species)
    if s.growth_reaction is not None and s.growth_reaction not in reactions:
        raise SettingsError(f"TFASettings.growth_reaction == {s.growth_reaction!r} is not a reaction of the model")
    for name in ("fixed_fluxes", "flux_bounds", "dg_bounds", "fixed_directions"):
        unknown = sorted(set(getattr(s, name)) - reactions)
        if unknown:
            raise SettingsError(f"TFASettings.{name}: unknown reactions {unknown}")
    unknown = sorted(set(s.species_bounds) - species)
    if unknown:
        raise SettingsError(f"TFASettings.species_bounds: unknown species {unknown}")
    keq_less = {r for r, th in zip(cm.structure.reactions, cm.thermodynamic) if not th}
    bad = sorted(set(s.dg_bounds) & keq_less)
    if bad:
        raise SettingsError(f"TFASettings.dg_bounds: reactions {bad} are irreversible without a Keq")


def build_problem(cm: CompiledModel, s: TFASettings, units: UnitSettings, drop: frozenset = frozenset()) -> Problem:
    """Arrays of the constraints of ``s`` on ``cm`` (names checked by :func:`check_names`), with the
    groups in ``drop`` (members of ``settings.GROUPS``) relaxed.

    Contradictory bounds do not raise: they are described in ``Problem.conflict``.
    """
    rxns = cm.structure.reactions
    ridx = {r: k for k, r in enumerate(rxns)}
    scale = np.ones(len(rxns))
    if s.growth_reaction is not None:
        scale[ridx[s.growth_reaction]] = s.growth_scaling
    v_lo, v_hi = _flux_bounds(cm, s, ridx, drop)
    conflicts = [f"flux of '{rxns[k]}': lower bound {v_lo[k]:g} > upper bound {v_hi[k]:g}"
                 for k in np.flatnonzero(v_lo > v_hi)]
    zero = (v_lo == 0) & (v_hi == 0)
    direction = _imposed_directions(s, ridx, v_lo, v_hi, zero, drop, conflicts)
    # |v| >= min_abs_flux in the chosen direction (a bound closer to zero than eps wins);
    # for the growth reaction the threshold applies to growth (1/h), not to its raw flux
    eps = np.minimum(s.min_abs_flux / scale, np.where(v_hi > 0, v_hi, np.inf))
    eps = np.minimum(eps, np.where(v_lo < 0, -v_lo, np.inf))
    eps = np.where(zero, 0.0, eps)
    v_lo = np.where(direction > 0, np.maximum(v_lo, eps), v_lo)
    v_hi = np.where(direction < 0, np.minimum(v_hi, -eps), v_hi)
    x_lo, x_hi = _ln_x_bounds(cm, s, drop)
    thermo = np.flatnonzero(cm.thermodynamic & ~zero)
    law = _second_law(cm, s, units, ridx, thermo, x_lo, x_hi, drop)
    conflicts += [f"dG/RT of '{rxns[k]}': bounds [{law['g_lo'][i]:g}, {law['g_hi'][i]:g}] outside the range "
                  f"allowed by the concentration bounds"
                  for i, k in enumerate(thermo) if law["g_min"][i] > law["g_max"][i]]
    return Problem(
        S=cm.structure.S / scale, scale=scale, u_lo=v_lo * scale, u_hi=v_hi * scale,
        fixed=v_lo == v_hi, x_lo=x_lo, x_hi=x_hi, thermo=thermo, **law, direction=direction[thermo],
        eps=eps * scale, margin=s.min_margin, conflict="; ".join(conflicts) or None,
    )


def _flux_bounds(cm: CompiledModel, s: TFASettings, ridx: dict, drop: frozenset) -> tuple[np.ndarray, np.ndarray]:
    """(v_lo, v_hi) (n_rxn,) in mmol/gDW/h: default bound, flux bounds, growth, fixed fluxes, irreversibility."""
    n_rxn = len(ridx)
    v_lo = np.full(n_rxn, -s.default_flux_bound)
    v_hi = np.full(n_rxn, s.default_flux_bound)
    if "flux_bounds" not in drop:
        for r, (lo, hi) in s.flux_bounds.items():
            v_lo[ridx[r]], v_hi[ridx[r]] = lo, hi
    if "growth" not in drop and s.growth_reaction is not None:
        g = ridx[s.growth_reaction]
        v_lo[g] = max(v_lo[g], s.min_growth / s.growth_scaling)
    if "fixed_fluxes" not in drop:
        for r, val in s.fixed_fluxes.items():
            v_lo[ridx[r]] = v_hi[ridx[r]] = val
    return np.where(cm.reversible, v_lo, np.maximum(v_lo, 0.0)), v_hi


def _imposed_directions(s: TFASettings, ridx: dict, v_lo: np.ndarray, v_hi: np.ndarray, zero: np.ndarray,
                        drop: frozenset, conflicts: list) -> np.ndarray:
    """(n_rxn,) +1/-1 imposed by fixed_directions or by bounds that exclude one sign, else 0.

    A fixed direction that its bounds contradict is not imposed; it is appended to ``conflicts``.
    """
    direction = np.zeros(len(ridx), dtype=int)
    direction[(v_lo >= 0) & ~zero] = 1
    direction[(v_hi <= 0) & ~zero] = -1
    if "fixed_directions" not in drop:
        for r, d in s.fixed_directions.items():
            k = ridx[r]
            if zero[k] or (d > 0 and v_hi[k] <= 0) or (d < 0 and v_lo[k] >= 0):
                conflicts.append(f"fixed direction {d:+d} of '{r}' contradicts its flux bounds "
                                 f"[{v_lo[k]:g}, {v_hi[k]:g}]")
            else:
                direction[k] = d
    return direction


def _ln_x_bounds(cm: CompiledModel, s: TFASettings, drop: frozenset) -> tuple[np.ndarray, np.ndarray]:
    """(x_lo, x_hi) (n_sp,) in ln(mol/L): default bounds, then species_bounds."""
    x_lo = np.full(len(cm.species), math.log(s.concentration_bounds[0]))
    x_hi = np.full(len(cm.species), math.log(s.concentration_bounds[1]))
    if "species_bounds" not in drop:
        sidx = {sp: i for i, sp in enumerate(cm.species)}
        for sp, (lo, hi) in s.species_bounds.items():
            x_lo[sidx[sp]], x_hi[sidx[sp]] = math.log(lo), math.log(hi)
    return x_lo, x_hi


def _second_law(cm: CompiledModel, s: TFASettings, units: UnitSettings, ridx: dict, thermo: np.ndarray,
                x_lo: np.ndarray, x_hi: np.ndarray, drop: frozenset) -> dict:
    """D, c, g_lo, g_hi, g_min, g_max of :class:`Problem` for the reactions ``thermo``."""
    D = cm.thermo_displacement[thermo]
    c = D.sum(axis=1) * units.log_concentration_scale - cm.thermo_ln_keq[thermo]
    g_lo = np.full(len(thermo), -np.inf)
    g_hi = np.full(len(thermo), np.inf)
    if "dg_bounds" not in drop:
        tpos = {k: i for i, k in enumerate(thermo)}
        for r, (lo, hi) in s.dg_bounds.items():
            if ridx[r] in tpos:
                g_lo[tpos[ridx[r]]], g_hi[tpos[ridx[r]]] = lo, hi
    g_min = np.maximum(c + np.minimum(D * x_lo, D * x_hi).sum(axis=1), g_lo)
    g_max = np.minimum(c + np.maximum(D * x_lo, D * x_hi).sum(axis=1), g_hi)
    return dict(D=D, c=c, g_lo=g_lo, g_hi=g_hi, g_min=g_min, g_max=g_max)


# --------------------------------------------------------------------------- a direction pattern fixed


def pattern_flux_bounds(p: Problem, pattern: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) (n_rxn,) in u-units with |u| >= eps in the direction ``pattern`` (n_th,) of ``p.thermo``.

    Entries of ``pattern``: +1 forward, -1 backward, 0 open (bounds left as they are).
    """
    k_pos, k_neg = p.thermo[pattern > 0], p.thermo[pattern < 0]
    lo, hi = p.u_lo.copy(), p.u_hi.copy()
    lo[k_pos] = np.maximum(lo[k_pos], p.eps[k_pos])
    hi[k_neg] = np.minimum(hi[k_neg], -p.eps[k_neg])
    return lo, hi


def pattern_dg_bounds(p: Problem, pattern: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) (n_th,) of dG/RT: the side of the margin that ``pattern`` (n_th,; 0 open) imposes,
    within dg_bounds. Forward: dG/RT <= -margin; backward: dG/RT >= +margin."""
    m = p.margin
    return (np.where(pattern < 0, np.maximum(p.g_lo, m), p.g_lo),
            np.where(pattern > 0, np.minimum(p.g_hi, -m), p.g_hi))


def flux_budget(S: np.ndarray, lo: np.ndarray, hi: np.ndarray, weight: np.ndarray) -> float:
    """min sum_k weight_k |u_k| over {S u = 0, lo <= u <= hi} (directions fixed by the bounds).

    S : (n_var, n_rxn); lo, hi, weight : (n_rxn,). With every non-fixed u_k of one sign,
    |u_k| = sign_k u_k is linear. Raises InfeasibleError if the LP fails.
    """
    sign = np.where(lo >= 0, 1.0, -1.0)
    res = linprog(weight * sign, A_eq=S, b_eq=np.zeros(S.shape[0]), bounds=np.column_stack([lo, hi]),
                  method="highs", options=LP_OPTIONS)
    if res.status != 0:
        raise InfeasibleError(f"TFA flux budget LP failed ({res.message})")
    return float(res.fun)


def flux_constraints(p: Problem, pattern: np.ndarray, budget: float | None) -> dict:
    """The flux polytope P_v of the direction ``pattern`` (n_th,) as arrays; y = u (n_rxn,), u-units.

    ``S u = 0``; bounds with |u| >= eps in the pattern's direction (:func:`pattern_flux_bounds`);
    with ``budget`` (``TFASettings.flux_budget``) one row ``sum_k sign_k u_k / scale_k <= budget x``
    its minimum (:func:`flux_budget`; growth counted as its raw flux). Returns the keyword
    arguments A_eq (n_var, n_rxn), b_eq, lo, hi, A_ub (1, n_rxn) and b_ub (1,) (None without a budget).
    """
    lo, hi = pattern_flux_bounds(p, pattern)
    A_ub = b_ub = None
    if budget is not None:
        weight = 1.0 / p.scale
        A_ub = (weight * np.where(lo >= 0, 1.0, -1.0))[None, :]
        b_ub = np.array([budget * flux_budget(p.S, lo, hi, weight)])
    return dict(A_eq=p.S, b_eq=np.zeros(p.S.shape[0]), lo=lo, hi=hi, A_ub=A_ub, b_ub=b_ub)


# --------------------------------------------------------------------------- the direction MILP


@dataclass(frozen=True)
class _Layout:
    """Columns of the direction MILP: [u (n_rxn), ln x (n_sp), dG (n_th), z (n_z), tau_v, tau_g]."""

    n: int
    iu: int
    ig: int
    iz: int
    itv: int
    itg: int

    def rows(self, cols_vals, n_rows: int) -> sparse.csr_matrix:
        """Sparse (n_rows, n) from a list of (column index array, value array) per term."""
        r = np.arange(n_rows)
        ri = np.concatenate([r] * len(cols_vals))
        ci = np.concatenate([np.broadcast_to(c, n_rows) for c, _ in cols_vals])
        vi = np.concatenate([np.broadcast_to(v, n_rows) for _, v in cols_vals])
        return sparse.csr_matrix((vi, (ri, ci)), shape=(n_rows, self.n))


def direction_pattern(p: Problem, time_limit: float, gap: float = 0.05, exclude: tuple = ()) -> np.ndarray | None:
    """A feasible direction (+1/-1) for every reaction in ``p.thermo``, shape (n_th,); None if infeasible.

    MILP variables: [u (n_rxn), ln x (n_sp), dG (n_th), z (n_open), tau_v, tau_g], z = 1 forward.
    The pattern maximises tau_v / _TAU_V + tau_g / _TAU_G (to relative gap ``gap``): the
    common extra distance of every directed flux from +-eps (tau_v <= _TAU_V, mmol/gDW/h) and
    of every dG/RT from +-margin (tau_g <= _TAU_G; reactions with dg_bounds excluded), so that
    the chosen pattern is not a thin sliver of the feasible set. A huge ``gap`` stops at the
    first feasible pattern (feasibility checks of the diagnosis). ``exclude``: patterns
    (n_th,) that the result must differ from (one integer no-good cut each: at least one open
    direction flipped; the sampler's further patterns). Raises InfeasibleError if the time
    limit passes without a feasible point.
    """
    if p.conflict:
        return None
    n_rxn, n_sp, n_th = len(p.u_lo), len(p.x_lo), len(p.thermo)
    m = p.margin
    d = p.direction
    # imposed directions tighten dG/RT to the signed side of the margin
    g_lo = np.where(d < 0, np.maximum(p.g_min, m), p.g_min)
    g_hi = np.where(d > 0, np.minimum(p.g_max, -m), p.g_max)
    if np.any(g_lo > g_hi):
        return None
    open_ = np.flatnonzero(d == 0)
    n_z = len(open_)
    if exclude and n_z == 0:
        return None
    n = n_rxn + n_sp + n_th + n_z + 2
    lay = _Layout(n=n, iu=0, ig=n_rxn + n_sp, iz=n_rxn + n_sp + n_th, itv=n - 2, itg=n - 1)
    blocks, lo_r, hi_r = _balance_rows(p, lay)
    for rows, lo, hi in (_robustness_rows(p, lay) + _open_direction_rows(p, lay, open_)
                         + _no_good_rows(lay, open_, exclude)):
        blocks.append(rows)
        lo_r.append(lo)
        hi_r.append(hi)
    A = sparse.vstack(blocks).tocsr()
    lb = np.concatenate([p.u_lo, p.x_lo, g_lo, np.zeros(n_z), [0.0, 0.0]])
    ub = np.concatenate([p.u_hi, p.x_hi, g_hi, np.ones(n_z), [_TAU_V, _TAU_G]])
    integrality = np.zeros(n)
    integrality[lay.iz:lay.iz + n_z] = 1
    cost = np.zeros(n)
    cost[lay.itv], cost[lay.itg] = -1.0 / _TAU_V, -1.0 / _TAU_G
    res = milp(cost, constraints=LinearConstraint(A, np.concatenate(lo_r), np.concatenate(hi_r)),
               integrality=integrality, bounds=Bounds(lb, ub),
               options={"time_limit": time_limit, "presolve": True, "disp": False, "mip_rel_gap": gap})
    if res.status == 2:
        return None
    if res.x is None:
        raise InfeasibleError(f"TFA direction MILP: no feasible point found ({res.message}); "
                              f"raise TFASettings.time_limit (now {time_limit:g} s) or relax the constraints")
    out = d.copy()
    out[open_] = np.where(res.x[lay.iz:lay.iz + n_z] > 0.5, 1, -1)
    return out


def _balance_rows(p: Problem, lay: _Layout) -> tuple[list, list, list]:
    """Equality rows S u = 0 and dG - D ln x = c: (blocks, lower sides, upper sides)."""
    n_rxn, n_th, n_z = len(p.u_lo), len(p.thermo), lay.n - lay.iz - 2
    n_var = p.S.shape[0]
    blocks = [sparse.hstack([sparse.csr_matrix(p.S), sparse.csr_matrix((n_var, lay.n - n_rxn))])]
    blocks.append(sparse.hstack([
        sparse.csr_matrix((n_th, n_rxn)), sparse.csr_matrix(-p.D), sparse.identity(n_th),
        sparse.csr_matrix((n_th, n_z + 2))]))
    return blocks, [np.zeros(n_var), p.c], [np.zeros(n_var), p.c]


def _robustness_rows(p: Problem, lay: _Layout) -> list[tuple]:
    """Robustness of imposed directions, as (rows, lo, hi) blocks: u >= lo + tau_v (d=+1),
    u <= hi - tau_v (d=-1), dG <= -m - tau_g (d=+1), dG >= m + tau_g (d=-1)."""
    d, m = p.direction, p.margin
    free = p.u_lo < p.u_hi
    out = []
    for sign in (1, -1):
        k = np.flatnonzero(free & (p.u_lo >= 0 if sign > 0 else p.u_hi <= 0))
        if len(k):
            out.append((lay.rows([(lay.iu + k, float(sign)), (np.full(len(k), lay.itv), -1.0)], len(k)),
                        p.u_lo[k] if sign > 0 else -p.u_hi[k], np.full(len(k), np.inf)))
        i = np.flatnonzero((d == sign) & ~np.isfinite(p.g_lo) & ~np.isfinite(p.g_hi))
        if len(i):
            out.append((lay.rows([(lay.ig + i, -float(sign)), (np.full(len(i), lay.itg), -1.0)], len(i)),
                        np.full(len(i), m), np.full(len(i), np.inf)))
    return out


def _open_direction_rows(p: Problem, lay: _Layout, open_: np.ndarray) -> list[tuple]:
    """Big-M rows of the open directions (z = 1 forward), as (rows, lo, hi) blocks."""
    n_z = len(open_)
    if not n_z:
        return []
    m, tv, tg = p.margin, _TAU_V, _TAU_G
    k = p.thermo[open_]
    ulo, uhi, eps = p.u_lo[k], p.u_hi[k], p.eps[k]
    gmin, gmax = p.g_min[open_], p.g_max[open_]
    zc, one = lay.iz + np.arange(n_z), np.ones(n_z)
    tvc, tgc = np.full(n_z, lay.itv), np.full(n_z, lay.itg)
    # tau_g only for reactions without explicit dG bounds
    w = np.where(np.isfinite(p.g_lo[open_]) | np.isfinite(p.g_hi[open_]), 0.0, 1.0)
    return [
        # z=1: u >= eps + tau_v;  z=0: u >= lo - tv  (implied by the bound)
        (lay.rows([(lay.iu + k, one), (zc, -(eps - ulo + tv)), (tvc, -1.0)], n_z), ulo - tv, np.full(n_z, np.inf)),
        # z=0: u <= -eps - tau_v;  z=1: u <= hi + tv
        (lay.rows([(lay.iu + k, one), (zc, -(uhi + eps + tv)), (tvc, 1.0)], n_z), np.full(n_z, -np.inf), -eps),
        # z=1: dG <= -m - w tau_g;  z=0: dG <= gmax + tg
        (lay.rows([(lay.ig + open_, one), (zc, gmax + m + w * tg), (tgc, w)], n_z), np.full(n_z, -np.inf),
         gmax + w * tg),
        # z=0: dG >= m + w tau_g;  z=1: dG >= gmin - tg
        (lay.rows([(lay.ig + open_, one), (zc, m - gmin + w * tg), (tgc, -w)], n_z), np.full(n_z, m),
         np.full(n_z, np.inf)),
    ]


def _no_good_rows(lay: _Layout, open_: np.ndarray, exclude: tuple) -> list[tuple]:
    """One cut per excluded pattern: sum_{z_i = 1 before} (1 - z_i) + sum_{z_i = 0 before} z_i >= 1."""
    n_z = len(open_)
    out = []
    for prev in exclude:
        on = np.asarray(prev)[open_] > 0
        row = sparse.csr_matrix((np.where(on, -1.0, 1.0), (np.zeros(n_z, dtype=int), lay.iz + np.arange(n_z))),
                                shape=(1, lay.n))
        out.append((row, [1.0 - on.sum()], [np.inf]))
    return out


# --------------------------------------------------------------------------- interior point


def inequalities(lo: np.ndarray, hi: np.ndarray, A_ub=None, b_ub=None) -> tuple[sparse.csr_matrix, np.ndarray]:
    """``G y <= h`` (sparse G (m, n), h (m,)) for the finite, non-fixed bounds (lower, then upper)
    and the rows of ``A_ub`` (n_ub, n) with ``b_ub`` (n_ub,); lo == hi fixes y_i (no row)."""
    n = len(lo)
    fixed = lo == hi
    il = np.flatnonzero(~fixed & np.isfinite(lo))
    ih = np.flatnonzero(~fixed & np.isfinite(hi))
    parts = [sparse.csr_matrix((-np.ones(len(il)), (np.arange(len(il)), il)), shape=(len(il), n)),
             sparse.csr_matrix((np.ones(len(ih)), (np.arange(len(ih)), ih)), shape=(len(ih), n))]
    h = [-lo[il], hi[ih]]
    if A_ub is not None:
        parts.append(sparse.csr_matrix(A_ub))
        h.append(np.asarray(b_ub, dtype=float))
    return sparse.vstack(parts).tocsr(), np.concatenate(h)


def interior_point(A_eq, b_eq: np.ndarray, lo: np.ndarray, hi: np.ndarray, weights_rng: np.random.Generator,
                   spread: float, A_ub=None, b_ub=None) -> tuple[np.ndarray, float]:
    """Weighted analytic centre of {y : A_eq y = b_eq, A_ub y <= b_ub, lo <= y <= hi}.

    Shapes: y (n,), A_eq (n_eq, n), A_ub (n_ub, n); bounds may be +-inf, lo == hi fixes y_i.
    Every finite, non-fixed bound and every row of A_ub is an inequality s_i(y) >= 0. First
    the Chebyshev-like centre (largest common slack t*, each row measured as a distance,
    capped at ``_SLACK_CAP``) gives a strictly feasible start; then Newton's method in the
    null space of A_eq maximises sum_i omega_i ln s_i(y), omega_i = exp(spread * N(0, 1))
    drawn from ``weights_rng``. The maximiser is unique, strictly inside every inequality
    and far from the vertices; the weights make different seeds give different points
    (spread = 0: the plain analytic centre). Returns (y, t*); if t* ~ 0 (no interior) the
    centre itself is returned. Raises InfeasibleError if the centre LP fails.
    """
    n = len(lo)
    fixed = lo == hi
    G, h = inequalities(lo, hi, A_ub, b_ub)
    norms = np.sqrt(np.asarray(G.multiply(G).sum(axis=1)).ravel())
    omega = np.exp(spread * weights_rng.standard_normal(len(h)))
    A_eq = sparse.csr_matrix(A_eq)
    res = linprog(np.r_[np.zeros(n), -1.0],
                  A_ub=sparse.hstack([G, norms[:, None]]).tocsr(), b_ub=h,
                  A_eq=sparse.hstack([A_eq, sparse.csr_matrix((A_eq.shape[0], 1))]).tocsr(), b_eq=b_eq,
                  bounds=np.column_stack([np.r_[lo, 0.0], np.r_[hi, _SLACK_CAP]]),
                  method="highs", options=LP_OPTIONS)
    if res.status != 0:
        raise InfeasibleError(f"TFA interior point: centre LP failed ({res.message})")
    y, t = res.x[:n], float(res.x[-1])
    if t <= 1e-9:
        return y, t
    # null space of the equalities (fixed variables included)
    E = np.vstack([A_eq.toarray(), np.eye(n)[fixed]])
    Z = null_space(E) if E.shape[0] else np.eye(n)
    return _newton_centre(G, h, Z, y, omega), t


def _newton_centre(G, h: np.ndarray, Z: np.ndarray, y: np.ndarray, omega: np.ndarray) -> np.ndarray:
    """Maximise sum_i omega_i ln(h - G y)_i over y + Z w from the strictly feasible ``y`` (damped Newton)."""
    M = G @ Z  # (n_ineq, n_null): d s / d w = -M
    if M.shape[1] == 0:  # the equalities fix the point: nothing to centre
        return y
    slack = h - G @ y

    def phi(sl):
        return -float(omega @ np.log(sl))

    for _ in range(_NEWTON_ITERATIONS):
        r = omega / slack
        g = M.T @ r  # gradient of phi in w
        H = M.T @ (M * (r / slack)[:, None])
        step = -np.linalg.solve(H + 1e-12 * np.trace(H) / len(H) * np.eye(len(H)), g)
        decrement = -float(g @ step)
        if decrement < 1e-14:
            break
        ds = -(M @ step)
        shrinking = ds < 0
        alpha = min(1.0, 0.99 * float(np.min(-slack[shrinking] / ds[shrinking]))) if shrinking.any() else 1.0
        f0 = phi(slack)
        while alpha > 1e-12 and not (np.all(slack + alpha * ds > 0)
                                     and phi(slack + alpha * ds) <= f0 - 0.25 * alpha * decrement):
            alpha *= 0.5
        y = y + alpha * (Z @ step)
        slack = h - G @ y
        if alpha <= 1e-12:
            break
    return y


# --------------------------------------------------------------------------- mass balance


def project_fluxes(S: np.ndarray, v: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """Least-norm correction of the non-fixed fluxes so that S v = 0 to rounding.

    S : (n_var, n_rxn), v : (n_rxn,), fixed : (n_rxn,) bool; returns a corrected copy of ``v``.
    """
    v = v.copy()
    free = ~fixed
    for _ in range(3):
        dv, *_ = np.linalg.lstsq(S[:, free], -(S @ v), rcond=None)
        v[free] += dv
    return v
