"""The rate law of every reaction, written once: its pieces, its two numerical directions and the
per-reaction description the SBML writer renders.

With ``u = ln x`` (all species, variables then boundary, model units), ln K the declared constants
(model units) and V the capacities (model concentration per hour), reaction k runs at

    v_k   = V_k exp(P_k ln K) G_k (T_f,k - T_b,k)
    T_f,k = exp(Af_k u),   T_b,k = exp(Ab_k u - ln Keq_k)    (T_b = 0: irreversible, ln Keq = +inf)
    G_k   = prod_{f in k} F_f^e_f,   F_f = sum_{t in f} c_t S_t^p_t,   S_t = sum_{m in t} M_m,
    M_m   = exp(Ax_m u + AK_m ln K)

with the exponent tables of :class:`~renaissance.model.compiled.CompiledModel` (``forward``,
``backward``, ``ln_keq``, ``prefactor``, ``mono_x``, ``mono_km``) and its factor layout
(:mod:`renaissance.model.factors`: monomials -> term sums -> factors -> ln |G| and
``w_m = d ln |G_k| / d ln M_m``). The law is evaluated in two directions, both here:

* **forward**, one parameter set at any state (:class:`RateLaws`, :func:`rate_laws`; the ODE of
  :mod:`renaissance.dynamics`): ln K and V bound, rates and analytic elasticities

      dv_k/du_j = V_k exp(P_k ln K) G_k (T_f,k Af_kj - T_b,k Ab_kj) + v_k sum_{m in k} w_m Ax_mj

  (the drive T_f - T_b is kept as a difference: it changes sign and its derivative stays finite
  at equilibrium);
* **inverse**, one steady state (x*, v*) and a batch of Km sets (:class:`LawsAtState`,
  :func:`laws_at_state`, :func:`back_calculate`; :mod:`renaissance.stability`): the state bound,
  ``V = v* / (exp(P ln K) G |T_f - T_b|)`` in log form, with ``|T_f - T_b| = T_f |1 - Gamma/Keq|``
  accurate near equilibrium (``expm1``) and its log-elasticity :func:`log_drive`.

Both run their monomials through the same :func:`log_gain`. :func:`reaction_laws` walks the same
factor layout reaction by reaction (factors, terms, monomials as exponent rows) for
:func:`renaissance.interop.sbml.rate_formulas`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy import sparse

from .compiled import CompiledModel
from .factors import FactorLayout, factor_layout, log_factors


def log_gain(layout: FactorLayout, ln_monomials, xp=np):
    """``ln |G|`` (..., n_rxn), the sign of G (1.0, or (..., n_rxn)) and ``w = d ln |G| / d ln M``
    (..., n_mono) for ``ln M = Ax u + AK ln K`` (..., n_mono); ``xp`` is numpy or torch."""
    return log_factors(layout, xp.exp(ln_monomials), xp)


# ---------------------------------------------------------------- forward: one parameter set


@dataclass(frozen=True)
class RateLaws:
    """The rate laws with one parameter set (ln K, V) bound; shapes n_rxn, n_sp, n_mono."""

    forward: np.ndarray  # (n_rxn, n_sp) Af
    backward: np.ndarray  # (n_rxn, n_sp) Ab
    ln_keq: np.ndarray  # (n_rxn,), +inf for irreversible reactions
    mono_x: np.ndarray  # (n_mono, n_sp) Ax
    mono_ln_k: np.ndarray  # (n_mono,) AK_m ln K
    weight_to_q: sparse.csr_matrix  # (n_rxn * n_sp, n_mono): Q = sum_{m in k} w_m Ax_m, flattened
    layout: FactorLayout
    prefactor: np.ndarray  # (n_rxn,) V exp(P ln K), model concentration per hour

    def rates(self, u: np.ndarray) -> np.ndarray:
        """Net rates (n_rxn,) at ln concentrations ``u`` (n_sp,), model units."""
        return self._parts(u)[0]

    def rates_and_elasticities(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rates (n_rxn,) and dv/du (n_rxn, n_sp) at ``u`` (module docstring)."""
        v, gain, t_f, t_b, w = self._parts(u)
        dv = gain[:, None] * (t_f[:, None] * self.forward - t_b[:, None] * self.backward)
        dv += v[:, None] * (self.weight_to_q @ w).reshape(dv.shape)
        return v, dv

    def _parts(self, u):
        """Rates v, ``V exp(P ln K) G``, T_f, T_b (each (n_rxn,)) and w (n_mono,) at ``u``."""
        t_f = np.exp(self.forward @ u)
        t_b = np.exp(self.backward @ u - self.ln_keq)  # exp(-inf) = 0 for irreversible reactions
        ln_g, sign, w = log_gain(self.layout, self.mono_x @ u + self.mono_ln_k)
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


# ---------------------------------------------------------------- inverse: one steady state


@dataclass(frozen=True)
class LawsAtState:
    """The rate laws with a steady state (x*, v*) bound, for batches of ln K (numpy arrays or
    torch tensors); shapes n_km, n_mono, n_rxn.

    mono_ln_x : (n_mono,)        Ax_m u*
    mono_km : (n_km, n_mono)     AK transposed
    prefactor : (n_km, n_rxn)    P transposed
    ln_drive : (n_rxn,)          ln |T_f - T_b| at x*
    signed_v : (n_rxn,)          v* sign(1 - Gamma/Keq): V = signed_v / |g|
    """

    mono_ln_x: np.ndarray
    mono_km: np.ndarray
    prefactor: np.ndarray
    ln_drive: np.ndarray
    signed_v: np.ndarray
    layout: FactorLayout

    def to_torch(self, device: str = "cpu") -> LawsAtState:
        """A copy with float64 (indices: int64) torch tensors on ``device``."""
        import torch

        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return LawsAtState(**{name: value.to_torch(device) if isinstance(value, FactorLayout)
                              else torch.as_tensor(value, device=device) for name, value in values.items()})


def log_drive(cm: CompiledModel, ln_x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The drive T_f - T_b at ``ln_x`` (n_sp,, model units) in log form.

    Returns ``ln |T_f - T_b|`` (n_rxn,), ``sign(1 - Gamma/Keq)`` (n_rxn,) and the log-elasticity
    ``d ln |T_f - T_b| / d ln x = Af - r/(1 - r) (Ab - Af)``, r = Gamma/Keq (n_rxn, n_sp;
    NaN or inf at exact equilibrium).
    """
    dg = ln_x @ cm.displacement.T - cm.ln_keq  # ln(Gamma/Keq); -inf for irreversible reactions
    one_minus = -np.expm1(dg)  # 1 - Gamma/Keq, accurate near equilibrium
    with np.errstate(divide="ignore", invalid="ignore"):
        elasticity = cm.forward - (np.exp(dg) / one_minus)[:, None] * cm.displacement
    return cm.forward @ ln_x + np.log(np.abs(one_minus)), np.sign(one_minus), elasticity


def laws_at_state(cm: CompiledModel, ln_x: np.ndarray, v: np.ndarray) -> LawsAtState:
    """Bind the steady state ``ln_x`` (n_sp,, model units), ``v`` (n_rxn,, model units) (numpy)."""
    ln_drive, sign, _ = log_drive(cm, ln_x)
    return LawsAtState(
        mono_ln_x=cm.mono_x @ ln_x,
        mono_km=np.ascontiguousarray(cm.mono_km.T),
        prefactor=np.ascontiguousarray(cm.prefactor.T),
        ln_drive=ln_drive,
        signed_v=v * sign,
        layout=factor_layout(cm),
    )


def back_calculate(laws: LawsAtState, ln_k, xp=np):
    """Vmax (B, n_rxn), model concentration per hour, that reproduce v* for a batch of ln K
    (B, n_km) in model units (the rate constant for mass action), and the factor weights
    ``w = d ln |G| / d ln M`` (B, n_mono) there."""
    ln_g, sign, w = log_gain(laws.layout, laws.mono_ln_x + ln_k @ laws.mono_km, xp)
    ln_abs_g = laws.ln_drive + ln_k @ laws.prefactor + ln_g
    return sign * laws.signed_v * xp.exp(-ln_abs_g), w


# ---------------------------------------------------------------- description: one reaction


@dataclass(frozen=True)
class Term:
    """``c (sum_m M_m)^p``; each monomial as its exponent rows (Ax_m (n_sp,), AK_m (n_km,))."""

    coefficient: float
    power: float
    monomials: tuple[tuple[np.ndarray, np.ndarray], ...]


@dataclass(frozen=True)
class Factor:
    """``F^e`` with ``F`` the sum of ``terms``."""

    exponent: float
    terms: tuple[Term, ...]


@dataclass(frozen=True)
class ReactionLaw:
    """One reaction's law ``V exp(P ln K) (T_f - T_b) prod F^e`` as exponent rows: ``forward``
    Af_k, ``backward`` Ab_k (n_sp,; None when irreversible), ``prefactor`` P_k (n_km,)."""

    forward: np.ndarray
    backward: np.ndarray | None
    prefactor: np.ndarray
    factors: tuple[Factor, ...]


def reaction_laws(cm: CompiledModel) -> list[ReactionLaw]:
    """The law of every reaction of ``cm`` (``cm.structure.reactions`` order), walked from the
    same factor layout the numerical directions group with."""
    layout = factor_layout(cm)
    monomials_of = _members(layout.mono_term, len(layout.term_fac))
    terms_of = _members(layout.term_fac, len(layout.fac_rxn))
    factors_of = _members(layout.fac_rxn, cm.n_reactions)
    factors = [Factor(float(layout.fac_exponent[f]), tuple(
        Term(float(layout.term_coef[t]), float(layout.term_power[t]),
             tuple((cm.mono_x[m], cm.mono_km[m]) for m in monomials_of[t]))
        for t in terms_of[f])) for f in range(len(layout.fac_rxn))]
    return [ReactionLaw(cm.forward[k], cm.backward[k] if cm.reversible[k] else None, cm.prefactor[k],
                        tuple(factors[f] for f in factors_of[k])) for k in range(cm.n_reactions)]


def _members(index: np.ndarray, n_groups: int) -> list[np.ndarray]:
    """For each group ``g < n_groups``, the positions ``i`` with ``index[i] == g`` (ascending)."""
    order = np.argsort(index, kind="stable")
    return np.split(order, np.cumsum(np.bincount(index, minlength=n_groups))[:-1])
