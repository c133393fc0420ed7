"""Vmax back-calculation and batched reduced Jacobians at one steady state.

At a steady state (x*, v*) the log-elasticities of every rate law split into a Km-independent
part and a sum over the monomials of its factors (see :mod:`renaissance.model.compiled` and
:mod:`renaissance.model.factors`):

    d ln v_k / d ln x_j = C_kj + sum_{m in k} w_m a_mj,    w_m = d ln G_k / d ln M_m

(for a Michaelis-Menten denominator D, w_m = -M_m / D), so the reduced Jacobian
J = W N_R diag(v) E diag(1/x) L is affine in the weights w:

    J = J0 + sum_m w_m u_{k(m)} z_m^T      (u_k = W N_R[:, k] v_k,  z_m = L^T diag(1/x) a_m)

:class:`StabilityProblem` precomputes J0 and the outer products ``G[m] = u z^T`` once per state;
a batch of Km sets then costs one exponential per monomial and one matrix product.
The same code runs on numpy arrays and on torch tensors (float64).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ..model.compiled import CompiledModel
from ..model.factors import FactorLayout, factor_layout, log_factors
from ..steadystate.table import StateArrays, displacement

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
    mono_ln_x : (n_mono,)           sum_j a_mj ln x_j
    mono_km : (n_km, n_mono)        Km exponents of each monomial (transposed)
    layout : FactorLayout           how monomials form each reaction's factors
    active : (n_act,) int           monomials with a non-zero Jacobian term
    G : (n_act, n_mov)              u_{k(m)} z_m^T at the entries of J that move with Km
    moving : (n_mov,) int           those entries (indices into the flattened J)
    J0 : (n * n,)                   flattened Km-independent part
    ln_g_x : (n_rxn,)               ln |T_f - T_b/Keq| at x* (Km-independent part of ln |g|)
    prefactor : (n_km, n_rxn)       Km exponents of the prefactors (transposed)
    signed_v : (n_rxn,)             v* * sign(1 - Gamma/Keq): Vmax = signed_v / |g|
    """

    n: int
    ln_km_shift: float
    mono_ln_x: np.ndarray
    mono_km: np.ndarray
    layout: FactorLayout
    active: np.ndarray
    G: np.ndarray
    moving: np.ndarray
    J0: np.ndarray
    ln_g_x: np.ndarray
    prefactor: np.ndarray
    signed_v: np.ndarray
    species: tuple[str, ...]
    reactions: tuple[str, ...]
    km_names: tuple[str, ...]

    @property
    def wrong_direction(self) -> list[str]:
        """Reactions whose flux opposes their displacement: Vmax < 0 for every Km set."""
        return [r for r, s in zip(self.reactions, self.signed_v) if s < 0]

    def to_torch(self, device: str = "cpu") -> StabilityProblem:
        """A copy whose arrays are float64 (indices: int64) torch tensors on ``device``."""
        import torch

        values = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                value = torch.as_tensor(value, device=device)
            elif isinstance(value, FactorLayout):
                value = value.to_torch(device)
            values[f.name] = value
        return StabilityProblem(**values)


def build_problem(cm: CompiledModel, state: StateArrays, ln_km_shift: float) -> StabilityProblem:
    """Precompute the Km-independent parts of Vmax and J at ``state`` (numpy, float64)."""
    st = cm.structure
    n_var = len(st.variables)
    x_var = np.exp(state.ln_x[:n_var])
    dg = displacement(cm, state.ln_x)  # ln(Gamma/Keq); -inf for irreversible
    ratio = np.exp(dg)
    one_minus = -np.expm1(dg)  # 1 - Gamma/Keq, accurate near equilibrium
    with np.errstate(divide="ignore", invalid="ignore"):
        # d ln(1 - r)/d ln x = -r/(1-r) * d ln Gamma/d ln x
        C = cm.forward[:, :n_var] - (ratio / one_minus)[:, None] * cm.displacement[:, :n_var]
    ln_g_x = cm.forward @ state.ln_x + np.log(np.abs(one_minus))

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
        mono_ln_x=cm.mono_x @ state.ln_x,
        mono_km=np.ascontiguousarray(cm.mono_km.T),
        layout=factor_layout(cm),
        active=active,
        G=np.ascontiguousarray(G[:, moving]),
        moving=moving,
        J0=J0.reshape(-1),
        ln_g_x=ln_g_x,
        prefactor=np.ascontiguousarray(cm.prefactor.T),
        signed_v=state.v * np.sign(one_minus),
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
    M, w, vmax = _monomials_and_vmax(problem, ln_km, xp)
    J = xp.zeros_like(M[:, :1]) + problem.J0  # (B, n * n)
    J[:, problem.moving] = problem.J0[problem.moving] + w[:, problem.active] @ problem.G
    return J.reshape(-1, problem.n, problem.n), vmax


def back_calculate_vmax(problem: StabilityProblem, ln_km, xp=np):
    """Vmax (B, n_rxn), model concentration per hour, that reproduce the steady-state fluxes
    for (B, n_km) ln(Km / (mol/L)) (the rate constant for mass action)."""
    return _monomials_and_vmax(problem, ln_km, xp)[2]


def _monomials_and_vmax(problem: StabilityProblem, ln_km, xp):
    """Factor monomials M (B, n_mono), their weights w = d ln G / d ln M (B, n_mono) and
    Vmax (B, n_rxn)."""
    ln_k = ln_km + problem.ln_km_shift
    M = xp.exp(problem.mono_ln_x + ln_k @ problem.mono_km)
    ln_G, sign, w = log_factors(problem.layout, M, xp)
    ln_abs_g = problem.ln_g_x + ln_k @ problem.prefactor + ln_G
    return M, w, sign * problem.signed_v * xp.exp(-ln_abs_g)


def screen(J, vmax, xp=np):
    """Per-set outcome code before eigenvalues, (B,): OK or the first problem found."""
    negative = (vmax < 0).any(-1)
    finite_v = xp.isfinite(vmax).all(-1)
    finite_j = xp.isfinite(J).all(-1).all(-1)
    return xp.where(negative, NEGATIVE_VMAX, xp.where(~finite_v, NON_FINITE_VMAX, xp.where(~finite_j, NON_FINITE_JACOBIAN, OK)))
