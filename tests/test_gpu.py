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
