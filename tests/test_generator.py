"""Generator networks, NES, rewards, settings and fixed Km (training runs: test_training.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import expit

from renaissance.errors import ParameterFileError, RenaissanceError
from renaissance.parameterised.fixed import read_fixed_km
from renaissance.generator.training import sample_fixed_ln_km
from renaissance.generator.nes import nes_update, sample_noise
from renaissance.generator.network import forward, init_parameters, network_layout, to_ln_km
from renaissance.stability.rewards import (
    fast_dynamics_reward, incidence_reward, rank_incidence_reward, resolve_reward, shape_rewards,
)
from renaissance.generator.settings import (
    PRESETS, ConfigError, GeneratorSettings, load_settings, save_settings, settings_from_dict,
)


# --- NES on an objective with a known optimum -------------------------------------------------

@pytest.mark.parametrize("shaping, antithetic", [("zscore", False), ("centered_rank", True)])
def test_nes_converges_to_known_optimum(shaping, antithetic):
    """Maximise -|theta - target|^2 in 50 dimensions with a decaying learning rate (as in
    training): the distance to the optimum shrinks at least 50-fold."""
    rng = torch.Generator().manual_seed(0)
    target = torch.linspace(-1, 1, 50)
    theta = torch.zeros(50)
    start = float(torch.linalg.norm(theta - target))
    lr, sigma = 0.05, 0.05
    for _ in range(300):
        eps = sample_noise(50, 20, antithetic, rng)
        rewards = -((theta + sigma * eps - target) ** 2).sum(dim=1).numpy()
        theta = nes_update(theta, eps, shape_rewards(rewards, shaping), lr, sigma)
        lr *= 1 - 0.02
    assert float(torch.linalg.norm(theta - target)) < start / 50


def test_antithetic_noise_is_mirrored():
    eps = sample_noise(7, 6, True, torch.Generator().manual_seed(1))
    assert torch.equal(eps[3:], -eps[:3])


def test_nes_update_formula():
    theta = torch.tensor([1.0, 2.0])
    eps = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    new = nes_update(theta, eps, np.array([0.5, -0.5]), learning_rate=0.1, sigma=0.5)
    # theta + 0.1 / (2 * 0.5) * (0.5 * [1, 0] - 0.5 * [0, 2])
    assert torch.allclose(new, torch.tensor([1.05, 1.9]))


# --- rewards -----------------------------------------------------------------------------------

def test_incidence_reward_and_fallback():
    lam = np.array([[-3.0, -2.5, 1.0, 2.0], [5.0, 6.0, 7.0, 8.0], [1e4, 2e4, 3e4, np.nan]])
    valid = lam <= -2.5
    r = incidence_reward(lam, valid, -2.5)
    assert r[0] == 0.5
    assert r[1] == pytest.approx(0.01 * expit(-2.5 - 5.0), rel=1e-12)
    assert r[2] == 0.0  # the paper's fallback underflows far from the threshold
    assert r[1] < 0.01 < r[0]


def test_fast_dynamics_reward():
    lam = np.tile(np.arange(-20.0, 80.0), (2, 1))  # 100 models per child
    lam[1, :5] = np.nan  # missing values are never among the fastest
    r = fast_dynamics_reward(lam, lam <= -2.5, -2.5)
    assert r[0] == pytest.approx(0.5 * math.exp(-0.1 * np.mean(np.arange(-20.0, -10.0))))
    assert r[1] == pytest.approx(0.5 * math.exp(-0.1 * np.mean(np.arange(-15.0, -5.0))))


def test_rank_incidence_reward_by_hand():
    lam = np.array([[1e4, -3.0], [2e4, np.nan]])
    valid = np.array([[False, True], [False, False]])
    # ascending ranks: -3 -> 0, 1e4 -> 1, 2e4 -> 2, NaN (last) -> 3; score = 1 - rank / 3
    r = rank_incidence_reward(lam, valid, -2.5)
    assert r == pytest.approx([(2 / 3 + 1) / 2 + 0.5, (1 / 3 + 0) / 2])


def test_rank_reward_orders_children_when_all_unstable():
    lam = np.array([[3e4, 2.9e4], [1.1e4, 1.2e4]])
    r = rank_incidence_reward(lam, lam <= -2.5, -2.5)
    assert r[1] > r[0]  # incidence is 0 for both, yet the faster child wins
    assert np.all(incidence_reward(lam, lam <= -2.5, -2.5) == 0.0)


def test_shape_rewards():
    r = np.array([3.0, 1.0, 2.0, 2.0])
    assert shape_rewards(r, "centered_rank") == pytest.approx([0.5, -0.5, 0.0, 0.0])
    z = shape_rewards(r, "zscore")
    assert z.mean() == pytest.approx(0.0) and z.std() == pytest.approx(1.0)
    assert np.all(shape_rewards(np.zeros(5), "zscore") == 0.0)  # the paper's empty update
    with pytest.raises(RenaissanceError, match="finite"):
        shape_rewards(np.array([1.0, np.nan]), "zscore")


def test_resolve_reward():
    assert resolve_reward("incidence") is incidence_reward
    name = "renaissance.stability.rewards:fast_dynamics_reward"
    assert resolve_reward(name, allow_import=True) is fast_dynamics_reward
    assert resolve_reward(name, allow_import=["renaissance.stability.rewards"]) is fast_dynamics_reward
    with pytest.raises(RenaissanceError, match="would import and run Python module"):
        resolve_reward(name)  # a module reward needs the opt-in (issue 23)
    custom = lambda lam, valid, threshold: valid.sum(axis=1)  # noqa: E731
    assert resolve_reward(custom) is custom
    with pytest.raises(RenaissanceError, match="unknown"):
        resolve_reward("speed")
    with pytest.raises(RenaissanceError, match="cannot import"):
        resolve_reward("renaissance.stability.rewards:nothing", allow_import=True)


# --- network --------------------------------------------------------------------------------------

def test_network_shapes_and_bounds():
    settings = GeneratorSettings(latent_dim=5, hidden=(8, 6), dropout=0.5, offset_gain=50.0)
    layout = network_layout(settings, n_out=4)
    assert layout.size == (5 + 1) * 8 + (8 + 1) * 6 + (6 + 1) * 4 + 4
    theta = init_parameters(layout, torch.Generator().manual_seed(0))
    assert torch.all(theta[layout.offset] == 0)
    theta[layout.offset] = torch.tensor([1.0, -1.0, 0.0, 0.1])  # x50: deep into tanh saturation
    z = torch.randn(3, 10, 5, generator=torch.Generator().manual_seed(1))
    a = forward(theta.expand(3, -1), z, layout, settings, torch.Generator().manual_seed(2))
    assert a.shape == (3, 10, 4)
    ln_km = to_ln_km(a, settings)
    low, high = settings.ln_km_bounds
    assert ln_km.dtype == torch.float64
    assert torch.all((ln_km >= low) & (ln_km <= high))
    assert torch.allclose(ln_km[..., 0], torch.tensor(high, dtype=torch.float64))  # saturated high
    assert torch.allclose(ln_km[..., 1], torch.tensor(low, dtype=torch.float64))


def test_dropout_only_in_training():
    settings = GeneratorSettings(latent_dim=3, hidden=(32,), dropout=0.5)
    layout = network_layout(settings, n_out=2)
    theta = init_parameters(layout, torch.Generator().manual_seed(0))[None]
    z = torch.randn(1, 4, 3, generator=torch.Generator().manual_seed(1))
    eval_a, eval_b = forward(theta, z, layout, settings), forward(theta, z, layout, settings)
    assert torch.equal(eval_a, eval_b)
    train_a = forward(theta, z, layout, settings, torch.Generator().manual_seed(3))
    assert not torch.equal(train_a, eval_a)


def test_batch_minmax_mapping_spans_bounds():
    settings = GeneratorSettings(mapping="batch_minmax", ln_km_bounds=(-25.0, 3.0))
    a = torch.randn(2, 50, 7, generator=torch.Generator().manual_seed(0))
    ln_km = to_ln_km(a, settings)
    for child in ln_km:
        assert child.min() == pytest.approx(-25.0) and child.max() == pytest.approx(3.0)


# --- settings --------------------------------------------------------------------------------------

def test_shipped_config_and_toml_round_trip(tmp_path):
    settings = load_settings()
    assert settings.preset == "default" and settings.nes.generations == 50
    assert settings.generator.ln_km_bounds == pytest.approx((math.log(1.3e-6), math.log(2e-2)))
    save_settings(settings, tmp_path / "c.toml")
    assert load_settings(tmp_path / "c.toml") == settings


def test_paper_preset_values():
    base = {"problem": {"model": "m.yaml", "steady_state": "s.csv"}}
    paper = settings_from_dict({**base, "preset": "paper"})
    assert (paper.nes.sigma, paper.nes.learning_rate, paper.nes.lr_decay) == (0.01, 1e-3, 0.05)
    assert (paper.nes.population, paper.nes.models_per_child, paper.generator.latent_dim) == (20, 100, 99)
    assert paper.generator.hidden == (256, 512, 1024) and paper.generator.dropout == 0.5
    assert paper.generator.mapping == "batch_minmax" and paper.nes.reward == "incidence"
    assert paper.nes.shaping == "zscore"
    ref = settings_from_dict({**base, "generator": {"ln_km_bounds": [-25.0, 3.0]}})
    assert ref.generator.ln_km_bounds == (-25.0, 3.0)
    assert set(PRESETS) == {"default", "paper"}


@pytest.mark.parametrize("data, message", [
    ({"nes": {"generationz": 3}}, r"\[nes\] keys \['generationz'\]: unknown"),
    ({"preset": "fast"}, "preset 'fast': unknown"),
    ({"nes": {"population": 5}}, "must be even with antithetic"),
    ({"generator": {"km_bounds": [1e-6, 1e-3], "ln_km_bounds": [-5, 0]}}, "not both"),
    ({"problem": {}}, "problem.model: missing"),
])
def test_config_errors_name_file_and_key(data, message):
    data = {"problem": {"model": "m.yaml", "steady_state": "s.csv"}, **data}
    with pytest.raises(ConfigError, match=message) as info:
        settings_from_dict(data, source="train.toml")
    assert str(info.value).startswith("train.toml: ")


# --- fixed and measured Km ---------------------------------------------------------------------

def test_fixed_km_file(tmp_path, ecoli_cm):
    path = tmp_path / "fixed.csv"
    path.write_text(
        "name,min,max,value,unit,source\n"
        "km_substrate_ACONTa,0.5,0.9,,mM,range\n"
        "km_substrate_ACONTb,,,0.1,mM,one\n"
        "km_substrate_ACONTb,,,0.4,mM,two\n"
        "km_product_ACONTb,,,20,uM,single\n")
    fixed = read_fixed_km(path, ecoli_cm.km_names)
    by_name = dict(zip(fixed.names, zip(fixed.low, fixed.high)))
    assert by_name["km_substrate_ACONTa"] == pytest.approx((5e-4, 9e-4))
    assert by_name["km_substrate_ACONTb"] == pytest.approx((0.8 * 2e-4, 1.2 * 2e-4))  # geometric mean of 0.1, 0.4 mM
    assert by_name["km_product_ACONTb"] == pytest.approx((1.6e-5, 2.4e-5))
    assert list(fixed.columns) == sorted(ecoli_cm.km_names.index(n) for n in fixed.names)
    assert len(fixed.free_columns(len(ecoli_cm.km_names))) == len(ecoli_cm.km_names) - 3
    draws = np.exp(sample_fixed_ln_km(fixed, 5000, torch.Generator().manual_seed(0)).numpy())
    assert np.all((draws >= fixed.low) & (draws <= fixed.high))
    # uniform in Km: the mean sits at the middle of the range
    assert draws.mean(axis=0) == pytest.approx((fixed.low + fixed.high) / 2, rel=0.01)


@pytest.mark.parametrize("row, message", [
    ("km_nothing,,,1,mM", "unknown Km name"),
    ("km_substrate_ACONTa,,,1,mol", "unit 'mol' unknown"),
    ("km_substrate_ACONTa,2,1,,mM", "give either min < max or value"),
    ("km_substrate_ACONTa,,,-1,mM", "must be a finite number > 0"),
])
def test_fixed_km_errors(tmp_path, ecoli_cm, row, message):
    path = tmp_path / "fixed.csv"
    path.write_text("name,min,max,value,unit\n" + row + "\n")
    with pytest.raises(ParameterFileError, match=message) as info:
        read_fixed_km(path, ecoli_cm.km_names)
    assert str(path) in str(info.value) and "line 2" in str(info.value)
