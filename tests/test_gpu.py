"""GPU-only checks: CUDA training, mixed precision, inference on another device.

Skipped cleanly on machines without CUDA.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_training_helpers import tiny_config

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.mark.parametrize("precision", ["32-true", "16-mixed", "bf16-mixed"])
def test_cuda_training_in_each_precision(tiny_data, tmp_path, precision):
    from engine.runs import train

    cfg = tiny_config(tiny_data, tmp_path / "run", execution__accelerator="gpu",
                      execution__precision=precision)
    result = train(cfg)
    assert result.status == "completed"
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["device"]["device"].startswith("cuda")
    assert summary["device"]["precision"] == precision
    assert all(np.isfinite(row["train_loss"]) for row in result.history)


def test_gpu_checkpoint_infers_on_the_cpu_identically_enough(tiny_data, tmp_path):
    from engine.runs import infer, train

    result = train(tiny_config(tiny_data, tmp_path / "run", execution__accelerator="gpu"))
    ckpt = result.checkpoints["last"]
    on_gpu = infer(ckpt, tiny_data, None,
                   config=tiny_config(tiny_data, tmp_path / "x", execution__accelerator="gpu"))
    on_cpu = infer(ckpt, tiny_data, None,
                   config=tiny_config(tiny_data, tmp_path / "x", execution__accelerator="cpu"))
    assert on_gpu.device.startswith("cuda") and on_cpu.device == "cpu"
    mask = on_cpu.mask & on_gpu.mask
    np.testing.assert_allclose(on_gpu.obj[mask], on_cpu.obj[mask], rtol=1e-3, atol=1e-3)
