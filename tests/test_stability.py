"""Vmax back-calculation, reduced Jacobians and lambda_max: reference fixtures, derivative
checks for every mechanism and modifier class, a hand-solved model, backends and modes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from renaissance.model import compile_model, model_from_dict
from renaissance.settings import UnitSettings
from renaissance.stability import build_problem, evaluate_stability, jacobians_and_vmax, prepare_stability
from renaissance.stability.km import sample_log_uniform_km
from renaissance.steadystate import SteadyState, state_arrays
from renaissance.steadystate.table import StateArrays

from .conftest import FIXTURES
from .oracle_rates import reaction_rates


def test_reduced_size(ecoli_cm):
    st = ecoli_cm.structure
    assert len(st.variables) == 90 and st.n_independent == 85
    assert [st.variables[i] for i in st.dependent] == ["nadh_c", "accoa_c", "adp_c", "q8_c", "nadph_c"]
    assert np.abs(st.conservation @ st.S).max() == 0.0
    assert sorted(map(sorted, st.pools())) == sorted(map(sorted, [
        ["nad_c", "nadh_c"], ["accoa_c", "coa_c", "succoa_c"], ["adp_c", "amp_c", "atp_c"],
        ["q8_c", "q8h2_c"], ["nadp_c", "nadph_c"]]))
    # moving an independent species along the link keeps every pool constant
    assert np.abs((st.conservation / st.weights) @ st.link).max() < 1e-12


def test_reference_jacobians_entry_by_entry(ecoli_problem, fixture_km):
    names, km = fixture_km
    assert names == list(ecoli_problem.km_names)
    reference = np.load(FIXTURES / "jacobians.npz")
    assert list(reference["species"]) == list(ecoli_problem.species)
    J, vmax = jacobians_and_vmax(ecoli_problem, np.log(km[:3]))
    scale = np.abs(reference["J"]).max(axis=(1, 2), keepdims=True)
    assert np.abs(J - reference["J"]).max() / scale.min() < 1e-9


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_reference_lambda_max(ecoli_problem, fixture_km, fixture_lambda, backend):
    result = evaluate_stability(ecoli_problem, fixture_km[1], backend=backend)
    assert list(result.reason) == ["ok"] * 30
    np.testing.assert_allclose(result.lambda_max, fixture_lambda, rtol=1e-6)
    assert not result.valid.any()  # all 30 random sets are unstable on this state


def test_torch_matches_numpy_bitwise_close(ecoli_problem, fixture_km):
    torch = pytest.importorskip("torch")
    ln_km = np.log(fixture_km[1][:5])
    J_np, v_np = jacobians_and_vmax(ecoli_problem, ln_km)
    J_t, v_t = jacobians_and_vmax(ecoli_problem.to_torch(), torch.as_tensor(ln_km), torch)
    assert J_t.dtype == torch.float64
    np.testing.assert_allclose(J_t.numpy(), J_np, rtol=1e-12, atol=1e-12 * np.abs(J_np).max())
    np.testing.assert_allclose(v_t.numpy(), v_np, rtol=1e-12)


def test_vmax_reproduces_fluxes(ecoli_cm, ecoli_problem, fixture_state, fixture_km):
    km = fixture_km[1]
    arrays = state_arrays(ecoli_cm, fixture_state)
    _, vmax = jacobians_and_vmax(ecoli_problem, np.log(km))
    ln_k = np.log(km) + math.log(1e9)
    v = reaction_rates(ecoli_cm, arrays.ln_x, ln_k, vmax)
    assert np.all(vmax >= 0) and np.all(np.isfinite(vmax))
    np.testing.assert_allclose(v, np.broadcast_to(arrays.v, v.shape), rtol=1e-10, atol=0)


def _reduced_jacobian_complex_step(cm, ln_x, ln_k, vmax):
    """J = W N_R (dv/dx) L with dv/dx by complex step on each variable (exact to rounding)."""
    st = cm.structure
    n_var = len(st.variables)
    x = np.exp(ln_x)
    dvdx = np.empty((cm.n_reactions, n_var))
    for j in range(n_var):
        h = 1e-30 * x[j]
        xc = x.astype(complex)
        xc[j] += 1j * h
        dvdx[:, j] = reaction_rates(cm, np.log(xc), ln_k, vmax).imag / h
    Wn = st.weights[st.independent, None] * st.S[st.independent]
    return Wn @ dvdx @ st.link


def _reduced_jacobian_central(cm, ln_x, ln_k, vmax, rel=1e-6):
    """The same J by central finite differences of the reduced ODE right-hand side."""
    st = cm.structure
    n_var = len(st.variables)
    x = np.exp(ln_x)
    Wn = st.weights[st.independent, None] * st.S[st.independent]
    columns = []
    for col in range(st.n_independent):
        step = rel * x[st.independent[col]]
        dx = step * st.link[:, col]  # move x_I, keep every pool
        plus, minus = x.copy(), x.copy()
        plus[:n_var] += dx
        minus[:n_var] -= dx
        rate = lambda xx: Wn @ reaction_rates(cm, np.log(xx), ln_k, vmax)  # noqa: E731
        columns.append((rate(plus) - rate(minus)) / (2 * step))
    return np.stack(columns, axis=1)


def _random_point(cm, rng):
    """Random state (not steady), Km and Vmax: fluxes are what the rate laws give there."""
    ln_x = rng.uniform(math.log(1e3), math.log(1e7), len(cm.species))
    ln_km = rng.uniform(math.log(1e-6), math.log(1e-2), len(cm.km_names))
    vmax = np.exp(rng.uniform(0, 10, cm.n_reactions))
    return ln_x, ln_km, vmax


def _classes(cm):
    """(label, mask over reactions) for every mechanism and modifier class of the model."""
    reactions = list(cm.model.reactions.values())
    labels = sorted({r.mechanism for r in reactions} | {m.kind for r in reactions for m in r.modifiers})
    return [(label, np.array([r.mechanism == label or any(m.kind == label for m in r.modifiers) for r in reactions]))
            for label in labels]


@pytest.mark.parametrize("model_fixture", ["toy_cm", "ecoli_cm", "all_classes_cm"])
def test_jacobian_matches_derivatives_for_every_class(model_fixture, request):
    cm = request.getfixturevalue(model_fixture)
    rng = np.random.default_rng(7)
    classes = _classes(cm)
    assert len(classes) >= {"ecoli_cm": 9, "toy_cm": 7, "all_classes_cm": 21}[model_fixture]
    for label, mask in classes:
        for _ in range(3):
            ln_x, ln_km, vmax = _random_point(cm, rng)
            vmax = np.where(mask, vmax, 0.0)  # only this class's reactions
            ln_k = ln_km + math.log(1e9)
            v = reaction_rates(cm, ln_x, ln_k, vmax)
            problem = build_problem(cm, StateArrays(ln_x, v), math.log(1e9))
            J, vmax_back = jacobians_and_vmax(problem, ln_km[None])
            np.testing.assert_allclose(vmax_back[0], vmax, rtol=1e-10, err_msg=label)
            exact = _reduced_jacobian_complex_step(cm, ln_x, ln_k, vmax)
            scale = np.abs(exact).max()
            assert scale > 0, label
            assert np.abs(J[0] - exact).max() <= 1e-10 * scale, label
            central = _reduced_jacobian_central(cm, ln_x, ln_k, vmax)
            assert np.abs(J[0] - central).max() <= 1e-5 * scale, label


def _two_step_model(volume_c: float):
    """a_e <-> a_c <-> b_c <-> b_e: mass action, reversible Michaelis-Menten, mass action."""
    reactant = lambda c: {"compartment": c}  # noqa: E731
    mass_action = lambda s, p: {  # noqa: E731
        "class": "RevMassaction", "mechanism_stoichiometry": {"substrate1": -1.0, "product1": 1.0},
        "substrate1": s, "product1": p}
    return model_from_dict({
        "name": "two_step",
        "compartments": {"c": "c", "e": "e"},
        "reactants": {"a_e": reactant("e"), "a_c": reactant("c"), "b_c": reactant("c"), "b_e": reactant("e")},
        "boundary_conditions": {"CC_a_e": {"class": "ConstantConcentration", "reactant": "a_e"},
                                "CC_b_e": {"class": "ConstantConcentration", "reactant": "b_e"}},
        "parameters": {"k_equilibrium_R1": 1.0, "k_equilibrium_R2": 4.0, "k_equilibrium_R3": 1.0,
                       "volume_c": volume_c, "cell_volume_c": 1.0},
        "reactions": {
            "R1": {"mechanism": mass_action("a_e", "a_c")},
            "R2": {"mechanism": {"class": "ReversibleMichaelisMenten", "substrate": "a_c", "product": "b_c"}},
            "R3": {"mechanism": mass_action("b_c", "b_e")},
        },
    })


def test_eigenvalues_of_a_model_solved_by_hand():
    # Unit settings with flux_factor 1 and concentration scale 1: model units = mol/L, mmol/gDW/h.
    units = UnitSettings(concentration_scale=1.0, density=1000.0, gdw_per_gww=1.0)
    assert units.flux_factor == 1.0
    cm = compile_model(_two_step_model(volume_c=0.5))
    state = SteadyState({"a_e": 10.0, "a_c": 2.0, "b_c": 1.0, "b_e": 0.5}, {"R1": 1.0, "R2": 1.0, "R3": 1.0})
    problem = prepare_stability(cm, state, units)
    J, vmax = jacobians_and_vmax(problem, np.log([[1.0, 1.0]]))  # Ks = Kp = 1
    # v1 = k1 (10 - a), v2 = V2 (a - b/4) / (1 + a + b), v3 = k3 (b - 0.5) at a = 2, b = 1:
    # k1 = 1/8, V2 = 1 / (1.75/4) = 16/7, k3 = 2; dv2/da = 9/28, dv2/db = -11/28; w = 1/0.5 = 2.
    np.testing.assert_allclose(vmax[0], [1 / 8, 16 / 7, 2.0], rtol=1e-14)
    expected = 2 * np.array([[-1 / 8 - 9 / 28, 11 / 28], [9 / 28, -11 / 28 - 2]])
    np.testing.assert_allclose(J[0], expected, rtol=1e-13)
    trace, det = np.trace(expected), np.linalg.det(expected)
    roots = (trace + np.array([1, -1]) * math.sqrt(trace**2 - 4 * det)) / 2  # -0.787..., -4.892...
    result = evaluate_stability(problem, [[1.0, 1.0]], threshold=-0.5)
    np.testing.assert_allclose(result.lambda_max, roots.max(), rtol=1e-13)
    assert result.valid.tolist() == [True]
    assert evaluate_stability(problem, [[1.0, 1.0]], threshold=-2.5).valid.tolist() == [False]


def test_flux_against_displacement_marks_every_set_invalid(ecoli_cm, fixture_state, fixture_km):
    fluxes = dict(fixture_state.fluxes)
    fluxes["PGI"] = -fluxes["PGI"]  # now runs up its dG
    problem = prepare_stability(ecoli_cm, SteadyState(fixture_state.concentrations, fluxes))
    assert problem.wrong_direction == ["PGI"]
    result = evaluate_stability(problem, fixture_km[1][:4])
    assert list(result.reason) == ["negative_vmax"] * 4
    assert not result.valid.any() and np.isnan(result.lambda_max).all()


def test_non_finite_sets_are_reported_not_raised(ecoli_problem, fixture_km):
    km = fixture_km[1][:3].copy()
    km[1, 0] = 1e-320  # ln Km = -737: a monomial overflows
    result = evaluate_stability(ecoli_problem, km)
    assert result.reason[0] == "ok" and result.reason[2] == "ok"
    assert result.reason[1] in ("non_finite_vmax", "non_finite_jacobian")
    assert not result.valid[1]


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_decide_mode_gives_identical_decisions(ecoli_problem, backend):
    km = sample_log_uniform_km(600, len(ecoli_problem.km_names), seed=3)
    exact = evaluate_stability(ecoli_problem, km, backend=backend)
    fast = evaluate_stability(ecoli_problem, km, mode="decide", backend=backend)
    assert fast.certified.mean() > 0.5  # most random sets are settled by a determinant sign
    assert np.array_equal(fast.valid, exact.valid)
    assert np.all(exact.lambda_max[fast.certified] > -2.5)
    kept = ~fast.certified
    np.testing.assert_array_equal(fast.lambda_max[kept], exact.lambda_max[kept])


def test_decide_mode_near_the_valid_region(ecoli_problem):
    """Sets straddling the threshold: shift it so about half are valid; decisions must agree."""
    km = sample_log_uniform_km(300, len(ecoli_problem.km_names), seed=4)
    exact = evaluate_stability(ecoli_problem, km)
    threshold = float(np.median(exact.lambda_max))
    a = evaluate_stability(ecoli_problem, km, threshold=threshold)
    b = evaluate_stability(ecoli_problem, km, threshold=threshold, mode="decide")
    assert 0.3 < a.incidence < 0.7
    assert np.array_equal(a.valid, b.valid)


def test_threads_do_not_change_results(ecoli_problem):
    km = sample_log_uniform_km(300, len(ecoli_problem.km_names), seed=5)
    one = evaluate_stability(ecoli_problem, km, n_threads=1, chunk_size=300)
    two = evaluate_stability(ecoli_problem, km, n_threads=2, chunk_size=37)
    np.testing.assert_array_equal(one.lambda_max, two.lambda_max)


@pytest.mark.parametrize(("options", "message"), [
    ({"mode": "fast"}, r"^mode == 'fast', must be one of \['decide', 'exact'\]$"),
    ({"backend": "jax"}, r"^backend == 'jax', must be one of \['numpy', 'torch'\]$"),
    ({"km": np.ones(384)}, r"^km has shape \(384,\), expected \(B, 384\)$"),
    ({"km": np.ones((2, 3))}, r"^km has shape \(2, 3\), expected \(B, 384\)$"),
])
def test_bad_arguments_are_one_clear_error(ecoli_problem, options, message):
    with pytest.raises(ValueError, match=message):
        evaluate_stability(ecoli_problem, **{"km": np.ones((1, 384)), **options})
