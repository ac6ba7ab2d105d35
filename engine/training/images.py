"""PNG pictures of a complex object: amplitude (grey) and phase (cyclic colour wheel).

Never-illuminated pixels (NaN) are black in both. Amplitude is scaled between the 1st and
99th percentile of the illuminated pixels; phase maps -pi..pi once around a hue wheel, so a
2 pi wrap shows no seam.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..atomic import atomic_path


def amplitude_rgb(obj: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 grey picture of ``|obj|``; NaN black."""
    amp = np.abs(obj).astype(np.float64)
    finite = np.isfinite(amp)
    out = np.zeros(amp.shape, dtype=np.uint8)
    if finite.any():
        lo, hi = np.percentile(amp[finite], [1.0, 99.0])
        scaled = np.clip((amp - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
        out[finite] = (16 + 239 * scaled[finite]).astype(np.uint8)  # 16: keep NaN distinct
    return np.repeat(out[..., None], 3, axis=-1)


def phase_rgb(obj: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 picture of ``angle(obj)`` on a hue wheel; NaN black."""
    phase = np.angle(obj)
    finite = np.isfinite(phase)
    hue = (np.where(finite, phase, 0.0) + np.pi) / (2 * np.pi)
    # HSV -> RGB with full saturation and value, vectorised.
    h6 = (hue % 1.0) * 6.0
    sector = np.floor(h6).astype(int) % 6
    f = h6 - np.floor(h6)
    q, t = 1.0 - f, f
    one, zero = np.ones_like(f), np.zeros_like(f)
    table = [(one, t, zero), (q, one, zero), (zero, one, t), (zero, q, one), (t, zero, one),
             (one, zero, q)]
    rgb = np.zeros(phase.shape + (3,))
    for k, (r, g, b) in enumerate(table):
        sel = sector == k
        rgb[sel] = np.stack([r[sel], g[sel], b[sel]], axis=-1)
    rgb = (rgb * 235 + 20).astype(np.uint8)
    rgb[~finite] = 0
    return rgb


def write_png(path: str | os.PathLike[str], rgb: np.ndarray) -> Path:
    """Write an ``(H, W, 3)`` uint8 picture atomically."""
    p = Path(path)
    with atomic_path(p) as tmp:
        Image.fromarray(np.ascontiguousarray(rgb)).save(tmp, format="PNG")
    return p


def write_object_pngs(obj: np.ndarray, amplitude_path: str | os.PathLike[str],
                      phase_path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write the amplitude and phase pictures of ``obj``; return both paths."""
    return (write_png(amplitude_path, amplitude_rgb(obj)),
            write_png(phase_path, phase_rgb(obj)))
