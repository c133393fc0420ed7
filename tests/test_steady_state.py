"""Steady-state tables: round trip, validation of the reference state, one clear error per problem."""

from __future__ import annotations

import numpy as np
import pytest

from renaissance.errors import SteadyStateError
from renaissance.steadystate import SteadyState, read_steady_state, validate_steady_state, write_steady_state
from renaissance.steadystate.table import displacement, state_arrays

from .conftest import FIXTURES


def test_reference_state_is_valid(ecoli_cm, fixture_state):
    report = validate_steady_state(ecoli_cm, fixture_state)
    assert report.worst_imbalance_relative < 1e-14
    assert report.min_margin == pytest.approx(0.125, abs=1e-9)  # fixture README: margin >= 0.12
    dg = displacement(ecoli_cm, state_arrays(ecoli_cm, fixture_state).ln_x)
    k = ecoli_cm.structure.reactions.index("ATPS4rpp")
    assert -0.15 - 1e-9 <= dg[k] < 0  # ATPS4rpp held near equilibrium


def test_round_trip(fixture_state, tmp_path):
    out = tmp_path / "ss.csv"
    write_steady_state(fixture_state, out)
    again = read_steady_state(out)
    assert again.concentrations == fixture_state.concentrations
    assert again.fluxes == fixture_state.fluxes


def _write(tmp_path, state, name="ss.csv"):
    path = tmp_path / name
    write_steady_state(state, path)
    return read_steady_state(path)


def _edit(state, concentrations=None, fluxes=None, drop=None):
    c, f = dict(state.concentrations), dict(state.fluxes)
    c.update(concentrations or {})
    f.update(fluxes or {})
    for key in drop or ():
        c.pop(key, None)
        f.pop(key, None)
    return SteadyState(c, f)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(drop=["pyr_c"]), r"species \['pyr_c'\]: missing concentration"),
        (dict(drop=["PGI"]), r"reactions \['PGI'\]: missing flux"),
        (dict(concentrations={"pyr_c": -1e-3}), "species 'pyr_c': concentration -0.001 must be finite and > 0"),
        (dict(concentrations={"atp_c": float("nan")}), "species 'atp_c': concentration nan must be finite and > 0"),
        (dict(fluxes={"ENO": float("nan")}), "reaction 'ENO': flux nan is not finite"),
        (dict(fluxes={"PGI": -1.0}), "reaction 'PGI': flux -1 runs against its dG"),
        (dict(fluxes={"ATPM": -1.0}), "reaction 'ATPM': irreversible but carries flux -1.0 < 0"),
    ],
)
def test_bad_states(ecoli_cm, fixture_state, tmp_path, change, message):
    state = _write(tmp_path, _edit(fixture_state, **change))
    with pytest.raises(SteadyStateError, match=f"^{tmp_path / 'ss.csv'}: {message}"):
        validate_steady_state(ecoli_cm, state)


def test_mass_imbalance_names_the_species(ecoli_cm, fixture_state, tmp_path):
    fluxes = dict(fixture_state.fluxes)
    fluxes["ENO"] *= 1.01  # 2pg_c and pep_c no longer balance
    state = _write(tmp_path, SteadyState(fixture_state.concentrations, fluxes))
    with pytest.raises(SteadyStateError, match=r"species '(_2pg_c|pep_c)': not mass balanced"):
        validate_steady_state(ecoli_cm, state)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b,c\n", "header: expected 'id,kind,value'"),
        ("id,kind,value\npyr_c,conc,1\n", "'pyr_c' \\(line 2\\): kind 'conc'"),
        ("id,kind,value\npyr_c,concentration,abc\n", "'pyr_c' \\(line 2\\): value 'abc' is not a number"),
        ("id,kind,value\npyr_c,concentration,1\npyr_c,concentration,2\n", "'pyr_c' \\(line 3\\): duplicate concentration"),
    ],
)
def test_malformed_tables(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(SteadyStateError, match=f"^{path}: {message}"):
        read_steady_state(path)


def test_fixture_file_is_readable():
    state = read_steady_state(FIXTURES / "steady_state.csv")
    assert len(state.concentrations) == 112 and len(state.fluxes) == 123


def test_state_equilibrium_constants_replace_the_model_ones(ecoli_cm, fixture_state, tmp_path):
    k = ecoli_cm.structure.reactions.index("PGI")
    dg = displacement(ecoli_cm, state_arrays(ecoli_cm, fixture_state).ln_x)[k]
    assert fixture_state.fluxes["PGI"] > 0 and dg < 0
    keq = float(np.exp(ecoli_cm.ln_keq[k] + 2 * dg))  # now Gamma > Keq: PGI runs against its dG
    state = _write(tmp_path, SteadyState(fixture_state.concentrations, fixture_state.fluxes, k_equilibrium={"PGI": keq}))
    assert state.k_equilibrium == {"PGI": keq}
    with pytest.raises(SteadyStateError, match="reaction 'PGI': flux .* runs against its dG"):
        validate_steady_state(ecoli_cm, state)
    fine = SteadyState(fixture_state.concentrations, fixture_state.fluxes,
                       k_equilibrium={"PGI": float(np.exp(ecoli_cm.ln_keq[k] + 0.5 * dg))})
    assert validate_steady_state(ecoli_cm, fine).min_margin <= abs(dg)
    bad = SteadyState(fixture_state.concentrations, fixture_state.fluxes, k_equilibrium={"ATPM": 1.0})
    with pytest.raises(SteadyStateError, match="reaction 'ATPM': k_equilibrium given for an unknown or irreversible"):
        validate_steady_state(ecoli_cm, bad)
