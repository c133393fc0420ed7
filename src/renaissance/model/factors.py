"""The factors of every rate law, evaluated batched: ``ln prod_f F_f^e_f`` per reaction and its
derivative with respect to each monomial (the G of :mod:`renaissance.model.ratelaw`, which
assembles the whole law; arrays of :mod:`renaissance.model.compiled`).

For monomials ``M`` (..., n_mono):

    S_t = sum_{m in t} M_m,   T_t = c_t S_t^p_t,   F_f = sum_{t in f} T_t
    ln G_k = sum_{f in k} e_f ln F_f
    w_m = d ln G_k(m) / d ln M_m = e_f(m) p_t(m) (T_t(m) / F_f(m)) (M_m / S_t(m))

so that ``d ln |G_k| / d ln x_j = sum_{m in k} w_m Ax_mj`` and likewise for ln K. For the plain
Michaelis-Menten denominators (every term one monomial, c = p = 1, e = -1) this is
``w_m = -M_m / D``. A factor can be negative only when a term has a negative coefficient
(SKiMpy's Hill laws with h != 1): its sign enters G for an integer exponent, and G is NaN for a
non-integer one (as ``pow`` of a negative base). The same code runs on numpy arrays and on torch
tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .compiled import CompiledModel


@dataclass(frozen=True)
class FactorLayout:
    """How monomials form terms, factors and reactions (numpy arrays or torch tensors).

    Shapes: n_mono monomials, n_term terms, n_fac factors, n_rxn reactions. ``simple``: every
    term is one monomial with c = p = 1 (then the term level is skipped).
    """

    simple: bool
    mono_term: np.ndarray  # (n_mono,) int
    mono_fac: np.ndarray  # (n_mono,) int
    term_fac: np.ndarray  # (n_term,) int
    fac_rxn: np.ndarray  # (n_fac,) int
    term_coef: np.ndarray  # (n_term,)
    term_power: np.ndarray  # (n_term,)
    fac_exponent: np.ndarray  # (n_fac,)
    mono_exponent: np.ndarray  # (n_mono,) e_f of each monomial's factor
    mono_to_term: np.ndarray  # (n_mono, n_term) 0/1
    mono_to_fac: np.ndarray  # (n_mono, n_fac) 0/1
    term_to_fac: np.ndarray  # (n_term, n_fac) 0/1
    fac_to_rxn: np.ndarray  # (n_fac, n_rxn) 0/1

    def to_torch(self, device: str = "cpu") -> FactorLayout:
        """A copy with float64 (indices: int64) torch tensors on ``device``."""
        import torch

        return FactorLayout(**{f.name: torch.as_tensor(getattr(self, f.name), device=device)
                               if isinstance(getattr(self, f.name), np.ndarray) else getattr(self, f.name)
                               for f in fields(self)})


def factor_layout(cm: CompiledModel) -> FactorLayout:
    """The :class:`FactorLayout` of ``cm`` (numpy)."""
    return FactorLayout(
        simple=cm.simple_terms,
        mono_term=cm.mono_term,
        mono_fac=cm.mono_fac,
        term_fac=cm.term_fac,
        fac_rxn=cm.fac_rxn,
        term_coef=cm.term_coef,
        term_power=cm.term_power,
        fac_exponent=cm.fac_exponent,
        mono_exponent=cm.fac_exponent[cm.mono_fac],
        mono_to_term=cm.membership("mono_term"),
        mono_to_fac=cm.membership("mono_fac"),
        term_to_fac=cm.membership("term_fac"),
        fac_to_rxn=cm.membership("fac_rxn"),
    )


def log_factors(layout: FactorLayout, M, xp=np):
    """``ln |G|`` (..., n_rxn), the sign of G (1.0, or (..., n_rxn)) and ``w = d ln |G| / d ln M``
    (..., n_mono) for monomials ``M`` (..., n_mono); ``xp`` is numpy or torch."""
    if layout.simple:  # sums of positive monomials: every factor > 0
        F = _group(M, layout.mono_fac, layout.mono_to_fac, xp)
        w = layout.mono_exponent * M / F[..., layout.mono_fac]
        return _group(layout.fac_exponent * xp.log(F), layout.fac_rxn, layout.fac_to_rxn, xp), 1.0, w
    S = _group(M, layout.mono_term, layout.mono_to_term, xp)
    T = layout.term_coef * S ** layout.term_power
    F = _group(T, layout.term_fac, layout.term_to_fac, xp)
    share = T / F[..., layout.term_fac]  # (..., n_term)
    w = (layout.mono_exponent * layout.term_power[layout.mono_term]) * share[..., layout.mono_term] \
        * (M / S[..., layout.mono_term])
    negative = (F < 0) * xp.ones_like(F)
    odd = layout.fac_exponent % 2 == 1  # F^e changes sign
    integer = layout.fac_exponent % 1 == 0
    # ln(1 - 2 [F < 0 and e not an integer]) is 0, or NaN where F^e is not real
    ln_abs = layout.fac_exponent * (xp.log(xp.abs(F)) + xp.log(1.0 - 2.0 * negative * ~integer))
    sign = 1.0 - 2.0 * (_group(negative * odd, layout.fac_rxn, layout.fac_to_rxn, xp) % 2)
    return _group(ln_abs, layout.fac_rxn, layout.fac_to_rxn, xp), sign, w


def _group(values, index, membership, xp):
    """Sum the last axis of ``values`` by group ``index``: a matrix product with the 0/1
    ``membership`` for batches (and torch), ``bincount`` for one numpy state (the ODE right-hand
    side, several times faster there)."""
    if xp is np and values.ndim == 1:
        return np.bincount(index, weights=values, minlength=membership.shape[1])
    return values @ membership
