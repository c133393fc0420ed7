"""Landscape of steady states: per-state score, classification, streaming/resume, Ray, ranges, maps."""

from __future__ import annotations

import csv
import dataclasses

import numpy as np
import pytest
from typer.testing import CliRunner

from renaissance.analysis.landscape import (
    COLUMNS, LandscapeSettings, dominant_species, failure_reason, landscape_study, load_landscape_settings,
    read_landscape, score_state,
)
from renaissance.analysis.maps import StateMatrix, neighbour_agreement, pca_features, polar_transform, tsne_embedding
from renaissance.analysis.ranges import auc_below, best_threshold, separating_ranges
from renaissance.analysis.report import constrain
from renaissance.analysis.search import SearchSettings
from renaissance.cli import app
from renaissance.plumbing.resumable import ResumeError
from renaissance.errors import RenaissanceError
from renaissance.config import ConfigError
from renaissance.steadystate import SteadyState, TFASettings, read_steady_state
from renaissance.steadystate.constraints import ECOLI_CONSTRAINTS, read_constraints

from .conftest import FIXTURES

CHEAP = LandscapeSettings(search=SearchSettings(iterations=2, sets_per_iteration=20), robustness_models=0)


@pytest.fixture(scope="module")
def slow_state():
    """A sampled state whose slowest mode (ethanol) no Km set makes fast (fixtures README)."""
    return read_steady_state(FIXTURES / "slow_state.csv")


def _strip_seconds(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_landscape_classifies_admitting_slow_and_invalid_states(ecoli_cm, fixture_state, slow_state):
    fluxes = dict(fixture_state.fluxes)
    fluxes["PGI"] = -fluxes["PGI"]  # breaks mass balance and the second law
    broken = SteadyState(fixture_state.concentrations, fluxes, "broken state")
    settings = LandscapeSettings()
    fast = score_state(ecoli_cm, fixture_state, 0, settings)
    slow = score_state(ecoli_cm, slow_state, 1, settings)
    invalid = score_state(ecoli_cm, broken, 2, settings)

    assert fast["admits"] and fast["reason"] == ""
    assert fast["best_lambda_max"] < -20  # valid models of this state sit at -29 ... -44 1/h
    assert fast["dominant_species"].startswith("ac_c:")  # acetate's slow mode (DESIGN.md section 3)
    assert fast["robust_models"] == 4 and 0.0 <= fast["robust_fraction"] <= 0.5  # 9% return at this state

    assert not slow["admits"] and slow["reason"] == "slow_mode"
    assert -0.5 < slow["best_lambda_max"] < 0 and slow["first_lambda_max"] >= slow["best_lambda_max"]
    assert slow["dominant_species"].split(":")[0] == "etoh_c" and float(slow["dominant_species"][7:11]) > 0.9
    assert slow["robust_fraction"] == "" and slow["evaluations"] == 1200

    assert not invalid["admits"] and invalid["reason"] == "invalid_state" and "PGI" in invalid["detail"]


def test_failure_reasons_and_dominant_species():
    assert failure_reason(-1.0, -0.2) == "slow_mode"
    assert failure_reason(2e8, 2.0001e8) == "km_independent_unstable_mode"
    assert failure_reason(10.0, 3e3) == "unstable_mode"
    assert failure_reason(np.inf, np.inf) == "no_finite_lambda_max"
    J = np.array([[-10.0, 0.0, 0.0], [0.0, -0.5, 0.0], [0.0, 0.0, -3.0]])
    assert dominant_species(J, ["a", "b", "c"]) == "b:1.00;a:0.00;c:0.00"
    v = np.array([0.6, 0.8])  # eigenvector of the unstable eigenvalue 1 of a 2 x 2 matrix
    J = np.outer(v, v) * 2.0 - np.eye(2)
    assert dominant_species(J, ["h_c", "h_p"]) == "h_p:0.64;h_c:0.36"


def test_resume_after_interruption_gives_the_same_table(ecoli_cm, fixture_state, slow_state, tmp_path):
    states = [fixture_state, slow_state, fixture_state]
    full = landscape_study(ecoli_cm, states, CHEAP, tmp_path / "full", n_workers=0)
    path = tmp_path / "cut" / "landscape.csv"
    landscape_study(ecoli_cm, states[:2], CHEAP, tmp_path / "cut", n_workers=0)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:2]) + lines[2][:20])  # killed while writing state 1
    with pytest.raises(RenaissanceError, match="resume"):
        landscape_study(ecoli_cm, states, CHEAP, tmp_path / "cut", n_workers=0)
    cut_table = path.read_text()
    with pytest.raises(ResumeError, match=r"cut: cannot resume: settings differ from the saved run \(seed 0 -> 1\); "
                                          "use another directory$"):
        landscape_study(ecoli_cm, states, dataclasses.replace(CHEAP, seed=1), tmp_path / "cut", n_workers=0, resume=True)
    assert path.read_text() == cut_table  # refused before anything was read back or rewritten
    seen = []
    resumed = landscape_study(ecoli_cm, states, CHEAP, tmp_path / "cut", n_workers=0, resume=True,
                              on_state=lambda row: seen.append(row["state"]))
    assert seen == [1, 2]  # state 0 was kept
    assert _strip_seconds(resumed.rows) == _strip_seconds(full.rows)
    assert _strip_seconds(read_landscape(tmp_path / "cut").rows) == _strip_seconds(full.rows)
    assert np.all(np.isfinite(resumed.column("best_lambda_max"))) and resumed.column("evaluations").tolist() == [40.0] * 3


def test_ray_workers_give_the_same_table_as_one_process(ecoli_cm, fixture_state, slow_state, tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is a dependency; this environment lacks it")
    states = [slow_state, fixture_state, slow_state, fixture_state]
    local = landscape_study(ecoli_cm, states, CHEAP, tmp_path / "local", n_workers=0)
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=128 * 1024**2)
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"a local Ray instance could not start here: {exc!r}")
    try:
        distributed = landscape_study(ecoli_cm, states, CHEAP, tmp_path / "ray", n_workers=2)
    finally:
        ray.shutdown()
    assert _strip_seconds(distributed.rows) == _strip_seconds(local.rows)


def test_landscape_settings_file(tmp_path):
    path = tmp_path / "landscape.toml"
    path.write_text("seed = 3\n[search]\niterations = 5\nkm_bounds = [1e-6, 1e-2]\n[robustness]\nmodels = 2\n")
    settings = load_landscape_settings(path)
    assert settings.seed == 3 and settings.search.iterations == 5 and settings.robustness_models == 2
    assert settings.search.ln_km_bounds == pytest.approx((np.log(1e-6), np.log(1e-2)))
    path.write_text("[robustness]\nmodel = 2\n")
    with pytest.raises(ConfigError, match=r"landscape.toml.*model"):
        load_landscape_settings(path)


def _matrix(ln_x: np.ndarray, dg: np.ndarray) -> StateMatrix:
    return StateMatrix(tuple(f"m{i}" for i in range(ln_x.shape[1])), tuple(f"r{i}" for i in range(dg.shape[1])),
                       ln_x, np.zeros((len(ln_x), dg.shape[1])), dg)


def test_separating_ranges_find_a_planted_threshold():
    rng = np.random.default_rng(0)
    ln_x = np.log(rng.uniform(1e-4, 1e-2, size=(400, 3)))
    positive = np.exp(ln_x[:, 1]) < 2e-3  # m1 below 2 mM <=> fast
    dg = np.c_[rng.normal(size=400), np.where(positive, -1.0, 1.0) + 0.1 * rng.normal(size=400)]
    ranking = separating_ranges(_matrix(ln_x, dg), positive)
    top = {s.feature: s for s in ranking[:2]}
    assert set(top) == {"m1", "r1"}
    assert top["m1"].auc == 1.0 and top["m1"].direction == "below" and top["m1"].balanced_accuracy == 1.0
    assert 1.9e-3 < top["m1"].threshold < 2.1e-3
    assert top["m1"].positive_quantiles[2] < 2e-3 < top["m1"].negative_quantiles[0]
    assert top["r1"].direction == "below" and top["r1"].kind == "dg_rt"
    assert abs(ranking[-1].auc - 0.5) < 0.1  # noise features rank last
    assert "m1 below 2" in top["m1"].describe()
    # turnover rates: the slowest pool decides (positives: every pool turned over faster than 3 1/h)
    turnover = rng.uniform(1.0, 10.0, size=(400, 2))
    fast_pools = turnover.min(axis=1) > 3.0
    with_turnover = dataclasses.replace(_matrix(ln_x, dg), balanced=("a", "b"), turnover=turnover)
    ranking = separating_ranges(with_turnover, fast_pools)
    assert (ranking[0].kind, ranking[0].feature, ranking[0].direction) == ("turnover", "slowest pool", "above")
    assert ranking[0].auc == 0.0 and 2.9 < ranking[0].threshold < 3.1
    assert ranking[0].describe().startswith("turnover of slowest pool above 2.99 1/h")
    with pytest.raises(ValueError, match="cannot be imposed"):
        constrain(TFASettings(growth_reaction="R"), [ranking[0]])


def test_auc_and_threshold_on_hand_values():
    values = np.array([1.0, 2.0, 3.0, 4.0])
    assert auc_below(values, np.array([True, True, False, False])) == 1.0
    assert auc_below(values, np.array([False, False, True, True])) == 0.0
    assert auc_below(values, np.array([True, False, True, False])) == 0.75
    assert best_threshold(values, np.array([False, False, True, True])) == (2.5, "above", 1.0)
    assert best_threshold(values, np.array([True, False, False, False])) == (1.5, "below", 1.0)


def test_polar_map_and_neighbourhoods():
    rng = np.random.default_rng(1)
    clusters = np.r_[rng.normal(0, 1, size=(40, 5)), rng.normal(8, 1, size=(40, 5))]
    labels = np.r_[np.ones(40, bool), np.zeros(40, bool)]
    features = pca_features(_matrix(clusters, np.zeros((80, 0))), variance=0.9)
    assert features.shape[0] == 80 and 2 <= features.shape[1] <= 5
    embedding = tsne_embedding(features, seed=0)
    np.testing.assert_array_equal(embedding, tsne_embedding(features, seed=0))  # seeded
    theta, r = polar_transform(embedding)
    assert np.all((theta >= -np.pi) & (theta <= np.pi))
    np.testing.assert_allclose(np.sort(r), np.sqrt(np.arange(1, 81) / 80))
    observed, expected = neighbour_agreement(embedding, labels)
    assert observed > 0.95 and expected == pytest.approx(0.5)


def test_constrain_imposes_ranges_and_their_complements():
    base = read_constraints(ECOLI_CONSTRAINTS).without_measurements()
    ranking = separating_ranges(_matrix(np.log(np.c_[np.linspace(1e-4, 1e-2, 50)]), np.zeros((50, 0))),
                                np.arange(50) < 20)
    s = ranking[0]
    inside = constrain(base, [s], supporting=True)
    outside = constrain(base, [s], supporting=False)
    assert inside.species_bounds["m0"] == (base.concentration_bounds[0], s.threshold)
    assert outside.species_bounds["m0"] == (s.threshold, base.concentration_bounds[1])
    dg = dataclasses.replace(s, feature="ATPS4rpp", kind="dg_rt", threshold=0.05)
    assert constrain(base, [dg]).dg_bounds["ATPS4rpp"] == (base.dg_bounds["ATPS4rpp"][0], 0.05)


def test_landscape_and_check_commands(tmp_path):
    runner = CliRunner()
    states = tmp_path / "states.csv"
    result = runner.invoke(app, ["sample", "--n", "12", "--out", str(states), "--seed", "3"])
    assert result.exit_code == 0, result.output
    config = tmp_path / "cheap.toml"
    config.write_text("[search]\niterations = 3\nsets_per_iteration = 20\nthreshold = -1.5\n[robustness]\nmodels = 1\n")
    out = tmp_path / "landscape"
    result = runner.invoke(app, ["landscape", "--states", str(states), "--config", str(config), "--out", str(out),
                                 "--workers", "0"])
    assert result.exit_code == 0, result.output
    assert "of 12 states" in result.output and "projection for 5,000 states" in result.output
    rows = list(csv.DictReader((out / "landscape.csv").open()))
    assert [int(r["state"]) for r in rows] == list(range(12)) and list(rows[0]) == list(COLUMNS)
    for name in ("ranges.csv", "map.png", "map.svg", "embedding.csv", "landscape.toml"):
        assert (out / name).exists(), name
    admits = [r["admits"] == "true" for r in rows]
    assert 0 < sum(admits) < len(admits)  # both classes (threshold -1.5 with this budget: 6 of 12)
    result = runner.invoke(app, ["landscape-check", str(out), "--n", "4", "--workers", "0"])
    assert result.exit_code == 0, result.output
    assert "inside" in result.output and "outside" in result.output
    for case in ("check_inside", "check_outside"):
        assert len(list(csv.DictReader((out / case / "landscape.csv").open()))) == 4
    top = next(r for r in csv.DictReader((out / "ranges.csv").open())
               if r["question"] == "fast" and r["kind"] in ("concentration", "dg_rt"))
    column = ("concentration:" if top["kind"] == "concentration" else "dg_rt:") + top["feature"]
    threshold, below = float(top["threshold"]), top["direction"] == "below"
    for case, inside in (("check_inside", True), ("check_outside", False)):
        values = [float(r[column]) for r in csv.DictReader((out / case / "states.csv").open())]
        assert all((v <= threshold * (1 + 1e-6)) == (below == inside) for v in values), (case, column, values)
    result = runner.invoke(app, ["landscape", "--states", str(states), "--config", str(config), "--out", str(out),
                                 "--workers", "0"])
    assert result.exit_code == 1 and "--resume" in result.output
