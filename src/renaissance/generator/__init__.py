"""Generator networks trained by Natural Evolution Strategies to emit valid Km sets."""

from .fixed_km import FixedKm, read_fixed_km
from .rewards import REWARDS, resolve_reward, shape_rewards
from .settings import (
    PRESETS, GeneratorSettings, NESSettings, ProblemSettings, TrainSettings, load_settings, save_settings,
)
from .training import TrainingRun, load_problem, train

__all__ = [
    "PRESETS", "REWARDS", "FixedKm", "GeneratorSettings", "NESSettings", "ProblemSettings", "TrainSettings",
    "TrainingRun", "load_problem", "load_settings", "read_fixed_km", "resolve_reward", "save_settings",
    "shape_rewards", "train",
]
