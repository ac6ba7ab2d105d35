"""ptycho engine: PINN ptychographic reconstruction, headless (never imports Qt).

Importing ``engine`` is cheap: configuration classes load at once, while everything that needs
torch (training, inference, simulation, metrics) loads on first use, as do the sub-packages
(``engine.io.inspect`` works right after ``import engine``).

Examples
--------
>>> import engine
>>> resolved = engine.resolve_config(overrides={"training.max_epochs": 3})
>>> resolved.config.training.max_epochs
3
"""

from __future__ import annotations

import importlib
from typing import Any

from .config import (
    DataConfig,
    ExecutionConfig,
    InferenceConfig,
    ModelConfig,
    ResolvedConfig,
    SessionConfig,
    SimulationConfig,
    TrainingConfig,
    load_session,
    resolve_config,
    save_session,
    validate,
)
from .errors import CheckpointError, ConfigError, DataError, EngineError, RunError
from .reporting import PreviewFrame, Progress, Reporter

__version__ = "0.1.0"

# Public functions that need torch or h5py, loaded on first access (PEP 562).
_LAZY = {
    "train": "engine.runs",
    "infer": "engine.runs",
    "RunResult": "engine.runs",
    "simulate": "engine.runs",
    "reconstruct": "engine.runs",
    "resume": "engine.runs",
    "run_plan": "engine.runs",
    "load_dataset": "engine.io",
    "inspect": "engine.io",
    "evaluate": "engine.metrics",
    "resolve_device": "engine.training",
    "DeviceInfo": "engine.training",
    "list_runs": "engine.runs_index",
    "read_run": "engine.runs_index",
}

# Sub-packages and modules reachable as attributes (``engine.io.inspect``) without importing
# them first; loaded on first access.
_SUBMODULES = ("atomic", "bench", "cli", "config", "errors", "io", "locks", "metrics", "model",
               "physics", "render", "reporting", "runs", "simulation", "training")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"engine.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))


__all__ = [
    "CheckpointError",
    "ConfigError",
    "DataConfig",
    "DataError",
    "EngineError",
    "ExecutionConfig",
    "InferenceConfig",
    "ModelConfig",
    "PreviewFrame",
    "Progress",
    "Reporter",
    "ResolvedConfig",
    "RunError",
    "SessionConfig",
    "SimulationConfig",
    "TrainingConfig",
    "load_session",
    "resolve_config",
    "save_session",
    "validate",
    *_LAZY,
]
