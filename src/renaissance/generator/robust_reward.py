"""The robustness term of the NES reward (beyond the paper): integrate a few valid models per child.

Each generation, the first ``models_per_child`` valid models of every child are perturbed by
+-``perturbation`` (pools kept) and integrated for ``time_min`` minutes
(:func:`renaissance.dynamics.robustness.run_model`). Model j of every child gets the same
perturbation (seed ``[seed, generation * M + j]``, M the NES models per child: common random
numbers, so children are compared on equal draws, and a resumed run redraws the same ones). A model's
score is s = (g + f) / 2, g = 1 when the growth flux is back within ``tolerance``, f = the
fraction of balanced species back within ``tolerance``; runs that escape or fail score 0. A
child's score is the mean s of its tested models times the child's incidence (its valid
fraction; 0 without a valid model), so the term cannot trade validity for robustness: it ranks
children once they emit valid models (:class:`~.settings.RobustnessRewardSettings`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..dynamics.robustness import ModelResult, RobustnessProblem, RobustnessSettings, study_problem
from ..errors import RenaissanceError
from ..parameterised.model import ParameterisedModel
from ..plumbing.streaming import ModelPool
from ..stability import back_calculate_vmax
from .settings import TrainSettings


@dataclass(frozen=True)
class RobustnessReward:
    """What the workers need (``context`` of the pool) and how many models each child sends."""

    problem: RobustnessProblem
    settings: RobustnessSettings
    models_per_child: int

    @property
    def context(self) -> tuple[RobustnessProblem, RobustnessSettings]:
        return self.problem, self.settings


def robustness_reward(model: ParameterisedModel, settings: TrainSettings) -> RobustnessReward:
    """The robustness term of ``settings.robustness`` for ``model`` at its state.

    Raises RenaissanceError when the model has no growth reaction (the term scores growth)."""
    term = settings.robustness
    problem = study_problem(model, growth=term.growth_reaction)
    if problem.growth is None:
        raise RenaissanceError(
            f"{settings.problem.model}: robustness reward: the model has no growth reaction (no reaction id contains "
            "'biomass' or 'growth'); name one with robustness.growth_reaction or set robustness.models_per_child = 0")
    dynamics = RobustnessSettings(perturbation=term.perturbation, times_min=(term.time_min,),
                                  tolerance=term.tolerance, seed=settings.seed)
    return RobustnessReward(problem, dynamics, term.models_per_child)


def model_score(result: ModelResult, tolerance: float) -> float:
    """s = (growth back + fraction of balanced species back) / 2 of a one-perturbation, one-time
    result; 0 for a run that did not end ``ok``."""
    if result.status[0] != "ok":
        return 0.0
    growth_back = float(abs(result.growth[0, 0]) <= tolerance)
    return 0.5 * (growth_back + float(np.mean(np.abs(result.deviation[0, 0]) <= tolerance)))


def first_valid(valid: np.ndarray, k: int) -> list[tuple[int, int]]:
    """(child, model) of the first ``k`` valid models of every child of ``valid`` (C, M)."""
    return [(c, int(j)) for c in range(valid.shape[0]) for j in np.flatnonzero(valid[c])[:k]]


def robustness_scores(reward: RobustnessReward, pool: ModelPool, stability, ln_km: np.ndarray, valid: np.ndarray,
                      generation: int) -> np.ndarray:
    """(C,) robustness score of every child for (C, M, n_km) ln(Km / (mol/L)) and (C, M) validity.

    ``pool`` runs :func:`renaissance.dynamics.robustness.model_task` with ``reward.context``."""
    C, M = valid.shape
    picks = first_valid(valid, reward.models_per_child)
    total, tested = np.zeros(C), np.zeros(C)
    if not picks:
        return total
    chosen = np.array([ln_km[c, j] for c, j in picks])
    vmax = back_calculate_vmax(stability, chosen)
    tasks = [(generation * M + j, np.exp(k), v) for (_, j), k, v in zip(picks, chosen, vmax)]
    for (c, _), result in zip(picks, pool.map(tasks)):
        total[c] += model_score(result, reward.settings.tolerance)
        tested[c] += 1
    return np.divide(total, tested, out=np.zeros(C), where=tested > 0) * valid.mean(axis=1)
