"""Thermodynamics-based flux analysis (TFA): one interior, second-law-consistent steady state.

Unknowns: net fluxes ``v`` (mmol/gDW/h, every reaction), log concentrations ``ln x``
(ln mol/L, every species, boundary species included) and, for every reversible reaction k
with a thermodynamic constraint, its displacement

    dG_k/RT = ln(Gamma_k / Keq_k) = D_k . (ln x + ln c) - ln Keq_k

(``D = cm.displacement``, ``c = units.concentration_scale``, ``ln Keq`` in model units).
Constraints: ``S v = 0`` for the balanced species; flux bounds; growth; fixed fluxes;
concentration bounds; and the second law with a margin ``m``: a reaction running forward
(v >= min_abs_flux) has dG/RT <= -m, one running backward (v <= -min_abs_flux) has
dG/RT >= +m. Every reaction not bounded to zero flux carries |v| >= ``min_abs_flux``.

Method:

1. A MILP (HiGHS through :func:`scipy.optimize.milp`) with one binary direction per
   reversible reaction whose direction the bounds leave open chooses a direction pattern
   (big-M rows, M from the flux bounds and the dG/RT range implied by the concentration
   box), maximising how far every directed flux and dG/RT can be from its threshold.
2. With the pattern fixed, fluxes and (ln x, dG/RT) decouple into two polytopes. The total
   flux is capped at ``flux_budget`` x its minimum (one LP), so fluxes scale with uptake
   and growth rather than with the +-100 box.
3. In each polytope, the point is the weighted analytic centre (max sum_i w_i ln slack_i,
   Newton's method from the Chebyshev-like centre; seeded log-normal weights w_i): strictly
   inside every inequality and far from the vertices; same seed, same point.
4. The fluxes are projected onto the null space of ``S`` (least squares over the reactions
   that are not fixed) so mass balance holds to rounding; the result is validated.

Infeasible settings raise :class:`~renaissance.errors.InfeasibleError` naming a small set of
individual constraints that conflict (:mod:`.conflicts`: group filter, then QuickXplain over
the members of the implicated groups).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from scipy import sparse
from scipy.linalg import null_space
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from ..errors import InfeasibleError
from ..model.compiled import CompiledModel
from ..settings import UnitSettings
from .table import SteadyState, validate_steady_state

#: constraint groups that the infeasibility diagnosis may relax (the core -- mass balance,
#: default flux and concentration bounds, irreversibility, second law -- is never relaxed)
GROUPS = ("growth", "fixed_fluxes", "flux_bounds", "dg_bounds", "fixed_directions", "species_bounds")

_TAU_V = 0.01  # cap of the flux robustness of the direction pattern (mmol/gDW/h)
_TAU_G = 1.0  # cap of the dG/RT robustness of the direction pattern
_SLACK_CAP = 1.0  # cap on the common slack t (flux units resp. ln units), keeps the LP bounded
_NEWTON_ITERATIONS = 100
_LP_OPTIONS = {"presolve": True, "primal_feasibility_tolerance": 1e-9, "dual_feasibility_tolerance": 1e-9}


def _default_species_bounds() -> dict:
    proton = (10**-8.5, 1e-6)  # pH 6 .. 8.5
    return {
        "h_c": proton, "h_p": proton, "h_e": proton,
        # medium (data/bioreactor_medium.yaml: initial 0.055 M glucose, 0.064 M phosphate,
        # 0.018 M ammonium; dissolved O2 at most ~air saturation, 0.25 mM)
        "glc_D_e": (1e-4, 0.055),
        "pi_e": (1e-4, 0.064),
        "nh4_e": (1e-4, 0.018),
        "o2_e": (1e-6, 2.5e-4),
    }


def _default_flux_bounds() -> dict:
    # Glucose uptake bounded; extracellular species that are not in the reference medium
    # (data/bioreactor_medium.yaml) can only be secreted: their outer-membrane transports
    # X_e -> X_p run backwards. Without this the cell takes up free carbon (e.g. 2-oxoglutarate).
    secreted = ("ACALDtex", "ACtex", "AKGtex", "D-LACtex", "ETOHtex", "FORtex", "GLUtex", "MALtex",
                "PYRtex", "SUCCtex", "PHEtex", "SERtex", "TYRtex")
    return {"GLCtex": (0.0, 15.0), **{rid: (-100.0, 0.0) for rid in secreted}}


def _default_fixed_directions() -> dict:
    # DESIGN.md section 3: with the stored Keq these transporters close energy-generating
    # loops unless they keep their physiological direction. All five run forward (v > 0) in
    # the shared fixture state (fixtures/ecoli/steady_state.csv), which is where the sign
    # comes from.
    return {"COLIPAabctex": 1, "GLUabcpp": 1, "GLCabcpp": 1, "PIuabcpp": 1, "CBL1tonex": 1}


@dataclass(frozen=True, kw_only=True)
class TFASettings:
    """Constraints and solver settings of :func:`find_steady_state` (units: mol/L, mmol/gDW/h, 1/h).

    Parameters
    ----------
    growth_reaction : str
        Lumped biomass reaction; growth [1/h] = ``growth_scaling`` x its flux.
    growth_scaling : float
        Reference: 5e5 (DM_biomass / LMPD_biomass_c_1_420).
    min_growth : float
        Lower bound on growth in 1/h (group ``growth``).
    fixed_fluxes : dict reaction -> float
        Fluxes held exactly (group ``fixed_fluxes``; reference: anthranilate secretion 0.14).
    flux_bounds : dict reaction -> (lo, hi)
        Per-reaction bounds replacing ``+-default_flux_bound`` (group ``flux_bounds``). A lower
        bound >= 0 fixes the direction forward. Default: glucose uptake ``GLCtex`` in [0, 15];
        extracellular species outside the reference medium secreted only.
    default_flux_bound : float
        |v| <= this for every other reaction.
    concentration_bounds : (lo, hi)
        Default bounds of every species, boundary species included, in mol/L.
    species_bounds : dict species -> (lo, hi)
        Per-species overrides in mol/L (group ``species_bounds``): protons at pH 6 .. 8.5,
        medium species around the reference medium.
    min_margin : float
        |dG/RT| >= this for every reversible reaction that carries flux, with
        sign(dG) = -sign(v).
    dg_bounds : dict reaction -> (lo, hi)
        Bounds on dG/RT (group ``dg_bounds``). Default: ATP synthase within +-0.15 of
        equilibrium; DESIGN.md section 3 measured that with ATPS4rpp far from equilibrium
        (dG/RT <~ -2.9) every Km set is unstable (lambda_max ~ 2e8 1/h), so states without
        this bound are useless for training.
    fixed_directions : dict reaction -> +1 / -1
        Reactions whose direction is imposed (group ``fixed_directions``). Default: the five
        transporters whose stored Keq form energy-generating loops (DESIGN.md section 3),
        forward as in the shared fixture state.
    min_abs_flux : float
        Every reaction not bounded to zero carries |v| >= this (mmol/gDW/h; for the growth
        reaction: growth >= this in 1/h) in its direction;
        a reaction with bounds (0, 0) carries no flux and gets no second-law constraint. The
        interior step then moves every flux further from zero by the polytope's slack.
    flux_budget : float or None
        The interior step keeps the total flux sum_k |v_k| within ``flux_budget`` times its
        minimum for the chosen directions (> 1), so that the fluxes scale with uptake and
        growth instead of filling the +-default_flux_bound box through futile cycles. None:
        no budget.
    weight_spread : float
        The interior point is the weighted analytic centre of the feasible set for the chosen
        directions, maximising sum_i omega_i ln(slack_i) over every inequality, with
        ln omega_i ~ N(0, weight_spread^2) drawn from ``seed``; 0 gives the (seed-independent)
        analytic centre.
    time_limit : float
        Seconds allowed for the direction MILP (and for each MILP of the diagnosis).
    ln_keq_uncertainty : dict reaction -> float
        Half-width of the interval around the model's ln Keq within which a sampler may vary
        ln Keq (the reference sampled dG0 within its error); reactions not listed use
        ``default_ln_keq_uncertainty``. 0 (the default) keeps every Keq at its stored value.
    default_ln_keq_uncertainty : float
    """

    growth_reaction: str = "LMPD_biomass_c_1_420"
    growth_scaling: float = 5e5
    min_growth: float = 0.26
    fixed_fluxes: dict = field(default_factory=lambda: {"ANTHtex": 0.14})
    flux_bounds: dict = field(default_factory=_default_flux_bounds)
    default_flux_bound: float = 100.0
    concentration_bounds: tuple = (1e-7, 2e-2)
    species_bounds: dict = field(default_factory=_default_species_bounds)
    min_margin: float = 0.12
    dg_bounds: dict = field(default_factory=lambda: {"ATPS4rpp": (-0.15, 0.15)})
    fixed_directions: dict = field(default_factory=_default_fixed_directions)
    min_abs_flux: float = 1e-6
    flux_budget: float | None = 2.0
    weight_spread: float = 1.0
    time_limit: float = 60.0
    ln_keq_uncertainty: dict = field(default_factory=dict)
    default_ln_keq_uncertainty: float = 0.0

    def __post_init__(self) -> None:
        for name in ("growth_scaling", "default_flux_bound", "time_limit"):
            _check_real(getattr(self, name), name, positive=True)
        for name in ("min_growth", "min_margin", "min_abs_flux"):
            _check_real(getattr(self, name), name, positive=False)
        budget = self.flux_budget
        if budget is not None and not (isinstance(budget, (int, float)) and math.isfinite(budget) and budget > 1):
            raise ValueError(f"TFASettings.flux_budget == {self.flux_budget!r}, must be None or a finite number > 1")
        _check_real(self.weight_spread, "weight_spread", positive=False)
        _check_interval(self.concentration_bounds, "concentration_bounds", positive=True)
        for key, value in self.species_bounds.items():
            _check_interval(value, f"species_bounds[{key!r}]", positive=True)
        for key, value in self.flux_bounds.items():
            _check_interval(value, f"flux_bounds[{key!r}]", positive=False)
        for key, value in self.dg_bounds.items():
            _check_interval(value, f"dg_bounds[{key!r}]", positive=False, finite=False)
        for key, value in self.fixed_fluxes.items():
            _check_real(value, f"fixed_fluxes[{key!r}]", positive=False, signed=True)
        for key, value in self.fixed_directions.items():
            if value not in (1, -1):
                raise ValueError(f"TFASettings.fixed_directions[{key!r}] == {value!r}, must be +1 or -1")
        _check_real(self.default_ln_keq_uncertainty, "default_ln_keq_uncertainty", positive=False)
        for key, value in self.ln_keq_uncertainty.items():
            _check_real(value, f"ln_keq_uncertainty[{key!r}]", positive=False)
        for name in ("fixed_fluxes", "flux_bounds", "species_bounds", "dg_bounds", "fixed_directions",
                     "ln_keq_uncertainty"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))


def _check_real(value, name: str, *, positive: bool, signed: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and not signed:
        ok = value > 0 if positive else value >= 0
    if not ok:
        bound = "finite" if signed else ("> 0" if positive else ">= 0")
        raise ValueError(f"TFASettings.{name} == {value!r}, must be a finite number{'' if signed else ' ' + bound}")


def _check_interval(value, name: str, *, positive: bool, finite: bool = True) -> None:
    try:
        lo, hi = (float(b) for b in value)
    except (TypeError, ValueError):
        raise ValueError(f"TFASettings.{name} == {value!r}, must be a pair (lo, hi)") from None
    if math.isnan(lo) or math.isnan(hi) or lo > hi or (finite and not (math.isfinite(lo) and math.isfinite(hi))):
        raise ValueError(f"TFASettings.{name} == {value!r}, must satisfy lo <= hi (finite)")
    if positive and lo <= 0:
        raise ValueError(f"TFASettings.{name} == {value!r}, concentrations must be > 0")


# --------------------------------------------------------------------------- problem data


@dataclass(frozen=True)
class _Problem:
    """Constraint data in arrays.

    Flux variables are ``u = scale * v`` (``scale`` = growth_scaling for the growth reaction,
    so its column of ``S`` is O(10) instead of O(1e7); u is then growth in 1/h).

    S : (n_var, n_rxn) stoichiometry in u-units;  scale : (n_rxn,)
    u_lo, u_hi : (n_rxn,) flux bounds in u-units (irreversibility included)
    fixed : (n_rxn,) bool, u_lo == u_hi
    x_lo, x_hi : (n_sp,) ln(mol/L) bounds
    thermo : (n_th,) int, reactions with a second-law constraint (reversible, not fixed at 0)
    D : (n_th, n_sp), c : (n_th,)   dG/RT = D @ ln x + c
    g_lo, g_hi : (n_th,) explicit dG/RT bounds (dg_bounds; +-inf where none)
    g_min, g_max : (n_th,) finite dG/RT range implied by the box, intersected with g_lo, g_hi
    direction : (n_th,) int, +1/-1 imposed (fixed_directions or flux bounds), 0 = open
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
    eps: np.ndarray  # (n_rxn,) min |u| in u-units
    margin: float
    conflict: str | None  # why the bounds alone are contradictory (then no solve is needed)


def _check_names(cm: CompiledModel, s: TFASettings) -> None:
    reactions, species = set(cm.structure.reactions), set(cm.species)
    if s.growth_reaction not in reactions:
        raise ValueError(f"TFASettings.growth_reaction == {s.growth_reaction!r} is not a reaction of the model")
    for name in ("fixed_fluxes", "flux_bounds", "dg_bounds", "fixed_directions"):
        unknown = sorted(set(getattr(s, name)) - reactions)
        if unknown:
            raise ValueError(f"TFASettings.{name}: unknown reactions {unknown}")
    unknown = sorted(set(s.species_bounds) - species)
    if unknown:
        raise ValueError(f"TFASettings.species_bounds: unknown species {unknown}")
    irreversible = {r for r, rev in zip(cm.structure.reactions, cm.reversible) if not rev}
    bad = sorted(set(s.dg_bounds) & irreversible)
    if bad:
        raise ValueError(f"TFASettings.dg_bounds: reactions {bad} are irreversible (no Keq)")


def _build(cm: CompiledModel, s: TFASettings, units: UnitSettings, drop: frozenset = frozenset()) -> _Problem:
    """Arrays of the TFA constraints, with the groups in ``drop`` relaxed."""
    rxns = cm.structure.reactions
    ridx = {r: k for k, r in enumerate(rxns)}
    n_rxn = len(rxns)
    g = ridx[s.growth_reaction]
    scale = np.ones(n_rxn)
    scale[g] = s.growth_scaling

    v_lo = np.full(n_rxn, -s.default_flux_bound)
    v_hi = np.full(n_rxn, s.default_flux_bound)
    if "flux_bounds" not in drop:
        for r, (lo, hi) in s.flux_bounds.items():
            v_lo[ridx[r]], v_hi[ridx[r]] = lo, hi
    if "growth" not in drop:
        v_lo[g] = max(v_lo[g], s.min_growth / s.growth_scaling)
    if "fixed_fluxes" not in drop:
        for r, val in s.fixed_fluxes.items():
            v_lo[ridx[r]] = v_hi[ridx[r]] = val
    v_lo = np.where(cm.reversible, v_lo, np.maximum(v_lo, 0.0))

    conflicts = [f"flux of '{rxns[k]}': lower bound {v_lo[k]:g} > upper bound {v_hi[k]:g}"
                 for k in np.flatnonzero(v_lo > v_hi)]
    zero = (v_lo == 0) & (v_hi == 0)

    # directions: imposed by fixed_directions or by bounds that exclude one sign
    direction = np.zeros(n_rxn, dtype=int)
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
    # |v| >= min_abs_flux in the chosen direction (a bound closer to zero than eps wins);
    # for the growth reaction the threshold applies to growth (1/h), not to its raw flux
    eps = np.minimum(s.min_abs_flux / scale, np.where(v_hi > 0, v_hi, np.inf))
    eps = np.minimum(eps, np.where(v_lo < 0, -v_lo, np.inf))
    eps = np.where(zero, 0.0, eps)
    pos, neg = direction > 0, direction < 0
    v_lo = np.where(pos, np.maximum(v_lo, eps), v_lo)
    v_hi = np.where(neg, np.minimum(v_hi, -eps), v_hi)

    # concentrations
    x_lo = np.full(len(cm.species), math.log(s.concentration_bounds[0]))
    x_hi = np.full(len(cm.species), math.log(s.concentration_bounds[1]))
    if "species_bounds" not in drop:
        sidx = {sp: i for i, sp in enumerate(cm.species)}
        for sp, (lo, hi) in s.species_bounds.items():
            x_lo[sidx[sp]], x_hi[sidx[sp]] = math.log(lo), math.log(hi)

    # second law
    thermo = np.flatnonzero(cm.reversible & ~zero)
    D = cm.displacement[thermo]
    c = D.sum(axis=1) * units.log_concentration_scale - cm.ln_keq[thermo]
    g_lo = np.full(len(thermo), -np.inf)
    g_hi = np.full(len(thermo), np.inf)
    if "dg_bounds" not in drop:
        tpos = {k: i for i, k in enumerate(thermo)}
        for r, (lo, hi) in s.dg_bounds.items():
            if ridx[r] in tpos:
                g_lo[tpos[ridx[r]]], g_hi[tpos[ridx[r]]] = lo, hi
    g_min = np.maximum(c + np.minimum(D * x_lo, D * x_hi).sum(axis=1), g_lo)
    g_max = np.minimum(c + np.maximum(D * x_lo, D * x_hi).sum(axis=1), g_hi)
    conflicts += [f"dG/RT of '{rxns[k]}': bounds [{g_lo[i]:g}, {g_hi[i]:g}] outside the range "
                  f"allowed by the concentration bounds"
                  for i, k in enumerate(thermo) if g_min[i] > g_max[i]]

    return _Problem(
        S=cm.structure.S / scale, scale=scale, u_lo=v_lo * scale, u_hi=v_hi * scale,
        fixed=v_lo == v_hi, x_lo=x_lo, x_hi=x_hi, thermo=thermo, D=D, c=c, g_lo=g_lo, g_hi=g_hi,
        g_min=g_min, g_max=g_max, direction=direction[thermo], eps=eps * scale, margin=s.min_margin,
        conflict="; ".join(conflicts) or None,
    )


# --------------------------------------------------------------------------- step 1: MILP


def _directions(p: _Problem, time_limit: float, gap: float = 0.05, exclude: tuple = ()) -> np.ndarray | None:
    """A feasible direction (+1/-1) for every reaction in ``p.thermo``; None if infeasible.

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
    n = n_rxn + n_sp + n_th + n_z + 2
    iu, ig, iz, itv, itg = 0, n_rxn + n_sp, n_rxn + n_sp + n_th, n - 2, n - 1
    tv, tg = _TAU_V, _TAU_G

    def rows(cols_vals, n_rows):
        """Sparse (n_rows, n) from a list of (column index array, value array) per term."""
        r = np.arange(n_rows)
        ri = np.concatenate([r] * len(cols_vals))
        ci = np.concatenate([np.broadcast_to(c, n_rows) for c, _ in cols_vals])
        vi = np.concatenate([np.broadcast_to(v, n_rows) for _, v in cols_vals])
        return sparse.csr_matrix((vi, (ri, ci)), shape=(n_rows, n))

    n_var = p.S.shape[0]
    blocks = [sparse.hstack([sparse.csr_matrix(p.S), sparse.csr_matrix((n_var, n - n_rxn))])]
    lo_r, hi_r = [np.zeros(n_var)], [np.zeros(n_var)]
    # dG - D ln x = c
    blocks.append(sparse.hstack([
        sparse.csr_matrix((n_th, n_rxn)), sparse.csr_matrix(-p.D), sparse.identity(n_th),
        sparse.csr_matrix((n_th, n_z + 2))]))
    lo_r.append(p.c)
    hi_r.append(p.c)
    # robustness of imposed directions: u >= lo + tau_v (d=+1), u <= hi - tau_v (d=-1),
    # dG <= -m - tau_g (d=+1), dG >= m + tau_g (d=-1)
    free = p.u_lo < p.u_hi
    for sign in (1, -1):
        k = np.flatnonzero(free & (p.u_lo >= 0 if sign > 0 else p.u_hi <= 0))
        if len(k):
            blocks.append(rows([(iu + k, float(sign)), (np.full(len(k), itv), -1.0)], len(k)))
            lo_r.append(p.u_lo[k] if sign > 0 else -p.u_hi[k])
            hi_r.append(np.full(len(k), np.inf))
        i = np.flatnonzero((d == sign) & ~np.isfinite(p.g_lo) & ~np.isfinite(p.g_hi))
        if len(i):
            blocks.append(rows([(ig + i, -float(sign)), (np.full(len(i), itg), -1.0)], len(i)))
            lo_r.append(np.full(len(i), m))
            hi_r.append(np.full(len(i), np.inf))
    if n_z:
        k = p.thermo[open_]
        ulo, uhi, eps = p.u_lo[k], p.u_hi[k], p.eps[k]
        gmin, gmax = p.g_min[open_], p.g_max[open_]
        zc, one = iz + np.arange(n_z), np.ones(n_z)
        # z=1: u >= eps + tau_v;  z=0: u >= lo - tv  (implied by the bound)
        blocks.append(rows([(iu + k, one), (zc, -(eps - ulo + tv)), (np.full(n_z, itv), -1.0)], n_z))
        lo_r.append(ulo - tv)
        hi_r.append(np.full(n_z, np.inf))
        # z=0: u <= -eps - tau_v;  z=1: u <= hi + tv
        blocks.append(rows([(iu + k, one), (zc, -(uhi + eps + tv)), (np.full(n_z, itv), 1.0)], n_z))
        lo_r.append(np.full(n_z, -np.inf))
        hi_r.append(-eps)
        # dG rows; tau_g only for reactions without explicit dG bounds
        w = np.where(np.isfinite(p.g_lo[open_]) | np.isfinite(p.g_hi[open_]), 0.0, 1.0)
        # z=1: dG <= -m - w tau_g;  z=0: dG <= gmax + tg
        blocks.append(rows([(ig + open_, one), (zc, gmax + m + w * tg), (np.full(n_z, itg), w)], n_z))
        lo_r.append(np.full(n_z, -np.inf))
        hi_r.append(gmax + w * tg)
        # z=0: dG >= m + w tau_g;  z=1: dG >= gmin - tg
        blocks.append(rows([(ig + open_, one), (zc, m - gmin + w * tg), (np.full(n_z, itg), -w)], n_z))
        lo_r.append(np.full(n_z, m))
        hi_r.append(np.full(n_z, np.inf))
    for prev in exclude:  # sum_{z_i = 1 before} (1 - z_i) + sum_{z_i = 0 before} z_i >= 1
        if n_z == 0:
            return None
        on = np.asarray(prev)[open_] > 0
        blocks.append(sparse.csr_matrix((np.where(on, -1.0, 1.0), (np.zeros(n_z, dtype=int), iz + np.arange(n_z))),
                                        shape=(1, n)))
        lo_r.append([1.0 - on.sum()])
        hi_r.append([np.inf])
    A = sparse.vstack(blocks).tocsr()
    lb = np.concatenate([p.u_lo, p.x_lo, g_lo, np.zeros(n_z), [0.0, 0.0]])
    ub = np.concatenate([p.u_hi, p.x_hi, g_hi, np.ones(n_z), [tv, tg]])
    integrality = np.zeros(n)
    integrality[iz:iz + n_z] = 1
    cost = np.zeros(n)
    cost[itv], cost[itg] = -1.0 / _TAU_V, -1.0 / _TAU_G
    res = milp(cost, constraints=LinearConstraint(A, np.concatenate(lo_r), np.concatenate(hi_r)),
               integrality=integrality, bounds=Bounds(lb, ub),
               options={"time_limit": time_limit, "presolve": True, "disp": False, "mip_rel_gap": gap})
    if res.status == 2:
        return None
    if res.x is None:
        raise InfeasibleError(f"TFA direction MILP: no feasible point found ({res.message}); "
                              f"raise TFASettings.time_limit (now {time_limit:g} s) or relax the constraints")
    out = d.copy()
    out[open_] = np.where(res.x[iz:iz + n_z] > 0.5, 1, -1)
    return out


# --------------------------------------------------------------------------- step 2: interior point


def _interior(A_eq, b_eq: np.ndarray, lo: np.ndarray, hi: np.ndarray, weights_rng: np.random.Generator,
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
    centre itself is returned.
    """
    n = len(lo)
    fixed = lo == hi
    A_ub = sparse.csr_matrix((0, n)) if A_ub is None else sparse.csr_matrix(A_ub)
    b_ub = np.zeros(0) if b_ub is None else np.asarray(b_ub, dtype=float)
    il = np.flatnonzero(~fixed & np.isfinite(lo))
    ih = np.flatnonzero(~fixed & np.isfinite(hi))
    # inequalities as G y <= h
    G = sparse.vstack([
        sparse.csr_matrix((-np.ones(len(il)), (np.arange(len(il)), il)), shape=(len(il), n)),
        sparse.csr_matrix((np.ones(len(ih)), (np.arange(len(ih)), ih)), shape=(len(ih), n)),
        A_ub,
    ]).tocsr()
    h = np.concatenate([-lo[il], hi[ih], b_ub])
    norms = np.sqrt(np.asarray(G.multiply(G).sum(axis=1)).ravel())
    omega = np.exp(spread * weights_rng.standard_normal(len(h)))
    A_eq = sparse.csr_matrix(A_eq)
    res = linprog(np.r_[np.zeros(n), -1.0],
                  A_ub=sparse.hstack([G, norms[:, None]]).tocsr(), b_ub=h,
                  A_eq=sparse.hstack([A_eq, sparse.csr_matrix((A_eq.shape[0], 1))]).tocsr(), b_eq=b_eq,
                  bounds=np.column_stack([np.r_[lo, 0.0], np.r_[hi, _SLACK_CAP]]),
                  method="highs", options=_LP_OPTIONS)
    if res.status != 0:
        raise InfeasibleError(f"TFA interior point: centre LP failed ({res.message})")
    y, t = res.x[:n], float(res.x[-1])
    if t <= 1e-9:
        return y, t
    # null space of the equalities (fixed variables included)
    E = np.vstack([A_eq.toarray(), np.eye(n)[fixed]])
    Z = null_space(E) if E.shape[0] else np.eye(n)
    M = G @ Z  # (n_ineq, n_null): d s / d w = -M
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
    return y, t


def _flux_budget(S: np.ndarray, lo: np.ndarray, hi: np.ndarray, weight: np.ndarray) -> float:
    """min sum_k weight_k |u_k| over {S u = 0, lo <= u <= hi} (directions fixed by the bounds).

    With every non-fixed u_k of one sign, |u_k| = sign_k u_k is linear.
    """
    sign = np.where(lo >= 0, 1.0, -1.0)
    res = linprog(weight * sign, A_eq=S, b_eq=np.zeros(S.shape[0]), bounds=np.column_stack([lo, hi]),
                  method="highs", options=_LP_OPTIONS)
    if res.status != 0:
        raise InfeasibleError(f"TFA flux budget LP failed ({res.message})")
    return float(res.fun)


def _project_fluxes(S: np.ndarray, v: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """Least-norm correction of the non-fixed fluxes so that S v = 0 to rounding.

    S : (n_var, n_rxn), v : (n_rxn,), fixed : (n_rxn,) bool.
    """
    v = v.copy()
    free = ~fixed
    for _ in range(3):
        dv, *_ = np.linalg.lstsq(S[:, free], -(S @ v), rcond=None)
        v[free] += dv
    return v


# --------------------------------------------------------------------------- facade


def find_steady_state(
    cm: CompiledModel,
    settings: TFASettings = TFASettings(),
    units: UnitSettings = UnitSettings(),
    *,
    seed: int = 0,
) -> SteadyState:
    """One thermodynamically consistent, mass-balanced steady state of ``cm`` (interior point).

    Parameters
    ----------
    cm : CompiledModel
    settings : TFASettings
        Constraints (see its docstring); the defaults are the reference E. coli set-up and
        name its reactions and species: pass settings for any other model.
    units : UnitSettings
        Only ``concentration_scale`` matters here: the stored Keq are in model units.
    seed : int
        Seeds the barrier weights of the interior step; same seed, same state.

    Returns
    -------
    SteadyState
        Concentrations (mol/L) of every species of ``cm.species`` and net fluxes
        (mmol/gDW/h) of every reaction; ``source`` records the seed.

    Raises
    ------
    InfeasibleError
        No state satisfies the constraints; the message names the constraint groups that are
        infeasible together, the active fixed fluxes and flux bounds.
    """
    _check_names(cm, settings)
    p = _build(cm, settings, units)
    d = _directions(p, settings.time_limit)
    if d is None:
        raise InfeasibleError(_diagnose(cm, settings, units, p))
    rng = np.random.default_rng(seed)

    # fluxes: S u = 0 with bounds of the chosen directions
    k_pos, k_neg = p.thermo[d > 0], p.thermo[d < 0]
    u_lo, u_hi = p.u_lo.copy(), p.u_hi.copy()
    u_lo[k_pos] = np.maximum(u_lo[k_pos], p.eps[k_pos])
    u_hi[k_neg] = np.minimum(u_hi[k_neg], -p.eps[k_neg])
    A_ub = b_ub = None
    if settings.flux_budget is not None:
        # total flux sum |v| <= flux_budget x its minimum (growth counted as its raw flux)
        weight = 1.0 / p.scale
        sign = np.where(u_lo >= 0, 1.0, -1.0)
        A_ub = (weight * sign)[None, :]
        b_ub = [settings.flux_budget * _flux_budget(p.S, u_lo, u_hi, weight)]
    u, _ = _interior(p.S, np.zeros(p.S.shape[0]), u_lo, u_hi, rng, settings.weight_spread, A_ub, b_ub)

    # concentrations: y = [ln x, dG], dG - D ln x = c, signed margins as bounds
    m = p.margin
    g_lo = np.where(d > 0, p.g_lo, np.maximum(p.g_lo, m))
    g_hi = np.where(d > 0, np.minimum(p.g_hi, -m), p.g_hi)
    n_sp, n_th = len(p.x_lo), len(p.thermo)
    A_eq = np.hstack([-p.D, np.eye(n_th)])
    y, _ = _interior(A_eq, p.c, np.concatenate([p.x_lo, g_lo]), np.concatenate([p.x_hi, g_hi]),
                     rng, settings.weight_spread)
    ln_x = np.clip(y[:n_sp], p.x_lo, p.x_hi)

    v = _project_fluxes(cm.structure.S, u / p.scale, p.fixed)
    v[p.fixed] = p.u_lo[p.fixed] / p.scale[p.fixed]
    state = SteadyState(
        concentrations=dict(zip(cm.species, np.exp(ln_x).tolist())),
        fluxes=dict(zip(cm.structure.reactions, v.tolist())),
        source=f"tfa(seed={seed})",
    )
    validate_steady_state(cm, state, units, balance_rtol=1e-9)  # guard against numerical failure
    return state


def _describe(group: str, s: TFASettings) -> str:
    if group == "growth":
        return f"growth ({s.growth_scaling:g} x v({s.growth_reaction}) >= min_growth = {s.min_growth:g} 1/h)"
    if group == "fixed_fluxes":
        return "fixed_fluxes (" + (", ".join(f"{r} = {v:g}" for r, v in s.fixed_fluxes.items()) or "none") + ")"
    if group == "flux_bounds":
        bounds = ", ".join(f"{r} in [{a:g}, {b:g}]" for r, (a, b) in s.flux_bounds.items())
        return f"flux_bounds ({bounds or 'none'})"
    if group == "dg_bounds":
        return "dg_bounds (" + ", ".join(f"dG/RT({r}) in [{a:g}, {b:g}]" for r, (a, b) in s.dg_bounds.items()) + ")"
    if group == "fixed_directions":
        return "fixed_directions (" + ", ".join(f"{r} {d:+d}" for r, d in s.fixed_directions.items()) + ")"
    return f"species_bounds ({len(s.species_bounds)} species)"


def _diagnose(cm: CompiledModel, s: TFASettings, units: UnitSettings, p: _Problem) -> str:
    """Message for an infeasible problem: a small set of individual constraints that conflict.

    See :mod:`renaissance.steadystate.conflicts`: QuickXplain over the individual constraints,
    with LP relaxations (flux balance, concentration/dG polytope) where they already prove
    infeasibility, else a group deletion filter and the direction MILP as the check.
    """
    from .conflicts import conflict_message, find_conflict  # late import: conflicts imports this module

    head = "no thermodynamically feasible steady state"
    if p.conflict:
        head += f" (contradictory bounds: {p.conflict})"
    conflict = find_conflict(cm, s, units)
    return (f"{head}: {conflict_message(cm, s, conflict, units)}. Active: "
            + "; ".join(_describe(g, s) for g in ("fixed_fluxes", "flux_bounds")))
