"""Training runs on the E. coli model: learning, determinism, resume after SIGKILL, populations, CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from renaissance.cli import app
from renaissance.errors import ParameterFileError, RenaissanceError
from renaissance.generator import load_settings, train
from renaissance.generator.checkpoint import load_checkpoint
from renaissance.generator.population import generate_population
from renaissance.parameterised import read_population
from renaissance.generator.settings import save_settings, shipped_state, with_overrides
from renaissance.generator.training import load_run
from renaissance.parameterised import parameterise
from .oracle_rates import reaction_rates
from renaissance.stability import evaluate_stability
from renaissance.steadystate.table import model_for_state, state_arrays

DATA = Path(__file__).resolve().parents[1] / "src" / "renaissance" / "data"


def fixture_settings():
    """The shipped configuration at the reference fixture state (the named alternative)."""
    settings = load_settings()
    return replace(settings, problem=replace(settings.problem, steady_state=str(shipped_state("fixture"))))


def tiny_settings(generations: int = 4, **nes):
    """The shipped E. coli problem (fixture state) with a small network (fast enough for unit tests)."""
    settings = fixture_settings()
    settings = with_overrides(settings, generator={"latent_dim": 8, "hidden": (16, 16)},
                              nes={"generations": generations, "population": 4, "models_per_child": 10, **nes})
    return replace(settings, final_samples=40)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("tiny_run")
    run = train(tiny_settings(), run_dir)
    return run_dir, run


def test_short_training_raises_incidence(tmp_path):
    """10 generations of the default preset on the fixture state: from 0 valid models and a
    median lambda_max ~2.5e4 1/h to valid models and a median two orders of magnitude lower."""
    settings = replace(with_overrides(fixture_settings(), nes={"generations": 10, "models_per_child": 50}),
                       final_samples=300)
    untrained = train(replace(settings, nes=replace(settings.nes, generations=0)), tmp_path / "untrained")
    trained = train(settings, tmp_path / "trained")
    assert untrained.final_incidence == 0.0
    assert np.nanmedian(untrained.final_lambda_max) > 1e4
    assert trained.final_incidence > untrained.final_incidence
    assert np.nanmedian(trained.final_lambda_max) < np.nanmedian(untrained.final_lambda_max) / 100
    assert trained.history["children_incidence"][-1] > 0 and trained.history["children_incidence"][0] == 0
    # lambda_max in the history is the exact value of every model of every generation
    assert trained.lambda_max.shape == (10, 20 * 50)
    low, high = settings.generator.ln_km_bounds
    assert np.all((trained.final_ln_km >= low) & (trained.final_ln_km <= high))


def test_final_sample_matches_stability_evaluation(tiny_run):
    run_dir, run = tiny_run
    problem = parameterise(run.settings.problem)
    result = evaluate_stability(problem.stability, np.exp(run.final_ln_km))
    np.testing.assert_allclose(result.lambda_max, run.final_lambda_max, rtol=1e-12)
    assert np.array_equal(result.valid, run.final_valid)


def test_same_seed_same_history(tiny_run, tmp_path):
    run_dir, run = tiny_run
    again = train(run.settings, tmp_path / "again")
    assert torch.equal(again.theta, run.theta)
    for column, values in run.history.items():
        if column != "seconds":
            np.testing.assert_array_equal(again.history[column], values)
    other = train(replace(run.settings, seed=1), tmp_path / "other")
    assert not torch.equal(other.theta, run.theta)


def test_existing_run_is_not_overwritten_silently(tiny_run):
    run_dir, run = tiny_run
    with pytest.raises(RenaissanceError, match="holds a training run"):
        train(run.settings, run_dir)


def test_resume_after_sigkill_gives_the_uninterrupted_result(tmp_path):
    settings = tiny_settings(generations=60)
    config = tmp_path / "tiny.toml"
    save_settings(settings, config)
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "renaissance.cli", "train", "--config", str(config),
                             "--out", str(killed), "--no-plots"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    generation = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            generation = load_checkpoint(killed).generation
        except RenaissanceError:
            generation = 0
        if generation >= 5:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read().decode()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stopped_at = load_checkpoint(killed).generation
    assert 5 <= stopped_at < 60  # killed mid-run
    resumed = train(None, killed, resume=True)
    uninterrupted = train(settings, tmp_path / "whole")
    assert torch.equal(resumed.theta, uninterrupted.theta)
    for column, values in uninterrupted.history.items():
        if column != "seconds":
            np.testing.assert_array_equal(resumed.history[column], values)
    np.testing.assert_array_equal(resumed.final_ln_km, uninterrupted.final_ln_km)
    assert not list(killed.glob(".*"))  # no temporary file left behind
    loaded = load_run(killed)
    assert torch.equal(loaded.theta, uninterrupted.theta)


def test_fixed_km_are_sampled_in_their_ranges(tmp_path):
    fixed = tmp_path / "measured.csv"
    fixed.write_text("name,min,max,value,unit\n"
                     "km_substrate_ACONTa,0.5,0.9,,mM\n"
                     "km_substrate_ACONTb,,,0.1,mM\n"
                     "km_substrate_ACONTb,,,0.4,mM\n")
    settings = tiny_settings(generations=2)
    settings = replace(settings, problem=replace(settings.problem, fixed_km=str(fixed)))
    run = train(settings, tmp_path / "run")
    km_names = list(parameterise(settings.problem).stability.km_names)
    a, b = km_names.index("km_substrate_ACONTa"), km_names.index("km_substrate_ACONTb")
    km = np.exp(run.final_ln_km)
    assert np.all((km[:, a] >= 5e-4) & (km[:, a] <= 9e-4))
    assert np.all((km[:, b] >= 1.6e-4) & (km[:, b] <= 2.4e-4))
    assert len(run.free) == len(km_names) - 2 and a not in run.free and b not in run.free


def test_population_file(tiny_run, tmp_path, fixture_state, ecoli_cm):
    run_dir, run = tiny_run
    out = tmp_path / "pop.h5"
    report = generate_population(run_dir, 300, out, seed=3, chunk_size=128)
    pop = read_population(out)
    assert (report.written, report.generated, len(pop)) == (300, 300, 300)
    assert pop.km.shape == (300, 384) and pop.vmax.shape == (300, 123)
    assert pop.km_names == tuple(ecoli_cm.km_names)
    low, high = np.exp(run.settings.generator.ln_km_bounds)
    assert np.all((pop.km >= low * (1 - 1e-12)) & (pop.km <= high * (1 + 1e-12)))
    # the stored lambda_max and validity are those of the stored Km
    problem = parameterise(run.settings.problem)
    again = evaluate_stability(problem.stability, pop.km)
    np.testing.assert_allclose(pop.lambda_max, again.lambda_max, rtol=1e-10)
    assert np.array_equal(pop.valid, again.valid) and report.valid == pop.valid.sum()
    # the back-calculated Vmax reproduce the steady-state fluxes (model units)
    cm = model_for_state(ecoli_cm, fixture_state)
    arrays = state_arrays(cm, fixture_state, run.settings.problem.units)
    ln_k = np.log(pop.km[:10]) + run.settings.problem.units.log_concentration_scale
    rates = reaction_rates(cm, arrays.ln_x, ln_k, pop.vmax[:10])
    np.testing.assert_allclose(rates, np.broadcast_to(arrays.v, rates.shape), rtol=1e-8, atol=1e-6 * np.abs(arrays.v).max())
    # same seed, same population
    generate_population(run_dir, 300, tmp_path / "again.h5", seed=3, chunk_size=128)
    np.testing.assert_array_equal(read_population(tmp_path / "again.h5").km, pop.km)


def test_population_valid_only_and_errors(tmp_path):
    settings = replace(with_overrides(fixture_settings(), nes={"generations": 10, "models_per_child": 50}), final_samples=0)
    run_dir = tmp_path / "run"
    train(settings, run_dir)
    report = generate_population(run_dir, 20, tmp_path / "valid.h5", valid_only=True, chunk_size=200)
    pop = read_population(tmp_path / "valid.h5")
    assert len(pop) == report.written == report.valid == 20 and pop.valid.all()
    assert np.all(pop.lambda_max <= -2.5) and report.generated >= 20
    (tmp_path / "other.h5").write_bytes(b"not hdf5")
    with pytest.raises(ParameterFileError, match="other.h5"):
        read_population(tmp_path / "other.h5")
    with pytest.raises(RenaissanceError, match="not a training run directory"):
        generate_population(tmp_path, 10, tmp_path / "x.h5")


def test_cli_train_and_generate(tmp_path):
    config = tmp_path / "tiny.toml"
    save_settings(tiny_settings(generations=3), config)
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--config", str(config), "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert result.output.count("generator: valid") == 3 and "children (dropout): valid" in result.output
    assert "fresh models valid" in result.output
    for name in ("incidence", "lambda_max", "km"):
        assert (tmp_path / "run" / "figures" / f"{name}.png").stat().st_size > 1000
    result = runner.invoke(app, ["generate", str(tmp_path / "run"), "--n", "50", "--out", str(tmp_path / "p.h5")])
    assert result.exit_code == 0, result.output
    pop = read_population(tmp_path / "p.h5")
    assert len(pop) == 50
    # 3 tiny generations at the fixture state (lambda_max ~1e4): no valid model, and it is said
    assert not pop.valid.any() and "warning: 0 of 50 generated models are valid" in result.output
    result = runner.invoke(app, ["train", "--config", str(config), "--out", str(tmp_path / "run")])
    assert result.exit_code == 1 and "holds a training run" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text('[nes]\ngenerationz = 3\n')
    result = runner.invoke(app, ["train", "--config", str(bad), "--out", str(tmp_path / "bad")])
    assert result.exit_code == 1 and "bad.toml" in result.output and "generationz" in result.output


def test_training_at_a_sampled_state_reports_when_nothing_is_valid(tmp_path, ecoli_cm):
    """A state picked by index from a `renaissance sample` file trains the same way; at this
    state (slow modes, lambda_max ~ -0.3 1/h for random Km) the short run finds no valid model
    and says so."""
    from renaissance.steadystate.constraints import load_constraints
    from renaissance.steadystate.sampler import sample_steady_states
    from renaissance.steadystate.samples_io import write_samples

    sample = sample_steady_states(ecoli_cm, load_constraints(DATA / "ecoli_constraints.yaml", ecoli_cm), n=5, seed=0)
    write_samples(sample, tmp_path / "states.csv")
    settings = tiny_settings(generations=2)
    problem = replace(settings.problem, steady_state=None, states=str(tmp_path / "states.csv"), state_index=3)
    run = train(replace(settings, problem=problem), tmp_path / "run")
    assert run.final_incidence == 0.0
    assert "no valid model was found at this state" in run.summary()
    assert load_run(tmp_path / "run").settings.problem.state_index == 3


def test_generator_incidence_monitor_does_not_change_training(tiny_run, tmp_path):
    run_dir, run = tiny_run
    monitored = run.history["generator_incidence"]
    assert len(monitored) == 4 and np.all((monitored >= 0) & (monitored <= 1))
    assert run.settings.nes.monitor_models == 50
    silent = train(replace(run.settings, nes=replace(run.settings.nes, monitor_models=0)), tmp_path / "silent")
    assert torch.equal(silent.theta, run.theta)
    assert np.isnan(silent.history["generator_incidence"]).all()


# --- target speed and the robustness reward term ----------------------------------------------

def test_target_lambda_is_what_the_reward_counts(tmp_path):
    """With nes.target_lambda the reward sees successes at the target (validity stays at the
    threshold): a recording reward gets the target and lambda_max <= target as its mask."""
    seen = []

    def recording(lam, success, threshold):
        seen.append((threshold, np.array_equal(success, np.isfinite(lam) & (lam <= threshold))))
        return success.mean(axis=1) - np.nanmedian(lam, axis=1) * 1e-6

    run = train(tiny_settings(generations=2, target_lambda=-7.5), tmp_path / "run", reward=recording)
    assert seen == [(-7.5, True), (-7.5, True)]
    assert "target lambda_max <= -7.5 1/h" in run.summary()
    assert run.settings.nes.threshold == -2.5 and run.settings.nes.reward_threshold == -7.5


@pytest.mark.parametrize("nes, message", [
    ({"target_lambda": 0.0}, r"nes.target_lambda == 0.0, must be < 0 and <= nes.threshold \(-2.5 1/h\)"),
    ({"target_lambda": -1.0}, r"nes.target_lambda == -1.0, must be < 0 and <= nes.threshold"),
    ({"target_lambda": "fast"}, r"nes.target_lambda == 'fast', must be a finite number"),
])
def test_bad_targets_are_one_error(nes, message):
    from renaissance.generator.settings import ConfigError, settings_from_dict

    with pytest.raises(ConfigError, match=message) as info:
        settings_from_dict({"problem": {"model": "m.yaml", "steady_state": "s.csv"}, "nes": nes}, source="t.toml")
    assert str(info.value).startswith("t.toml: ")


def test_cli_rejects_bad_target_and_robustness_without_growth(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--target", "1", "--out", str(tmp_path / "a"), "--generations", "1"])
    assert result.exit_code == 1 and "nes.target_lambda == 1.0, must be < 0" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "a").exists()
    result = runner.invoke(app, ["train", "--config", str(DATA / "toy_train.toml"), "--robustness-models", "1",
                                 "--out", str(tmp_path / "toy"), "--generations", "1"])
    assert result.exit_code == 1 and "robustness reward: the model has no growth reaction" in result.output


def test_robustness_scores_on_hand_made_results():
    from renaissance.dynamics.robustness import ModelResult
    from renaissance.generator.robust_reward import first_valid, model_score

    valid = np.array([[False, True, True, True], [False, False, False, False], [True, False, False, True]])
    assert first_valid(valid, 2) == [(0, 1), (0, 2), (2, 0), (2, 3)]
    ok = ModelResult(0, np.array([[[0.001, 0.02, -0.005, 0.5]]]), np.array([[0.004]]), np.array(["ok"], dtype=object),
                     np.array([""], dtype=object), 0.0)
    assert model_score(ok, 0.01) == pytest.approx((1 + 2 / 4) / 2)
    escaped = ModelResult(0, ok.deviation, ok.growth, np.array(["escaped"], dtype=object), ok.escaped, 0.0)
    assert model_score(escaped, 0.01) == 0.0


def test_robustness_reward_at_the_measured_state(tmp_path):
    """The term integrates valid models of each child (at the 0.3 showcase state, where even this
    tiny generator's valid models return within 1%): scores in [0, 1] enter the history, and the
    run is the same for one or two worker processes."""
    from renaissance.generator.settings import shipped_state

    settings = load_settings()
    settings = with_overrides(settings, problem={"steady_state": str(shipped_state("measured"))},
                              generator={"latent_dim": 8, "hidden": (16, 16)},
                              nes={"generations": 3, "population": 4, "models_per_child": 10},
                              robustness={"models_per_child": 1})
    settings = replace(settings, final_samples=20)
    one = train(settings, tmp_path / "one", n_threads=1)
    scores = one.history["robustness_mean"]
    assert np.all((scores >= 0) & (scores <= 1)) and one.history["children_incidence"].max() > 0
    assert scores.max() > 0
    two = train(settings, tmp_path / "two", n_threads=2)
    assert torch.equal(one.theta, two.theta)
    np.testing.assert_array_equal(one.history["robustness_mean"], two.history["robustness_mean"])


def test_checkpoints_of_version_0_2_load_with_renamed_columns(tiny_run, tmp_path):
    """0.2 wrote the children's incidence as history/incidence and had no generator_lambda_q50."""
    run_dir, run = tiny_run
    with np.load(run_dir / "checkpoint.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k not in ("history/generator_lambda_q50", "history/robustness_mean")}
    arrays["history/incidence"] = arrays.pop("history/children_incidence")
    old = tmp_path / "old"
    old.mkdir()
    np.savez(old / "checkpoint.npz", **arrays)
    state = load_checkpoint(old)
    np.testing.assert_array_equal(state.history["children_incidence"], run.history["children_incidence"])
    assert len(state.history["generator_lambda_q50"]) == 4 and np.isnan(state.history["generator_lambda_q50"]).all()
