"""Rewards: a generation's lambda_max values -> one reward per child (higher is better).

Every reward has the signature ``reward(lambda_max, valid, threshold) -> (C,)`` with

    lambda_max : (C, M) float64, 1/h; NaN for models without a value (failed Vmax or Jacobian)
    valid      : (C, M) bool, a success: lambda_max <= threshold and no failure
    threshold  : float, 1/h: what a success must reach (``nes.target_lambda`` when set, else
                 ``nes.threshold``)

so a reward may compare children (``rank_incidence`` ranks all C * M models together).
Register your own with :func:`resolve_reward("package.module:function")` or pass a callable.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np
from scipy.special import expit
from scipy.stats import rankdata

from ..errors import RenaissanceError, SettingsError

Reward = Callable[[np.ndarray, np.ndarray, float], np.ndarray]


def incidence_reward(lambda_max: np.ndarray, valid: np.ndarray, threshold: float) -> np.ndarray:
    """The paper's reward: incidence I = mean(valid) per child; where I = 0, the fallback
    0.01 / (1 + exp(lambda_fastest - threshold)), lambda_fastest the child's smallest lambda_max.

    The fallback underflows to exactly 0 once lambda_fastest - threshold > ~745 (as in the
    reference); a child without any value scores 0.
    """
    incidence = valid.mean(axis=1)
    fastest = np.nanmin(np.where(np.isnan(lambda_max), np.inf, lambda_max), axis=1)
    fallback = 0.01 * expit(threshold - fastest)
    return np.where(incidence > 0, incidence, fallback)


def fast_dynamics_reward(lambda_max: np.ndarray, valid: np.ndarray, threshold: float, n_fastest: int = 10) -> np.ndarray:
    """The paper's reward for characterising states: 0.5 * exp(-0.1 * lambda_mean), lambda_mean
    the mean of each child's ``n_fastest`` most negative lambda_max (missing values last).
    ``threshold`` and ``valid`` are not used."""
    ordered = np.sort(np.where(np.isnan(lambda_max), np.inf, lambda_max), axis=1)[:, :n_fastest]
    with np.errstate(over="ignore", invalid="ignore"):
        reward = 0.5 * np.exp(-0.1 * ordered.mean(axis=1))
    return np.nan_to_num(reward, nan=0.0, posinf=np.finfo(float).max)


def rank_incidence_reward(lambda_max: np.ndarray, valid: np.ndarray, threshold: float) -> np.ndarray:
    """Mean normalised rank of each child's models among all models of the generation plus
    the child's incidence.

    Rank score of a model: 1 for the most negative lambda_max of the generation, 0 for the
    largest (ties share their mean rank; missing values rank last). Unlike the incidence
    reward it orders children while every model is unstable (lambda_max >> 0), and it is
    invariant to the scale of lambda_max (1e4 or 1e-1 alike).
    """
    flat = np.where(np.isnan(lambda_max), np.inf, lambda_max).ravel()
    if flat.size < 2:
        return valid.mean(axis=1).astype(float)
    score = 1.0 - (rankdata(flat) - 1.0) / (flat.size - 1)
    return score.reshape(lambda_max.shape).mean(axis=1) + valid.mean(axis=1)


REWARDS: dict[str, Reward] = {
    "incidence": incidence_reward,
    "fast_dynamics": fast_dynamics_reward,
    "rank_incidence": rank_incidence_reward,
}


def resolve_reward(reward: str | Reward) -> Reward:
    """A reward callable from a registered name, ``"package.module:function"``, or a callable."""
    if callable(reward):
        return reward
    if reward in REWARDS:
        return REWARDS[reward]
    module_name, _, attr = reward.partition(":")
    if not attr:
        raise RenaissanceError(f"reward '{reward}': unknown; known: {sorted(REWARDS)} or 'package.module:function'")
    try:
        function = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise RenaissanceError(f"reward '{reward}': cannot import ({exc})") from None
    if not callable(function):
        raise RenaissanceError(f"reward '{reward}': not callable")
    return function


def shape_rewards(rewards: np.ndarray, method: str) -> np.ndarray:
    """Fitness shaping (C,) -> (C,). ``zscore``: (r - mean) / std; ``centered_rank``: ranks
    mapped linearly onto [-0.5, 0.5] (ties share their mean rank). Equal rewards -> zeros."""
    rewards = np.asarray(rewards, dtype=float)
    if not np.all(np.isfinite(rewards)):
        raise RenaissanceError(f"reward values must be finite, got {rewards}")
    if rewards.size < 2 or np.ptp(rewards) == 0:
        return np.zeros_like(rewards)
    if method == "zscore":
        return (rewards - rewards.mean()) / rewards.std()
    if method == "centered_rank":
        return (rankdata(rewards) - 1.0) / (rewards.size - 1) - 0.5
    raise SettingsError(f"method == {method!r}, must be one of ['centered_rank', 'zscore']")
