"""Cheap per-state score: a cross-entropy search over independent normal ln Km distributions.

Training a generator per state (the paper's landscape) costs ~10^5 Jacobian eigenvalue problems.
This score asks the same question (*how fast can the dynamics at this state be made?*) with a
budget of ~10^3: each iteration draws ``sets_per_iteration`` Km sets from independent normals
in ln Km (clipped to the bounds), evaluates lambda_max exactly, and refits the normals to the
``elite_fraction`` sets with the smallest lambda_max. It stops early once one iteration's
incidence reaches ``stop_incidence`` (the state clearly admits valid models). Its agreement with
full per-state training is measured in ``benchmarks/bench_landscape.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._declare import Declared, Float, Int, OrNone, setting
from ..settings import LN_KM_RANGE, THRESHOLD
from ..stability import StabilityProblem, evaluate_stability
from ..stability.rewards import fast_dynamics_reward


@dataclass(frozen=True, kw_only=True)
class SearchSettings(Declared, table="search"):
    """Budget and shape of the search (defaults measured on E. coli, see module docstring)."""

    iterations: int = setting(12, Int())
    sets_per_iteration: int = setting(100, Int(10))
    elite_fraction: float = setting(0.1, Float(0.0, 1.0, low_open=True))
    stop_incidence: float | None = setting(0.5, OrNone(Float(0.0, 1.0, low_open=True)))  # None: run every iteration
    ln_km_bounds: tuple[float, float] = LN_KM_RANGE.field()
    threshold: float = THRESHOLD.field()


@dataclass(frozen=True)
class SearchResult:
    """Outcome of one search.

    ``best_lambda_max`` (1/h) over every evaluated set and ``best_ln_km`` (n_km,) its Km;
    ``first_lambda_max`` the best of the first iteration; ``fast_reward`` the paper's
    fast-dynamics reward of the last iteration (0.5 exp(-0.1 mean of its 10 smallest lambda_max));
    ``incidence`` the last iteration's fraction of valid sets and ``valid_ln_km`` (k, n_km) those
    sets; ``evaluations`` the sets evaluated.
    """

    best_lambda_max: float
    best_ln_km: np.ndarray
    first_lambda_max: float
    fast_reward: float
    incidence: float
    valid_ln_km: np.ndarray
    evaluations: int


def search_fast_km(problem: StabilityProblem, settings: SearchSettings, rng: np.random.Generator,
                   on_iteration: Callable[[int, np.ndarray, np.ndarray], None] | None = None) -> SearchResult:
    """Cross-entropy search for Km sets with small lambda_max at ``problem``'s state (one thread).

    ``on_iteration(iteration, ln_km, lambda_max)`` (1-based; (sets, n_km) ln(Km / (mol/L)) and
    (sets,) 1/h, NaN as +inf) is called after each iteration's evaluation."""
    low, high = settings.ln_km_bounds
    n_km, per = len(problem.km_names), settings.sets_per_iteration
    n_elite = max(2, int(settings.elite_fraction * per))
    mean, sd = np.full(n_km, (low + high) / 2), np.full(n_km, (high - low) / 4)
    best, best_ln_km, first = math.inf, np.full(n_km, mean[0]), math.nan
    for iteration in range(settings.iterations):
        ln_km = np.clip(rng.normal(mean, sd, size=(per, n_km)), low, high)
        result = evaluate_stability(problem, np.exp(ln_km), threshold=settings.threshold, n_threads=1)
        lam = np.where(np.isnan(result.lambda_max), np.inf, result.lambda_max)
        order = np.argsort(lam, kind="stable")
        if lam[order[0]] < best:
            best, best_ln_km = float(lam[order[0]]), ln_km[order[0]]
        if iteration == 0:
            first = best
        if on_iteration is not None:
            on_iteration(iteration + 1, ln_km, lam)
        if settings.stop_incidence is not None and result.incidence >= settings.stop_incidence:
            break
        elite = ln_km[order[:n_elite]]
        mean, sd = elite.mean(axis=0), np.maximum(elite.std(axis=0), 1e-3)
    reward = float(fast_dynamics_reward(lam[None], result.valid[None], settings.threshold)[0])
    return SearchResult(best, best_ln_km, first, reward, result.incidence, ln_km[result.valid],
                        (iteration + 1) * per)
