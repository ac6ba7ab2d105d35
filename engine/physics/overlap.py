"""The overlap constraint of the PINN (physics.md §4): merge a group's patches, re-extract.

The C patches of each group are placed on a shared canvas at their offsets from the group
centroid (same Fourier sub-pixel convention as :func:`engine.physics.extract_patches`),
averaged where they overlap (numerator and coverage count built from the same windows), and
each patch is cut out again. Neighbouring predictions are thereby forced to agree.

Canvas frame: the group centroid sits near the canvas centre, moved by less than one pixel so
that member 0 (the anchor of :func:`engine.physics.group_neighbours`) starts on a whole
canvas pixel. The anchor is therefore never resampled, and groups whose relative offsets are
whole pixels (an unjittered raster) involve no sub-pixel resampling at all, so the
constraint returns self-consistent patches exactly. Members at fractional relative offsets
are resampled by Fourier shifts, whose wrap-around disturbs only the window edges.
"""

from __future__ import annotations

import math

import torch

from .tensors import as_positions
from .windows import extract_windows, place_windows, scatter_windows, split_positions


def canvas_size_for(offsets: torch.Tensor, N: int) -> int:
    """Canvas side holding every window of a batch of group offsets.

    ``N + 2 * ceil(max |offset|) + 2``: room for every window plus the sub-pixel move of the
    canvas frame that puts member 0 on whole pixels (see the module docstring).
    """
    reach = float(offsets.detach().abs().max()) if offsets.numel() else 0.0
    return int(N) + 2 * int(math.ceil(reach)) + 2


def _canvas_positions(offsets: torch.Tensor, size: int, n: int,
                      device: torch.device) -> torch.Tensor:
    """Window centres on the canvas, shifted so that member 0 has an integer window start."""
    pos = as_positions(offsets, device=device)
    if pos.ndim != 3:
        raise ValueError(f"offsets: expected (B, C, 2), found shape {tuple(pos.shape)}")
    pos = pos + (size - 1) / 2.0
    _, frac = split_positions(pos[:, :1], n)
    return pos - frac


def merge_patches(patches: torch.Tensor, offsets: torch.Tensor,
                  canvas_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Average each group's patches on a shared canvas.

    Parameters
    ----------
    patches
        Complex ``(B, C, N, N)``.
    offsets
        Float ``(B, C, 2)``: patch centres ``(x, y)`` relative to the group centroid, pixels
        (see :func:`engine.physics.group_offsets`).
    canvas_size
        Canvas side S; default :func:`canvas_size_for` (pass it to avoid a device sync).

    Returns
    -------
    canvas : torch.Tensor
        Complex ``(B, S, S)``: mean of the covering patches, 0 where no patch lies.
    weight : torch.Tensor
        Real ``(B, S, S)``: how many patches cover each pixel.
    """
    n = int(patches.shape[-1])
    size = canvas_size_for(offsets, n) if canvas_size is None else int(canvas_size)
    pos = _canvas_positions(offsets, size, n, patches.device)
    total = place_windows(patches, pos, (size, size), what="group canvas")
    starts, _ = split_positions(pos, n)
    # A Fourier shift maps a constant window to itself, so the coverage of each patch is its
    # integer window: numerator and denominator share exactly the same support.
    ones = torch.ones(patches.shape, dtype=torch.float32 if patches.dtype == torch.complex64
                      else torch.float64, device=patches.device)
    weight = scatter_windows(ones, starts, (size, size))
    return total / weight.clamp(min=1.0), weight


def extract_from_canvas(canvas: torch.Tensor, offsets: torch.Tensor, N: int) -> torch.Tensor:
    """Cut the C windows of each group from its canvas: ``(B, S, S)`` -> ``(B, C, N, N)``."""
    size = int(canvas.shape[-1])
    pos = _canvas_positions(offsets, size, int(N), canvas.device)
    return extract_windows(canvas, pos, int(N), what="group canvas")


def overlap_constraint(patches: torch.Tensor, offsets: torch.Tensor,
                       canvas_size: int | None = None) -> torch.Tensor:
    """Merge the patches of each group, then re-extract them (differentiable).

    Parameters
    ----------
    patches
        Complex ``(B, C, N, N)`` predicted patches.
    offsets
        Float ``(B, C, 2)`` positions relative to the group centroid, pixels ``(x, y)``.
    canvas_size
        Optional canvas side (see :func:`merge_patches`).

    Returns
    -------
    torch.Tensor
        Complex ``(B, C, N, N)``: the consensus patches. Patches that already agree on their
        overlaps come back unchanged.
    """
    canvas, _ = merge_patches(patches, offsets, canvas_size)
    return extract_from_canvas(canvas, offsets, int(patches.shape[-1]))
