"""Thermodynamic loops (Keq-inconsistent cycles, internal loops) and named infeasibility conflicts."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from renaissance.errors import InfeasibleError
from renaissance.model import compile_model, model_from_dict
from renaissance.steadystate.conflicts import Constraint, constraints_of, quickxplain, restrict
from renaissance.steadystate.constraints import ECOLI_CONSTRAINTS, read_constraints
from renaissance.steadystate.cycles import (
    Cycle, allowed_directions, blocking, cycle_report, downhill_directions, internal_loops,
    keq_inconsistent_cycles, keq_residual,
)
from renaissance.steadystate.tfa import TFASettings, find_steady_state

#: transporters that DESIGN.md section 3 says must keep their direction
DESIGN_TRANSPORTERS = {"COLIPAabctex", "GLUabcpp", "GLCabcpp", "PIuabcpp", "CBL1tonex"}
#: the shipped E. coli constraints without the measured concentrations (the paper's reference set-up)
ECOLI = read_constraints(ECOLI_CONSTRAINTS).without_measurements()
#: settings without E. coli names, for the tiny models (growth scaling as these tests were written with)
BARE = TFASettings(growth_reaction="R1", growth_scaling=5e5)


def _balance(cm, cycle: Cycle) -> np.ndarray:
    """D^T c over every species for a cycle, shape (n_sp,)."""
    c = np.zeros(cm.n_reactions)
    for r, x in cycle.coefficients.items():
        c[cm.structure.reactions.index(r)] = x
    return cm.displacement.T @ c


def _ring(keqs, irreversible=()):
    """A <-> B <-> C <-> A (R1, R2, R3), Michaelis-Menten; reactions in ``irreversible`` irreversible."""
    def mechanism(rid, s, p):
        if rid in irreversible:
            return {"class": "IrrevMichaelisMenten", "mechanism_stoichiometry": {"substrate1": -1.0, "product1": 1.0},
                    "substrate1": s, "product1": p}
        return {"class": "ReversibleMichaelisMenten", "substrate": s, "product": p}

    pairs = {"R1": ("a_c", "b_c"), "R2": ("b_c", "c_c"), "R3": ("c_c", "a_c")}
    params = {f"k_equilibrium_{r}": k for r, k in zip(pairs, keqs) if r not in irreversible}
    return compile_model(model_from_dict({
        "name": "ring",
        "compartments": {"c": "c"},
        "reactants": {s: {"compartment": "c"} for s in ("a_c", "b_c", "c_c")},
        "parameters": {**params, "volume_c": 1.0, "cell_volume_c": 1.0},
        "reactions": {r: {"mechanism": mechanism(r, s, p)} for r, (s, p) in pairs.items()},
    }))


# --------------------------------------------------------------------------- tiny models


def test_inconsistent_ring_is_found_with_exact_gain():
    cm = _ring([2.0, 3.0, 0.5])  # product 3: running A -> B -> C -> A gains ln 3
    cycles = keq_inconsistent_cycles(cm)
    assert len(cycles) == 1
    (cycle,) = cycles
    assert dict(cycle.coefficients) == {"R1": 1, "R2": 1, "R3": 1}
    assert cycle.ln_keq_sum == pytest.approx(math.log(3.0), abs=1e-12)
    assert "R1 + R2 + R3: sum ln Keq = +1.099 (energy-generating" in cycle.describe()
    # the reverse orientation is found when the directions only allow it... and it is uphill: none
    assert keq_inconsistent_cycles(cm, directions={"R1": -1}) == []
    assert cycle.blocked_by({"R2": -1}) == ["R2"] and cycle.blocked_by({"R2": 1}) == []


def test_inconsistent_ring_reverse_orientation():
    cm = _ring([0.5, 1.0, 1.0])  # product 1/2: the energy-generating direction is A <- B <- C <- A
    (cycle,) = keq_inconsistent_cycles(cm)
    assert dict(cycle.coefficients) == {"R1": -1, "R2": -1, "R3": -1}
    assert cycle.ln_keq_sum == pytest.approx(math.log(2.0), abs=1e-12)


def test_consistent_ring_has_no_cycle():
    cm = _ring([2.0, 3.0, 1 / 6])
    assert max(abs(x) for x in keq_residual(cm).values()) < 1e-12
    assert keq_inconsistent_cycles(cm) == []
    loops = internal_loops(cm, BARE)
    assert [lp.kind for lp in loops] == ["keq_consistent"]
    assert loops[0].excluded  # the second law forbids running a consistent loop


def test_loop_through_irreversible_reaction_is_reported():
    cm = _ring([2.0, 3.0, None], irreversible=("R3",))
    assert keq_inconsistent_cycles(cm) == []  # R1 and R2 alone form no cycle
    loops = internal_loops(cm, BARE)
    assert len(loops) == 1
    loop = loops[0]
    assert loop.kind == "keq_less" and loop.cycle.keq_less == ("R3",)
    assert dict(loop.cycle.coefficients) == {"R1": 1, "R2": 1, "R3": 1}
    assert not loop.excluded  # A -> B -> C can be downhill; R3 has no second-law constraint
    report = cycle_report(cm, BARE)
    assert "through reactions without Keq" in report and "R1 + R2 + R3" in report
    assert "NOT excluded by the second law" in report
    # the flux settings can forbid it: R2 backward only
    assert internal_loops(cm, replace(BARE, fixed_directions={"R2": -1})) == []


# --------------------------------------------------------------------------- E. coli


@pytest.fixture(scope="module")
def ecoli_cycles(ecoli_cm):
    return keq_inconsistent_cycles(ecoli_cm, max_cycles=20)


def test_ecoli_keq_are_inconsistent(ecoli_cm, ecoli_cycles):
    residual = keq_residual(ecoli_cm)
    assert sum(abs(x) > 1e-6 for x in residual.values()) == 41
    assert residual["PIuabcpp"] == pytest.approx(6.425, abs=1e-3)
    assert len(ecoli_cycles) == 20
    for cycle in ecoli_cycles:
        assert np.abs(_balance(ecoli_cm, cycle)).max() == 0.0  # converts nothing, over every species
        lk = {r: ecoli_cm.ln_keq[ecoli_cm.structure.reactions.index(r)] for r in cycle.coefficients}
        assert cycle.ln_keq_sum == pytest.approx(sum(c * lk[r] for r, c in cycle.coefficients.items()), abs=1e-9)
        assert cycle.ln_keq_sum > 1e-3 and not cycle.keq_less
    assert {"CBL1tonex", "COLIPAabctex"} <= set().union(*(c.coefficients for c in ecoli_cycles))


@pytest.mark.parametrize("transporter", sorted(DESIGN_TRANSPORTERS))
def test_ecoli_design_transporters_backward_close_energy_generating_cycles(ecoli_cm, transporter):
    # DESIGN.md section 3: run backward, each of these transporters closes an energy-generating loop
    (cycle,) = keq_inconsistent_cycles(ecoli_cm, max_cycles=1, through={transporter: -1})
    assert cycle.coefficients[transporter] < 0 and cycle.ln_keq_sum > 0.5
    assert transporter in blocking(cycle, ecoli_cm, ECOLI)


def test_ecoli_design_directions_block_the_transporter_cycles(ecoli_cm, ecoli_cycles):
    settings = ECOLI
    blocked = [blocking(c, ecoli_cm, settings) for c in ecoli_cycles]
    assert set().union(*blocked) <= DESIGN_TRANSPORTERS  # only the fixed directions block anything here
    assert all(why == "fixed_directions +1" for b in blocked for why in b.values())
    assert sum(1 for b in blocked if b) >= len(blocked) // 2
    # ... but they do not block every energy-generating cycle: malic enzymes + transhydrogenase
    me = {"ME1", "ME2", "NADTRHD"}
    only = {r: (None if r in me else 0) for r in ecoli_cm.structure.reactions}
    (cycle,) = keq_inconsistent_cycles(ecoli_cm, directions={r: d for r, d in only.items() if d is not None})
    assert dict(cycle.coefficients) == {"ME1": -1, "ME2": 1, "NADTRHD": 1}
    lk = dict(zip(ecoli_cm.structure.reactions, ecoli_cm.ln_keq))
    assert cycle.ln_keq_sum == pytest.approx(-lk["ME1"] + lk["ME2"] + lk["NADTRHD"], abs=1e-12)
    assert cycle.ln_keq_sum == pytest.approx(3.378, abs=1e-3)
    assert blocking(cycle, ecoli_cm, settings) == {}


def test_ecoli_states_run_no_energy_generating_cycle(ecoli_cm, fixture_state):
    # neither the shared fixture state nor a TFA state with the shipped settings has every step
    # of some energy-generating cycle downhill
    for state in (fixture_state, find_steady_state(ecoli_cm, ECOLI, seed=0)):
        ln_x = np.log([state.concentrations[s] for s in ecoli_cm.species])
        assert keq_inconsistent_cycles(ecoli_cm, directions=downhill_directions(ecoli_cm, ln_x)) == []
    # ... which is not automatic: with ME1 reversed the fixture state would run -ME1 + ME2 + NADTRHD
    ln_x = np.log([fixture_state.concentrations[s] for s in ecoli_cm.species])
    downhill = downhill_directions(ecoli_cm, ln_x)
    assert (downhill["ME1"], downhill["ME2"], downhill["NADTRHD"]) == (1, 1, 1)
    cycles = keq_inconsistent_cycles(ecoli_cm, max_cycles=1, directions={**downhill, "ME1": -1})
    assert [dict(c.coefficients) for c in cycles] == [{"ME1": -1, "ME2": 1, "NADTRHD": 1}]


def test_ecoli_internal_loops(ecoli_cm):
    loops = internal_loops(ecoli_cm, ECOLI, max_loops=4, max_consistent=1)
    kinds = [lp.kind for lp in loops]
    assert kinds.count("keq_less") == 4 and kinds.count("energy_generating") == 4
    for lp in loops:
        if lp.kind == "keq_less":
            assert lp.cycle.keq_less == ("ATPM",)  # the only Keq-less reaction that closes a loop
    imposed = allowed_directions(ecoli_cm, ECOLI)
    assert imposed["GLCtex"] == (1, "flux_bounds [0, 15]")
    assert imposed["ANTHtex"][0] == 0 and imposed["ATPM"] == (1, "irreversible")
    assert imposed["CBL1tonex"] == (1, "fixed_directions +1")


# --------------------------------------------------------------------------- conflicts


def test_quickxplain_finds_the_minimal_subset():
    calls = []

    def infeasible(subset):
        calls.append(len(subset))
        return {2, 7} <= set(subset)

    assert sorted(quickxplain(list(range(20)), infeasible)) == [2, 7]
    assert len(calls) < 20


def test_restrict_only_relaxes():
    s = replace(ECOLI, flux_bounds={"GLCtex": (0.0, 500.0), "ACtex": (-100.0, 0.0)}, fixed_fluxes={"ANTHtex": 150.0})
    r = restrict(s, [])
    assert r.min_growth == 0 and not r.fixed_fluxes and not r.fixed_directions and not r.dg_bounds
    assert r.flux_bounds["GLCtex"] == (-100.0, 500.0)  # hull with the default bound, never tighter
    assert r.flux_bounds["ANTHtex"] == (-100.0, 150.0)
    assert r.species_bounds["glc_D_e"] == (1e-7, 0.055)
    kept = restrict(s, constraints_of(s))
    assert kept.flux_bounds == s.flux_bounds and kept.min_growth == s.min_growth


def test_infeasible_growth_names_growth_and_glucose(ecoli_cm):
    with pytest.raises(InfeasibleError) as info:
        find_steady_state(ecoli_cm, replace(ECOLI, min_growth=1e6))
    message = str(info.value)
    # growth alone is infeasible with the core (|v| <= 100 everywhere); the hint names the glucose bound
    assert "min_growth = 1e+06 1/h [growth] is infeasible on its own" in message
    assert "flux balance" in message
    assert "allow growth <= 2.027 1/h, limited by ANTHtex = 0.14 [fixed_fluxes], GLCtex <= 15 [flux_bounds]" in message


def test_contradictory_direction_and_dg_bound_are_both_named(ecoli_cm):
    with pytest.raises(InfeasibleError) as info:
        find_steady_state(ecoli_cm, replace(ECOLI, fixed_directions={"PGI": -1}, dg_bounds={"PGI": (-10.0, -1.0)}))
    message = str(info.value)
    assert "these constraints are infeasible together: dG/RT(PGI) in [-10, -1] [dg_bounds]; " \
           "fixed direction PGI backward (-1) [fixed_directions]" in message
    assert "dropping any one of them makes the problem feasible" in message
    assert "ATPS4rpp" not in message.split("Active:")[0]


def test_conflict_members_are_individual(ecoli_cm):
    settings = replace(ECOLI, flux_bounds={**ECOLI.flux_bounds, "PGI": (-100.0, -1.0)},
                       fixed_directions={**ECOLI.fixed_directions, "PGI": 1})
    with pytest.raises(InfeasibleError) as info:
        find_steady_state(ecoli_cm, settings)
    message = str(info.value).split("Active:")[0]
    assert "flux bound PGI in [-100, -1] [flux_bounds]; fixed direction PGI forward (+1) [fixed_directions]" in message
    assert "GLCtex in" not in message and "CBL1tonex" not in message
    assert Constraint("growth").describe(settings).endswith("[growth]")
