"""Shared helpers of the hardening tests (faults, bad inputs, large data); no tests here.

A tiny simulated dataset (preset "tiny": 64 patterns of 32 x 32) is made once per test
session; :func:`tiny_overrides` gives a small CPU training that finishes in seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.config import ResolvedConfig, SessionConfig, resolve_config

TINY: dict[str, Any] = {
    "model.N": 32,
    "model.width": 8,
    "model.depth": 2,
    "training.batch_size": 8,
    "training.max_epochs": 1,
    "training.val_fraction": 0.25,
    "execution.accelerator": "cpu",
    "execution.devices": 1,
    "execution.progress_bar": False,
    "execution.logger": "none",
}


def tiny_overrides(data: Path | str, out: Path | str, **more: Any) -> dict[str, Any]:
    """Settings of a tiny CPU training of ``data`` into ``out`` (``a__b=v`` sets ``a.b``)."""
    values = dict(TINY, **{"data.path": str(data), "training.output_dir": str(out)})
    values.update({k.replace("__", "."): v for k, v in more.items()})
    return values


def tiny_resolved(data: Path | str, out: Path | str, **more: Any) -> ResolvedConfig:
    return resolve_config(overrides=tiny_overrides(data, out, **more))


def cli_settings(data: Path | str, out: Path | str, **more: Any) -> list[str]:
    """The same settings as ``--set`` arguments (data and output included)."""
    args: list[str] = []
    for key, value in tiny_overrides(data, out, **more).items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args += ["--set", f"{key}={text}"]
    return args


_MADE: dict[str, Path] = {}


def make_tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``dataset.npz`` of the tiny preset (product.h5, diffraction.h5, truth.h5 next to it),
    simulated once per test session (test modules wrap it in a session fixture)."""
    import torch

    from engine.runs import simulate

    key = str(tmp_path_factory.getbasetemp())
    if key not in _MADE:
        torch.set_num_threads(1)
        out = tmp_path_factory.mktemp("hardening-tiny")
        result = simulate(SessionConfig(), out, preset="tiny")
        assert result.status == "completed"
        _MADE[key] = Path(result.files["dataset"])
    return _MADE[key]


def engine_cli(*args: str, cwd: Path, timeout: float = 300,
               **popen: Any) -> subprocess.CompletedProcess[str]:
    """Run ``python -m engine.cli.main ARGS`` in a fresh interpreter (one torch thread)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-m", "engine.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, **popen)
