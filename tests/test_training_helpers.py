"""Shared helpers of the training and inference tests (imported by their modules; no tests).

Configs use a small network and two epochs on the CPU; the tiny dataset they train on is the
``tiny_data`` fixture of ``tests/conftest.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.config import ResolvedConfig, resolve_config

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


def tiny_config(data: Path, run_dir: Path, **overrides: Any) -> ResolvedConfig:
    """A resolved tiny training config writing to ``run_dir``."""
    values = dict(TINY_SETTINGS)
    values.update({"data.path": str(data), "training.output_dir": str(run_dir)})
    values.update({k.replace("__", "."): v for k, v in overrides.items()})
    return resolve_config(overrides=values)
