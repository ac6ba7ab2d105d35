"""Quality metrics against a ground-truth object: alignment, PSNR, SSIM, FRC (no torch).

``evaluate(reconstruction, truth)`` is the entry point (``align`` is its first steps, also
used to compare two results); ``format_table`` prints its result.
"""

from .alignment import (
    amplitude_scale,
    fourier_shift,
    phase_difference_model,
    registration_shift,
    to_truth_grid,
)
from .loading import load_object
from .measures import (
    FRC_THRESHOLD,
    NYQUIST_PX,
    PSNR_CAP_DB,
    data_range,
    frc_curve,
    frc_resolution,
    masked_ssim,
    psnr,
)
from .region import probe_diameter_px, probe_radius_px, scanned_region
from .scoring import Aligned, align, evaluate, format_table

__all__ = [
    "Aligned",
    "FRC_THRESHOLD",
    "NYQUIST_PX",
    "PSNR_CAP_DB",
    "align",
    "amplitude_scale",
    "data_range",
    "evaluate",
    "format_table",
    "fourier_shift",
    "frc_curve",
    "frc_resolution",
    "load_object",
    "masked_ssim",
    "phase_difference_model",
    "probe_diameter_px",
    "probe_radius_px",
    "psnr",
    "registration_shift",
    "scanned_region",
    "to_truth_grid",
]
