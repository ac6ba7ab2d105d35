"""Small dtype and conversion helpers shared by the physics modules."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def real_dtype_of(dtype: torch.dtype) -> torch.dtype:
    """The real dtype matching a complex (or real) dtype: complex128 -> float64, else float32."""
    return torch.float64 if dtype in (torch.complex128, torch.float64) else torch.float32


def as_complex(x: Any, device: torch.device | str | None = None) -> torch.Tensor:
    """A complex tensor (complex64, or complex128 if given double precision) from array-likes.

    Real inputs become complex with zero imaginary part; half-precision inputs are promoted,
    because the FFTs of the physics must not run in half precision.
    """
    t = torch.as_tensor(x, device=device)
    if t.dtype in (torch.complex128, torch.float64):
        return t.to(torch.complex128)
    return t.to(torch.complex64)


def as_positions(positions: Any, device: torch.device | str | None = None) -> torch.Tensor:
    """Positions as a float64 tensor ``(..., 2)`` (columns x, y), validated for shape.

    float64 keeps the integer/fraction split of large coordinates exact; MPS lacks float64,
    so there float32 is used.
    """
    t = torch.as_tensor(np.asarray(positions) if not torch.is_tensor(positions) else positions)
    dev = torch.device(device) if device is not None else t.device
    dtype = torch.float32 if dev.type == "mps" else torch.float64
    t = t.to(device=dev, dtype=dtype)
    if t.ndim < 1 or t.shape[-1] != 2:
        raise ValueError(
            f"positions: expected an array of shape (..., 2) with columns (x, y), "
            f"found shape {tuple(t.shape)}"
        )
    return t
