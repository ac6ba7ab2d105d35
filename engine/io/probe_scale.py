"""Fitting the probe's intensity scale to the measured mean counts.

A probe's absolute scale never survives a trip between tools (ptychodus, PtychoPINN and
iterative codes each use their own FFT and propagator normalisation). Since the forward model
is linear in ``|P|^2`` and the unitary FFT preserves energy (Parseval), the expected total
counts of pattern j are ``sum_pixels sum_modes |P_m|^2 |O_j|^2``. The fit chooses the factor
``s`` (applied to ``|P|^2``) that makes the mean of that over the scan equal the measured mean
total counts per pattern. It uses the object guess when there is one (windows rounded to whole
pixels, enough for a scale) and a transparent object (``|O| = 1``) otherwise.
"""

from __future__ import annotations

import numpy as np

from .checks import sample_indices

MAX_FIT_POSITIONS = 256
"""Positions used to average the object's transmission (evenly spaced)."""


def expected_total_counts(probe: np.ndarray, object_guess: np.ndarray | None = None,
                          positions: np.ndarray | None = None) -> float:
    """Mean predicted total counts per pattern with this probe (Parseval, no FFT needed)."""
    intensity = (np.abs(np.asarray(probe)) ** 2).reshape(-1, *probe.shape[-2:]).sum(axis=0)
    if object_guess is None or positions is None or not len(positions):
        return float(intensity.sum())
    n = intensity.shape[-1]
    height, width = object_guess.shape
    transmission = np.abs(object_guess) ** 2
    rows = sample_indices(len(positions), MAX_FIT_POSITIONS)
    # Explicit rounding of the window start (half up), clipped into the object.
    starts = np.floor(positions[rows] - (n - 1) / 2.0 + 0.5).astype(np.int64)
    x0 = np.clip(starts[:, 0], 0, max(width - n, 0))
    y0 = np.clip(starts[:, 1], 0, max(height - n, 0))
    totals = [float((intensity * transmission[y:y + n, x:x + n]).sum())
              for x, y in zip(x0, y0, strict=True)
              if y + n <= height and x + n <= width]
    if not totals:
        return float(intensity.sum())
    return float(np.mean(totals))


def fill_bad_pixels(mean_pattern: np.ndarray, bad_pixels: np.ndarray | None) -> np.ndarray:
    """The mean pattern with bad pixels replaced by the mean of their good 3 x 3 neighbours.

    Bad pixels were zeroed, so without this the measured total would be biased low.
    """
    if bad_pixels is None or not bad_pixels.any():
        return mean_pattern
    good = (~bad_pixels).astype(np.float64)
    values = np.where(bad_pixels, 0.0, mean_pattern)

    def box(a: np.ndarray) -> np.ndarray:
        p = np.pad(a, 1)
        return np.asarray(sum(p[1 + dy:p.shape[0] - 1 + dy, 1 + dx:p.shape[1] - 1 + dx]
                              for dy in (-1, 0, 1) for dx in (-1, 0, 1)))

    num, den = box(values), box(good)
    filled = np.where(den > 0, num / np.maximum(den, 1), 0.0)
    return np.where(bad_pixels, filled, mean_pattern)


def fit_probe_scale(probe: np.ndarray, measured_mean_counts: float,
                    object_guess: np.ndarray | None = None,
                    positions: np.ndarray | None = None) -> float:
    """The factor ``s`` for ``|P|^2`` so predicted mean counts equal ``measured_mean_counts``.

    Returns ``nan`` when the probe predicts no counts at all (a zero probe).
    """
    predicted = expected_total_counts(probe, object_guess, positions)
    if not predicted > 0 or not np.isfinite(predicted):
        return float("nan")
    return float(measured_mean_counts) / predicted
