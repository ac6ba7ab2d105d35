"""Where a reconstruction is scored: the scanned region and the probe's size (no torch).

The scanned region is the convex hull of the window centres on the truth's pixel grid: the
illuminated area minus about a probe radius at its rim, where every pixel was seen by several
overlapping windows. The probe diameter bounds how far registration may move an image.
"""

from __future__ import annotations

import numpy as np

PROBE_ENERGY_FRACTION = 0.9
"""The probe's radius is that of the disk around its centroid holding this share of its
intensity."""


def scanned_region(positions: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean ``shape`` mask of the pixels inside the convex hull of the window centres.

    ``positions`` are ``(M, 2)`` window centres ``(x, y)`` = (column, row) in object pixels.
    Collinear or fewer than three distinct centres give their bounding box instead.
    """
    from scipy.spatial import Delaunay, QhullError

    pts = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    pts = np.unique(pts[np.all(np.isfinite(pts), axis=1)], axis=0)
    height, width = shape
    yy, xx = np.mgrid[:height, :width]
    if pts.shape[0] == 0:
        return np.zeros(shape, dtype=bool)
    bbox = ((xx >= pts[:, 0].min()) & (xx <= pts[:, 0].max())
            & (yy >= pts[:, 1].min()) & (yy <= pts[:, 1].max()))
    try:
        tri = Delaunay(pts)
    except (QhullError, ValueError):
        return bbox
    inside = tri.find_simplex(np.stack([xx.ravel(), yy.ravel()], axis=1), tol=1e-9) >= 0
    return inside.reshape(shape)


def probe_radius_px(probe: np.ndarray, fraction: float = PROBE_ENERGY_FRACTION) -> int:
    """Radius (px, rounded up) of the disk around the probe's intensity centroid holding
    ``fraction`` of its intensity (all modes summed); 0 for a zero probe."""
    intensity = (np.abs(np.asarray(probe)) ** 2).reshape(-1, *np.shape(probe)[-2:]).sum(axis=0)
    total = float(intensity.sum())
    if total <= 0:
        return 0
    rows, cols = np.indices(intensity.shape)
    cy = float((rows * intensity).sum() / total)
    cx = float((cols * intensity).sum() / total)
    r = np.hypot(rows - cy, cols - cx).reshape(-1)
    order = np.argsort(r)
    cumulative = np.cumsum(intensity.reshape(-1)[order])
    k = int(np.searchsorted(cumulative, fraction * total))
    return int(np.ceil(r[order][min(k, r.size - 1)]))


def probe_diameter_px(probe: np.ndarray) -> float:
    """Twice :func:`probe_radius_px`: the largest shift registration may apply."""
    return 2.0 * probe_radius_px(probe)
