"""Validation of the arrays of a dataset, shared by every reader and by ``inspect``.

Each check records problems in an :class:`~engine.io.issues.Issues` (key, expected, found)
instead of raising, so a user sees everything that is wrong with a file at once.

Patterns are checked in one streaming pass (:func:`scan_patterns`): every pattern when the
stack is small (<= ``FULL_SCAN_BYTES``), otherwise an evenly spaced sample of
``SAMPLE_PATTERNS`` patterns, so that checking a 100 GB file takes seconds. The result says how
many patterns were looked at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bounds import unique_or_problem
from .issues import Issues
from .lazy import PatternArray

FULL_SCAN_BYTES = 64 * 2**20
"""Pattern stacks up to this size (as float32) are checked completely."""

SAMPLE_PATTERNS = 256
"""Patterns checked (evenly spaced) in larger stacks."""

DUPLICATE_TOLERANCE_PX = 1e-3
"""Positions closer than this (object pixels, per axis) count as the same position."""

MAX_EXTENT_PX = 1.0e5
"""A scan wider than this many object pixels is taken as a unit error (metres read as pixels)."""


def sample_indices(total: int, count: int) -> np.ndarray:
    """Up to ``count`` evenly spaced, sorted, unique indexes in ``[0, total)``."""
    if total <= count:
        return np.arange(total, dtype=np.int64)
    return np.unique(np.linspace(0, total - 1, count).round().astype(np.int64))


@dataclass(frozen=True)
class PatternScan:
    """What one pass over (a sample of) the patterns found, in the stored domain.

    Attributes
    ----------
    checked, total
        Patterns looked at, and patterns in the stack.
    minimum, maximum
        Extreme finite values (NaN when no finite value was seen).
    mean_total
        Mean over checked patterns of the sum of each pattern (finite values only).
    nonfinite, negative
        Number of NaN/inf values and of negative values.
    first_nonfinite, first_negative
        ``(pattern, row, column)`` of the first offending value, or ``None``.
    integer_fraction
        Fraction of non-zero finite values within 1e-3 of an integer (counts are integers).
    pixel_sum
        ``(H, W)`` sum of the checked patterns (finite values; the mean pattern times
        ``checked``).
    pixel_flagged
        ``(H, W)`` True where a checked pattern held a detector flag value
        (:data:`FLAG_VALUES` or one of ``flag_values``).
    pixel_negative
        ``(H, W)`` number of checked patterns holding a negative value there (a pixel negative
        in every pattern is a gap: -1 on Eiger).
    pixel_nonzero
        ``(H, W)`` True where a checked pattern held a non-zero value.
    """

    checked: int
    total: int
    minimum: float
    maximum: float
    mean_total: float
    nonfinite: int
    negative: int
    first_nonfinite: tuple[int, int, int] | None
    first_negative: tuple[int, int, int] | None
    integer_fraction: float
    pixel_sum: np.ndarray | None = None
    pixel_flagged: np.ndarray | None = None
    pixel_negative: np.ndarray | None = None
    pixel_nonzero: np.ndarray | None = None

    @property
    def complete(self) -> bool:
        return self.checked == self.total

    def describe(self) -> str:
        """``"all 784 patterns"`` or ``"a sample of 256 of 100000 patterns"``."""
        if self.complete:
            return f"all {self.total} patterns"
        return f"an evenly spaced sample of {self.checked} of {self.total} patterns"


def _first(mask: np.ndarray, offset: int, rows: np.ndarray) -> tuple[int, int, int] | None:
    hits = np.argwhere(mask)
    if not len(hits):
        return None
    k, r, c = (int(v) for v in hits[0])
    return (int(rows[offset + k]), r, c)


FLAG_VALUES = (2.0**16 - 1, 2.0**31 - 1, 2.0**32 - 1)
"""Values detectors write into pixels that did not measure (saturated, dead, gap)."""


def scan_patterns(patterns: PatternArray, *, full: bool | None = None,
                  chunk: int = 256, flag_values: tuple[float, ...] = ()) -> PatternScan:
    """Statistics and defects of a pattern stack in one bounded pass.

    Parameters
    ----------
    patterns
        ``(M, N, N)`` array or :class:`~engine.io.lazy.LazyPatterns` (raw stored values).
    full
        Force a complete scan (True) or a sample (False); default: complete when the stack
        is at most ``FULL_SCAN_BYTES``.
    chunk
        Patterns read at a time (bounds memory).
    flag_values
        Detector flag values to look for besides :data:`FLAG_VALUES` (``data.mask_values``).
    """
    total = len(patterns)
    nbytes = total * int(np.prod(patterns.shape[1:])) * 4
    if full is None:
        full = nbytes <= FULL_SCAN_BYTES
    rows = np.arange(total, dtype=np.int64) if full else sample_indices(total, SAMPLE_PATTERNS)
    lo, hi, sums = np.inf, -np.inf, 0.0
    nonfinite = negative = 0
    first_nf = first_neg = None
    n_nonzero = n_integer = 0
    frame = tuple(int(v) for v in patterns.shape[1:])
    pix_sum = np.zeros(frame, np.float64)
    pix_flag = np.zeros(frame, bool)
    pix_neg = np.zeros(frame, np.int64)
    pix_nonzero = np.zeros(frame, bool)
    flags = np.array(FLAG_VALUES + tuple(flag_values), np.float64)
    flags = np.union1d(flags, flags.astype(np.float32).astype(np.float64))  # as float32 holds them
    for start in range(0, len(rows), chunk):
        block = np.asarray(patterns[rows[start:start + chunk]], dtype=np.float64)
        if block.ndim == 3 and block.shape[1:] == frame:
            pix_flag |= np.isin(block, flags).any(axis=0)
            pix_neg += (block < 0).sum(axis=0)
            pix_nonzero |= (block != 0).any(axis=0)
        finite = np.isfinite(block)
        if not finite.all():
            nonfinite += int((~finite).sum())
            if first_nf is None:
                first_nf = _first(~finite, start, rows)
            block = np.where(finite, block, 0.0)
        neg = block < 0
        if neg.any():
            negative += int(neg.sum())
            if first_neg is None:
                first_neg = _first(neg, start, rows)
        if block.size:
            lo = min(lo, float(block[finite].min()) if finite.any() else lo)
            hi = max(hi, float(block[finite].max()) if finite.any() else hi)
        sums += float(block.sum())
        if block.ndim == 3 and block.shape[1:] == frame:
            pix_sum += block.sum(axis=0)
        nonzero = block[block != 0]
        n_nonzero += nonzero.size
        n_integer += int((np.abs(nonzero - np.round(nonzero)) < 1e-3).sum())
    checked = len(rows)
    return PatternScan(
        checked=checked, total=total,
        minimum=float(lo) if np.isfinite(lo) else float("nan"),
        maximum=float(hi) if np.isfinite(hi) else float("nan"),
        mean_total=sums / checked if checked else float("nan"),
        nonfinite=nonfinite, negative=negative,
        first_nonfinite=first_nf, first_negative=first_neg,
        integer_fraction=n_integer / n_nonzero if n_nonzero else 1.0,
        pixel_sum=pix_sum, pixel_flagged=pix_flag, pixel_negative=pix_neg,
        pixel_nonzero=pix_nonzero,
    )


def report_pattern_defects(issues: Issues, key: str, scan: PatternScan, domain: str,
                           negatives_masked: bool = False) -> None:
    """Record NaN/inf, negative and all-zero values found by :func:`scan_patterns`
    (negative values all in masked pixels are not a problem: ``negatives_masked``)."""
    where = "" if scan.complete else f" (in {scan.describe()})"
    if scan.checked and scan.maximum == 0 and scan.minimum == 0:
        issues.problem(key, f"diffraction patterns with {domain} (some value above 0)",
                       f"only zeros in {scan.describe()}")
    if scan.nonfinite:
        p, r, c = scan.first_nonfinite or (0, 0, 0)
        issues.problem(key, f"finite {domain}",
                       f"{scan.nonfinite} NaN or infinite value(s){where}, the first in "
                       f"pattern {p} at row {r}, column {c}")
    if scan.negative and not negatives_masked:
        p, r, c = scan.first_negative or (0, 0, 0)
        issues.problem(key, f"non-negative {domain}",
                       f"{scan.negative} negative value(s){where}, minimum {scan.minimum:g}, "
                       f"the first in pattern {p} at row {r}, column {c}")


def check_real_dtype(issues: Issues, key: str, dtype: np.dtype) -> bool:
    """Patterns must be real numbers (integers or floats); record and return False if not."""
    if dtype.kind in "iuf":
        return True
    issues.problem(key, "real-valued counts (integer or float)", f"dtype {dtype}")
    return False


def report_duplicates(issues: Issues, key: str, indexes: np.ndarray, what: str) -> None:
    """Scan indexes pair patterns with positions: each must appear once."""
    found = unique_or_problem(indexes)
    if found is not None:
        extra, value, count = found
        issues.problem(key, f"one distinct scan index per entry ({len(indexes)} {what})",
                       f"{extra} repeated entr{'y' if extra == 1 else 'ies'} (index {value} "
                       f"appears {count} times)")


def warn_if_real(issues: Issues, key: str, dtype: np.dtype) -> None:
    """A real-valued probe or object is promoted to complex (zero phase): say so."""
    if np.dtype(dtype).kind in "iuf":
        issues.warn(f"{issues.source}: {key} is real-valued ({np.dtype(dtype)}); taken as "
                    "complex with zero phase")


def check_positions(issues: Issues, keys: str, positions: np.ndarray, n_patterns: int | None,
                    patterns_key: str = "diffraction") -> bool:
    """Positions must be ``(M, 2)``, finite, one per pattern, and of a plausible extent."""
    ok = True
    if n_patterns is not None and len(positions) != n_patterns:
        issues.problem(keys, f"one position per pattern ({n_patterns}, as in {patterns_key})",
                       f"{len(positions)} positions")
        ok = False
    if positions.ndim != 2 or positions.shape[-1] != 2:
        issues.problem(keys, "(M, 2) positions", f"shape {positions.shape}")
        return False
    bad = ~np.isfinite(positions).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        issues.problem(keys, "finite positions",
                       f"{int(bad.sum())} NaN or infinite position(s), the first at index {first}")
        return False
    if len(positions):
        extent = positions.max(axis=0) - positions.min(axis=0)
        if (extent > MAX_EXTENT_PX).any() or (np.abs(positions) > 1e9).any():
            issues.problem(keys, f"scan positions in object pixels (extent below "
                           f"{MAX_EXTENT_PX:g} px)",
                           f"an extent of {extent[0]:.4g} x {extent[1]:.4g} px and values up to "
                           f"{np.abs(positions).max():.4g} (wrong unit?)")
            ok = False
        else:
            warn_duplicate_positions(issues, keys, positions)
    return ok


def warn_duplicate_positions(issues: Issues, keys: str, positions: np.ndarray) -> None:
    """Warn (with counts) when positions repeat: a scan that visits a spot twice, or a file
    whose positions were not filled in (all identical)."""
    if len(positions) < 2:
        return
    rounded = np.round(positions / DUPLICATE_TOLERANCE_PX).astype(np.int64)
    uniq, counts = np.unique(rounded, axis=0, return_counts=True)
    if len(uniq) == len(positions):
        return
    top = int(np.argmax(counts))
    x, y = uniq[top] * DUPLICATE_TOLERANCE_PX
    repeated = int((counts > 1).sum())
    issues.warn(f"{issues.source}: {keys}: {len(positions) - len(uniq)} of {len(positions)} "
                f"positions repeat another one ({len(uniq)} distinct; {repeated} position(s) "
                f"used more than once, the most repeated, x {x:.6g}, y {y:.6g} px, "
                f"{int(counts[top])} times)")


def check_windows_inside(issues: Issues, keys: str, positions: np.ndarray, n: int,
                         shape: tuple[int, int], object_key: str) -> None:
    """Every N x N window centred on a position must lie inside the object (1 px slack)."""
    if not len(positions):
        return
    half = (n - 1) / 2.0
    height, width = shape
    x, y = positions[:, 0], positions[:, 1]
    bad = (x < half - 1) | (y < half - 1) | (x > width - 1 - half + 1) | (y > height - 1 - half + 1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        issues.problem(
            keys,
            f"window centres inside the {height} x {width} px {object_key} "
            f"(x in [{half:g}, {width - 1 - half:g}], y in [{half:g}, {height - 1 - half:g}] "
            f"for {n} x {n} windows)",
            f"{int(bad.sum())} position(s) outside, x from {x.min():.6g} to {x.max():.6g}, "
            f"y from {y.min():.6g} to {y.max():.6g} (first: index {first})")


def check_complex_array(issues: Issues, key: str, array: np.ndarray, what: str,
                        shape: tuple[int, ...] | None = None) -> bool:
    """A probe or object: numeric, finite, optionally of a given trailing shape."""
    if array.dtype.kind not in "iufc":
        issues.problem(key, f"a numeric (complex) {what}", f"dtype {array.dtype}")
        return False
    if shape is not None and tuple(array.shape[-len(shape):]) != tuple(shape):
        expected = " x ".join(str(s) for s in shape)
        issues.problem(key, f"a {what} of {expected} px (matching the patterns)",
                       f"shape {tuple(array.shape)}")
        return False
    n_bad = int((~np.isfinite(array)).sum())
    if n_bad:
        issues.problem(key, f"a finite {what}", f"{n_bad} NaN or infinite value(s)")
        return False
    return True
