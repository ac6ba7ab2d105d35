"""Checkpoints: safe loading (``weights_only=True``) and compatibility checks against data.

A checkpoint is Lightning's dict: ``state_dict`` (generator weights and the probe),
``hyper_parameters`` (plain dicts: every model setting, optimiser settings, the two
normalisers, N, gridsize, probe shape), plus optimiser and loop state for resuming. Nothing
in it needs unpickling of arbitrary objects.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError
from .module import PINNModule


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)`` on the CPU, with errors naming the file.

    Raises
    ------
    CheckpointError
        Missing or unreadable file, not a checkpoint, or not one of this engine's.
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: checkpoint file not found")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except (OSError, MemoryError) as exc:
        raise CheckpointError(f"{p}: cannot read the checkpoint ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - any decoding failure means "not a checkpoint"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{p}: expected a ptycho-engine checkpoint (.ckpt) loadable with "
            f"weights_only=True, found something else ({first})") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{p}: expected a checkpoint dict, found {type(ckpt).__name__}")
    hp = ckpt.get("hyper_parameters")
    if not isinstance(hp, dict) or "model" not in hp or "normalisers" not in hp \
            or "state_dict" not in ckpt:
        raise CheckpointError(
            f"{p}: expected 'hyper_parameters' with 'model' and 'normalisers' and a "
            "'state_dict' (a checkpoint written by ptycho-engine train), found keys "
            f"{sorted(ckpt)}")
    return ckpt


def load_module(path: str | os.PathLike[str]) -> tuple[PINNModule, dict[str, Any]]:
    """Rebuild the trained module (on the CPU, eval mode) and return it with the raw dict."""
    ckpt = read_checkpoint(path)
    try:
        module = PINNModule(dict(ckpt["hyper_parameters"]), compile=False)
        module.load_state_dict(ckpt["state_dict"])
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: the stored weights do not fit the stored settings "
                              f"({str(exc).splitlines()[0]})") from None
    module.eval()
    return module, ckpt


def check_compatible(hparams: dict[str, Any], *, N: int, probe_shape: tuple[int, ...],
                     n_patterns: int, checkpoint: str, data: str,
                     model_overrides: dict[str, Any] | None = None) -> None:
    """Refuse data (or explicitly set model settings) that the checkpoint cannot handle.

    Parameters
    ----------
    hparams
        The checkpoint's hyper-parameters.
    N, probe_shape, n_patterns
        What the data hold.
    checkpoint, data
        Names used in the message.
    model_overrides
        Model settings the user set explicitly (``{"gridsize": 3}``); each must equal the
        checkpoint's.

    Raises
    ------
    CheckpointError
        Naming the setting, the checkpoint's value and the data's (or the setting's) value.
    """
    problems = []
    if int(hparams["N"]) != int(N):
        problems.append(f"pattern size N: checkpoint {hparams['N']} x {hparams['N']} px, "
                        f"data {N} x {N} px")
    saved_probe = tuple(int(s) for s in hparams.get("probe_shape", ()))
    if saved_probe and saved_probe != tuple(int(s) for s in probe_shape):
        problems.append(f"probe shape (modes, N, N): checkpoint {saved_probe}, data "
                        f"{tuple(int(s) for s in probe_shape)}")
    groupsize = int(hparams["gridsize"]) ** 2
    if n_patterns < groupsize:
        problems.append(f"gridsize {hparams['gridsize']} groups {groupsize} patterns, the data "
                        f"hold only {n_patterns}")
    for key, value in (model_overrides or {}).items():
        saved = hparams["model"].get(key)
        if saved is not None and saved != value:
            problems.append(f"model.{key}: checkpoint {saved!r}, configuration {value!r}")
    if problems:
        raise CheckpointError(
            f"checkpoint {checkpoint} does not match {data}:\n"
            + "\n".join(f"  - {p}" for p in problems))


def probe_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Relative difference ``||a - b|| / ||b||`` of two probes of one shape."""
    den = float(np.linalg.norm(b)) or 1.0
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / den)
