"""Nonlinear dynamics of parameterised models: rate laws with analytic Jacobians, stiff
integration in log coordinates, conserving perturbations and robustness studies."""

from .integrate import IntegrationSettings, Trajectory, integrate
from .perturb import perturb_conserving
from .robustness import RobustnessSettings, StudyResult, robustness_problem, robustness_study, run_model
from .system import CellODE, RateLaws, cell_ode, rate_laws

__all__ = [
    "CellODE", "IntegrationSettings", "RateLaws", "RobustnessSettings", "StudyResult", "Trajectory", "cell_ode",
    "integrate", "perturb_conserving", "rate_laws", "robustness_problem", "robustness_study", "run_model",
]
