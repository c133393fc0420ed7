"""Vmax back-calculation and batched reduced Jacobians at one steady state.

At a steady state (x*, v*) the log-elasticities of every rate law (:mod:`renaissance.model.ratelaw`)
split into a Km-independent part, the drive's ``C = d ln |T_f - T_b| / d ln x``, and a sum over
the monomials of its factors:

    d ln v_k / d ln x_j = C_kj + sum_{m in k} w_m a_mj,    w_m = d ln G_k / d ln M_m

(for a Michaelis-Menten denominator D, w_m = -M_m / D), so the reduced Jacobian
J = W N_R diag(v) E diag(1/x) L is affine in the weights w:

    J = J0 + sum_m w_m u_{k(m)} z_m^T      (u_k = W N_R[:, k] v_k,  z_m = L^T diag(1/x) a_m)

:class:`StabilityProblem` precomputes J0 and the outer products ``G[m] = u z^T`` once per state;
a batch of Km sets then costs one exponential per monomial (the law's inverse direction,
:func:`renaissance.model.ratelaw.back_calculate`) and one matrix product.
The same code runs on numpy arrays and on torch tensors (float64).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ..model.compiled import CompiledModel
from ..model.ratelaw import LawsAtState, back_calculate, laws_at_state, log_drive
from ..steadystate.table import StateArrays

#: per-set outcome codes (index into REASONS)
OK, NEGATIVE_VMAX, NON_FINITE_VMAX, NON_FINITE_JACOBIAN, EIGEN_FAILED = range(5)
REASONS = ("ok", "negative_vmax", "non_finite_vmax", "non_finite_jacobian", "eigenvalues_failed")


@dataclass(frozen=True)
class StabilityProblem:
    """Constants of the stability evaluation at one steady state (model units, hours).

    Shapes: n_km declared constants, n_mono monomials, n_act monomials that move J, n_rxn
    reactions, n the reduced size (independent species).

    Attributes
    ----------
    ln_km_shift : float
        Add to ln(Km / (mol/L)) to get ln Km in model units.
    laws : LawsAtState              the rate laws with the state bound (Vmax and w per Km set)
    active : (n_act,) int           monomials with a non-zero Jacobian term
    G : (n_act, n_mov)              u_{k(m)} z_m^T at the entries of J that move with Km
    moving : (n_mov,) int           those entries (indices into the flattened J)
    J0 : (n * n,)                   flattened Km-independent part
    """

    n: int
    ln_km_shift: float
    laws: LawsAtState
    active: np.ndarray
    G: np.ndarray
    moving: np.ndarray
    J0: np.ndarray
    species: tuple[str, ...]
    reactions: tuple[str, ...]
    km_names: tuple[str, ...]

    @property
    def mono_km(self) -> np.ndarray:
        """(n_km, n_mono) Km exponents of each monomial (transposed)."""
        return self.laws.mono_km

    @property
    def prefactor(self) -> np.ndarray:
        """(n_km, n_rxn) Km exponents of the prefactors (transposed)."""
        return self.laws.prefactor

    @property
    def wrong_direction(self) -> list[str]:
        """Reactions whose flux opposes their displacement: Vmax < 0 for every Km set."""
        return [r for r, s in zip(self.reactions, self.laws.signed_v) if s < 0]

    def to_torch(self, device: str = "cpu") -> StabilityProblem:
        """A copy whose arrays are float64 (indices: int64) torch tensors on ``device``."""
        import torch

        values = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                value = torch.as_tensor(value, device=device)
            elif isinstance(value, LawsAtState):
                value = value.to_torch(device)
            values[f.name] = value
        return StabilityProblem(**values)


def build_problem(cm: CompiledModel, state: StateArrays, ln_km_shift: float) -> StabilityProblem:
    """Precompute the Km-independent parts of Vmax and J at ``state`` (numpy, float64)."""
    st = cm.structure
    n_var = len(st.variables)
    x_var = np.exp(state.ln_x[:n_var])
    C = log_drive(cm, state.ln_x)[2][:, :n_var]  # d ln |T_f - T_b| / d ln x of the variables

    Wn = st.weights[st.independent, None] * st.S[st.independent]  # (n, n_rxn)
    U = Wn * state.v  # column k: u_k
    Q = st.link / x_var[:, None]  # (n_var, n): diag(1/x) L
    J0 = U @ C @ Q
    A = cm.mono_x[:, :n_var]
    Z = A @ Q  # (n_mono, n): z_m
    rxn = cm.mono_rxn
    active = np.flatnonzero(np.any(A != 0, axis=1) & (state.v[rxn] != 0))
    n = len(st.independent)
    G = np.einsum("mi,mj->mij", U[:, rxn[active]].T, Z[active]).reshape(len(active), n * n)
    moving = np.flatnonzero(np.any(G != 0, axis=0))  # entries of J that depend on Km

    return StabilityProblem(
        n=n,
        ln_km_shift=ln_km_shift,
        laws=laws_at_state(cm, state.ln_x, state.v),
        active=active,
        G=np.ascontiguousarray(G[:, moving]),
        moving=moving,
        J0=J0.reshape(-1),
        species=tuple(st.variables[i] for i in st.independent),
        reactions=tuple(st.reactions),
        km_names=tuple(cm.km_names),
    )


def jacobians_and_vmax(problem: StabilityProblem, ln_km, xp=np):
    """Reduced Jacobians and back-calculated Vmax for a batch of Km sets.

    Parameters
    ----------
    problem : StabilityProblem (arrays in namespace ``xp``)
    ln_km : (B, n_km) ln(Km / (mol/L)) in the order of ``problem.km_names``
    xp : numpy or torch

    Returns
    -------
    J : (B, n, n) reduced Jacobians in 1/h
    vmax : (B, n_rxn) Vmax in model units (concentration / h); the rate constant for mass action
    """
    vmax, w = back_calculate(problem.laws, ln_km + problem.ln_km_shift, xp)
    J = xp.zeros_like(w[:, :1]) + problem.J0  # (B, n * n)
    J[:, problem.moving] = problem.J0[problem.moving] + w[:, problem.active] @ problem.G
    return J.reshape(-1, problem.n, problem.n), vmax


def back_calculate_vmax(problem: StabilityProblem, ln_km, xp=np):
    """Vmax (B, n_rxn), model concentration per hour, that reproduce the steady-state fluxes
    for (B, n_km) ln(Km / (mol/L)) (the rate constant for mass action)."""
    return back_calculate(problem.laws, ln_km + problem.ln_km_shift, xp)[0]


def screen(J, vmax, xp=np):
    """Per-set outcome code before eigenvalues, (B,): OK or the first problem found."""
    negative = (vmax < 0).any(-1)
    finite_v = xp.isfinite(vmax).all(-1)
    finite_j = xp.isfinite(J).all(-1).all(-1)
    return xp.where(negative, NEGATIVE_VMAX, xp.where(~finite_v, NON_FINITE_VMAX, xp.where(~finite_j, NON_FINITE_JACOBIAN, OK)))
