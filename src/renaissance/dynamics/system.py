"""The ODE of the balanced species in log coordinates, from the rate laws of one parameter set.

The rate laws and their analytic elasticities dv/du (u = ln x, all species) are the law's forward
direction, :class:`renaissance.model.ratelaw.RateLaws` (re-exported here). The balanced species
obey dx/dt = f(x) = w * (S v). In log coordinates y = ln x (variables),
dy/dt = f / x and d(dy_i/dt)/dy_j = (S_w dv/du)_ij / x_i - delta_ij f_i / x_i. Log coordinates
keep every concentration positive and make a relative tolerance uniform over the 1e-3..1e8
range of the model's concentrations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model.compiled import CompiledModel
from ..model.ratelaw import RateLaws, rate_laws

__all__ = ["CellODE", "RateLaws", "cell_ode", "rate_laws"]


@dataclass(frozen=True)
class CellODE:
    """dy/dt of the balanced species in log coordinates, boundary species held constant."""

    laws: RateLaws
    stoichiometry: np.ndarray  # (n_var, n_rxn) w * S
    ln_boundary: np.ndarray  # (n_bnd,)

    @property
    def n(self) -> int:
        return self.stoichiometry.shape[0]

    def full_state(self, y: np.ndarray) -> np.ndarray:
        return np.concatenate([y, self.ln_boundary])

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        return (self.stoichiometry @ self.laws.rates(self.full_state(y))) * np.exp(-y)

    def jac(self, t: float, y: np.ndarray) -> np.ndarray:
        v, dv = self.laws.rates_and_elasticities(self.full_state(y))
        inv_x = np.exp(-y)
        J = (self.stoichiometry @ dv[:, : self.n]) * inv_x[:, None]
        J[np.diag_indices(self.n)] -= (self.stoichiometry @ v) * inv_x
        return J


def cell_ode(cm: CompiledModel, ln_x: np.ndarray, ln_k: np.ndarray, vmax: np.ndarray) -> CellODE:
    """The cell's ODE with boundary species at their values in ``ln_x`` (n_sp,, model units)."""
    st = cm.structure
    n_var = len(st.variables)
    return CellODE(rate_laws(cm, ln_k, vmax), st.weights[:, None] * st.S, np.asarray(ln_x[n_var:], dtype=float))
