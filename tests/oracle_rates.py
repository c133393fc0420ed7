"""Test oracle: reaction rates and the ODE right-hand side of a compiled model (any state, batched).

Shapes: ``ln_x`` (..., n_sp) ln concentrations in model units (variables then boundary species,
``cm.species`` order); ``ln_k`` (..., n_km) ln Km in model units (``cm.km_names`` order);
``vmax`` (..., n_rxn) in model concentration per hour. Rates come out in the same units.

A reference implementation used by the tests (and ``benchmarks/bench_stability.py``): it writes
the rate laws out directly from the compiled arrays, and the library's own rate law
(:mod:`renaissance.model.ratelaw`: rates, elasticities, Vmax back-calculation, the stability
Jacobians) is checked against it. It lives outside the package and shares no code with it.
"""

from __future__ import annotations

import numpy as np

from renaissance.model.compiled import CompiledModel


def reaction_rates(cm: CompiledModel, ln_x, ln_k, vmax) -> np.ndarray:
    """Net rates v = V * g(x, K) of every reaction, shape (..., n_rxn), written out term by
    term and factor by factor (no derivative code shared with the library)."""
    ln_x, ln_k = np.asarray(ln_x), np.asarray(ln_k)  # complex input allowed (complex-step checks)
    forward = np.exp(ln_x @ cm.forward.T)
    backward = np.where(cm.reversible, np.exp(ln_x @ cm.backward.T - np.where(cm.reversible, cm.ln_keq, 0.0)), 0.0)
    monomials = np.moveaxis(np.exp(ln_x @ cm.mono_x.T + ln_k @ cm.mono_km.T), -1, 0)  # (n_mono, ...)
    batch, dtype = monomials.shape[1:], monomials.dtype
    column = lambda values: values.reshape((-1,) + (1,) * len(batch))  # noqa: E731  (n,) -> (n, 1, ...)
    sums = np.zeros((len(cm.term_fac), *batch), dtype=dtype)
    np.add.at(sums, cm.mono_term, monomials)
    factors = np.zeros((len(cm.fac_rxn), *batch), dtype=dtype)
    np.add.at(factors, cm.term_fac, column(cm.term_coef) * sums ** column(cm.term_power))
    gain = np.ones((cm.n_reactions, *batch), dtype=dtype)
    np.multiply.at(gain, cm.fac_rxn, factors ** column(cm.fac_exponent))
    return vmax * np.exp(ln_k @ cm.prefactor.T) * np.moveaxis(gain, 0, -1) * (forward - backward)


def ode_rhs(cm: CompiledModel, x_var, x_boundary, ln_k, vmax) -> np.ndarray:
    """dx/dt of the balanced species: w * (S v), shape (..., n_var); concentrations in model units."""
    x = np.concatenate([np.asarray(x_var), np.broadcast_to(x_boundary, np.shape(x_var)[:-1] + np.shape(x_boundary))], axis=-1)
    v = reaction_rates(cm, np.log(x), ln_k, vmax)
    return cm.structure.weights * (v @ cm.structure.S.T)
