"""Measured-Km integration: designs, overlap score, twin measurements, shift, and the full study."""

from __future__ import annotations

import csv
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from renaissance.analysis.km_integration import (
    design_cases, jaccard_overlap, km_reaction, overlap_scores, read_subsystems, truth_ranges, twin_measurements,
    unmeasured_shift,
)
from renaissance.cli import app
from renaissance.errors import ParameterFileError
from renaissance.generator import read_fixed_km
from renaissance.parameterised import read_population
from renaissance.generator.settings import save_settings
from renaissance.stability.km import read_km_table

from .conftest import DATA, FIXTURES
from .test_training import tiny_settings


def test_jaccard_overlap_on_hand_made_intervals():
    assert jaccard_overlap(0, 1, 0, 1) == 1.0
    assert jaccard_overlap(0, 1, 2, 3) == 0.0
    assert jaccard_overlap(0, 4, 1, 2) == pytest.approx(0.25)  # nested
    assert jaccard_overlap(0, 2, 1, 3) == pytest.approx(1 / 3)  # partial
    np.testing.assert_allclose(jaccard_overlap([0, 0], [1, 2], [0.5, 3], [1.5, 4]), [1 / 3, 0.0])


def test_overlap_scores_of_a_population():
    names = ("km_substrate_A", "km_product_A")
    ln_km = np.log(np.c_[np.linspace(1e-4, 1e-3, 101), np.full(101, 5e-3)])
    ln_km[:, 1] += np.linspace(-0.01, 0.01, 101)
    scores = overlap_scores(ln_km, names, {"km_substrate_A": (1e-4, 1e-3), "km_product_A": (1e-5, 2e-5)})
    assert 0.7 < scores["km_substrate_A"] < 0.9 and scores["km_product_A"] == 0.0


def test_km_names_subsystems_and_designs(ecoli_cm, tmp_path):
    assert km_reaction("km_substrate2_LMPD_biomass_c_1_420") == "LMPD_biomass_c_1_420"
    assert km_reaction("km_product_ACONTa") == "ACONTa"
    subsystem_of = read_subsystems(DATA / "ecoli_subsystems.csv", ecoli_cm.structure.reactions)
    assert set(subsystem_of) == set(ecoli_cm.structure.reactions) and "Unassigned" not in subsystem_of.values()
    tca = [n for n in ecoli_cm.km_names if subsystem_of[km_reaction(n)] == "Citric Acid Cycle"]
    assert len(tca) == 35 and {km_reaction(n) for n in tca} == {
        "ACONTa", "ACONTb", "AKGDH", "CS", "FUM", "ICDHyr", "MDH", "SUCDi", "SUCOAS"}
    cases = design_cases(tca, subsystem_of, enzyme=("ACONTa", "ACONTb"), subsystem="Citric Acid Cycle", k=9,
                         combinations=10, seed=0, controls=2)
    assert [c.name for c in cases[:3]] == ["baseline", "local", "subsystem_0"] and len(cases) == 14
    assert [(c.name, c.integrated, c.seed_offset) for c in cases[12:]] == [("control_0", (), 1), ("control_1", (), 2)]
    cases = cases[:12]
    assert cases[1].integrated == ("km_substrate_ACONTa", "km_product_ACONTa", "km_substrate_ACONTb",
                                   "km_product_ACONTb")
    assert all(len(c.integrated) == 9 and set(c.integrated) <= set(tca) for c in cases[2:])
    assert len({c.integrated for c in cases[2:]}) == 10  # distinct combinations
    again = design_cases(tca, subsystem_of, subsystem="Citric Acid Cycle", k=9, combinations=10, seed=0)
    assert [c.integrated for c in again[1:]] == [c.integrated for c in cases[2:]]  # seeded
    with pytest.raises(ValueError, match="35 measured"):
        design_cases(tca, subsystem_of, subsystem="Citric Acid Cycle", k=36)
    bad = tmp_path / "subsystems.csv"
    bad.write_text("reaction,subsystem\nNOPE,TCA\n")
    with pytest.raises(ParameterFileError, match=r"subsystems.csv.*line 2.*NOPE.*unknown reaction"):
        read_subsystems(bad, ecoli_cm.structure.reactions)


def test_twin_measurements_reduce_to_the_truths_ranges(ecoli_cm, tmp_path):
    truth = read_km_table(FIXTURES / "valid_km.csv", ecoli_cm.km_names)[0]
    chosen = ["km_substrate_ACONTa", "km_product_FUM"]
    path = tmp_path / "twin.csv"
    path.write_text(twin_measurements(truth, ecoli_cm.km_names, chosen, "truth row 0"))
    fixed = read_fixed_km(path, ecoli_cm.km_names)
    ranges = truth_ranges(truth, ecoli_cm.km_names)
    for name, low, high in zip(fixed.names, fixed.low, fixed.high):
        assert (low, high) == pytest.approx(ranges[name], rel=1e-15)
        assert low == pytest.approx(0.8 * truth[ecoli_cm.km_names.index(name)], rel=1e-15)


def test_unmeasured_shift():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(4000, 5))
    same = unmeasured_shift(base, rng.normal(size=(4000, 5)))
    moved = unmeasured_shift(base, rng.normal(1.0, 0.5, size=(4000, 5)))
    assert same.centroid_distance < 0.05 and same.spread_ratio == pytest.approx(1.0, abs=0.05)
    assert moved.centroid_distance == pytest.approx(1.0, abs=0.05) and moved.spread_ratio == pytest.approx(0.5, abs=0.02)
    pinned = base.copy()
    pinned[:, 0] *= 1e-6  # a Km the baseline pins to a point does not dominate the shift
    assert unmeasured_shift(pinned, rng.normal(size=(4000, 5))).centroid_distance < 0.05


def test_km_integration_command_keeps_measured_km_in_range_and_narrows_them(ecoli_cm, tmp_path):
    """Two cases (baseline, aconitase) of a short training at a sampled state that admits fast
    dynamics: every generated model keeps the four integrated Km in their +-20% ranges, and their
    predicted ranges match the measurements."""
    truth = read_km_table(FIXTURES / "valid_km.csv", ecoli_cm.km_names)[0]
    aconitase = ["km_substrate_ACONTa", "km_product_ACONTa", "km_substrate_ACONTb", "km_product_ACONTb"]
    measured = tmp_path / "measured.csv"
    lines = ["name,min,max,value,unit,source"]
    for name in aconitase:  # two measurements per Km whose geometric mean is the truth
        value = float(truth[ecoli_cm.km_names.index(name)]) * 1e3
        lines += [f"{name},,,{value * 1.5!r},mM,test A", f"{name},,,{value / 1.5!r},mM,test B"]
    measured.write_text("\n".join(lines) + "\n")
    settings = tiny_settings(generations=20)  # at fast_state.csv: 100% valid after 20 tiny generations
    settings = replace(settings, problem=replace(settings.problem, steady_state=str(FIXTURES / "fast_state.csv")))
    config = tmp_path / "train.toml"
    save_settings(replace(settings, final_samples=100), config)
    out = tmp_path / "km"
    result = CliRunner().invoke(app, ["km-integration", "--out", str(out), "--measurements", str(measured), "--config",
                                      str(config), "--k", "0", "--n-models", "150"])
    assert result.exit_code == 0, result.output
    assert "local: " in result.output and "0 values outside their ranges" in result.output
    pop = read_population(out / "local" / "population.h5")
    assert len(pop) == 150 and pop.valid.all()
    for name in aconitase:
        km = pop.km[:, pop.km_names.index(name)]
        g = truth[ecoli_cm.km_names.index(name)]
        assert np.all((km >= 0.8 * g * (1 - 1e-12)) & (km <= 1.2 * g * (1 + 1e-12))), name
    rows = {(r["case"], r["km"]): float(r["overlap"]) for r in csv.DictReader((out / "overlap.csv").open())}
    for name in aconitase:
        assert rows[("local", name)] > 0.8  # 5-95% of a uniform draw in [0.8 g, 1.2 g]: 0.90
        assert rows[("baseline", name)] < 0.5
    shift = list(csv.DictReader((out / "shift.csv").open()))
    assert [r["case"] for r in shift] == ["local"] and float(shift[0]["centroid_distance"]) >= 0
    assert (out / "pca.png").exists()
    subsystems = {(r["design"], r["subsystem"]): r for r in csv.DictReader((out / "subsystems.csv").open())}
    assert subsystems[("local", "Citric Acid Cycle")]["km"] == "0"  # every measured Km was fixed in the only case
    assert "local: overlap score improved for 0 of 0 Km" in result.output
    # the same command is refused without --resume; with it, it continues (reuses the finished cases), and
    # other measurements are refused
    args = ["km-integration", "--out", str(out), "--measurements", str(measured), "--config", str(config), "--k", "0",
            "--n-models", "150"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 1 and f"{out}: holds the outputs of an earlier run (baseline, local" in refused.output
    again = CliRunner().invoke(app, args + ["--resume"])
    assert again.exit_code == 0, again.output
    measured.write_text(measured.read_text().replace("test A", "test C").replace(",mM,", ",uM,", 1))
    refused = CliRunner().invoke(app, args + ["--resume"])
    assert refused.exit_code == 1 and "other measurements" in refused.output


def test_km_integration_command_errors(tmp_path):
    result = CliRunner().invoke(app, ["km-integration", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and "exactly one of --measurements and --truth" in result.output


def test_summary_counts_improvements_per_design():
    from renaissance.analysis.km_integration import Case
    from renaissance.generator.km_study import CaseResult, StudyReport, _summary

    cases = [Case("baseline", ()), Case("local", ("km_a_X",)), Case("subsystem_0", ("km_a_X", "km_b_Y")),
             Case("subsystem_1", ("km_c_Y",)), Case("control_0", (), 1)]
    results = [CaseResult(c, np.zeros((2, 3)), 0) for c in cases]
    overlap = [{"km_a_X": 0.1, "km_b_Y": 0.2, "km_c_Z": 0.3},  # baseline
               {"km_a_X": 0.9, "km_b_Y": 0.3, "km_c_Z": 0.2},  # local: b better, c worse
               {"km_a_X": 0.9, "km_b_Y": 0.9, "km_c_Z": 0.5},
               {"km_a_X": 0.0, "km_b_Y": 0.1, "km_c_Z": 0.2},
               {"km_a_X": 0.2, "km_b_Y": 0.1, "km_c_Z": 0.3}]  # control: a better by chance
    subsystem_of = {"X": "S", "Y": "S", "Z": "T"}
    rows = _summary(results, overlap, dict.fromkeys(overlap[0]), subsystem_of, "S")
    by = {(r["design"], r["km"]): r for r in rows}
    assert by[("local", "km_a_X")]["cases_scored"] == 0 and not by[("local", "km_a_X")]["improved"]
    assert by[("local", "km_b_Y")]["improved"] and not by[("local", "km_c_Z")]["improved"]
    # subsystem design: a scored only in subsystem_1 (0.0 < 0.1), b only there too (0.1 < 0.2), c in both (0.35 > 0.3)
    assert by[("subsystem", "km_a_X")]["integrated_mean"] == 0.0 and not by[("subsystem", "km_a_X")]["improved"]
    assert by[("subsystem", "km_c_Z")]["integrated_mean"] == pytest.approx(0.35) and by[("subsystem", "km_c_Z")]["improved"]
    report = StudyReport(results, rows, [])
    assert report.designs == ["local", "subsystem", "control"]
    assert report.improved("control", True) == (1, 2) and report.improved("control", False) == (0, 1)
    assert report.improved("local", True) == (1, 1) and report.improved("local", False) == (0, 1)
    assert report.improved("subsystem", True) == (0, 2) and report.improved("subsystem", False) == (1, 1)
    assert report.overlapping("subsystem", True) == (1.0, 0.5)  # a: 0.0 in its only scored case, b: 0.1
