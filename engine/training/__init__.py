"""Lightning plumbing (torch + Lightning): the module, data, the one Trainer factory, callbacks,
checkpoints, faults, devices, run directories and the shared fit set-up.

Public API: :func:`build_trainer` (the one Trainer factory), :class:`PINNModule`,
:func:`resolve_device` -> :class:`DeviceInfo` (the one resolved-device rule) and
:func:`launch_rank`. The network is in :mod:`engine.model`, the workflows in :mod:`engine.runs`.
"""

from .devices import DeviceInfo, launch_rank, resolve_device
from .module import PINNModule
from .trainer import build_trainer

__all__ = [
    "DeviceInfo",
    "PINNModule",
    "build_trainer",
    "launch_rank",
    "resolve_device",
]
