"""Steady states: table format and validation, and a first thermodynamically consistent state."""

from .constraints import load_constraints, save_constraints
from .sampler import StateSample, sample_steady_states
from .samples_io import read_sample_state, read_samples, write_samples
from .settings import TFASettings
from .table import (
    StateArrays,
    SteadyState,
    SteadyStateReport,
    displacement,
    read_steady_state,
    state_arrays,
    thermodynamic_displacement,
    validate_steady_state,
    write_steady_state,
)
from .tfa import find_steady_state

__all__ = [
    "StateSample", "load_constraints", "read_sample_state", "read_samples", "sample_steady_states",
    "save_constraints", "write_samples", "SteadyState", "SteadyStateReport", "StateArrays", "TFASettings", "displacement", "find_steady_state",
    "read_steady_state", "state_arrays", "thermodynamic_displacement", "validate_steady_state", "write_steady_state",
]
