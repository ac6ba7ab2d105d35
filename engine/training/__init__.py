"""Training and inference of the PINN (torch + Lightning).

Public API: :func:`train` -> :class:`RunResult`, :func:`infer` -> :class:`InferenceResult`,
:func:`build_trainer` (the one Trainer factory), :func:`measure_throughput` (Lightning vs a
plain PyTorch loop), the generator registry :data:`GENERATORS`, and :func:`run_demo`.
"""

from .bench import measure_throughput
from .demo import run_demo
from .generators import GENERATORS, build_generator
from .infer import InferenceResult, infer, infer_from_config
from .module import PINNModule
from .pinn import PINN, Normalisers
from .train import RunResult, train
from .trainer import build_trainer

__all__ = [
    "GENERATORS",
    "InferenceResult",
    "Normalisers",
    "PINN",
    "PINNModule",
    "RunResult",
    "build_generator",
    "build_trainer",
    "infer",
    "infer_from_config",
    "measure_throughput",
    "run_demo",
    "train",
]
