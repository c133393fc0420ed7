"""Rate laws and the ODE right-hand side on the example model: steady state reproduced,
conserved pools constant along an integration, local dynamics as the Jacobian predicts."""

from __future__ import annotations

import math

import numpy as np
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from renaissance.stability import jacobians_and_vmax, prepare_stability
from renaissance.stability.km import sample_log_uniform_km
from renaissance.steadystate import state_arrays, validate_steady_state

from .oracle_rates import ode_rhs, reaction_rates


def _parameterised_toy(toy_cm, toy_state, seed=0):
    validate_steady_state(toy_cm, toy_state)
    arrays = state_arrays(toy_cm, toy_state)
    problem = prepare_stability(toy_cm, toy_state)
    km = sample_log_uniform_km(1, len(toy_cm.km_names), bounds=(1e-5, 1e-2), seed=seed)
    J, vmax = jacobians_and_vmax(problem, np.log(km))
    ln_k = np.log(km[0]) + math.log(1e9)
    return arrays, ln_k, vmax[0], J[0]


def test_steady_state_is_a_fixed_point(toy_cm, toy_state):
    arrays, ln_k, vmax, _ = _parameterised_toy(toy_cm, toy_state)
    n_var = len(toy_cm.structure.variables)
    v = reaction_rates(toy_cm, arrays.ln_x, ln_k, vmax)
    np.testing.assert_allclose(v, arrays.v, rtol=1e-12)
    x = arrays.x
    dxdt = ode_rhs(toy_cm, x[:n_var], x[n_var:], ln_k, vmax)
    assert np.abs(dxdt).max() <= 1e-9 * np.abs(arrays.v).max()


def test_pools_are_conserved_along_a_trajectory(toy_cm, toy_state):
    arrays, ln_k, vmax, J = _parameterised_toy(toy_cm, toy_state)
    st = toy_cm.structure
    n_var = len(st.variables)
    x_boundary = arrays.x[n_var:]
    rng = np.random.default_rng(1)
    x0 = arrays.x[:n_var] * rng.uniform(0.8, 1.2, n_var)  # every variable species perturbed
    slowest = 1 / abs(np.linalg.eigvals(J).real).min()
    solution = solve_ivp(lambda t, y: ode_rhs(toy_cm, y, x_boundary, ln_k, vmax), (0, 3 * slowest), x0,
                         method="BDF", rtol=1e-10, atol=1e-6, dense_output=False)
    assert solution.success
    pools = (st.conservation / st.weights) @ solution.y  # (n_pool, n_times)
    assert pools.shape == (2, solution.y.shape[1]) and solution.y.shape[1] > 10
    drift = np.abs(pools - pools[:, :1]).max(axis=1) / (np.abs(st.conservation / st.weights) @ x0)
    assert drift.max() < 1e-9
    assert np.abs(solution.y[:, 0] - solution.y[:, -1]).max() > 1e-3 * x0.min()  # it did move


def test_small_perturbation_follows_the_linearisation(toy_cm, toy_state):
    arrays, ln_k, vmax, J = _parameterised_toy(toy_cm, toy_state)
    st = toy_cm.structure
    n_var = len(st.variables)
    x_star, x_boundary = arrays.x[:n_var], arrays.x[n_var:]
    assert np.linalg.eigvals(J).real.max() < 0  # this parameter set is stable
    delta_indep = 1e-6 * x_star[st.independent] * np.linspace(-1, 1, st.n_independent)
    x0 = x_star + st.link @ delta_indep  # pools kept
    t_end = 0.5 / abs(np.linalg.eigvals(J).real).min()
    solution = solve_ivp(lambda t, y: ode_rhs(toy_cm, y, x_boundary, ln_k, vmax), (0, t_end), x0,
                         method="Radau", rtol=1e-12, atol=1e-9 * x_star.min())
    predicted = x_star + st.link @ (expm(J * t_end) @ delta_indep)
    error = np.abs(solution.y[:, -1] - predicted) / np.abs(delta_indep).max()
    assert error.max() < 1e-4  # second-order terms ~ |delta|/x = 1e-6
