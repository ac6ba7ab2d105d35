"""The workflows: plain functions of a resolved configuration (train, infer, demo, simulate).

:func:`train` -> :class:`RunResult`, :func:`infer` / :func:`infer_from_config` ->
:class:`InferenceResult`, :func:`run_demo`, :func:`simulate` -> :class:`SimulationResult`.
Each takes a :class:`~engine.config.ResolvedConfig` (validated, paths absolute); a bare
``SessionConfig`` from the API is resolved once through :func:`engine.config.resolve_config`.
"""

from .demo import format_demo_table, run_demo
from .infer import InferenceResult, infer, infer_from_config
from .simulate import SimulationResult, simulate
from .train import RunResult, train

__all__ = [
    "InferenceResult",
    "RunResult",
    "SimulationResult",
    "format_demo_table",
    "infer",
    "infer_from_config",
    "run_demo",
    "simulate",
    "train",
]
