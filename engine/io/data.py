"""``PtychoData``: one dataset in the engine's units, whatever file it came from."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .checks import sample_indices
from .geometry import Geometry, pixels_to_metres
from .lazy import LazyPatterns, PatternArray


@dataclass
class PtychoData:
    """A ptychography dataset ready for training or reconstruction.

    Attributes
    ----------
    patterns
        ``(M, N, N)`` float32 photon counts (amplitude files are squared on read, bad pixels
        are zeroed): a numpy array, or a :class:`~engine.io.lazy.LazyPatterns` read from disk
        on access when the stack exceeds ``data.memory_budget_mb``.
    positions
        ``(M, 2)`` float64 window centres ``(x, y)`` = (column, row) in object pixels.
    probe
        ``(modes, N, N)`` complex64, scaled so the forward model (unitary FFT) predicts counts.
    object_shape
        ``(H, W)`` of the object canvas: the object guess's, else the scan extent plus N.
    object_guess
        ``(H, W)`` complex64 (initial guess, or ground truth for simulations) or ``None``.
    bad_pixels
        ``(N, N)`` bool, True = bad (zeroed in ``patterns``; exclude from the loss), or None.
    geometry
        Photon energy, distance, detector and object pixel sizes (``None`` = unknown);
        ``data.*`` geometry settings > 0 override the file.
    measurement
        Domain of the stored patterns: ``"counts"`` or ``"amplitude"`` (converted on read).
    probe_scale_factor
        Intensity factor applied to the file's probe by the scale fit (``|P|^2`` multiplied
        by it, the amplitude by its square root); 1.0 when the stored scale was kept.
    indexes
        ``(M,)`` int64 scan index of each pattern (ptychodus ``/indexes``; 0..M-1 for NPZ).
    metadata
        What the file said about itself (``_metadata`` JSON, product attributes) plus how the
        data were read (``measurement_source``, ``probe_source``...).
    source
        The file or folder read.
    warnings
        Every conversion or guess made on the user's behalf.
    """

    patterns: PatternArray
    positions: np.ndarray
    probe: np.ndarray
    object_shape: tuple[int, int]
    object_guess: np.ndarray | None = None
    bad_pixels: np.ndarray | None = None
    geometry: Geometry = field(default_factory=Geometry)
    measurement: str = "counts"
    probe_scale_factor: float = 1.0
    indexes: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def n_patterns(self) -> int:
        """Number of diffraction patterns M."""
        return len(self.patterns)

    @property
    def N(self) -> int:  # noqa: N802 - the physics symbol
        """Pattern (and probe) side in pixels."""
        return int(self.patterns.shape[-1])

    @property
    def is_lazy(self) -> bool:
        """True when the patterns are read from disk on access."""
        return isinstance(self.patterns, LazyPatterns)

    @property
    def object_pixel_size_m(self) -> float | None:
        """Object pixel side in metres (stated or derived from the geometry), or ``None``."""
        return self.geometry.object_pixel_size(self.N)

    def positions_m(self) -> np.ndarray | None:
        """Positions in metres relative to the object centre, or ``None`` without geometry."""
        dx = self.object_pixel_size_m
        if dx is None:
            return None
        h, w = self.object_shape
        return np.stack([pixels_to_metres(self.positions[:, 0], 0.0, dx, w),
                         pixels_to_metres(self.positions[:, 1], 0.0, dx, h)], axis=1)

    def subset(self, indices: Any) -> PtychoData:
        """The same dataset restricted to some patterns (and their positions), lazily if lazy."""
        idx = np.arange(self.n_patterns)[np.asarray(indices)]
        if isinstance(self.patterns, LazyPatterns):
            patterns: PatternArray = self.patterns.subset(idx)
        else:
            patterns = self.patterns[idx]
        return replace(
            self, patterns=patterns, positions=self.positions[idx],
            indexes=None if self.indexes is None else self.indexes[idx],
            metadata=dict(self.metadata), warnings=list(self.warnings),
        )

    # -- small accessors for previews (GUI data preview, inspect) --------------------------
    def preview_indices(self, count: int = 4) -> np.ndarray:
        """``count`` evenly spaced pattern indexes (first and last included)."""
        return sample_indices(self.n_patterns, count)

    def preview_patterns(self, count: int = 4) -> np.ndarray:
        """``(count, N, N)`` float32 counts of evenly spaced patterns (reads only those)."""
        return np.asarray(self.patterns[self.preview_indices(count)], np.float32)

    def mean_pattern(self, count: int = 256) -> np.ndarray:
        """``(N, N)`` mean of up to ``count`` evenly spaced patterns (a bounded read)."""
        return np.asarray(self.patterns[sample_indices(self.n_patterns, count)],
                          np.float64).mean(axis=0).astype(np.float32)

    def probe_intensity(self) -> np.ndarray:
        """``(N, N)`` float32 ``sum_modes |P|^2`` for display."""
        return (np.abs(self.probe) ** 2).sum(axis=0).astype(np.float32)

    def scan_extent_px(self) -> tuple[float, float, float, float]:
        """``(x_min, x_max, y_min, y_max)`` of the positions in object pixels."""
        lo, hi = self.positions.min(axis=0), self.positions.max(axis=0)
        return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))
