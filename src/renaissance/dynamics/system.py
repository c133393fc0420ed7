"""Rate laws of one parameter set at any state, with analytic log-elasticities, and the ODE of
the balanced species in log coordinates.

With ``u = ln x`` (all species, model units) and one parameter set (ln K, V):

    v_k   = V_k exp(P_k ln K + ln G_k) (T_f,k - T_b,k),  T_f = exp(Af u),  T_b = exp(Ab u - ln Keq)
    G_k   = prod_{f in k} F_f^e_f  (factors of monomials M_m = exp(Ax_m u + AK_m ln K), see
            :mod:`renaissance.model.factors`)
    dv_k/du_j = V_k exp(P_k ln K + ln G_k) (T_f,k Af_kj - T_b,k Ab_kj) + v_k sum_{m in k} w_m Ax_mj

The balanced species obey dx/dt = f(x) = w * (S v). In log coordinates y = ln x (variables),
dy/dt = f / x and d(dy_i/dt)/dy_j = (S_w dv/du)_ij / x_i - delta_ij f_i / x_i. Log coordinates
keep every concentration positive and make a relative tolerance uniform over the 1e-3..1e8
range of the model's concentrations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ..model.compiled import CompiledModel
from ..model.factors import FactorLayout, factor_layout, log_factors


@dataclass(frozen=True)
class RateLaws:
    """Constant arrays of one parameter set (see module docstring); shapes n_rxn, n_sp, n_mono."""

    forward: np.ndarray  # (n_rxn, n_sp)
    backward: np.ndarray  # (n_rxn, n_sp)
    ln_keq: np.ndarray  # (n_rxn,), +inf for irreversible reactions
    mono_x: np.ndarray  # (n_mono, n_sp)
    mono_ln_k: np.ndarray  # (n_mono,) AK_m ln K
    weight_to_q: sparse.csr_matrix  # (n_rxn * n_sp, n_mono): Q = sum_{m in k} w_m Ax_m, flattened
    layout: FactorLayout
    prefactor: np.ndarray  # (n_rxn,) V exp(P ln K)

    def rates(self, u: np.ndarray) -> np.ndarray:
        """Net rates (n_rxn,) at ln concentrations ``u`` (n_sp,), model units."""
        return self._parts(u)[0]

    def rates_and_elasticities(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rates (n_rxn,) and dv/du (n_rxn, n_sp) at ``u``."""
        v, gain, t_f, t_b, w = self._parts(u)
        dv = gain[:, None] * (t_f[:, None] * self.forward - t_b[:, None] * self.backward)
        dv += v[:, None] * (self.weight_to_q @ w).reshape(dv.shape)
        return v, dv

    def _parts(self, u):
        t_f = np.exp(self.forward @ u)
        t_b = np.exp(self.backward @ u - self.ln_keq)  # exp(-inf) = 0 for irreversible reactions
        ln_g, sign, w = log_factors(self.layout, np.exp(self.mono_x @ u + self.mono_ln_k))
        gain = sign * self.prefactor * np.exp(ln_g)
        return gain * (t_f - t_b), gain, t_f, t_b, w


def rate_laws(cm: CompiledModel, ln_k: np.ndarray, vmax: np.ndarray) -> RateLaws:
    """The rate laws of ``cm`` with ln constants ``ln_k`` (n_km,, model units) and ``vmax`` (n_rxn,)."""
    mono, species = np.nonzero(cm.mono_x)
    n_sp = cm.mono_x.shape[1]
    weight_to_q = sparse.csr_matrix((cm.mono_x[mono, species], (cm.mono_rxn[mono] * n_sp + species, mono)),
                                    shape=(cm.n_reactions * n_sp, len(cm.mono_term)))
    return RateLaws(
        forward=cm.forward, backward=cm.backward, ln_keq=np.where(cm.reversible, cm.ln_keq, np.inf),
        mono_x=cm.mono_x, mono_ln_k=cm.mono_km @ ln_k, weight_to_q=weight_to_q,
        layout=factor_layout(cm), prefactor=vmax * np.exp(cm.prefactor @ ln_k),
    )


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
