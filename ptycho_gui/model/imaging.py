"""Turning complex arrays into displayable images (numpy only, no Qt).

Components follow the usual ptychography displays: amplitude, phase (shown with a cyclic
colour map), real and imaginary parts, log amplitude, and a complex HSV rendering where hue is
the phase and value the amplitude. NaN marks pixels that were never illuminated; they stay NaN
(drawn transparent) in scalar images and black in HSV images. Colour maps, display levels and
the HSV rendering come from :mod:`engine.render`, shared with the PNG export.
"""

from __future__ import annotations

import numpy as np

from engine.render import PHASE_LEVELS, hsv_image, robust_levels

UNWRAPPED = "unwrapped phase"
COMPONENTS = ("amplitude", "phase", UNWRAPPED, "real", "imaginary", "log amplitude",
              "complex (HSV)")
HSV = "complex (HSV)"


def component_image(data: np.ndarray, component: str) -> np.ndarray:
    """``data`` (complex or real, 2-D) as a float image, or (H, W, 3) uint8 for HSV."""
    values = np.asarray(data)
    if component == HSV:
        return hsv_image(values)
    if component == "amplitude":
        return np.abs(values).astype(np.float32)
    if component == "phase":
        return np.angle(values).astype(np.float32)
    if component == UNWRAPPED:
        return unwrapped_phase(values)
    if component == "real":
        return np.real(values).astype(np.float32)
    if component == "imaginary":
        return np.imag(values).astype(np.float32)
    if component == "log amplitude":
        with np.errstate(divide="ignore", invalid="ignore"):
            amp = np.abs(values).astype(np.float32)
            floor = _positive_floor(amp)
            return np.log10(np.maximum(amp, floor))
    raise ValueError(f"unknown image component {component!r}; expected one of {COMPONENTS}")


def unwrapped_phase(values: np.ndarray) -> np.ndarray:
    """The phase without its 2 pi jumps (``skimage.restoration.unwrap_phase``, reliability
    ordered), NaN where the object is NaN (those pixels take no part in the unwrapping);
    offset so that its median is within (-pi, pi] like the wrapped phase."""
    from skimage.restoration import unwrap_phase

    values = np.asarray(values)
    finite = np.isfinite(values)
    out = np.full(values.shape, np.nan, dtype=np.float32)
    if not finite.any():
        return out
    wrapped = np.ma.masked_array(np.angle(np.where(finite, values, 1.0)), mask=~finite)
    unwrapped = np.ma.getdata(unwrap_phase(wrapped))
    median = float(np.median(unwrapped[finite]))
    turns = np.round(median / (2 * np.pi))
    out[finite] = (unwrapped[finite] - 2 * np.pi * turns).astype(np.float32)
    return out


def _positive_floor(values: np.ndarray) -> float:
    positive = values[np.isfinite(values) & (values > 0)]
    return float(positive.min()) if positive.size else 1.0


def log_counts(patterns: np.ndarray) -> np.ndarray:
    """log10(1 + counts), the usual display of diffraction patterns (negative counts -> 0)."""
    return np.log10(1.0 + np.maximum(np.asarray(patterns, dtype=np.float32), 0.0))


__all__ = ["COMPONENTS", "HSV", "PHASE_LEVELS", "component_image", "hsv_image", "log_counts",
           "robust_levels"]
