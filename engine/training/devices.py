"""Which process is rank 0, and which torch device an inference runs on."""

from __future__ import annotations

import os

import torch

from ..config import ExecutionConfig, parse_devices
from ..errors import RunError

def launch_rank() -> int:
    """Global rank of this process as the launcher set it (0 outside distributed runs).

    Lightning's ``ddp`` launcher, torchrun and SLURM re-run the whole program in every
    process; before the Trainer exists this decides who prepares the run directory. torchrun
    sets ``RANK``, SLURM ``SLURM_PROCID``, Lightning's launcher ``LOCAL_RANK`` (children) and
    ``NODE_RANK`` (on every node of a manual multi-node launch).
    """
    for name in ("RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        value = _int_env(name)
        if value is not None:
            return value
    node = _int_env("NODE_RANK") or 0
    local = _int_env("LOCAL_RANK") or 0
    return node * _local_world() + local


def _int_env(name: str) -> int | None:
    value = os.environ.get(name, "")
    try:
        return int(value) if value.strip() else None
    except ValueError:
        return None


def _local_world() -> int:
    try:
        return int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    except ValueError:
        return 1


def inference_device(execution: ExecutionConfig) -> torch.device:
    """The one device inference runs on, from ``execution.accelerator`` and ``devices``.

    ``auto`` picks CUDA when present, then Apple MPS, else the CPU; ``gpu``/``cuda`` use the
    first listed device index (or 0).

    Raises
    ------
    RunError
        A GPU or MPS was asked for but is not available.
    """
    acc = execution.accelerator
    index = 0
    try:
        parsed = parse_devices(execution.devices)
    except ValueError:
        parsed = "auto"
    if isinstance(parsed, list) and parsed:
        index = int(parsed[0])
    if acc == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", index)
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if acc in ("gpu", "cuda"):
        if not torch.cuda.is_available():
            raise RunError(f"execution.accelerator = '{acc}': no CUDA GPU is available on this "
                           "machine; use 'cpu' or 'auto'")
        if index >= torch.cuda.device_count():
            raise RunError(f"execution.devices = {execution.devices!r}: GPU {index} does not "
                           f"exist ({torch.cuda.device_count()} available)")
        return torch.device("cuda", index)
    if acc == "mps":
        if not (getattr(torch.backends, "mps", None) is not None
                and torch.backends.mps.is_available()):
            raise RunError("execution.accelerator = 'mps': Apple MPS is not available here")
        return torch.device("mps")
    return torch.device("cpu")
