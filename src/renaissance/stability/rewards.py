"""Rewards: a generation's lambda_max values -> one reward per child (higher is better).

Every reward has the signature ``reward(lambda_max, valid, threshold) -> (C,)`` with

    lambda_max : (C, M) float64, 1/h; NaN for models without a value (failed Vmax or Jacobian)
    valid      : (C, M) bool, a success: lambda_max <= threshold and no failure
    threshold  : float, 1/h: what a success must reach (``nes.target_lambda`` when set, else
                 ``nes.threshold``)

so a reward may compare children (``rank_incidence`` ranks all C * M models together).
Use your own by passing a callable, or name it ``"package.module:function"``: importing that
module runs its code, so a name from a settings file (or ``--reward``) is imported only when the
user asks for it (``renaissance train --allow-code package.module``; Python:
``resolve_reward(name, allow_import=True)``), else it is refused before anything is imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable

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


def resolve_reward(reward: str | Reward, allow_import: bool | Iterable[str] = False,
                   source: str | None = None) -> Reward:
    """A reward callable from a registered name, a callable, or ``"package.module:function"``.

    The last imports the module (running its code): only when ``allow_import`` is True or names
    that module (the modules of ``renaissance train --allow-code``), else a
    :class:`RenaissanceError` before any import. ``source``: where the name comes from (the
    settings file, ``--reward``), for messages."""
    if callable(reward):
        return reward
    if reward in REWARDS:
        return REWARDS[reward]
    where = f"{source}: reward '{reward}'" if source else f"reward '{reward}'"
    module_name, _, attr = reward.partition(":")
    if not attr:
        raise RenaissanceError(f"{where}: unknown; known: {sorted(REWARDS)} or 'package.module:function'")
    if allow_import is not True and module_name not in (allow_import or ()):
        raise RenaissanceError(f"{where}: would import and run Python module '{module_name}'; settings files run no "
                               f"code unless asked: pass --allow-code {module_name} to renaissance train (Python: "
                               "allow_import=True, or pass a callable)")
    try:
        function = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise RenaissanceError(f"{where}: cannot import ({exc})") from None
    if not callable(function):
        raise RenaissanceError(f"{where}: not callable")
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
