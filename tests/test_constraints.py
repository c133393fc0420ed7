"""Constraints files (YAML): layout, validation, round trip and the shipped E. coli case."""

from __future__ import annotations

import dataclasses
from importlib.resources import files
from pathlib import Path

import pytest
import yaml

from renaissance.errors import ConstraintsError, InfeasibleError
from renaissance.steadystate.constraints import (
    ECOLI_CONSTRAINTS,
    Constraints,
    Measurement,
    constraints_from_dict,
    constraints_to_dict,
    load_constraints,
    read_constraints,
    save_constraints,
)
from renaissance.steadystate.tfa import TFASettings, find_steady_state

SHIPPED = Path(str(files("renaissance") / "data" / "ecoli_constraints.yaml"))
#: the reference E. coli set-up of the RENAISSANCE paper, written out: the shipped file without its
#: measured concentrations must hold exactly this (these were the TFASettings defaults before the
#: class defaults became model-neutral)
PROTON = (10**-8.5, 1e-6)  # pH 6 .. 8.5
REFERENCE = TFASettings(
    growth_reaction="LMPD_biomass_c_1_420", growth_scaling=5e5, min_growth=0.26, fixed_fluxes={"ANTHtex": 0.14},
    flux_bounds={"GLCtex": (0.0, 15.0), **{r: (-100.0, 0.0) for r in (
        "ACALDtex", "ACtex", "AKGtex", "D-LACtex", "ETOHtex", "FORtex", "GLUtex", "MALtex", "PYRtex", "SUCCtex",
        "PHEtex", "SERtex", "TYRtex")}},
    default_flux_bound=100.0, concentration_bounds=(1e-7, 2e-2),
    species_bounds={"h_c": PROTON, "h_p": PROTON, "h_e": PROTON, "glc_D_e": (1e-4, 0.055), "pi_e": (1e-4, 0.064),
                    "nh4_e": (1e-4, 0.018), "o2_e": (1e-6, 2.5e-4)},
    min_margin=0.12, dg_bounds={"ATPS4rpp": (-0.15, 0.15)},
    fixed_directions={"COLIPAabctex": 1, "GLUabcpp": 1, "GLCabcpp": 1, "PIuabcpp": 1, "CBL1tonex": 1},
    min_abs_flux=1e-6, flux_budget=2.0, weight_spread=1.0, time_limit=60.0,
)


@pytest.fixture(scope="module")
def shipped(ecoli_cm) -> Constraints:
    return read_constraints(SHIPPED, ecoli_cm)


def _write(tmp_path: Path, data, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _minimal(**sections) -> dict:
    return {"growth": {"reaction": "LMPD_biomass_c_1_420", "scaling": 5e5, "min": 0.26}, **sections}


# --------------------------------------------------------------------------- shipped E. coli case


def test_shipped_equals_reference_apart_from_measured(shipped):
    s, measured = shipped.settings, shipped.measured
    explicit = {sp: b for sp, b in s.species_bounds.items() if sp not in measured}
    assert explicit == dict(REFERENCE.species_bounds)
    assert dataclasses.replace(s, species_bounds=explicit) == REFERENCE
    assert shipped.without_measurements() == REFERENCE
    for name in ("fixed_fluxes", "flux_bounds", "species_bounds", "fixed_directions"):  # same order too
        assert list(getattr(shipped.without_measurements(), name)) == list(getattr(REFERENCE, name)), name
    assert load_constraints(SHIPPED) == s  # with or without the model
    assert SHIPPED == ECOLI_CONSTRAINTS


def test_shipped_measurements_are_cited_and_applied_within_twofold(shipped):
    assert len(shipped.measured) == 42
    assert set(shipped.not_applied) == {"_13dpg_c", "g3p_c", "phpyr_c", "ru5p_D_c"}
    for sp, m in {**shipped.measured, **shipped.not_applied}.items():
        assert sp.endswith("_c")
        assert m.fold == 2.0
        assert "doi:10.1038/nchembio" in m.source and "github.com/" in m.source
    for sp, m in shipped.measured.items():
        assert shipped.settings.species_bounds[sp] == pytest.approx((m.value / 2, m.value * 2), rel=1e-15)
    for sp, m in shipped.not_applied.items():
        assert m.why and sp not in shipped.settings.species_bounds
    # a value above the default box is honoured: glutamate 96 mM
    assert shipped.measured["glu_L_c"].value == 9.6e-2
    assert shipped.settings.species_bounds["glu_L_c"] == pytest.approx((4.8e-2, 1.92e-1))


def test_shipped_file_gives_a_steady_state_within_twofold(ecoli_cm, shipped):
    state = find_steady_state(ecoli_cm, load_constraints(SHIPPED, ecoli_cm), seed=0)
    for sp, m in shipped.measured.items():
        ratio = state.concentrations[sp] / m.value
        assert 0.5 * (1 - 1e-9) <= ratio <= 2.0 * (1 + 1e-9), (sp, ratio)
    assert state.fluxes["ANTHtex"] == 0.14
    assert 5e5 * state.fluxes["LMPD_biomass_c_1_420"] >= 0.26 * (1 - 1e-9)


def test_a_measurement_left_out_conflicts_when_applied(ecoli_cm, shipped):
    m = shipped.not_applied["phpyr_c"]
    s = dataclasses.replace(shipped.settings, species_bounds={**shipped.settings.species_bounds, "phpyr_c": m.bounds})
    with pytest.raises(InfeasibleError):
        find_steady_state(ecoli_cm, s)


# --------------------------------------------------------------------------- layout


def test_measured_values_become_fold_bounds_and_explicit_bounds_win(tmp_path, ecoli_cm):
    path = _write(tmp_path, _minimal(concentrations={
        "bounds": {"atp_c": [1e-3, 2e-3]},
        "measured": {"fold": 2, "values": {
            "atp_c": {"value": 9.6e-3, "source": "x"},
            "g6p_c": {"value": 8e-3},
            "pyr_c": {"value": 1e-3, "fold": 3},
            "glu_L_c": 0.1,  # a bare number: a value without provenance
        }},
    }))
    c = read_constraints(path, ecoli_cm)
    b = c.settings.species_bounds
    assert b["atp_c"] == (1e-3, 2e-3)
    assert b["g6p_c"] == pytest.approx((4e-3, 1.6e-2))
    assert b["pyr_c"] == pytest.approx((1e-3 / 3, 3e-3))
    assert b["glu_L_c"] == pytest.approx((0.05, 0.2))  # outside default_bounds, still honoured
    assert c.measured["atp_c"] == Measurement(value=9.6e-3, fold=2.0, source="x")


def test_defaults_of_a_sparse_file(tmp_path):
    s = load_constraints(_write(tmp_path, {"growth": {"reaction": "BIOMASS"}}))
    d = TFASettings(growth_reaction="BIOMASS")
    assert (s.growth_reaction, s.growth_scaling, s.min_growth) == ("BIOMASS", 1.0, 0.0)
    assert not (s.fixed_fluxes or s.flux_bounds or s.species_bounds or s.dg_bounds or s.fixed_directions)
    for name in ("default_flux_bound", "concentration_bounds", "min_margin", "min_abs_flux", "flux_budget",
                 "weight_spread", "time_limit", "default_ln_keq_uncertainty"):
        assert getattr(s, name) == getattr(d, name), name
    assert s == d  # the file's defaults are the class defaults


def test_a_file_without_growth_has_no_growth_bound(tmp_path, toy_cm):
    """Growth is optional: no section, no growth reaction, no growth bound (model-neutral defaults)."""
    s = load_constraints(_write(tmp_path, {"fluxes": {"bounds": {"GLCtex": [0, 10]}}}), toy_cm)
    assert s.growth_reaction is None and s == TFASettings(flux_bounds={"GLCtex": (0.0, 10.0)})
    assert load_constraints(_write(tmp_path, "")) == TFASettings()
    path = tmp_path / "round.yaml"
    save_constraints(s, path)
    assert "growth" not in path.read_text() and load_constraints(path) == s
    with pytest.raises(ValueError, match="growth_reaction == None, but growth_scaling == 2.0"):
        TFASettings(growth_scaling=2.0)


def test_numbers_written_without_a_dot_are_accepted(tmp_path):
    text = "growth: {reaction: R, scaling: 5e5}\nconcentrations: {default_bounds: [1e-7, 2e-2]}\n"
    s = load_constraints(_write(tmp_path, text))
    assert s.growth_scaling == 5e5 and s.concentration_bounds == (1e-7, 2e-2)


def test_null_flux_budget_and_infinite_dg_bounds(tmp_path):
    s = load_constraints(_write(tmp_path, "growth: {reaction: R}\nfluxes: {flux_budget: null}\n"
                                          "thermodynamics: {dg_bounds: {A: [-.inf, -1.0]}}\n"))
    assert s.flux_budget is None and s.dg_bounds["A"] == (float("-inf"), -1.0)


# --------------------------------------------------------------------------- round trip


def test_round_trip_of_settings(tmp_path):
    # every TFASettings field away from its default: a field the layout misses would not survive
    s = TFASettings(
        growth_reaction="G", growth_scaling=2.0, min_growth=0.1, fixed_fluxes={"A": -0.5},
        flux_bounds={"B": (-1.0, 2.0)}, default_flux_bound=50.0, concentration_bounds=(1e-8, 1e-1),
        species_bounds={"x": (1e-6, 1e-3)}, min_margin=0.2, dg_bounds={"C": (-0.1, 0.1)},
        fixed_directions={"D": -1}, min_abs_flux=1e-5, flux_budget=None, weight_spread=0.5, time_limit=5.0,
        ln_keq_uncertainty={"C": 0.3}, default_ln_keq_uncertainty=0.1,
    )
    defaults = TFASettings(growth_reaction="LMPD_biomass_c_1_420")
    changed = {f.name for f in dataclasses.fields(TFASettings) if getattr(s, f.name) != getattr(defaults, f.name)}
    assert changed == {f.name for f in dataclasses.fields(TFASettings)}
    path = tmp_path / "s.yaml"
    save_constraints(s, path)
    assert load_constraints(path) == s
    assert constraints_from_dict(constraints_to_dict(s)).settings == s


def test_round_trip_of_the_shipped_file_keeps_measurements(tmp_path, shipped):
    path = tmp_path / "copy.yaml"
    save_constraints(shipped, path)
    again = read_constraints(path)
    assert again == shipped
    save_constraints(REFERENCE, path)  # overwrite: atomic, no stray temporary files
    assert load_constraints(path) == REFERENCE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.yaml"]


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("data, needle", [
    ({"growth": {"reaction": "R"}, "flux": {}}, "top level: unknown key 'flux'"),
    ({"growth": {"reaction": "R"}, "fluxes": {"bound": 1}}, "fluxes: unknown key 'bound'"),
    ({"growth": {"reaction": "R"}, "concentrations": {"measured": {"values": {"atp_c": {"value": 1e-3, "src": "x"}}}}},
     "concentrations.measured.values.atp_c: unknown key 'src'"),
    ({"growth": {"reaction": "R"}, "concentrations": {"measured": {"values": {"atp_c": {"value": 1e-3, "why": "x"}}}}},
     "concentrations.measured.values.atp_c: unknown key 'why'"),
    ({"growth": {"min": 0.2}}, "growth.reaction: missing: ['min'] need the growth reaction"),
    ({"growth": {"reaction": "R"}, "fluxes": {"bounds": {"GLCtex": [15, 0]}}},
     "fluxes.bounds.GLCtex: empty interval: lower bound 15 > upper bound 0"),
    ({"growth": {"reaction": "R"}, "fluxes": {"bounds": {"GLCtex": [0]}}}, "fluxes.bounds.GLCtex: expected an interval"),
    ({"growth": {"reaction": "R"}, "concentrations": {"bounds": {"atp_c": [0, 1e-3]}}},
     "concentrations.bounds.atp_c: concentration bounds must be > 0"),
    ({"growth": {"reaction": "R"}, "concentrations": {"default_bounds": [1e-3, 1e-4]}},
     "concentrations.default_bounds: empty interval"),
    ({"growth": {"reaction": "R"}, "fluxes": {"fixed": {"ANTHtex": "a lot"}}}, "fluxes.fixed.ANTHtex: expected a number"),
    ({"growth": {"reaction": "R"}, "fluxes": {"fixed_directions": {"X": 2}}}, "fluxes.fixed_directions.X: expected +1"),
    ({"growth": {"reaction": "R"}, "fluxes": {"flux_budget": 1.0}}, "fluxes.flux_budget: must be > 1"),
    ({"growth": {"reaction": "R"}, "concentrations": {"measured": {"fold": 1, "values": {}}}},
     "concentrations.measured.fold: fold range must be > 1"),
    ({"growth": {"reaction": "R"}, "concentrations": {"measured": {"values": {"atp_c": {"value": -1.0}}}}},
     "concentrations.measured.values.atp_c.value: must be > 0"),
    ({"growth": {"reaction": "R"}, "concentrations": {"measured": {"values": {"atp_c": 1e-3}},
                                                        "measured_not_applied": {"values": {"atp_c": 1e-3}}}},
     "also listed under concentrations.measured"),
    ({"growth": {"reaction": "R"}, "thermodynamics": {"ln_keq_uncertainty": {"default": -1.0}}},
     "thermodynamics.ln_keq_uncertainty.default: must be >= 0"),
    ([1, 2], "top level: expected a mapping"),
])
def test_invalid_files_name_file_and_entity(tmp_path, data, needle):
    path = _write(tmp_path, data)
    with pytest.raises(ConstraintsError) as info:
        load_constraints(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and needle in message


@pytest.mark.parametrize("section, data, needle", [
    ("growth", {"growth": {"reaction": "BIOMASS"}}, "growth.reaction: unknown reaction 'BIOMASS'"),
    ("fluxes", _minimal(fluxes={"bounds": {"GLCtex": [0, 15], "NOPE": [0, 1]}}), "fluxes.bounds: unknown reaction 'NOPE'"),
    ("fixed", _minimal(fluxes={"fixed": {"NOPE": 0.1}}), "fluxes.fixed: unknown reaction 'NOPE'"),
    ("directions", _minimal(fluxes={"fixed_directions": {"NOPE": 1}}), "fluxes.fixed_directions: unknown reaction 'NOPE'"),
    ("dg", _minimal(thermodynamics={"dg_bounds": {"NOPE": [-1, 1]}}), "thermodynamics.dg_bounds: unknown reaction 'NOPE'"),
    ("irreversible", _minimal(thermodynamics={"dg_bounds": {"CYTBDpp": [-1, 1]}}), "'CYTBDpp' is irreversible"),
    ("keq", _minimal(thermodynamics={"ln_keq_uncertainty": {"reactions": {"NOPE": 1.0}}}),
     "thermodynamics.ln_keq_uncertainty.reactions: unknown reaction 'NOPE'"),
    ("species", _minimal(concentrations={"bounds": {"nope_c": [1e-6, 1e-3]}}), "concentrations.bounds: unknown species 'nope_c'"),
    ("measured", _minimal(concentrations={"measured": {"values": {"g6p": 1e-3}}}),
     "concentrations.measured: unknown species 'g6p'"),
    ("not applied", _minimal(concentrations={"measured_not_applied": {"values": {"g6p": 1e-3}}}),
     "concentrations.measured_not_applied: unknown species 'g6p'"),
])
def test_unknown_ids_are_named_with_the_model(tmp_path, ecoli_cm, section, data, needle):
    path = _write(tmp_path, data)
    load_constraints(path)  # without the model, ids are not checked
    with pytest.raises(ConstraintsError) as info:
        load_constraints(path, ecoli_cm)
    assert str(info.value).startswith(f"{path}: ") and needle in str(info.value)


def test_yaml_errors_name_the_file(tmp_path):
    for text, needle in [("growth: {reaction: R}\ngrowth: {reaction: S}\n", "duplicate key 'growth'"),
                         ("growth: [unclosed\n", "malformed YAML")]:
        path = _write(tmp_path, text)
        with pytest.raises(ConstraintsError, match=needle) as info:
            load_constraints(path)
        assert str(path) in str(info.value)
    with pytest.raises(ConstraintsError, match="cannot read file"):
        load_constraints(tmp_path / "missing.yaml")
