"""Physical units of images (numpy only, no Qt): lengths, scale bars, line profiles.

Pixel sizes are ``(width, height)`` in metres, as products carry them
(``engine.io.read_product(...).object_pixel_size_m``); ``None`` means unknown, and views then
fall back to pixels.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.render import AMPLITUDE_LABEL, PHASE_LABEL

PixelSize = tuple[float, float] | None


COMPONENT_UNITS = {
    "amplitude": AMPLITUDE_LABEL,
    "phase": PHASE_LABEL,
    "unwrapped phase": "unwrapped phase (rad)",
    "real": "real part",
    "imaginary": "imaginary part",
    "log amplitude": "log10 amplitude",
    "counts": "counts",
    "log counts": "log10(1 + counts)",
}
"""Colour bar labels: amplitude is unitless (the object's transmission), phase in radians,
diffraction in detector counts."""


def valid_pixel_size(pixel_size: Any) -> PixelSize:
    """``(width, height)`` in metres when both are finite and > 0, else None.

    A single number is a square pixel's side.
    """
    if isinstance(pixel_size, (int, float)) and not isinstance(pixel_size, bool):
        pixel_size = (pixel_size, pixel_size)
    try:
        width, height = (float(v) for v in pixel_size)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(width) and math.isfinite(height) and width > 0 and height > 0):
        return None
    return (width, height)


def line_profile(image: np.ndarray, start: tuple[float, float], end: tuple[float, float],
                 pixel_size: PixelSize = None) -> tuple[np.ndarray, np.ndarray]:
    """Values of ``image`` along the segment ``start`` -> ``end``, bilinear between pixels.

    ``start`` and ``end`` are ``(x, y)`` = (column, row) in pixel-index coordinates (pixel
    ``(r, c)``'s centre is at ``(c, r)``). One sample per pixel of length (at least 2); a
    sample touching a NaN pixel or outside the image is NaN.

    Returns
    -------
    distance : np.ndarray
        From ``start``, in metres when ``pixel_size`` is known, else in pixels.
    values : np.ndarray
        float64 samples.
    """
    values = np.asarray(image, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"line_profile: expected a 2-D image, found shape {values.shape}")
    (x0, y0), (x1, y1) = start, end
    length_px = math.hypot(x1 - x0, y1 - y0)
    n = max(2, int(math.ceil(length_px)) + 1)
    t = np.linspace(0.0, 1.0, n)
    xs, ys = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
    h, w = values.shape
    inside = (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)
    c0 = np.clip(np.floor(xs).astype(int), 0, max(w - 2, 0))
    r0 = np.clip(np.floor(ys).astype(int), 0, max(h - 2, 0))
    c1, r1 = np.minimum(c0 + 1, w - 1), np.minimum(r0 + 1, h - 1)
    fx, fy = np.clip(xs - c0, 0, 1), np.clip(ys - r0, 0, 1)
    top = values[r0, c0] * (1 - fx) + values[r0, c1] * fx
    bottom = values[r1, c0] * (1 - fx) + values[r1, c1] * fx
    samples = np.where(inside, top * (1 - fy) + bottom * fy, np.nan)
    if pixel_size is None:
        step = length_px
    else:
        step = math.hypot((x1 - x0) * pixel_size[0], (y1 - y0) * pixel_size[1])
    return t * step, samples
