"""Uniform sampling of thermodynamically consistent steady states (steadystate.sampler, samples_io)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from renaissance.errors import SteadyStateError
from renaissance.model import compile_model, model_from_dict
from renaissance.settings import UnitSettings
from renaissance.steadystate import displacement, state_arrays, thermodynamic_displacement, validate_steady_state
from renaissance.steadystate.constraints import ECOLI_CONSTRAINTS, read_constraints
from renaissance.steadystate.sampler import sample_steady_states
from renaissance.steadystate.samples_io import read_sample_state, read_samples, write_samples
from renaissance.steadystate.tfa import TFASettings

#: the shipped E. coli constraints without the measured concentrations (the paper's reference set-up)
SETTINGS = read_constraints(ECOLI_CONSTRAINTS).without_measurements()


@pytest.fixture(scope="module")
def ecoli_sample(ecoli_cm):
    return sample_steady_states(ecoli_cm, SETTINGS, n=200, seed=1)


def _check_states(cm, sample, settings, units=UnitSettings()):
    """Every state validates, keeps the margin, and lies within the flux, concentration and dG bounds."""
    for i in range(len(sample)):
        report = validate_steady_state(cm, sample.state(i), units)
        assert report.min_margin >= settings.min_margin * (1 - 1e-9), i
    v = sample.fluxes
    rxns = cm.structure.reactions
    lo = np.array([settings.flux_bounds.get(r, (-settings.default_flux_bound,) * 2)[0] for r in rxns])
    hi = np.array([settings.flux_bounds.get(r, (0, settings.default_flux_bound))[1] for r in rxns])
    assert np.all(v >= lo - 1e-12) and np.all(v <= hi + 1e-12)
    for rid, value in settings.fixed_fluxes.items():
        assert np.all(v[:, rxns.index(rid)] == value)
    lo_x = np.full(len(cm.species), math.log(settings.concentration_bounds[0]))
    hi_x = np.full(len(cm.species), math.log(settings.concentration_bounds[1]))
    for sp, (a, b) in settings.species_bounds.items():
        lo_x[cm.species.index(sp)], hi_x[cm.species.index(sp)] = math.log(a), math.log(b)
    assert np.all(sample.ln_concentrations >= lo_x) and np.all(sample.ln_concentrations <= hi_x)
    for rid, (a, b) in settings.dg_bounds.items():
        assert np.all(sample.dg[:, rxns.index(rid)] >= a - 1e-9) and np.all(sample.dg[:, rxns.index(rid)] <= b + 1e-9)


def test_ecoli_states_are_valid(ecoli_cm, ecoli_sample):
    sample = ecoli_sample
    assert sample.fluxes.shape == (200, ecoli_cm.n_reactions)
    assert sample.ln_concentrations.shape == (200, len(ecoli_cm.species))
    assert sample.ln_keq is None and sample.pattern.tolist() == [0] * 200
    _check_states(ecoli_cm, sample, SETTINGS)
    growth = SETTINGS.growth_scaling * sample.fluxes[:, ecoli_cm.structure.reactions.index(SETTINGS.growth_reaction)]
    assert np.all(growth >= SETTINGS.min_growth * (1 - 1e-9))
    # dg column = displacement of the state
    state = sample.state(7)
    dg = displacement(ecoli_cm, state_arrays(ecoli_cm, state).ln_x)
    rev = ecoli_cm.reversible
    np.testing.assert_allclose(sample.dg[7, rev], dg[rev], rtol=0, atol=1e-9)
    # irreversible reactions with a stored Keq (ATPM, FDH4pp, NADH16pp, NADH5) get dG/RT over their
    # full stoichiometry; the other irreversible ones have none
    keq = ecoli_cm.thermodynamic
    full = thermodynamic_displacement(ecoli_cm, state_arrays(ecoli_cm, state).ln_x)
    np.testing.assert_allclose(sample.dg[7, keq], full[keq], rtol=0, atol=1e-9)
    assert np.isfinite(sample.dg[:, keq]).all() and np.isnan(sample.dg[:, ~keq]).all()
    assert [r for r, k, rv in zip(ecoli_cm.structure.reactions, keq, rev) if k and not rv] == \
        ["ATPM", "FDH4pp", "NADH16pp", "NADH5"]


def test_ecoli_report(ecoli_cm, ecoli_sample):
    report = ecoli_sample.report
    assert report.n_states == 200 and report.n_patterns == 1 and report.differing_reactions == ()
    assert report.max_imbalance_relative <= 1e-12
    assert report.max_flux_bound_violation <= 1e-12 and report.max_ln_x_bound_violation <= 1e-12
    assert report.max_second_law_violation <= 1e-9 and report.max_dg_bound_violation <= 1e-9
    assert report.ok
    assert 0 < report.min_ess_fluxes <= 200 and 0 < report.min_ess_concentrations <= 200
    assert len(report.slowest_fluxes) == 5 and report.slowest_fluxes[0][0].startswith("flux:")
    assert report.min_ess_concentrations == report.slowest_concentrations[0][1]
    q = report.watch["ATPS4rpp"]
    assert len(q) == len(report.quantile_levels) == 7 and list(q) == sorted(q)
    assert -0.15 - 1e-9 <= q[0] and q[-1] <= -0.12 + 1e-9  # dg_bounds and margin
    assert "ATPS4rpp" in report.summary()


def test_summary_says_which_checks_hold(ecoli_sample):
    report = ecoli_sample.report
    lines = report.summary().splitlines()
    header = [i for i, line in enumerate(lines) if line.startswith("checks over every state")]
    assert len(header) == 1
    assert "second law: every reaction with flux runs downhill, |dG/RT| >= margin" in lines[header[0]]
    checks = {line[2:16].strip(): line for line in lines[header[0] + 1:header[0] + 6]}
    assert list(checks) == ["mass balance", "flux bounds", "ln x bounds", "second law", "dG bounds"]
    assert report.ok and all(report.checks.values())
    for line in checks.values():
        assert line[16:27] == "satisfied  " and "violated" not in line and line.endswith(", tolerance 1e-09)"), line
    assert f"(worst {report.max_imbalance_relative:.2g} relative, tolerance 1e-09)" in checks["mass balance"]
    # the second law is worded by its sign: negative = every reaction keeps the margin with room to spare
    spare = -report.max_second_law_violation
    assert spare > 0
    assert checks["second law"].endswith(f"(margin kept with {spare:.2g} dG/RT to spare, tolerance 1e-09)")

    # past the tolerance a check reads "violated", the others still "satisfied"
    bad = replace(report, max_second_law_violation=0.003, max_flux_bound_violation=2e-9)
    assert not bad.ok and bad.checks == {"mass balance": True, "flux bounds": False, "ln x bounds": True,
                                         "second law": False, "dG bounds": True}
    text = bad.summary().splitlines()
    assert "  second law    violated   (margin missed by 0.003 dG/RT, tolerance 1e-09)" in text
    assert "  flux bounds   violated   (worst 2e-09 mmol/gDW/h outside, tolerance 1e-09)" in text
    assert "  ln x bounds   satisfied  (worst 0 ln(mol/L) outside, tolerance 1e-09)" in text
    # within the tolerance is satisfied, even when the margin is missed by a rounding error
    assert replace(report, max_second_law_violation=5e-10).checks["second law"]
    assert "no reaction with a Keq carries flux" in replace(report, max_second_law_violation=-math.inf).summary()


def _parallel_routes_model():
    """a_e -> A (UP), A -> B twice (R1, R2, same Keq), B -> b_e (EX); mass action, all reversible."""
    ma = lambda s, p: {"class": "RevMassaction", "mechanism_stoichiometry": {"substrate1": -1.0, "product1": 1.0},
                       "substrate1": s, "product1": p}
    return model_from_dict({
        "name": "parallel_routes",
        "compartments": {"c": "c", "e": "e"},
        "reactants": {sid: {"compartment": sid[-1] if sid.endswith("_e") else "c"} for sid in ("a_e", "A", "B", "b_e")},
        "boundary_conditions": {"CC_a_e": {"class": "ConstantConcentration", "reactant": "a_e"},
                                "CC_b_e": {"class": "ConstantConcentration", "reactant": "b_e"}},
        "parameters": {"k_equilibrium_UP": 1e3, "k_equilibrium_R1": math.exp(0.1), "k_equilibrium_R2": math.exp(0.1),
                       "k_equilibrium_EX": 1.0, "volume_c": 1.0, "cell_volume_c": 1.0},
        "reactions": {"UP": {"mechanism": ma("a_e", "A")}, "R1": {"mechanism": ma("A", "B")},
                      "R2": {"mechanism": ma("A", "B")}, "EX": {"mechanism": ma("B", "b_e")}},
    })


def test_known_polytope_is_sampled_uniformly():
    # Fluxes: UP = 1 fixed, so R1 + R2 = 1 and EX = 1: R1 ~ U(eps, 1 - eps).
    # Concentrations (mol/L, concentration_scale 1): a_e = 1 and b_e = 1e-6 fixed, ln A and ln B in
    # [L, H] = [ln 1e-3, ln 1e-1]; dG_R/RT = ln B - ln A - 0.1 <= -0.1 (margin) means ln B <= ln A;
    # UP and EX are never binding. So (ln A, ln B) is uniform on the triangle L <= ln B <= ln A <= H:
    # P(ln A <= a) = ((a - L) / (H - L))^2 and P(ln B <= b) = 1 - ((H - b) / (H - L))^2.
    cm = compile_model(_parallel_routes_model())
    units = UnitSettings(concentration_scale=1.0)
    settings = TFASettings(
        growth_reaction="EX", growth_scaling=1.0, min_growth=0.0, fixed_fluxes={"UP": 1.0}, flux_bounds={},
        default_flux_bound=10.0, concentration_bounds=(1e-3, 1e-1), species_bounds={"a_e": (1.0, 1.0), "b_e": (1e-6, 1e-6)},
        min_margin=0.1, dg_bounds={}, fixed_directions={}, min_abs_flux=1e-6)
    n = 2000
    sample = sample_steady_states(cm, settings, n=n, seed=3, units=units)
    _check_states(cm, sample, settings, units)
    rxns, species = cm.structure.reactions, cm.species
    eps = settings.min_abs_flux
    r1 = sample.fluxes[:, rxns.index("R1")]
    np.testing.assert_allclose(r1 + sample.fluxes[:, rxns.index("R2")], 1.0, rtol=0, atol=1e-12)
    assert stats.kstest(r1, stats.uniform(eps, 1 - 2 * eps).cdf).pvalue > 0.01
    assert abs(r1.mean() - 0.5) < 4 * math.sqrt(1 / 12 / n)
    L, H = math.log(1e-3), math.log(1e-1)
    a = sample.ln_concentrations[:, species.index("A")]
    b = sample.ln_concentrations[:, species.index("B")]
    assert np.all(b <= a + 1e-12)
    assert stats.kstest(a, lambda t: np.clip((t - L) / (H - L), 0, 1) ** 2).pvalue > 0.01
    assert stats.kstest(b, lambda t: 1 - np.clip((H - t) / (H - L), 0, 1) ** 2).pvalue > 0.01
    sd = (H - L) * math.sqrt(1 / 18)  # both marginals are triangular distributions
    assert abs(a.mean() - (L + 2 * (H - L) / 3)) < 4 * sd / math.sqrt(n)
    assert abs(b.mean() - (L + (H - L) / 3)) < 4 * sd / math.sqrt(n)
    # a uniform triangle: ln A - ln B has density 2 (1 - t) on [0, 1] in units of H - L
    w = (a - b) / (H - L)
    assert stats.kstest(w, lambda t: 1 - (1 - np.clip(t, 0, 1)) ** 2).pvalue > 0.01


def test_toy_model_with_fluxes_fixed_by_stoichiometry(toy_cm, toy_state):
    # a linear pathway: fixing glucose uptake fixes every flux (P_v is a point), ln x still varies
    settings = TFASettings(growth_reaction="ATPM", growth_scaling=1.0, min_growth=0.0, fixed_fluxes={"GLCtex": 1.0},
                           flux_bounds={}, species_bounds={}, dg_bounds={}, fixed_directions={},
                           concentration_bounds=(1e-6, 0.1))
    sample = sample_steady_states(toy_cm, settings, n=100, seed=0, n_patterns=2)
    assert sample.report.n_patterns == 1  # the only pattern: every flux forward
    expected = [toy_state.fluxes[r] for r in toy_cm.structure.reactions]
    np.testing.assert_allclose(sample.fluxes, np.broadcast_to(expected, sample.fluxes.shape), rtol=1e-12)
    assert sample.ln_concentrations.std(axis=0).min() > 0.1
    _check_states(toy_cm, sample, settings)
    assert "nothing varies" in sample.report.summary()


def test_same_seed_same_file(ecoli_cm, ecoli_sample, tmp_path):
    again = sample_steady_states(ecoli_cm, SETTINGS, n=200, seed=1, n_threads=1)
    write_samples(ecoli_sample, tmp_path / "a.csv")
    write_samples(again, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    other = sample_steady_states(ecoli_cm, SETTINGS, n=200, seed=2)
    write_samples(other, tmp_path / "c.csv")
    assert (tmp_path / "c.csv").read_bytes() != (tmp_path / "a.csv").read_bytes()


def test_two_patterns(ecoli_cm):
    sample = sample_steady_states(ecoli_cm, SETTINGS, n=40, seed=0, n_patterns=2)
    assert sample.patterns.shape == (2, ecoli_cm.n_reactions)
    assert not np.array_equal(sample.patterns[0], sample.patterns[1])
    assert sample.pattern.tolist() == [0] * 20 + [1] * 20
    differ = [r for k, r in enumerate(ecoli_cm.structure.reactions) if sample.patterns[0, k] != sample.patterns[1, k]]
    assert list(sample.report.differing_reactions) == differ and sample.report.n_patterns == 2
    rev = ecoli_cm.reversible
    for i in range(len(sample)):  # every flux runs in its pattern's direction
        signs = sample.patterns[sample.pattern[i]]
        assert np.all(np.sign(sample.fluxes[i]) == signs)
    _check_states(ecoli_cm, sample, SETTINGS)
    assert sample.report.max_second_law_violation <= 1e-9 and rev.any()


def test_csv_round_trip(ecoli_cm, ecoli_sample, tmp_path):
    path = tmp_path / "samples.csv"
    write_samples(ecoli_sample, path)
    header = path.read_text().splitlines()[0].split(",")
    assert header[:3] == ["state", "pattern", f"flux:{ecoli_cm.structure.reactions[0]}"]
    assert sum(h.startswith("dg_rt:") for h in header) == int(ecoli_cm.thermodynamic.sum()) == 120
    assert not any(h.startswith("k_equilibrium:") for h in header)
    states = read_samples(path)
    assert len(states) == len(ecoli_sample)
    for i, state in enumerate(states):
        expected = ecoli_sample.state(i)
        assert state.fluxes == expected.fluxes and state.concentrations == expected.concentrations
        validate_steady_state(ecoli_cm, state)
    assert read_sample_state(path, 5).fluxes == ecoli_sample.state(5).fluxes
    with pytest.raises(SteadyStateError, match="state 200: no such row"):
        read_sample_state(path, 200)


def test_bad_sample_files(tmp_path, ecoli_sample):
    path = tmp_path / "s.csv"
    path.write_text("state,pattern,flux:R1,concentration:A\n0,0,1.0,abc\n")
    with pytest.raises(SteadyStateError, match=r"s\.csv: line 2, column 'concentration:A': value 'abc' is not a number"):
        read_samples(path)
    path.write_text("state,pattern,speed:R1\n")
    with pytest.raises(SteadyStateError, match="column 'speed:R1'"):
        read_samples(path)
    try:
        import pyarrow  # noqa: F401
    except ImportError:  # the optional dependency is missing: a clear error
        with pytest.raises(SteadyStateError, match="pyarrow.*use a .csv path"):
            write_samples(ecoli_sample, tmp_path / "s.parquet")
    else:  # present: parquet round trip
        write_samples(ecoli_sample, tmp_path / "s.parquet")
        assert read_sample_state(tmp_path / "s.parquet", 3).fluxes == ecoli_sample.state(3).fluxes


def test_ln_keq_uncertainty(ecoli_cm, tmp_path):
    settings = replace(SETTINGS, default_ln_keq_uncertainty=0.5)
    sample = sample_steady_states(ecoli_cm, settings, n=30, seed=0)
    assert sample.ln_keq is not None and len(sample.varied_keq) > 100
    index = [ecoli_cm.structure.reactions.index(r) for r in sample.varied_keq]
    shift = sample.ln_keq[:, index] - ecoli_cm.ln_keq[index]
    assert np.abs(shift).max() <= 0.5 + 1e-12 and np.abs(shift).max() > 0.3
    state = sample.state(3)
    assert set(state.k_equilibrium) == set(sample.varied_keq)
    _check_states(ecoli_cm, sample, settings)
    write_samples(sample, tmp_path / "k.csv")
    loaded = read_sample_state(tmp_path / "k.csv", 3)
    assert loaded.k_equilibrium == state.k_equilibrium
    validate_steady_state(ecoli_cm, loaded)


def test_arguments_are_checked(ecoli_cm):
    with pytest.raises(ValueError, match="n == 0, must be an int >= 1"):
        sample_steady_states(ecoli_cm, SETTINGS, n=0)
    with pytest.raises(ValueError, match="thinning"):
        sample_steady_states(ecoli_cm, SETTINGS, n=10, thinning=0)
    with pytest.raises(ValueError, match="ln_keq_uncertainty: unknown reactions"):
        sample_steady_states(ecoli_cm, replace(SETTINGS, ln_keq_uncertainty={"NOPE": 1.0}), n=10)


def test_progress_advances_sum_to_n(ecoli_cm):
    advances = []
    sample_steady_states(ecoli_cm, SETTINGS, n=20, seed=0, burn_in=5, thinning=2, progress=advances.append)
    assert sum(advances) == 20 and all(a > 0 for a in advances)
