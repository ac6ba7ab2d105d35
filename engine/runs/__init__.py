"""The workflows: one entry per run kind, each a plain function of one resolved configuration.

========== ============================================ ===================================
kind       entry                                        writes
========== ============================================ ===================================
train      :func:`train` -> :class:`RunResult`          ``training.output_dir`` (a run)
resume     :func:`resume` -> :class:`RunResult`         the run of ``training.output_dir``
infer      :func:`infer_from_config` ->                 ``inference.output`` (product, PNGs)
           :class:`InferenceResult`
reconstruct :func:`reconstruct` ->                      ``reconstruct.output_dir``
           :class:`ReconstructionResult`
simulate   :func:`simulate` -> :class:`SimulationResult` ``simulation.output_dir``
========== ============================================ ===================================

Each takes a :class:`~engine.config.ResolvedConfig` (validated, paths absolute), a reporter
and a stop token, and nothing else; a bare ``SessionConfig`` from the API is resolved once
through :func:`engine.config.resolve_config`. :func:`run` picks the entry of a kind (the
GUI's one job and the CLI call it); :func:`run_plan` says, before a run, which stages it goes
through and what it writes. ``train``, ``infer`` and ``reconstruct`` share one pipeline
(:mod:`engine.runs.pipeline`). :func:`infer` is the lower-level call with a checkpoint, data
and output named directly.

Importing this package is cheap: the workflows (torch, Lightning) load on first use.
"""

from .demo import format_demo_table, run_demo
from .entries import run
from .infer import InferenceResult, infer, infer_from_config
from .plan import RUN_KINDS, RunPlan, Stage, run_plan
from .reconstruct import ReconstructionResult, reconstruct
from .simulate import SimulationResult, simulate
from .train import RunResult, resume, train

__all__ = [
    "RUN_KINDS",
    "InferenceResult",
    "ReconstructionResult",
    "RunPlan",
    "RunResult",
    "SimulationResult",
    "Stage",
    "format_demo_table",
    "infer",
    "infer_from_config",
    "reconstruct",
    "resume",
    "run",
    "run_demo",
    "run_plan",
    "simulate",
    "train",
]
