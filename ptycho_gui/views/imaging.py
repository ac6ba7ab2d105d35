"""Turning complex arrays into displayable images (numpy only, no Qt).

Components follow the usual ptychography displays: amplitude, phase (shown with a cyclic
colour map), real and imaginary parts, log amplitude, and a complex HSV rendering where hue is
the phase and value the amplitude. NaN marks pixels that were never illuminated; they stay NaN
(drawn transparent) in scalar images and black in HSV images.
"""

from __future__ import annotations

import numpy as np

COMPONENTS = ("amplitude", "phase", "real", "imaginary", "log amplitude", "complex (HSV)")
HSV = "complex (HSV)"
PHASE_LEVELS = (-float(np.pi), float(np.pi))


def component_image(data: np.ndarray, component: str) -> np.ndarray:
    """``data`` (complex or real, 2-D) as a float image, or (H, W, 3) uint8 for HSV."""
    values = np.asarray(data)
    if component == HSV:
        return hsv_image(values)
    if component == "amplitude":
        return np.abs(values).astype(np.float32)
    if component == "phase":
        return np.angle(values).astype(np.float32)
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


def _positive_floor(values: np.ndarray) -> float:
    positive = values[np.isfinite(values) & (values > 0)]
    return float(positive.min()) if positive.size else 1.0


def hsv_image(data: np.ndarray) -> np.ndarray:
    """Hue = phase, saturation = 1, value = amplitude / (99.5th percentile); NaN -> black."""
    values = np.asarray(data)
    finite = np.isfinite(values)
    amp = np.where(finite, np.abs(values), 0.0)
    top = float(np.percentile(amp[finite], 99.5)) if finite.any() else 1.0
    value = np.clip(amp / (top if top > 0 else 1.0), 0.0, 1.0)
    hue = (np.where(finite, np.angle(values), 0.0) + np.pi) / (2 * np.pi)
    # HSV -> RGB with saturation 1 (vectorised version of colorsys.hsv_to_rgb).
    h6 = (hue % 1.0) * 6.0
    sector = np.floor(h6).astype(int) % 6
    frac = h6 - np.floor(h6)
    p = np.zeros_like(value)
    q = value * (1.0 - frac)
    t = value * frac
    choices_r = [value, q, p, p, t, value]
    choices_g = [t, value, value, q, p, p]
    choices_b = [p, p, t, value, value, q]
    rgb = np.stack([np.choose(sector, choices_r), np.choose(sector, choices_g),
                    np.choose(sector, choices_b)], axis=-1)
    return np.round(rgb * 255).astype(np.uint8)


def robust_levels(image: np.ndarray, component: str, fit: bool = False) -> tuple[float, float]:
    """Display levels: the 0.5-99.5 percentiles of finite pixels.

    Phase gets the full cyclic range [-pi, pi] unless ``fit`` asks for contrast (a phase
    spanning 1.5 rad is hard to read on a colour wheel of 2 pi).
    """
    if component == "phase" and not fit:
        return PHASE_LEVELS
    finite = image[np.isfinite(image)]
    if finite.size == 0:
        return (0.0, 1.0)
    low, high = (float(v) for v in np.percentile(finite, [0.5, 99.5]))
    if high <= low:
        low, high = low - 0.5, high + 0.5
    return (low, high)


def log_counts(patterns: np.ndarray) -> np.ndarray:
    """log10(1 + counts), the usual display of diffraction patterns (negative counts -> 0)."""
    return np.log10(1.0 + np.maximum(np.asarray(patterns, dtype=np.float32), 0.0))
