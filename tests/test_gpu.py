"""The torch backend on CUDA (run with ``pytest -m gpu`` on a machine with a GPU)."""

from __future__ import annotations

import numpy as np
import pytest

from renaissance.stability import evaluate_stability
from renaissance.stability.km import sample_log_uniform_km

pytestmark = pytest.mark.gpu


def test_cuda_reproduces_reference_and_numpy(ecoli_problem, fixture_km, fixture_lambda):
    torch = pytest.importorskip("torch")
    assert torch.cuda.is_available(), "pytest -m gpu needs a CUDA device"
    result = evaluate_stability(ecoli_problem, fixture_km[1], backend="torch", device="cuda")
    np.testing.assert_allclose(result.lambda_max, fixture_lambda, rtol=1e-6)
    km = sample_log_uniform_km(2000, len(ecoli_problem.km_names), seed=11)
    cpu = evaluate_stability(ecoli_problem, km)
    for mode in ("exact", "decide"):
        gpu = evaluate_stability(ecoli_problem, km, backend="torch", device="cuda", mode=mode)
        assert np.array_equal(gpu.valid, cpu.valid)
        kept = ~gpu.certified
        np.testing.assert_allclose(gpu.lambda_max[kept], cpu.lambda_max[kept], rtol=1e-6)


def test_training_and_generation_on_cuda(tmp_path):
    """A short E. coli training with the generator and Jacobians on the GPU learns, and its
    population's stored lambda_max are those of its Km (checked on the host)."""
    torch = pytest.importorskip("torch")
    assert torch.cuda.is_available(), "pytest -m gpu needs a CUDA device"
    from dataclasses import replace

    from renaissance.generator import load_settings, train
    from renaissance.parameterised import parameterise
    from renaissance.generator.population import generate_population
    from renaissance.parameterised import read_population
    from renaissance.generator.settings import with_overrides

    settings = replace(with_overrides(load_settings(), nes={"generations": 10, "models_per_child": 50}), final_samples=300)
    run = train(settings, tmp_path / "run", device="cuda")
    assert np.nanmedian(run.final_lambda_max) < 1e3 and run.theta.device.type == "cuda"
    generate_population(tmp_path / "run", 500, tmp_path / "pop.h5", device="cuda")
    pop = read_population(tmp_path / "pop.h5")
    host = evaluate_stability(parameterise(settings.problem).stability, pop.km)
    assert np.array_equal(host.valid, pop.valid)
    np.testing.assert_allclose(pop.lambda_max, host.lambda_max, rtol=1e-6)


def test_cuda_evaluates_every_class_as_numpy(all_classes_cm, tmp_path, ecoli_path):
    """Rate laws with powered terms and signed factors (Hill classes) and the regulated classes:
    the torch backend on CUDA gives numpy's Vmax, Jacobians and lambda_max."""
    torch = pytest.importorskip("torch")
    assert torch.cuda.is_available(), "pytest -m gpu needs a CUDA device"
    from pathlib import Path

    from renaissance.model import compile_model, load_model
    from renaissance.stability import jacobians_and_vmax, prepare_stability
    from renaissance.stability.km import read_km_table
    from renaissance.steadystate import read_steady_state

    classes = Path(__file__).resolve().parent / "fixtures" / "skimpy_classes"
    for name in ("unibi_hill", "biuni_hill", "gen_rev_hill", "h1_inhibited", "hill_activation_modifier"):
        cm = compile_model(load_model(classes / f"{name}.yml"))
        problem = prepare_stability(cm, read_steady_state(classes / f"{name}_ss.csv"))
        km = read_km_table(classes / f"{name}_params.csv", cm.km_names)
        J, vmax = jacobians_and_vmax(problem, np.log(km))
        Jg, vmaxg = jacobians_and_vmax(problem.to_torch("cuda"), torch.as_tensor(np.log(km), device="cuda"), torch)
        np.testing.assert_allclose(Jg.cpu().numpy(), J, rtol=1e-12, atol=1e-12 * np.abs(J).max(), err_msg=name)
        np.testing.assert_allclose(vmaxg.cpu().numpy(), vmax, rtol=1e-12, err_msg=name)
        gpu = evaluate_stability(problem, km, backend="torch", device="cuda")
        np.testing.assert_allclose(gpu.lambda_max, evaluate_stability(problem, km).lambda_max, rtol=1e-9, err_msg=name)
