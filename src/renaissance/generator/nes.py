"""Natural Evolution Strategies: population noise and the parameter update (pure functions)."""

from __future__ import annotations

import numpy as np
import torch


def sample_noise(n_params: int, population: int, antithetic: bool, rng: torch.Generator) -> torch.Tensor:
    """Perturbation directions eps, (population, n_params) float32, eps ~ N(0, I).

    ``antithetic``: the second half is the negated first half (mirrored sampling), which
    cancels the noise's odd moments in the update.
    """
    if not antithetic:
        return torch.randn((population, n_params), generator=rng, device=rng.device)
    half = torch.randn((population // 2, n_params), generator=rng, device=rng.device)
    return torch.cat([half, -half])


def nes_update(theta: torch.Tensor, eps: torch.Tensor, shaped: np.ndarray, learning_rate: float, sigma: float) -> torch.Tensor:
    """theta + learning_rate / (C * sigma) * sum_i shaped_i * eps_i, for (P,) theta and (C, P) eps."""
    weights = torch.as_tensor(shaped, dtype=eps.dtype, device=eps.device)
    return theta + (learning_rate / (len(shaped) * sigma)) * (weights @ eps)
