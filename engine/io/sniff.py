"""Sniffing a file's layout mistakes: unshifted patterns, detector flags and gaps, position
units. Each finding is either corrected (recorded in ``Issues.corrections``, so ``inspect``
and ``PtychoData.warnings`` say so) or refused with a message naming the setting to change.
"""

from __future__ import annotations

import numpy as np

from .checks import PatternScan
from .issues import Issues

UNSHIFTED_RATIO = 4.0
"""Patterns whose corner power exceeds this many times their centre power are unshifted."""

MAX_MASKED_FRACTION = 0.25
"""More masked pixels than this fraction of the detector is refused, not corrected."""


def centre_and_corner_power(mean: np.ndarray) -> tuple[float, float]:
    """Power of the mean pattern within ``N/8`` of the centre and of the corners."""
    h, w = mean.shape
    r = max(1, min(h, w) // 8)
    yy, xx = np.mgrid[0:h, 0:w]
    centre = (np.abs(yy - h // 2) <= r) & (np.abs(xx - w // 2) <= r)
    shifted = np.fft.fftshift(mean)
    return float(mean[centre].sum()), float(shifted[centre].sum())


def is_unshifted(mean: np.ndarray) -> tuple[bool, float]:
    """``(zero frequency at pixel [0, 0]?, corner / centre power ratio)``."""
    centre, corner = centre_and_corner_power(np.nan_to_num(np.asarray(mean, np.float64)))
    ratio = corner / centre if centre > 0 else (np.inf if corner > 0 else 1.0)
    return bool(ratio > UNSHIFTED_RATIO), float(ratio)


def gap_lines(nonzero: np.ndarray) -> np.ndarray:
    """``(H, W)`` True on interior rows/columns that are zero in every pattern (detector gaps):
    runs of all-zero lines with non-zero lines on both sides."""
    mask = np.zeros(nonzero.shape, bool)
    for axis in (0, 1):
        live = nonzero.any(axis=1 - axis)
        idx = np.flatnonzero(live)
        if len(idx) < 2:
            continue
        dead: np.ndarray = np.array(~live)
        dead[: idx[0]] = False
        dead[idx[-1] + 1:] = False
        if axis == 0:
            mask[dead, :] = True
        else:
            mask[:, dead] = True
    return mask


def detector_mask(scan: PatternScan, file_mask: np.ndarray | None, issues: Issues, key: str,
                  mask_key: str) -> tuple[np.ndarray | None, bool]:
    """The bad-pixel mask of the stored frame: the file's, plus flag values, negative values
    and gap lines found by the scan. Returns ``(mask or None, negatives masked)``."""
    frame = scan.pixel_sum.shape if scan.pixel_sum is not None else None
    if frame is None or scan.pixel_flagged is None:
        return file_mask, False
    mask = np.zeros(frame, bool) if file_mask is None else np.array(file_mask, bool)
    if file_mask is not None and mask.any():
        issues.correct(f"{issues.source}: {mask_key}: {int(mask.sum())} bad pixel(s) from the "
                       "file's mask are left out of every loss")
    where = "" if scan.complete else f" (in {scan.describe()})"
    found = [
        (scan.pixel_flagged & ~mask, "holding a detector flag value (65535, 2^31-1, 2^32-1 or "
         "data.mask_values)"),
        ((scan.pixel_negative == scan.checked) & ~mask, "negative in every pattern (detector "
         "gaps)"),
    ]
    for extra, why in found:
        if extra.any():
            issues.correct(f"{issues.source}: {key}: {int(extra.sum())} pixel(s) {why}{where} "
                           "masked (left out of every loss)")
            mask |= extra
    gaps = gap_lines(scan.pixel_nonzero & ~mask) & ~mask if scan.pixel_nonzero is not None \
        else None
    if gaps is not None and gaps.any():
        rows = int(gaps.all(axis=1).sum())
        cols = int(gaps.all(axis=0).sum())
        issues.correct(f"{issues.source}: {key}: {rows} row(s) and {cols} column(s) are zero in "
                       f"every pattern{where} (a detector gap); their {int(gaps.sum())} pixels "
                       "are masked")
        mask |= gaps
    assert scan.pixel_negative is not None
    negatives_masked = bool(scan.negative) and \
        int(scan.pixel_negative[mask].sum()) == scan.negative
    if mask.size and mask.mean() > MAX_MASKED_FRACTION:
        issues.problem(key, f"at most {MAX_MASKED_FRACTION:.0%} of the detector masked",
                       f"{int(mask.sum())} of {mask.size} pixels flagged, negative or in gaps; "
                       "check data.measurement, data.mask_values or the file's mask")
    return (mask if mask.any() else (file_mask if file_mask is not None else None),
            negatives_masked)


def likely_unit(step: float, n: int) -> str | None:
    """The unit positions with median step ``step`` (read as object pixels) were probably
    written in, when it is implausible for windows of ``n`` pixels; else ``None``."""
    if not np.isfinite(step) or step <= 0:
        return None
    if step < 1e-4:
        return "metres"
    if step < 0.05:
        return "millimetres"
    if step > 2 * n:
        return "nanometres"
    return None


def median_step(positions: np.ndarray, *, distinct: bool = False) -> float | None:
    """Median distance from each finite position to its nearest neighbour (``distinct``:
    ignoring repeated positions); ``None`` for fewer than 2 (or over 2e6) positions."""
    finite = positions[np.isfinite(positions).all(axis=1)] if positions.ndim == 2 \
        else np.zeros((0, 2))
    if len(finite) < 2 or len(finite) > 2_000_000:
        return None
    from scipy.spatial import cKDTree

    dist, _ = cKDTree(finite).query(finite, k=2)
    steps = dist[:, 1][dist[:, 1] > 0] if distinct else dist[:, 1]
    return float(np.median(steps)) if len(steps) else None


def check_position_units(issues: Issues, key: str, positions: np.ndarray, n: int) -> bool:
    """Refuse positions whose median nearest-neighbour step is implausible against the
    window size, naming the likely unit and what to set."""
    step = median_step(positions, distinct=True)
    if step is None:
        return True
    unit = likely_unit(step, n)
    if unit is None:
        return True
    issues.problem(key, f"scan positions in object pixels (a median step between 0.05 and "
                   f"{2 * n} px for {n} px windows)",
                   f"a median step of {step:.4g} px: the positions look like {unit}; declare "
                   "it (data.layout_position_units = 'm', 'mm', 'um' or 'nm', with "
                   "data.layout_patterns and data.layout_positions) or convert them")
    return False
