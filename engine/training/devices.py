"""Which process is rank 0, and the one rule that resolves ``execution.accelerator``/``devices``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class DeviceInfo:
    """Where a run executes, as :func:`resolve_device` decided it.

    Attributes
    ----------
    accelerator
        ``"cpu"``, ``"gpu"`` or ``"mps"`` (the schema's spelling, never "auto").
    device
        The torch device of rank 0 and of inference: ``"cpu"``, ``"cuda:0"``, ``"mps"``.
    devices
        Devices per node a training run uses (inference uses one: ``device``).
    """

    accelerator: str
    device: str
    devices: int

    def torch_device(self) -> torch.device:
        return torch.device(self.device)

    def to_dict(self) -> dict[str, Any]:
        """``{"accelerator", "device", "devices"}``: what ``run_started`` and provenance carry."""
        return {"accelerator": self.accelerator, "device": self.device, "devices": self.devices}

    def describe(self) -> str:
        """One line for a status bar or a log: ``"gpu cuda:0 (2 devices)"``, ``"cpu"``."""
        text = self.accelerator if self.device == self.accelerator \
            else f"{self.accelerator} {self.device}"
        return text + (f" ({self.devices} devices)" if self.devices > 1 else "")


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def resolve_device(execution: ExecutionConfig) -> DeviceInfo:
    """The one device rule, from ``execution.accelerator`` and ``execution.devices``.

    ``auto`` picks a CUDA GPU when present, then Apple MPS, else the CPU (Lightning's order);
    ``gpu`` uses the first listed device index (or 0). Training passes the resolved
    accelerator to ``L.Trainer``; inference runs on ``device``; provenance records both.

    Raises
    ------
    RunError
        A GPU or MPS was asked for but is not available, or a listed GPU does not exist.
    """
    acc = execution.accelerator
    try:
        parsed = parse_devices(execution.devices)
    except ValueError as exc:
        raise RunError(f"execution.devices = {execution.devices!r}: {exc}") from None
    if acc == "auto":
        acc = "gpu" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    if acc == "gpu":
        available = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if available == 0:
            raise RunError(f"execution.accelerator = '{execution.accelerator}': no CUDA GPU is "
                           "available on this machine; use 'cpu' or 'auto'")
        indexes = parsed if isinstance(parsed, list) else \
            list(range(available if parsed in ("auto", -1) else int(parsed)))
        if isinstance(parsed, list) and max(indexes) >= available:
            raise RunError(f"execution.devices = {execution.devices!r}: GPU {max(indexes)} "
                           f"does not exist ({available} available)")
        if len(indexes) > available:
            raise RunError(f"execution.devices = {execution.devices!r}: {len(indexes)} GPUs "
                           f"asked for, {available} available")
        return DeviceInfo("gpu", f"cuda:{indexes[0]}", len(indexes))
    if acc == "mps":
        if not _mps_available():
            raise RunError("execution.accelerator = 'mps': Apple MPS is not available here")
        return DeviceInfo("mps", "mps", 1)
    count = len(parsed) if isinstance(parsed, list) else \
        1 if parsed in ("auto", -1) else int(parsed)
    return DeviceInfo("cpu", "cpu", count)
