"""Quality metrics against a ground-truth object: alignment, PSNR, SSIM, FRC (no torch).

``evaluate(reconstruction, truth)`` is the entry point (``align`` is its first steps, also
used to compare two results); ``format_table`` prints its result.
"""

from .alignment import amplitude_scale, common_region, phase_difference_model, register_translation
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
from .scoring import Aligned, align, evaluate, format_table

__all__ = [
    "Aligned",
    "FRC_THRESHOLD",
    "NYQUIST_PX",
    "PSNR_CAP_DB",
    "align",
    "amplitude_scale",
    "common_region",
    "data_range",
    "evaluate",
    "format_table",
    "frc_curve",
    "frc_resolution",
    "load_object",
    "masked_ssim",
    "phase_difference_model",
    "psnr",
    "register_translation",
]
