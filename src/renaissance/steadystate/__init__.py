"""Steady states: table format and validation, and a first thermodynamically consistent state."""

from .table import (
    SteadyState, SteadyStateReport, StateArrays, displacement, read_steady_state, state_arrays,
    validate_steady_state, write_steady_state,
)
from .tfa import TFASettings, find_steady_state

__all__ = [
    "SteadyState", "SteadyStateReport", "StateArrays", "TFASettings", "displacement", "find_steady_state",
    "read_steady_state", "state_arrays", "validate_steady_state", "write_steady_state",
]
