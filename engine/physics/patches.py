"""Object patches at scan positions: :func:`extract_patches` and its adjoint
:func:`place_patches`."""

from __future__ import annotations

from typing import Any

import torch

from .tensors import as_complex, as_positions
from .windows import extract_windows, place_windows


def extract_patches(obj: Any, positions: Any, N: int) -> torch.Tensor:
    """Cut the N x N object patch centred on each scan position, with exact sub-pixel shifts.

    Sub-pixel method: the integer window starting at ``floor(x - (N - 1) / 2)`` (explicit
    floor, not round-half-to-even; starts within 1e-3 px below an integer snap up) is cut out
    and resampled at the remaining fraction by a **Fourier shift** (phase ramp), which is exact
    for band-limited content and wraps around at the window edges. Differentiable w.r.t. ``obj``.

    Parameters
    ----------
    obj
        Complex object ``(H, W)`` (tensor or array).
    positions
        Float ``(B, 2)``, columns ``(x, y)`` = window centres in object pixels; the window's
        first pixel is at ``x - (N - 1) / 2`` (e.g. ``start + 31.5`` for N = 64).
    N
        Patch side in pixels.

    Returns
    -------
    torch.Tensor
        Complex ``(B, N, N)`` patches on ``obj``'s device.

    Raises
    ------
    OutOfBoundsError
        (a ``ValueError`` and :class:`engine.errors.DataError`) if a window leaves the object;
        the message gives the allowed centre range and the first offending position.
    """
    obj_t = as_complex(obj)
    pos = as_positions(positions, device=obj_t.device)
    if obj_t.ndim != 2:
        raise ValueError(f"obj: expected a 2-D complex object (H, W), found shape "
                         f"{tuple(obj_t.shape)}")
    return extract_windows(obj_t[None], pos[None], int(N), what="object")[0]


def place_patches(patches: Any, positions: Any, object_shape: tuple[int, int]) -> torch.Tensor:
    """Add patches into an object-sized canvas at their positions: the adjoint of extraction.

    ``place_patches(extract_patches(o, r, N), r, o.shape) == o`` inside the windows when the
    windows do not overlap, and ``extract_patches(place_patches(p, r, s), r, N) == p`` for
    non-overlapping windows (the same Fourier sub-pixel shift, reversed). Overlaps add up;
    :class:`engine.physics.Stitcher` forms the weighted average instead.

    Parameters
    ----------
    patches
        Complex ``(B, N, N)``.
    positions
        Float ``(B, 2)`` window centres ``(x, y)`` in object pixels.
    object_shape
        ``(H, W)`` of the canvas.

    Returns
    -------
    torch.Tensor
        Complex ``(H, W)``, zero outside every window.
    """
    p = as_complex(patches)
    pos = as_positions(positions, device=p.device)
    height, width = object_shape
    return place_windows(p[None], pos[None], (int(height), int(width)), what="object")[0]
