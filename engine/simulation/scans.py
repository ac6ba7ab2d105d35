"""Scan trajectories in object pixels, centred on (0, 0) (the simulator places them later).

Positions are ``(M, 2)`` float64 window centres ``(x, y)`` = (column, row).
"""

from __future__ import annotations

import math

import numpy as np

SCAN_KINDS = ("raster", "spiral")
GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))
FERMAT_SPACING = math.sqrt(2.0 * math.pi / math.sqrt(3.0))
"""Nearest-neighbour distance of a Fermat spiral ``r = c sqrt(k)`` in units of ``c``
(its density is ``1 / (pi c^2)``, packed nearly hexagonally)."""


def raster(n_positions: int, step: float) -> np.ndarray:
    """A row-major grid, as square as possible, of ``n_positions`` points ``step`` apart."""
    rows = max(1, int(round(math.sqrt(n_positions))))
    cols = math.ceil(n_positions / rows)
    k = np.arange(n_positions)
    x = (k % cols - (cols - 1) / 2.0) * step
    y = (k // cols - (math.ceil(n_positions / cols) - 1) / 2.0) * step
    return np.stack([x, y], axis=1).astype(np.float64)


def fermat_spiral(n_positions: int, step: float) -> np.ndarray:
    """A Fermat spiral whose nearest-neighbour distance is about ``step``."""
    k = np.arange(n_positions, dtype=np.float64)
    c = step / FERMAT_SPACING
    r = c * np.sqrt(k)
    theta = k * GOLDEN_ANGLE
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)


def make_scan(kind: str, n_positions: int, step_px: float, jitter_px: float,
              rng: np.random.Generator) -> np.ndarray:
    """``(M, 2)`` positions centred on 0 with Gaussian position errors of ``jitter_px``."""
    if kind == "raster":
        positions = raster(n_positions, step_px)
    elif kind == "spiral":
        positions = fermat_spiral(n_positions, step_px)
    else:
        raise ValueError(f"scan kind: expected one of {SCAN_KINDS}, found {kind!r}")
    if jitter_px > 0:
        positions = positions + rng.normal(0.0, jitter_px, size=positions.shape)
    return positions
