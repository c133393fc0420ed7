"""Generator networks trained by Natural Evolution Strategies to emit valid Km sets."""

from ..parameterised import FixedKm, ProblemSettings, parameterise, read_fixed_km
from ..stability.rewards import REWARDS, resolve_reward, shape_rewards
from .settings import PRESETS, GeneratorSettings, NESSettings, TrainSettings, load_settings, save_settings
from .training import TrainingRun, train

__all__ = [
    "PRESETS", "REWARDS", "FixedKm", "GeneratorSettings", "NESSettings", "ProblemSettings", "TrainSettings",
    "TrainingRun", "load_settings", "parameterise", "read_fixed_km", "resolve_reward", "save_settings",
    "shape_rewards", "train",
]
