"""Measured fermentations: the shipped experiment, bad files, scoring against hand-computed values,
failed runs, unit conversion, fit.csv, the figure and the command."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from renaissance.dynamics.bioreactor import ReactorRun, dynamic_species, read_medium
from renaissance.dynamics.measured import (
    coverage, fit_summary, plot_fit, read_experiment, relative_rms, score_run, score_runs, simulated_course,
    within_bars, write_fit_table,
)
from renaissance.errors import MeasurementError
from renaissance.shipped import ECOLI_BIOREACTOR, ECOLI_EXPERIMENT, model_presets

from .conftest import DATA

GLC, ANTH = 180.156, 136.13


@pytest.fixture(scope="module")
def shipped():
    return read_experiment(ECOLI_EXPERIMENT)


def _simulated(cm) -> list[str]:
    settings = read_medium(ECOLI_BIOREACTOR, cm)
    return [cm.structure.boundary[i] for i in dynamic_species(cm, settings)]


def _run_through(experiment, model=0, scale=1.0, hours=60.0, status="ok") -> ReactorRun:
    """A run whose time courses pass through the measured points (times scale x), on a 0.5 h grid."""
    t = np.linspace(0.0, hours, round(2 * hours) + 1)
    biomass, medium = np.ones_like(t), {}
    for s in experiment.series:
        course = scale * np.interp(t, s.t, s.value)
        if s.species is None:
            biomass = course
        else:
            medium[s.species] = course / (s.molar_mass or 1.0)  # mol/L
    return ReactorRun(model, t, biomass, medium, status, "")


# --------------------------------------------------------------------------- reading


def test_shipped_experiment(shipped, ecoli, ecoli_cm):
    assert shipped.names == ["biomass", "glucose", "anthranilate"] and shipped.published_matches == 13
    assert shipped.data == str(DATA / "ecoli_trpD9923_batch.csv") and "Hernandez" in shipped.citation
    biomass, glucose, anth = shipped.series
    assert (biomass.species, biomass.unit, biomass.molar_mass) == (None, "g/L", None)
    assert (glucose.species, glucose.molar_mass, anth.species, anth.molar_mass) == ("glc_D_e", GLC, "anth_e", ANTH)
    assert len(biomass.t) == len(glucose.t) == 15 and 4.0 not in anth.t and len(anth.t) == 14  # no 4 h point
    assert biomass.value[0] == pytest.approx(0.044559708) and glucose.value[0] == pytest.approx(10.54331324)
    assert not biomass.has_bar.any()
    assert glucose.has_bar.sum() == 14 and not glucose.has_bar[0]  # t = 0: low == high, no bar
    assert anth.has_bar.sum() == 11  # 0, 8 and 12 h: low == high
    assert shipped.t_end == 60.0
    assert model_presets(ecoli).experiment == ECOLI_EXPERIMENT
    read_experiment(ECOLI_EXPERIMENT, ecoli_cm.species, _simulated(ecoli_cm))  # every species simulated


def test_plain_csv(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("time_h,biomass,glc_D_e,glc_D_e_low,glc_D_e_high\n0,0.1,0.05,0.04,0.06\n5,0.27,,,\n"
                    "10,0.74,0.01,0.01,0.01\n")
    experiment = read_experiment(path)
    assert experiment.names == ["biomass", "glc_D_e"] and experiment.published_matches is None
    glc = experiment.series[1]
    assert (glc.species, glc.unit, glc.molar_mass, list(glc.t)) == ("glc_D_e", "mol/L", None, [0.0, 10.0])
    assert list(glc.has_bar) == [True, False]


def _experiment(tmp_path, csv_text: str, series: str, extra: str = "") -> str:
    (tmp_path / "exp.csv").write_text(csv_text)
    path = tmp_path / "exp.yaml"
    path.write_text(f"data: exp.csv\n{extra}series:\n{series}")
    return str(path)


GOOD_CSV = "time_h,x,glc,lo,hi\n0,1,2,1.5,2.5\n1,2,1,0.5,1.5\n"
GLC_SERIES = "  glucose: {column: glc, species: glc_D_e, molar_mass: 180.156, low: lo, high: hi}\n"


@pytest.mark.parametrize(("csv_text", "series", "extra", "where", "problem"), [
    (GOOD_CSV, "  biomass: {column: biomass}\n", "", "exp.yaml: series 'biomass'",
     "column column 'biomass' is not in"),
    (GOOD_CSV.replace("0,1,2", "0,one,2"), "  biomass: {column: x}\n", "", "exp.csv: line 2, column 'x'",
     "'one' is not a number"),
    (GOOD_CSV.replace("1,2,1,", "1,-2,1,"), "  biomass: {column: x}\n", "", "exp.csv: line 3, column 'x'",
     "must be a finite number >= 0"),
    (GOOD_CSV, "  glucose: {column: glc, species: glc_D_e}\n", "", "exp.yaml: series 'glucose'",
     "needs its molar_mass"),
    (GOOD_CSV, "  glucose: {column: glc, species: glc_D_e, molar_mass: 180.156, low: hi, high: lo}\n", "",
     "exp.csv: series 'glucose' (column 'glc')", "does not contain the value"),
    (GOOD_CSV, "  biomass: {column: x, colour: red}\n", "", "exp.yaml: series 'biomass'", "unknown keys ['colour']"),
    (GOOD_CSV, "  biomass: {column: x, unit: mg/L}\n", "", "exp.yaml: series 'biomass'", "unit 'mg/L'"),
    (GOOD_CSV.replace("time_h", "hours"), "  biomass: {column: x}\n", "", "exp.csv: header",
     "no time column 'time_h'"),
    ("time_h,x\n0,0\n1,0\n", "  biomass: {column: x}\n", "", "exp.csv: series 'biomass' (column 'x')",
     "every value is 0"),
    (GOOD_CSV, "  biomass: {column: x}\n", "published_matches: many\n", "exp.yaml: published_matches",
     "must be an integer"),
])
def test_bad_experiment_files(tmp_path, csv_text, series, extra, where, problem):
    path = _experiment(tmp_path, csv_text, series, extra)
    with pytest.raises(MeasurementError) as info:
        read_experiment(path)
    message = str(info.value)
    assert where in message and problem in message, message


def test_species_must_be_simulated(tmp_path, ecoli_cm):
    simulated = _simulated(ecoli_cm)
    path = _experiment(tmp_path, GOOD_CSV, GLC_SERIES.replace("glc_D_e", "glc_X_e"))
    with pytest.raises(MeasurementError, match=r"exp.yaml: series 'glucose': species 'glc_X_e' is not in the model"):
        read_experiment(path, ecoli_cm.species, simulated)
    path = _experiment(tmp_path, GOOD_CSV, GLC_SERIES.replace("glc_D_e", "h_e"))  # held constant by the medium
    with pytest.raises(MeasurementError, match=r"series 'glucose': species 'h_e' is not simulated by the reactor"):
        read_experiment(path, ecoli_cm.species, simulated)
    with pytest.raises(MeasurementError, match=r"missing.yaml: cannot read file"):
        read_experiment(tmp_path / "missing.yaml")
    (tmp_path / "plain.csv").write_text("time_h,glucose\n0,1\n")
    with pytest.raises(MeasurementError, match=r"plain.csv: series 'glucose': species 'glucose' is not in the model"):
        read_experiment(tmp_path / "plain.csv", ecoli_cm.species, simulated)


# --------------------------------------------------------------------------- scoring


def test_scores_by_hand(tmp_path):
    """Values 1, 2, 4 g/L; bars [1.5, 2.5] and [3, 5] on the last two points."""
    path = _experiment(tmp_path, "time_h,x,lo,hi\n0,1,,\n1,2,1.5,2.5\n2,4,3,5\n",
                       "  b: {column: x, low: lo, high: hi}\n")
    experiment = read_experiment(path)
    t = np.array([0.0, 0.5, 1.0, 1.5, 2.0])
    exact = np.array([1.0, 1.5, 2.0, 3.0, 4.0])
    runs = [ReactorRun(m, t, k * exact, {}, "ok", "") for m, k in ((0, 1.3), (1, 1.2), (2, 1.0))]
    fits = score_runs(runs, experiment)
    assert [f.model for f in fits] == [2, 1, 0]
    exact_fit, fit12, fit13 = fits
    assert exact_fit.scores["b"].rel_rms == 0.0 and exact_fit.scores["b"].within == 1.0
    assert fit12.scores["b"].rel_rms == pytest.approx(math.sqrt((0.2**2 + 0.4**2 + 0.8**2) / 3) / 4, rel=1e-12)
    assert fit12.scores["b"].within == 1.0 and fit12.scores["b"].n_bars == 2  # 2.4 in [1.5, 2.5], 4.8 in [3, 5]
    assert fit13.scores["b"].rel_rms == pytest.approx(math.sqrt((0.3**2 + 0.6**2 + 1.2**2) / 3) / 4) and fit13.scores["b"].within == 0.0
    assert exact_fit.matches_all and fit12.matches_all and not fit13.matches_all  # 0.132 <= 0.15 < 0.198
    assert not score_run(runs[1], experiment, tolerance=0.1).matches_all
    assert relative_rms(np.array([1.2, 2.4]), np.array([1.0, 2.0])) == pytest.approx(0.2 * math.sqrt(2.5) / 2)
    assert within_bars(np.array([1.0, 2.0]), np.array([0.5, 2.0]), np.array([1.5, 2.0])) == (1.0, 1)
    assert math.isnan(within_bars(np.ones(2), np.full(2, np.nan), np.full(2, np.nan))[0])


def test_shipped_experiment_exact_and_scaled_runs(shipped):
    exact = score_run(_run_through(shipped), shipped)
    for name, score in exact.scores.items():
        assert score.rel_rms == pytest.approx(0.0, abs=1e-12), name
        assert score.within == 1.0 or (name == "biomass" and math.isnan(score.within))
    assert exact.matches_all and exact.worst == pytest.approx(0.0, abs=1e-12)
    scaled = score_run(_run_through(shipped, model=1, scale=1.2), shipped)
    for s in shipped.series:  # e = 0.2 sqrt(mean m^2) / max m
        expected = 0.2 * math.sqrt(np.mean(s.value**2)) / s.value.max()
        assert scaled.scores[s.name].rel_rms == pytest.approx(expected, rel=1e-9), s.name
    assert scaled.worst == pytest.approx(max(0.2 * math.sqrt(np.mean(s.value**2)) / s.value.max()
                                             for s in shipped.series))
    glucose = shipped.series[1]
    bar = glucose.has_bar
    inside = (1.2 * glucose.value[bar] >= glucose.low[bar]) & (1.2 * glucose.value[bar] <= glucose.high[bar])
    assert scaled.scores["glucose"].within == pytest.approx(inside.mean())


def test_unit_conversion(shipped):
    glucose, anth = shipped.series[1], shipped.series[2]
    t = np.array([0.0, 60.0])
    run = ReactorRun(0, t, np.ones(2), {"glc_D_e": np.array([0.055, 0.01]), "anth_e": np.array([1e-3, 2e-3])}, "ok", "")
    np.testing.assert_allclose(simulated_course(run, glucose), [0.055 * GLC, 0.01 * GLC])  # 55 mM = 9.9 g/L
    np.testing.assert_allclose(simulated_course(run, anth), [1e-3 * ANTH, 2e-3 * ANTH])
    with pytest.raises(MeasurementError, match="species 'anth_e' not simulated"):
        simulated_course(ReactorRun(0, t, np.ones(2), {}, "ok", ""), anth)


def test_failed_runs_match_nothing_and_rank_last(shipped, tmp_path):
    good = _run_through(shipped, model=3, scale=1.05)
    failed = _run_through(shipped, model=1, status="failed")  # even perfect curves: not ok
    failed.biomass[50:] = np.nan
    fits = score_runs([failed, good], shipped)
    assert [f.model for f in fits] == [3, 1]
    assert not fits[1].matches_all and fits[1].worst == math.inf and not any(fits[1].matches(n) for n in shipped.names)
    assert all(math.isnan(s.rel_rms) for s in fits[1].scores.values())
    write_fit_table(fits, shipped, tmp_path / "fit.csv")
    rows = list(csv.DictReader((tmp_path / "fit.csv").open()))
    assert list(rows[0]) == ["rank", "model", "status", "worst_rel_rms", "biomass_rel_rms", "glucose_rel_rms",
                             "anthranilate_rel_rms", "biomass_within_bars", "glucose_within_bars",
                             "anthranilate_within_bars", "matches_all"]
    assert (rows[0]["rank"], rows[0]["model"], rows[0]["status"], rows[0]["matches_all"]) == ("1", "3", "ok", "true")
    assert float(rows[0]["worst_rel_rms"]) == pytest.approx(fits[0].worst) and rows[0]["biomass_within_bars"] == ""
    assert (rows[1]["status"], rows[1]["worst_rel_rms"], rows[1]["matches_all"]) == (
        "failed", "", "false")
    summary = fit_summary(fits, shipped, 60.0)
    worst = max(0.05 * math.sqrt(np.mean(s.value**2)) / s.value.max() for s in shipped.series)  # biomass: 4.4%
    assert summary.startswith("1 of 2 models match all 3 series within 15% (paper: 13); best: model 3, worst series "
                              f"error {100 * worst:.3g}% (biomass)")
    assert "1 run(s) did not end ok (failed 1) and match nothing" in summary and "compared over" not in summary


def test_ranking_by_worst_series(shipped):
    """Model 0: 10% off on every series; model 1: exact but anthranilate 30% off: model 0 ranks first."""
    even = _run_through(shipped, model=1, scale=1.1)
    uneven = _run_through(shipped, model=0)
    uneven.medium["anth_e"] *= 1.3
    fits = score_runs([uneven, even], shipped)
    assert [f.model for f in fits] == [1, 0] and fits[1].worst_series == "anthranilate"
    assert fits[0].matches_all and fits[1].matches("biomass") and not fits[1].matches("anthranilate")


def test_partial_span(shipped):
    run = _run_through(shipped, hours=20.0)
    fit = score_run(run, shipped)
    assert fit.scores["biomass"].n_points == 6 and fit.scores["anthranilate"].n_points == 5  # 0..20 h
    assert coverage(shipped, 20.0) == (17, 44)
    assert "compared over 0-20 h only (17 of 44 measured points)" in fit_summary([fit], shipped, 20.0)


def test_figure_is_written(shipped, tmp_path):
    runs = [_run_through(shipped, model=0), _run_through(shipped, model=1, scale=1.6),
            _run_through(shipped, model=2, status="failed")]
    runs[2].biomass[30:] = np.nan
    paths = plot_fit(runs, score_runs(runs, shipped), shipped, tmp_path)
    assert [p.name for p in paths] == ["fit.png", "fit.svg"] and all(p.stat().st_size > 1000 for p in paths)
    assert "1 of 3 models match all 3 series within 15% (paper: 13)" in paths[1].read_text()


# --------------------------------------------------------------------------- the command


def test_cli_measured(tmp_path):
    from renaissance.cli import app
    from renaissance.generator import train
    from renaissance.generator.population import generate_population

    from .test_training import tiny_settings

    train(tiny_settings(generations=1), tmp_path / "run")
    generate_population(tmp_path / "run", 2, tmp_path / "pop.h5")
    runner = CliRunner()
    args = ["bioreactor", str(tmp_path / "pop.h5"), "--out", str(tmp_path / "bio"), "--hours", "0.001", "--points", "3",
            "--workers", "1", "--all-models"]
    result = runner.invoke(app, args + ["--measured", "none"])
    assert result.exit_code == 0 and "match" not in result.output and not (tmp_path / "bio" / "fit.csv").exists()
    first = next(csv.DictReader((tmp_path / "bio" / "timecourses.csv").open()))  # model 0 at t = 0
    glucose = float(first["glc_D_e"]) * GLC  # mol/L -> g/L
    (tmp_path / "exp.csv").write_text(f"time_h,X,G\n0,0.037,{glucose}\n0.001,0.037,{glucose}\n")
    (tmp_path / "exp.yaml").write_text("data: exp.csv\nseries:\n  biomass: {column: X}\n"
                                       "  glucose: {column: G, species: glc_D_e, molar_mass: 180.156}\n")
    result = runner.invoke(app, args + ["--measured", str(tmp_path / "exp.yaml"), "--match-tolerance", "0.01",
                                        "--resume"])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "2 of 2 models match all 2 series within 1%; best: model" in output
    rows = list(csv.DictReader((tmp_path / "bio" / "fit.csv").open()))
    assert [r["matches_all"] for r in rows] == ["true", "true"] and float(rows[0]["glucose_rel_rms"]) < 1e-3
    assert (tmp_path / "bio" / "fit.png").exists()
    (tmp_path / "exp.yaml").write_text("data: exp.csv\nseries:\n  glucose: {column: G, species: glc_X_e, "
                                       "molar_mass: 180.156}\n")
    result = runner.invoke(app, args + ["--measured", str(tmp_path / "exp.yaml"), "--resume"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "exp.yaml: series 'glucose': species 'glc_X_e' is not in the model" in " ".join(result.output.split())
