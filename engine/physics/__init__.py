"""Physics core: forward model, losses, sub-pixel patches, grouping, overlap, stitching.

Conventions (docs/physics.md): positions are window centres ``(x, y)`` in object pixels, the
window's first pixel at ``x - (N - 1) / 2``; sub-pixel moves are exact Fourier shifts of
integer windows (floor split); far field = ``fftshift(fft2(P * O, norm="ortho"))``.
"""

from .forward import forward_intensity, probe_intensity, probe_modes
from .fourier import fourier_shift
from .grouping import group_neighbours, group_offsets
from .losses import amplitude_mae, poisson_nll
from .overlap import canvas_size_for, extract_from_canvas, merge_patches, overlap_constraint
from .patches import extract_patches, place_patches
from .stitching import Stitcher, stitch
from .windows import SNAP_TOLERANCE_PX, OutOfBoundsError, split_positions

__all__ = [
    "SNAP_TOLERANCE_PX",
    "OutOfBoundsError",
    "Stitcher",
    "amplitude_mae",
    "canvas_size_for",
    "extract_from_canvas",
    "extract_patches",
    "forward_intensity",
    "fourier_shift",
    "group_neighbours",
    "group_offsets",
    "merge_patches",
    "overlap_constraint",
    "place_patches",
    "poisson_nll",
    "probe_intensity",
    "probe_modes",
    "split_positions",
    "stitch",
]
