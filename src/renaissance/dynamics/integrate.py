"""Stiff integration of a model's ODE in log coordinates, with an escape event.

``integrate`` never raises on a numerical failure: the outcome is a :class:`Trajectory` whose
``status`` says what happened (``ok``, ``escaped``: left the neighbourhood of the reference
state and was stopped, ``failed``: the solver gave up, ``non_finite``: a NaN/inf appeared).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from .._declare import NON_NEGATIVE, POSITIVE, Choice, Declared, setting
from ..errors import SettingsError

METHODS = ("BDF", "LSODA", "Radau")
STATUSES = ("ok", "escaped", "failed", "non_finite")


@dataclass(frozen=True, kw_only=True)
class IntegrationSettings(Declared, table="integration"):
    """Solver settings (log coordinates: ``atol`` is an absolute error of ln x, i.e. relative in x).

    ``escape_fold``: a run is stopped (status ``escaped``) once any species is this many fold
    away from the reference state; 0 disables the event.
    """

    method: str = setting("LSODA", Choice(METHODS))
    rtol: float = setting(1e-6, POSITIVE)
    atol: float = setting(1e-8, POSITIVE)
    escape_fold: float = setting(1000.0, NON_NEGATIVE)
    analytic_jacobian: bool = True

    def _check(self) -> None:
        """An escape fold within (0, 1] would stop every run at once."""
        if 0 < self.escape_fold <= 1:
            raise SettingsError(f"integration.escape_fold == {self.escape_fold}, must be 0 (off) or > 1")


@dataclass(frozen=True)
class Trajectory:
    """``y`` (n_times, n) at ``t`` (n_times,), hours; rows after a stop are NaN. ``y_stop``: the
    state where the run ended (the escape point for ``escaped``)."""

    t: np.ndarray
    y: np.ndarray
    y_stop: np.ndarray
    status: str
    message: str
    nfev: int
    njev: int

    @property
    def success(self) -> bool:
        return self.status == "ok"


def integrate(ode, y0: np.ndarray, times, settings: IntegrationSettings = IntegrationSettings(),
              reference: np.ndarray | None = None) -> Trajectory:
    """Integrate ``ode`` (``rhs(t, y)``, ``jac(t, y)``) from ``y0`` and report ``y`` at ``times``.

    ``reference`` (default ``y0``) is the state the escape event measures from.
    """
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or len(times) == 0 or np.any(np.diff(times) < 0) or times[0] < 0:
        raise SettingsError(f"times == {times!r}, must be a non-empty sorted 1-D array of values >= 0")
    reference = y0 if reference is None else reference
    events = None
    if settings.escape_fold > 0:
        bound = math.log(settings.escape_fold)

        def escape(t, y):
            return bound - np.max(np.abs(y - reference))

        escape.terminal = True
        escape.direction = -1
        events = escape
    y_out = np.full((len(times), len(y0)), np.nan)
    with np.errstate(all="ignore"):
        try:
            sol = solve_ivp(ode.rhs, (0.0, float(times[-1])), y0, method=settings.method, t_eval=times,
                            jac=ode.jac if settings.analytic_jacobian else None, rtol=settings.rtol,
                            atol=settings.atol, events=events)
        except (ValueError, np.linalg.LinAlgError, FloatingPointError, OverflowError) as exc:
            return Trajectory(times, y_out, y0, "failed", f"{type(exc).__name__}: {exc}", 0, 0)
    ys = np.asarray(sol.y, dtype=float).reshape(len(y0), -1)  # a list when no t_eval point was reached
    y_out[: ys.shape[1]] = ys.T
    y_stop = sol.y_events[0][0] if sol.status == 1 else (ys[:, -1] if ys.size else y0)
    if sol.status == 1:
        status, message = "escaped", f"left the {settings.escape_fold:g}-fold neighbourhood at t = {sol.t_events[0][0]:.4g} h"
    elif sol.status < 0:
        status, message = "failed", f"{sol.message} (at t = {sol.t[-1]:.4g} h)"
    elif not np.all(np.isfinite(y_out)):
        status, message = "non_finite", "non-finite values in the solution"
    else:
        status, message = "ok", sol.message
    return Trajectory(times, y_out, y_stop, status, message, int(sol.nfev), int(sol.njev))
