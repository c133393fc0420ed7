"""Issue 23, item 16: the figures say what they show (whose models, which state and run, how many),
label their lines and bands, use plain tick labels and keep small groups and legends visible.

Every figure is built on small real data (a tiny generator trained on the toy model, its models'
dynamics, a closed two-species bioreactor) and checked on its matplotlib objects."""

from __future__ import annotations

import importlib.util
import tempfile
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import renaissance._plotting as plotting
from renaissance.analysis.km_integration import pca_draw_order, pca_projection, plot_pca
from renaissance.dynamics import bioreactor
from renaissance.dynamics import plots as dynamics_plots
from renaissance.dynamics.bioreactor import ReactorSettings, plot_reactor, simulate_reactor
from renaissance.dynamics.integrate import IntegrationSettings
from renaissance.dynamics.robustness import RobustnessSettings, robustness_problem
from renaissance.generator import plots as generator_plots
from renaissance.generator import train
from renaissance.generator.plots import km_count_note, plot_runs
from renaissance.generator.settings import configured_settings, with_overrides
from renaissance.stability import back_calculate_vmax, prepare_stability
from renaissance.steadystate.table import model_for_state

from .conftest import DATA
from .test_bioreactor import UNITS, _closed_model

ROOT = Path(__file__).resolve().parents[1]
MINUS = "\N{MINUS SIGN}"


# --------------------------------------------------------------------------- shared data


@pytest.fixture(scope="module")
def toy_run():
    """A tiny generator trained 6 generations on the toy model (its children's lambda_max span
    about -70 to +100 1/h) with 60 final models."""
    settings = configured_settings(model=DATA / "toy_model.yaml", state=DATA / "toy_steady_state.csv")
    settings = with_overrides(settings, generator={"latent_dim": 4, "hidden": (8, 8)},
                              nes={"generations": 6, "population": 6, "models_per_child": 20, "monitor_models": 20})
    with tempfile.TemporaryDirectory() as run_dir:
        return train(replace(settings, final_samples=60), run_dir)


@pytest.fixture
def figures(monkeypatch):
    """{file stem: figure} of every figure saved while the test runs (saved as usual too)."""
    saved = {}
    original = plotting.save_figure

    def capture(fig, stem):
        saved[Path(stem).name] = fig
        return original(fig, stem)

    for module in (plotting, generator_plots, dynamics_plots, bioreactor):
        monkeypatch.setattr(module, "save_figure", capture)
    saved["_capture"] = capture
    return saved


def _tick_texts(axis) -> list[str]:
    """The drawn major tick labels of ``axis`` (after the figure was rendered)."""
    axis.figure.canvas.draw()
    return [t.get_text() for t in axis.get_ticklabels() if t.get_text()]


def _assert_plain(texts: list[str]) -> None:
    """No mathtext powers (``−10^{1}``, ``2×10^0``) among tick labels."""
    assert texts
    assert not [t for t in texts if "^" in t or "$" in t or "\N{MULTIPLICATION SIGN}" in t], texts


def _legend_texts(legend) -> list[str]:
    return [t.get_text() for t in legend.get_texts()]


# --------------------------------------------------------------------------- training figures


def test_lambda_max_names_the_childrens_models_and_has_plain_symlog_ticks(toy_run, figures, tmp_path):
    paths = plot_runs([toy_run], tmp_path)
    assert {p.name for p in paths} >= {"lambda_max.png", "km.png", "incidence.png"}
    ax = figures["lambda_max"].axes[0]
    title = ax.get_title()
    assert "children's models during training (dropout 0.5), not the generator's own" in title
    assert "6 children x 20 models per generation" in title
    assert "toy_model at toy_steady_state.csv: default preset, seed 0, 6 generations" in title
    assert ax.get_xscale() == "symlog"
    ticks = _tick_texts(ax.xaxis)
    _assert_plain(ticks)
    assert {f"{MINUS}10", f"{MINUS}1", "0", "1", "10"} <= set(ticks)
    assert f"threshold {MINUS}2.5 1/h" in _legend_texts(ax.get_legend())
    assert "toy_steady_state.csv" in figures["incidence"]._suptitle.get_text()


def test_wide_lambda_max_ticks_read_1e4_and_the_caller_title_is_used(toy_run, figures, tmp_path):
    rng = np.random.default_rng(0)
    wide = replace(toy_run, lambda_max=np.vstack([rng.normal(3e4, 8e3, 300), -rng.lognormal(3, 0.5, 300)]))
    plot_runs([wide], tmp_path, title="runs/toy at toy_steady_state.csv")
    ax = figures["lambda_max"].axes[0]
    ticks = _tick_texts(ax.xaxis)
    _assert_plain(ticks)
    assert {"1e4", f"{MINUS}100"} <= set(ticks)
    assert ax.get_title().startswith("runs/toy at toy_steady_state.csv\n")


def test_km_figure_labels_its_bounds_and_explains_the_count(toy_run, figures, tmp_path):
    plot_runs([toy_run], tmp_path)
    fig = figures["km"]
    texts = _legend_texts(fig.axes[0].get_legend())
    assert f"lower Km bound 1.3e{MINUS}6 mol/L" in texts and "upper Km bound 0.02 mol/L" in texts
    low, high = toy_run.settings.generator.ln_km_bounds
    labelled = {line.get_label(): line.get_ydata()[0] for line in fig.axes[0].get_lines()}
    assert labelled["lower Km bound 1.3e\N{MINUS SIGN}6 mol/L"] == low and labelled["upper Km bound 0.02 mol/L"] == high
    title = fig._suptitle.get_text()
    assert "18 of the model's 20 Km: those the generator emits that enter a rate law" in title
    assert "(2 emitted Km enter no rate law)" in title and "toy_steady_state.csv" in title


def test_km_count_of_the_ecoli_model_explains_358_of_384(ecoli_cm):
    """The README's 384 Km and the figure's 358: 26 enter no rate law; fixed Km are counted apart."""
    everything = SimpleNamespace(used=np.asarray(ecoli_cm.km_used), free=np.arange(len(ecoli_cm.km_names)))
    assert km_count_note(everything) == ("358 of the model's 384 Km: those the generator emits that enter a rate "
                                         "law (26 emitted Km enter no rate law)")
    used = np.flatnonzero(everything.used)
    fixed = SimpleNamespace(used=everything.used, free=np.setdiff1d(everything.free, used[:4]))  # 4 held fixed
    assert km_count_note(fixed).endswith("(26 emitted Km enter no rate law; 4 are fixed (not emitted))")
    assert km_count_note(fixed).startswith("354 of the model's 384 Km")


# --------------------------------------------------------------------------- trajectories


@pytest.fixture(scope="module")
def toy_dynamics(toy_run, toy_cm, toy_state):
    """The toy model's robustness problem and three valid models (Km mol/L, Vmax)."""
    problem = robustness_problem(model_for_state(toy_cm, toy_state), toy_state)
    ln_km = toy_run.final_ln_km[toy_run.final_valid][:3]
    return problem, np.exp(ln_km), back_calculate_vmax(prepare_stability(toy_cm, toy_state), ln_km)


def test_trajectories_legend_outside_explained_band_and_count(toy_dynamics, figures, tmp_path):
    problem, km, vmax = toy_dynamics
    settings = RobustnessSettings()
    dynamics_plots.plot_trajectories(problem, km, vmax, [0, 1, 2], ["atp_c", "pyr_c"], settings, tmp_path,
                                     n_points=40, n_population=60, title="toy population at toy_steady_state.csv")
    fig = figures["trajectories"]
    title = fig._suptitle.get_text()
    assert title.startswith("toy population at toy_steady_state.csv\n") and "3 of 60 models" in title
    assert all(ax.get_legend() is None for ax in fig.axes) and len(fig.legends) == 1
    texts = _legend_texts(fig.legends[0])
    assert "model 0 (ok)" in texts and "check times: 24, 34 min" in texts
    assert f"returned: |x/x* {MINUS} 1| \N{LESS-THAN OR EQUAL TO} 1%" in texts
    fig.canvas.draw()
    box = fig.legends[0].get_window_extent()
    assert not any(box.overlaps(ax.get_window_extent()) for ax in fig.axes)  # off the curves
    for ax in fig.axes:
        _assert_plain(_tick_texts(ax.xaxis))
        _assert_plain(_tick_texts(ax.yaxis))
    assert (tmp_path / "trajectories.png").exists()


def test_trajectories_default_title_names_the_model(toy_dynamics, figures, tmp_path):
    problem, km, vmax = toy_dynamics
    dynamics_plots.plot_trajectories(problem, km[:1], vmax[:1], [7], ["atp_c"], RobustnessSettings(), tmp_path,
                                     n_points=20)
    title = figures["trajectories"]._suptitle.get_text()
    assert title.startswith("model toy_glycolysis\n1 model:") and "perturbation" in title


def test_log_ticks_within_a_decade_are_plain_steps():
    ax = plotting.pyplot().figure().add_subplot()
    ax.plot([1, 2], [0.95, 1.02])
    ax.set_yscale("log")
    plotting.readable_log_ticks(ax.yaxis)
    ticks = _tick_texts(ax.yaxis)
    _assert_plain(ticks)
    assert "1" in ticks and len(ticks) >= 3
    assert [plotting.plain_number(v) for v in (1e-4, -1e5, 2.5, 1e-6)] == [f"1e{MINUS}4", f"{MINUS}1e5", "2.5",
                                                                             f"1e{MINUS}6"]


# --------------------------------------------------------------------------- bioreactor


@pytest.fixture(scope="module")
def reactor_runs():
    """Five closed-reactor models (a_e -> a_c -> b_c -> b_e) with rate constants 0.3x to 3x."""
    cm = _closed_model()
    st = cm.structure
    settings = ReactorSettings(medium={"a_e": 1e-3, "b_e": 1e-6}, initial_conditions="initial_medium",
                               growth_reaction="AB", growth_scaling=0.0, volume_l=1e-6, biomass_g_per_l=1.0,
                               cell_dry_mass_g=1e-12, hours=5.0, integration=IntegrationSettings(method="BDF"))
    ln_x = np.log([1e-5 if s.endswith("_c") else 1e-6 for s in st.variables + st.boundary]) + UNITS.log_concentration_scale
    return [simulate_reactor(cm, ln_x, np.ones(0), np.array([5e4, 2e4, 3e4]) * f, settings, UNITS,
                             np.linspace(0, 5, 11), i) for i, f in enumerate(np.geomspace(0.3, 3, 5))]


def test_bioreactor_one_colour_per_model_legend_and_title(reactor_runs, figures, tmp_path):
    plot_reactor(reactor_runs, tmp_path, highlight=(1, 3), report={"a_e": "a", "b_e": "b"},
                 title="closed model at its initial medium")
    fig = figures["bioreactor"]
    lines = fig.axes[1].get_lines()
    assert len({tuple(line.get_color()) for line in lines}) == len(reactor_runs) == 5
    assert [line.get_linewidth() for line in lines] == [1.0, 2.4, 1.0, 2.4, 1.0]
    texts = _legend_texts(fig.legends[0])
    assert texts[:2] == ["model 0", "model 1, matching the measured fermentation"] and len(texts) == 5
    title = fig._suptitle.get_text()
    assert title == ("closed model at its initial medium\n5 models over 5 h; thick lines: 2 models matching the "
                     "measured fermentation")


def test_bioreactor_many_models_use_a_colormap_and_a_short_legend(reactor_runs, figures, tmp_path):
    runs = [replace(reactor_runs[i % 5], model=i) for i in range(20)]
    plot_reactor(runs, tmp_path, highlight=(4,))
    fig = figures["bioreactor"]
    assert len({tuple(line.get_color()) for line in fig.axes[0].get_lines()}) == 20
    assert _legend_texts(fig.legends[0]) == ["model 4, matching the measured fermentation",
                                             "19 other models (colour: order, viridis)"]
    assert fig._suptitle.get_text().startswith("batch bioreactor\n20 models over 5 h")


# --------------------------------------------------------------------------- tradeoff benchmark


@pytest.fixture(scope="module")
def bench_tradeoff():
    spec = importlib.util.spec_from_file_location("bench_tradeoff", ROOT / "benchmarks" / "bench_tradeoff.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tradeoff_methods_are_markers_not_joined(bench_tradeoff, toy_run, toy_dynamics, toy_cm, toy_state,
                                                 monkeypatch, figures, tmp_path):
    problem = toy_dynamics[0]
    stability = prepare_stability(toy_cm, toy_state)
    ln_km, lam = toy_run.final_ln_km[toy_run.final_valid], toy_run.final_lambda_max[toy_run.final_valid]
    settings = RobustnessSettings(times_min=(0.1, 2.0))
    labels = ("search, iteration 5", "search, iteration 10", "population runs/toy/population.h5")
    rows = [bench_tradeoff.study_row(label, problem, stability, ln_km[2 * i:2 * i + 2], lam[2 * i:2 * i + 2],
                                     settings, 1) for i, label in enumerate(labels)]
    monkeypatch.setattr(bench_tradeoff, "save_figure", figures["_capture"])
    bench_tradeoff.plot_tradeoff(rows, settings.times_min, tmp_path, "state toy_steady_state.csv")
    fig = figures["tradeoff"]
    for ax in fig.axes:
        lines = ax.get_lines()
        assert len(lines) == 3 * 2  # methods x groups (the toy model: ATP, cytosolic)
        assert all(line.get_linestyle() == "None" and len(line.get_xdata()) == 1 for line in lines)
        assert len({line.get_marker() for line in lines}) == 3
    groups, methods = (_legend_texts(legend) for legend in fig.legends)
    assert groups == ["ATP", "cytosolic"] and methods == [f"{label} (n=2)" for label in labels]
    assert fig._suptitle.get_text() == "state toy_steady_state.csv"


# --------------------------------------------------------------------------- km-integration PCA


def test_pca_draws_local_above_control(toy_run, figures, tmp_path):
    ln_km = toy_run.final_ln_km[:, toy_run.used]
    rng = np.random.default_rng(0)
    local = ln_km[30:45]
    control = np.vstack([ln_km[30:60] + rng.normal(0, 0.3, (30, ln_km.shape[1])) for _ in range(4)])
    projections = pca_projection(ln_km[:30], [local, ln_km[30:60], control])
    labels = ["baseline", "local", "subsystem", "control"]
    assert pca_draw_order(projections) == [3, 0, 2, 1]
    plot_pca(projections, labels, tmp_path / "pca", title="model toy_glycolysis at toy_steady_state.csv")
    ax = figures["pca"].axes[0]
    by_label = {c.get_label().split(" (")[0]: c for c in ax.collections}
    assert by_label["local"].get_zorder() > by_label["control"].get_zorder()
    assert by_label["local"].get_alpha() > by_label["control"].get_alpha()
    assert by_label["local"].get_sizes()[0] > by_label["control"].get_sizes()[0]
    paths = {label: c.get_paths()[0].vertices.tobytes() for label, c in by_label.items()}
    assert len(set(paths.values())) == 4  # one marker shape each
    assert _legend_texts(ax.get_legend()) == ["baseline (30 models)", "local (15 models)", "subsystem (30 models)",
                                              "control (120 models)"]
    assert ax.get_title().startswith("model toy_glycolysis at toy_steady_state.csv\n")
    assert (tmp_path / "pca.png").exists()
