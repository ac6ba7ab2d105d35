"""Shared fixtures of the training and inference tests (imported by their modules; no tests).

A tiny simulated dataset (preset "tiny": 64 patterns of 32 x 32, about a second) is made
once per test session; configs use a small network and two epochs on the CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.config import ResolvedConfig, SessionConfig, resolve_config

TINY_SETTINGS: dict[str, Any] = {
    "model.N": 32,
    "model.width": 8,
    "model.depth": 2,
    "training.batch_size": 8,
    "training.max_epochs": 2,
    "training.val_fraction": 0.25,
    "execution.accelerator": "cpu",
    "execution.devices": 1,
    "execution.progress_bar": False,
    "execution.logger": "none",
    "execution.num_workers": 0,
}


_MADE: dict[str, Path] = {}


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``dataset.npz`` of the tiny preset (truth.h5 next to it), made once per session."""
    import torch

    from engine.runs import simulate

    torch.set_num_threads(1)
    key = str(tmp_path_factory.getbasetemp())
    if key not in _MADE:
        out = tmp_path_factory.mktemp("tiny-data")
        result = simulate(SessionConfig(), out, preset="tiny")
        assert result.status == "completed"
        _MADE[key] = Path(result.files["dataset"])
    return _MADE[key]


def tiny_config(data: Path, run_dir: Path, **overrides: Any) -> ResolvedConfig:
    """A resolved tiny training config writing to ``run_dir``."""
    values = dict(TINY_SETTINGS)
    values.update({"data.path": str(data), "training.output_dir": str(run_dir)})
    values.update({k.replace("__", "."): v for k, v in overrides.items()})
    return resolve_config(overrides=values)
