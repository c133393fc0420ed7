"""Name a small set of TFA constraints that cannot hold together (an irreducible infeasible subset).

The relaxable constraints of :class:`~renaissance.steadystate.settings.TFASettings` are split into
individual elements (:class:`Constraint`): the growth bound, each fixed flux, each per-reaction
flux bound, each dG/RT bound, each fixed direction and each per-species concentration bound.
The irrelaxable core -- mass balance, irreversibility, the second law with its margin, the
default flux bound and minimum |flux|, the default concentration bounds -- always holds.

Feasibility of a subset is decided by the TFA direction MILP (:func:`.problem.direction_pattern`
with a huge gap: it stops at the first feasible pattern; ~0.005 s when presolve proves
infeasibility, ~0.3-0.9 s for a feasible E. coli problem). Method: a deletion filter over the constraint
groups first (few checks), then QuickXplain (Junker 2004) over the members of the remaining
groups: O(k log(n/k)) checks for a conflict of k out of n members. The result is irreducible
(dropping any one member makes the rest feasible) unless a check ran out of time, in which
case that member is kept and the set is reported as not proven minimal.

:func:`infeasibility_message` is the text of the InfeasibleError that
:func:`~renaissance.steadystate.tfa.find_steady_state` and the sampler raise.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import linprog

from ..errors import InfeasibleError
from ..model.compiled import CompiledModel
from ..settings import UnitSettings
from .problem import Problem, build_problem, direction_pattern, pattern_dg_bounds, pattern_flux_bounds
from .settings import GROUPS, TFASettings

_CHECK_LIMIT = 5.0  # seconds per feasibility MILP
_BUDGET = 15.0  # seconds for the whole search; past it, remaining members are kept


@dataclass(frozen=True, order=True)
class Constraint:
    """One relaxable constraint: ``group`` (a member of ``settings.GROUPS``) and its reaction or species."""

    group: str
    key: str = ""

    def describe(self, s: TFASettings) -> str:
        """Readable form with the value from ``s``, e.g. ``"flux bound EX_substrate in [0, 15] [flux_bounds]"``."""
        g, k = self.group, self.key
        if g == "growth":
            text = (f"growth {s.growth_scaling:g} x v({s.growth_reaction}) >= min_growth = {s.min_growth:g} 1/h")
        elif g == "fixed_fluxes":
            text = f"fixed flux {k} = {s.fixed_fluxes[k]:g}"
        elif g == "flux_bounds":
            lo, hi = s.flux_bounds[k]
            text = f"flux bound {k} in [{lo:g}, {hi:g}]"
        elif g == "dg_bounds":
            lo, hi = s.dg_bounds[k]
            text = f"dG/RT({k}) in [{lo:g}, {hi:g}]"
        elif g == "fixed_directions":
            text = f"fixed direction {k} {'forward (+1)' if s.fixed_directions[k] > 0 else 'backward (-1)'}"
        else:
            lo, hi = s.species_bounds[k]
            text = f"species bound {k} in [{lo:.3g}, {hi:.3g}] mol/L"
        return f"{text} [{g}]"


@dataclass(frozen=True)
class Conflict:
    """Result of :func:`find_conflict`.

    constraints : tuple of Constraint
        The conflicting set (empty when the core alone is infeasible).
    core_infeasible : bool
        No state exists even with every relaxable constraint dropped.
    basis : str
        What proves the set infeasible: ``"flux"`` (already the flux balance S v = 0 with the
        bounds and imposed directions has no solution), ``"thermo"`` (already no
        concentrations satisfy the dG/RT bounds and imposed directions) or ``"tfa"`` (the
        full problem; the direction MILP).
    minimal : bool
        Proven irreducible for the full problem: dropping any one member makes it feasible.
        A set found on a relaxation is irreducible for that relaxation; whether the full
        problem needs all of its members is checked within the time budget.
    checks : int
        Number of direction MILPs solved; ``seconds`` the wall time of the search.
    """

    constraints: tuple[Constraint, ...]
    core_infeasible: bool
    basis: str
    minimal: bool
    checks: int
    seconds: float

    @property
    def groups(self) -> list[str]:
        return [g for g in GROUPS if any(c.group == g for c in self.constraints)]


def constraints_of(s: TFASettings) -> list[Constraint]:
    """Every relaxable constraint of ``s``, in ``GROUPS`` order (growth only if min_growth > 0)."""
    out = [Constraint("growth")] if s.min_growth > 0 else []
    for group in GROUPS[1:]:
        out += [Constraint(group, key) for key in getattr(s, group)]
    return out


def restrict(s: TFASettings, kept: Sequence[Constraint]) -> TFASettings:
    """``s`` with only the relaxable constraints in ``kept``; the others relaxed.

    A dropped constraint is replaced by its hull with the core, so that dropping never
    tightens: growth -> min_growth 0; a flux bound or fixed flux -> the hull of it and
    +-default_flux_bound; a species bound -> the hull of it and concentration_bounds; a dG/RT
    bound or fixed direction -> removed.
    """
    keep = {(c.group, c.key) for c in kept}
    big = s.default_flux_bound
    c_lo, c_hi = s.concentration_bounds
    flux_bounds = {r: (b if ("flux_bounds", r) in keep else (min(b[0], -big), max(b[1], big)))
                   for r, b in s.flux_bounds.items()}
    for r, v in s.fixed_fluxes.items():
        if ("fixed_fluxes", r) not in keep:
            lo, hi = flux_bounds.get(r, (-big, big))
            flux_bounds[r] = (min(lo, v), max(hi, v))
    return replace(
        s,
        min_growth=s.min_growth if ("growth", "") in keep else 0.0,
        fixed_fluxes={r: v for r, v in s.fixed_fluxes.items() if ("fixed_fluxes", r) in keep},
        flux_bounds=flux_bounds,
        species_bounds={sp: (b if ("species_bounds", sp) in keep else (min(b[0], c_lo), max(b[1], c_hi)))
                        for sp, b in s.species_bounds.items()},
        dg_bounds={r: b for r, b in s.dg_bounds.items() if ("dg_bounds", r) in keep},
        fixed_directions={r: d for r, d in s.fixed_directions.items() if ("fixed_directions", r) in keep},
    )


def quickxplain(elements: Sequence, infeasible: Callable[[list], bool]) -> list:
    """A minimal subset X of ``elements`` with ``infeasible(X)`` (QuickXplain, Junker 2004).

    Preconditions: ``infeasible(elements)`` and not ``infeasible([])``. ``infeasible`` takes a
    list (in the order of ``elements``); a False answer for an undecided check only keeps
    members (the result is then still infeasible but maybe not minimal).
    """
    def qx(background: list, changed: bool, candidates: list) -> list:
        if changed and infeasible(background):
            return []
        if len(candidates) == 1:
            return list(candidates)
        half = len(candidates) // 2
        c1, c2 = candidates[:half], candidates[half:]
        d2 = qx(background + c1, True, c2)
        d1 = qx(background + d2, bool(d2), c1)
        return d1 + d2

    return qx([], False, list(elements)) if elements else []


class _Oracle:
    """Feasibility of restricted settings: monotone cache, LP tiers, then the direction MILP.

    Tiers, cheapest first: (1) a known infeasible subset / feasible superset answers by
    monotonicity; (2) LP relaxations -- the flux polytope and the (ln x, dG) polytope with the
    imposed directions -- that are infeasible prove infeasibility (and, when every direction is
    imposed, both feasible prove feasibility); (3) a direction pattern from an earlier feasible
    check that still satisfies both LPs proves feasibility; (4) the MILP, whose pattern is kept.
    Past the time budget, or when the MILP times out, the answer is False (undecided: the
    caller keeps the members it was asking about). With ``relaxation`` = "flux" or "thermo"
    only that LP relaxation is decided (fast, exact for the relaxation).
    """

    def __init__(self, cm: CompiledModel, s: TFASettings, units: UnitSettings, budget: float,
                 relaxation: str | None = None):
        self.cm, self.s, self.units, self.relaxation = cm, s, units, relaxation
        self.limit = min(s.time_limit, _CHECK_LIMIT)
        self.deadline = time.monotonic() + budget
        self.feasible: list[frozenset] = []
        self.infeasible: list[frozenset] = []
        self.patterns: list[dict[str, int]] = []
        self.checks = 0
        self.undecided = False

    def __call__(self, kept: Sequence[Constraint]) -> bool:
        key = frozenset(kept)
        if any(bad <= key for bad in self.infeasible):
            return True
        if any(key <= ok for ok in self.feasible):
            return False
        answer = self._check(kept)
        if answer is True:
            self.infeasible.append(key)
        elif answer is False:
            self.feasible.append(key)
        else:
            self.undecided = True
        return bool(answer)

    def _check(self, kept: Sequence[Constraint]) -> bool | None:
        if time.monotonic() > self.deadline:
            return None
        p = build_problem(self.cm, restrict(self.s, kept), self.units)
        if p.conflict:
            return True
        rxns = self.cm.structure.reactions
        names = [rxns[k] for k in p.thermo]
        imposed = p.direction
        if self.relaxation == "flux":
            return not _flux_lp(p, imposed)
        if self.relaxation == "thermo":
            return not _thermo_lp(p, imposed)
        if not (_flux_lp(p, imposed) and _thermo_lp(p, imposed)):
            return True
        if np.all(imposed != 0):
            return False
        for pattern in reversed(self.patterns):
            d = np.array([pattern.get(r, 0) for r in names])
            if np.all(d != 0) and np.all((imposed == 0) | (imposed == d)) and _flux_lp(p, d) and _thermo_lp(p, d):
                return False
        self.checks += 1
        try:
            d = direction_pattern(p, self.limit, gap=1e9)
        except InfeasibleError:  # undecided within the limit
            return None
        if d is None:
            return True
        self.patterns.append(dict(zip(names, d.tolist())))
        return False


def _flux_lp(p: Problem, d: np.ndarray) -> bool:
    """Whether S u = 0 has a solution within the bounds of ``p`` and directions d (n_th,) (0 = open)."""
    lo, hi = pattern_flux_bounds(p, d)
    if np.any(lo > hi):
        return False
    res = linprog(np.zeros(len(lo)), A_eq=p.S, b_eq=np.zeros(p.S.shape[0]), bounds=np.column_stack([lo, hi]),
                  method="highs")
    return res.status != 2


def _thermo_lp(p: Problem, d: np.ndarray) -> bool:
    """Whether some ln x in the box gives dG/RT within the bounds of ``p`` and the signs d (n_th,) (0 = open)."""
    g_lo, g_hi = pattern_dg_bounds(p, d)
    if np.any(g_lo > g_hi):
        return False
    # g_lo <= D ln x + c <= g_hi as two one-sided row sets (infinite sides dropped)
    rows, rhs = [], []
    up, dn = np.isfinite(g_hi), np.isfinite(g_lo)
    if up.any():
        rows.append(p.D[up])
        rhs.append(g_hi[up] - p.c[up])
    if dn.any():
        rows.append(-p.D[dn])
        rhs.append(p.c[dn] - g_lo[dn])
    if not rows:
        return True
    res = linprog(np.zeros(len(p.x_lo)), A_ub=np.vstack(rows), b_ub=np.concatenate(rhs),
                  bounds=np.column_stack([p.x_lo, p.x_hi]), method="highs")
    return res.status != 2


def find_conflict(cm: CompiledModel, s: TFASettings, units: UnitSettings = UnitSettings(), *,
                  budget: float = _BUDGET) -> Conflict:
    """A small set of constraints of ``s`` that is infeasible together (``s`` must be infeasible).

    If an LP relaxation (the flux balance, or the concentration/dG polytope, each with the
    imposed directions) is already infeasible, QuickXplain with LP checks only gives a set
    irreducible for that relaxation (milliseconds per check); then a deletion filter with the
    full feasibility check tries to drop members while the budget lasts. Otherwise: a
    deletion filter over the groups, then QuickXplain over the members of the remaining groups,
    with the full check. ``budget`` caps the seconds spent.
    """
    t0 = time.monotonic()
    oracle = _Oracle(cm, s, units, budget)
    elements = constraints_of(s)
    order = {c: i for i, c in enumerate(elements)}

    def done(found, core, basis):
        found = tuple(sorted(found, key=order.__getitem__))
        return Conflict(found, core, basis, not oracle.undecided, oracle.checks, time.monotonic() - t0)

    for relaxation in ("flux", "thermo"):
        lp = _Oracle(cm, s, units, budget, relaxation)
        if lp(elements):
            if lp([]):
                return done((), True, relaxation)
            found = quickxplain(elements, lp)
            basis = relaxation
            for c in list(found):  # does the full problem need every member? (deletion filter)
                if oracle([x for x in found if x != c]):
                    found.remove(c)
                    basis = "tfa"
            return done(found, not found, basis)
    if oracle([]):
        return done((), True, "tfa")
    groups = [g for g in GROUPS if any(c.group == g for c in elements)]
    dropped: set[str] = set()
    for g in groups:
        if oracle([c for c in elements if c.group not in dropped | {g}]):
            dropped.add(g)
    candidates = [c for c in elements if c.group not in dropped]
    if not oracle(candidates):  # undecided within the limits: report the groups as they are
        oracle.undecided = True
        return done(candidates, False, "tfa")
    return done(quickxplain(candidates, oracle), False, "tfa")


def growth_limit(cm: CompiledModel, s: TFASettings, units: UnitSettings = UnitSettings()) -> tuple[float, list[str]]:
    """Largest growth (1/h) that the flux constraints of ``s`` allow, without the second law.

    One LP: max growth over S v = 0 and the bounds of ``s`` (fixed fluxes and directions
    included, min_growth dropped). Returns (growth, binding) where ``binding`` describes the
    bounds whose dual is non-zero, except the +-min_abs_flux thresholds; (nan, []) if the LP
    fails.
    """
    p = build_problem(cm, replace(s, min_growth=0.0), units)
    rxns = cm.structure.reactions
    g = rxns.index(s.growth_reaction)
    cost = np.zeros(len(rxns))
    cost[g] = -1.0
    res = linprog(cost, A_eq=p.S, b_eq=np.zeros(p.S.shape[0]), bounds=np.column_stack([p.u_lo, p.u_hi]),
                  method="highs")
    if res.status != 0:
        return float("nan"), []
    binding = []
    for k in np.flatnonzero((np.abs(res.lower.marginals) > 1e-9) | (np.abs(res.upper.marginals) > 1e-9)):
        if k == g:
            continue
        r = rxns[k]
        at_upper = abs(res.upper.marginals[k]) > 1e-9
        value = (p.u_hi[k] if at_upper else p.u_lo[k]) / p.scale[k]
        if abs(value) <= 10 * s.min_abs_flux:
            continue  # a +-min_abs_flux threshold of a directed reaction
        binding.append(_bound_source(r, value, at_upper, cm.reversible[k], s))
    return float(-res.fun), binding


def _bound_source(r: str, value: float, upper: bool, reversible: bool, s: TFASettings) -> str:
    """``"EX_substrate <= 15 [flux_bounds]"`` and the like: which setting a binding bound comes from."""
    if r in s.fixed_fluxes:
        return f"{r} = {value:g} [fixed_fluxes]"
    op = "<=" if upper else ">="
    if r in s.flux_bounds:
        return f"{r} {op} {value:g} [flux_bounds]"
    if not upper and value == 0 and not reversible:
        return f"{r} >= 0 [irreversible]"
    return f"{r} {op} {value:g} [default_flux_bound]"


def core_description(s: TFASettings) -> str:
    """The irrelaxable constraints, in words."""
    lo, hi = s.concentration_bounds
    return (f"mass balance, irreversibility, second law with margin |dG/RT| >= {s.min_margin:g}, "
            f"|v| <= {s.default_flux_bound:g} and |v| >= {s.min_abs_flux:g} for every reaction "
            f"without its own bound, concentrations in [{lo:g}, {hi:g}] mol/L for species without their own bound")


_BASIS = {
    "flux": "already the flux balance (S v = 0 with these bounds and directions) has no solution",
    "thermo": "already no concentrations satisfy these dG/RT bounds and directions",
    "tfa": "",
}


def conflict_message(cm: CompiledModel, s: TFASettings, conflict: Conflict,
                     units: UnitSettings = UnitSettings()) -> str:
    """The InfeasibleError text: the conflicting constraints, why, the core, a growth hint."""
    core = core_description(s)
    why = _BASIS[conflict.basis]
    members = conflict.constraints
    if conflict.core_infeasible:
        text = f"infeasible even with every relaxable constraint dropped{'; ' + why if why else ''}; " \
               f"irrelaxable core: {core}"
    else:
        if len(members) == 1:
            text = f"{members[0].describe(s)} is infeasible on its own with the irrelaxable core"
        else:
            text = "these constraints are infeasible together: " + "; ".join(c.describe(s) for c in members)
        notes = [why] if why else []
        if conflict.minimal:
            notes.append("dropping any one of them makes the problem feasible" if len(members) > 1
                         else "dropping it makes the problem feasible")
        elif conflict.basis != "tfa":
            notes.append("irreducible for that relaxation; not every member could be checked against the "
                         "full problem within the time budget")
        else:
            notes.append("not proven minimal: a check ran out of time")
        text += f" ({'; '.join(notes)}). Irrelaxable core: {core}"
    if any(c.group == "growth" for c in members):
        top, binding = growth_limit(cm, s, units)
        if np.isfinite(top):
            text += (f". The flux constraints alone (without the second law) allow growth <= {top:.4g} 1/h"
                     + (", limited by " + ", ".join(binding) if binding else ""))
    return text


def describe_group(group: str, s: TFASettings) -> str:
    """One constraint group of ``s`` in words with its values, e.g. ``"fixed_fluxes (EX_product = 0.14)"``."""
    if group == "growth" and s.growth_reaction is None:
        return "growth (no growth reaction)"
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


def infeasibility_message(cm: CompiledModel, s: TFASettings, units: UnitSettings, p: Problem) -> str:
    """The InfeasibleError text for settings ``s`` whose problem ``p`` (:func:`.problem.build_problem`)
    has no feasible direction pattern: the contradictory bounds if any, a small conflicting set of
    individual constraints (:func:`find_conflict`, :func:`conflict_message`), then the active fixed
    fluxes and flux bounds.
    """
    head = "no thermodynamically feasible steady state"
    if p.conflict:
        head += f" (contradictory bounds: {p.conflict})"
    conflict = find_conflict(cm, s, units)
    return (f"{head}: {conflict_message(cm, s, conflict, units)}. Active: "
            + "; ".join(describe_group(g, s) for g in ("fixed_fluxes", "flux_bounds")))
