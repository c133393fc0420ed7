"""Argument checks at public boundaries: one message naming the argument, its value and the rule.

Every check raises :class:`~renaissance.errors.SettingsError` (a ``ValueError`` too).
"""

from __future__ import annotations

import math
import numbers

from .errors import SettingsError


def check_int(value, name: str, *, min_value: int = 1, max_value: int | None = None) -> int:
    """``value`` as an int >= ``min_value`` (and <= ``max_value`` when given; bools refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < min_value or \
            (max_value is not None and value > max_value):
        rule = f">= {min_value}" if max_value is None else f">= {min_value} and <= {max_value}"
        raise SettingsError(f"{name} == {value!r}, must be an int {rule}")
    return int(value)


def check_float(value, name: str, *, low: float = -math.inf, high: float = math.inf,
                low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float in the interval [low, high] (ends open when asked)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise SettingsError(f"{name} == {value!r}, must be a finite number in {left}{low}, {high}{right}")
    return float(value)


def check_range(bounds, name: str) -> tuple[float, float]:
    """``bounds`` as a (low, high) pair of finite floats with low < high."""
    try:
        low, high = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} == {bounds!r}, must be a pair (low, high)") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise SettingsError(f"{name} == {bounds!r}, must be finite with low < high")
    return low, high


def check_choice(value, name: str, choices) -> str:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise SettingsError(f"{name} == {value!r}, must be one of {sorted(choices)}")
    return value


def check_interval(value, name: str, *, positive: bool = False, finite: bool = True) -> tuple[float, float]:
    """``value`` as a pair of floats (lo, hi) with lo <= hi, neither NaN.

    ``finite``: both ends finite (else +-inf allowed); ``positive``: lo > 0.
    """
    try:
        lo, hi = (float(b) for b in value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} == {value!r}, must be a pair (lo, hi)") from None
    if math.isnan(lo) or math.isnan(hi) or lo > hi or (finite and not (math.isfinite(lo) and math.isfinite(hi))):
        raise SettingsError(f"{name} == {value!r}, must satisfy lo <= hi{' (finite)' if finite else ''}")
    if positive and lo <= 0:
        raise SettingsError(f"{name} == {value!r}, must have lo > 0")
    return lo, hi


def check_shape(value, name: str, shape: tuple) -> None:
    """``value`` (an array) has ``len(shape)`` axes; an int in ``shape`` fixes that axis' length,
    a name (str, e.g. "B") leaves it free. Message: ``"<name> has shape (3,), expected (B, 384)"``."""
    actual = tuple(value.shape)
    if len(actual) != len(shape) or any(isinstance(n, int) and a != n for a, n in zip(actual, shape)):
        raise SettingsError(f"{name} has shape {actual}, expected ({', '.join(str(n) for n in shape)})")


def check_device(device: str, name: str = "device") -> str:
    """``device`` if torch can compute there: a device string torch parses (``cpu``, ``cuda``,
    ``cuda:1``, ``mps``) whose backend this torch build has and this machine offers.

    Checked before any work, so a wrong device is one :class:`SettingsError` naming it rather
    than torch's error deep inside a run. ``cpu`` needs no torch import.
    """
    if device == "cpu":
        return device
    try:
        import torch
    except ImportError:
        raise SettingsError(f"{name} == {device!r} needs PyTorch: pip install 'renaissance-kinetics[torch]'") from None
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise SettingsError(f"{name} == {device!r}, must be a torch device such as cpu, cuda or cuda:1") from None
    if parsed.type == "cpu":
        return device
    available = getattr(getattr(torch, parsed.type, None), "is_available", None)
    if available is None:
        raise SettingsError(f"{name} == {device!r}: torch cannot compute on {parsed.type}; use cpu or cuda")
    if not available():
        why = (f"this torch {torch.__version__} is built without CUDA" if parsed.type == "cuda" and
               torch.version.cuda is None else "no such device on this machine")
        raise SettingsError(f"{name} == {device!r}: {parsed.type} is not available ({why}); use cpu")
    if parsed.type == "cuda" and parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise SettingsError(f"{name} == {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device
