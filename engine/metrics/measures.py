"""Image quality measures on a region of interest: PSNR, masked SSIM, FRC resolution.

No torch: numpy, scipy and scikit-image only.
"""

from __future__ import annotations

import math

import numpy as np
from skimage.metrics import structural_similarity

PSNR_CAP_DB = 200.0
"""PSNR reported for a perfect match (the shared scorer's cap), so JSON stays valid (no
``Infinity``)."""

FRC_THRESHOLD = 1.0 / 7.0
"""Fourier ring correlation threshold that defines the resolution."""

NYQUIST_PX = 2.0
"""FRC resolution reported when the correlation never drops below the threshold."""


def data_range(reference: np.ndarray, region: np.ndarray) -> float:
    """``max - min`` of ``reference`` inside ``region``; for a flat reference, ``max |ref|``
    (or 1.0 if that is 0 too), so PSNR and SSIM stay defined."""
    values = reference[region]
    span = float(values.max() - values.min()) if values.size else 0.0
    if span > 0:
        return span
    peak = float(np.abs(values).max()) if values.size else 0.0
    return peak if peak > 0 else 1.0


def psnr(estimate: np.ndarray, reference: np.ndarray, region: np.ndarray,
         value_range: float) -> float:
    """Peak signal-to-noise ratio in dB over ``region``, capped at :data:`PSNR_CAP_DB`."""
    err = estimate[region] - reference[region]
    mse = float(np.mean(err * err)) if err.size else 0.0
    if mse <= 0.0:
        return PSNR_CAP_DB
    return min(PSNR_CAP_DB, 10.0 * math.log10(value_range**2 / mse))


SSIM_WINDOW = 7
"""Side of the SSIM window (skimage's default and the scorer's)."""


def masked_ssim(estimate: np.ndarray, reference: np.ndarray, region: np.ndarray,
                value_range: float) -> float:
    """Mean SSIM (7 x 7 windows) over ``region`` eroded by 3 px, as the shared scorer does.

    The SSIM map is computed on the region's bounding box with the images' own values (both
    must be finite there, and the box at least 7 x 7); only windows that lie wholly inside
    the region are averaged (the region eroded by a 7 x 7 structure; the whole region when
    erosion leaves nothing).
    """
    from scipy.ndimage import binary_erosion

    rows = np.nonzero(region.any(axis=1))[0]
    cols = np.nonzero(region.any(axis=0))[0]
    box = (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))
    inner = binary_erosion(region[box], structure=np.ones((SSIM_WINDOW, SSIM_WINDOW), bool))
    if not inner.any():
        inner = region[box]
    a = np.asarray(estimate[box], dtype=np.float64)
    b = np.asarray(reference[box], dtype=np.float64)
    _, ssim_map = structural_similarity(b, a, data_range=value_range, win_size=SSIM_WINDOW,
                                        full=True)
    return float(np.clip(ssim_map[inner].mean(), -1.0, 1.0))


def frc_curve(a: np.ndarray, b: np.ndarray, region: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Fourier ring correlation between two real images.

    Each image has its mean over ``region`` removed, is zeroed outside ``region`` and
    multiplied by a separable Hann window (suppresses the edge cross); rings are one
    ``1 / min(H, W)`` cycle/px wide, from DC to Nyquist.

    Returns
    -------
    freq : np.ndarray
        Ring centre frequencies in cycles per pixel.
    frc : np.ndarray
        Correlation per ring (0 where either image has no power).
    """
    height, width = a.shape
    window = np.outer(np.hanning(height), np.hanning(width)) * region
    fa = np.fft.fft2((a - a[region].mean()) * window)
    fb = np.fft.fft2((b - b[region].mean()) * window)
    side = min(height, width)
    radius = np.hypot(*np.meshgrid(np.fft.fftfreq(height), np.fft.fftfreq(width),
                                   indexing="ij"))
    ring = np.floor(radius * side).astype(np.int64).ravel()
    n_rings = side // 2
    keep = ring < n_rings
    ring = ring[keep]
    num = np.bincount(ring, weights=np.real(fa * np.conj(fb)).ravel()[keep], minlength=n_rings)
    pa = np.bincount(ring, weights=(np.abs(fa) ** 2).ravel()[keep], minlength=n_rings)
    pb = np.bincount(ring, weights=(np.abs(fb) ** 2).ravel()[keep], minlength=n_rings)
    # A ring has "no power" when it holds only round-off of the image's values (a flat image
    # after mean removal): its correlation is then noise and is reported as 0.
    floor_a = 1e-20 * a.size * float(np.sum(a[region] ** 2))
    floor_b = 1e-20 * b.size * float(np.sum(b[region] ** 2))
    powered = (pa > floor_a) & (pb > floor_b)
    denom = np.sqrt(pa * pb)
    frc = np.divide(num, denom, out=np.zeros(n_rings), where=powered & (denom > 0))
    freq = (np.arange(n_rings) + 0.5) / side
    return freq, frc


def frc_resolution(freq: np.ndarray, frc: np.ndarray,
                   threshold: float = FRC_THRESHOLD) -> float:
    """Resolution in pixels (1 / frequency) where the FRC first drops below ``threshold``.

    The crossing is interpolated linearly between rings (DC ring excluded); no crossing gives
    :data:`NYQUIST_PX` (2 px), and results are never below it.
    """
    below = np.nonzero(frc[1:] < threshold)[0]
    if below.size == 0:
        return NYQUIST_PX
    i = int(below[0]) + 1
    f0, f1, c0, c1 = freq[i - 1], freq[i], frc[i - 1], frc[i]
    cross = f0 if c0 <= threshold else f0 + (f1 - f0) * (c0 - threshold) / (c0 - c1)
    return max(NYQUIST_PX, float(1.0 / cross))
