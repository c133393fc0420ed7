"""Stability of parameter sets: Vmax back-calculation, batched reduced Jacobians, lambda_max."""

from .eigen import certify_unstable, lambda_max
from .evaluate import StabilityResult, evaluate_stability, prepare_stability
from .problem import REASONS, StabilityProblem, back_calculate_vmax, build_problem, jacobians_and_vmax

__all__ = [
    "REASONS", "StabilityProblem", "StabilityResult", "back_calculate_vmax", "build_problem", "certify_unstable",
    "evaluate_stability", "jacobians_and_vmax", "lambda_max", "prepare_stability",
]
