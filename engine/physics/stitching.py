"""Stitch patches into the full object (physics.md §6), streaming batch by batch.

``O = sum_j w_j * patch_j / (sum_j w_j + eps)`` where ``w_j`` is the probe intensity
``sum_m |P_m|^2`` moved to position ``r_j`` with the same exact Fourier shift as the patches
(weighting "probe"), or a central square crop of side ``crop`` on the integer window
(weighting "mask"). Pixels whose total weight is below ``min_weight_fraction`` of the largest
total weight are "not illuminated": NaN in the object, False in the mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..reporting import Clock, Reporter
from .forward import probe_modes
from .fourier import fourier_shift
from .tensors import as_complex, as_positions
from .windows import check_in_bounds, scatter_windows, split_positions

WEIGHTINGS = ("probe", "mask")


class Stitcher:
    """Accumulates weighted patches into an object canvas without holding all patches.

    Parameters
    ----------
    object_shape
        ``(H, W)`` of the stitched object in pixels.
    probe
        Complex probe ``(M, N, N)`` or ``(N, N)`` (numpy or torch); gives N and, for
        ``weighting="probe"``, the weights.
    weighting
        ``"probe"`` (w = probe intensity at the patch position) or ``"mask"`` (w = 1 on the
        central ``crop`` x ``crop`` square of each window, 0 elsewhere).
    device
        Where the sums live (default: the probe's device, CPU for numpy).
    crop
        Side of the central square for ``weighting="mask"`` (default ``N // 2``).
    min_weight_fraction
        Pixels with total weight below this fraction of the maximum are not illuminated.

    Examples
    --------
    >>> st = Stitcher((256, 256), probe)          # doctest: +SKIP
    >>> for patches, positions in batches:        # doctest: +SKIP
    ...     st.add(patches, positions)
    >>> obj, mask = st.result()                   # doctest: +SKIP
    """

    def __init__(self, object_shape: tuple[int, int], probe: Any, weighting: str = "probe",
                 device: torch.device | str | None = None, crop: int | None = None,
                 min_weight_fraction: float = 1e-3) -> None:
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting: expected one of {WEIGHTINGS}, found {weighting!r}")
        if device is None:
            device = probe.device if torch.is_tensor(probe) else "cpu"
        self.probe = probe_modes(probe, device=device)
        self.n = int(self.probe.shape[-1])
        self.shape = (int(object_shape[0]), int(object_shape[1]))
        self.weighting = weighting
        self.min_weight_fraction = float(min_weight_fraction)
        crop = self.n // 2 if crop is None else int(crop)
        if not 1 <= crop <= self.n:
            raise ValueError(f"crop: expected 1..{self.n} px, found {crop}")
        lo = (self.n - crop) // 2
        self._crop_mask = torch.zeros((self.n, self.n), device=self.probe.device,
                                      dtype=torch.float32)
        self._crop_mask[lo:lo + crop, lo:lo + crop] = 1.0
        self._num = torch.zeros(self.shape, dtype=torch.complex64, device=self.probe.device)
        self._den = torch.zeros(self.shape, dtype=torch.float32, device=self.probe.device)
        self.count = 0

    def _weights(self, frac: torch.Tensor) -> torch.Tensor:
        """Weights ``(B, N, N)`` on the integer windows."""
        if self.weighting == "mask":
            return self._crop_mask.expand(frac.shape[0], self.n, self.n)
        # |shift(P)|^2 rather than shift(|P|^2): exact and never negative.
        moved = fourier_shift(self.probe[None], -frac[:, None, :])
        return moved.abs().square().sum(dim=1)

    @torch.no_grad()
    def add(self, patches: Any, positions: Any) -> None:
        """Add a batch: complex ``(B, N, N)`` patches centred at ``(B, 2)`` positions (x, y)."""
        p = as_complex(patches, device=self.probe.device).to(torch.complex64)
        pos = as_positions(positions, device=self.probe.device)
        if p.ndim != 3 or p.shape[-2:] != (self.n, self.n) or pos.shape != (p.shape[0], 2):
            raise ValueError(
                f"Stitcher.add: expected patches (B, {self.n}, {self.n}) and positions (B, 2), "
                f"found {tuple(p.shape)} and {tuple(pos.shape)}")
        starts, frac = split_positions(pos, self.n)
        check_in_bounds(starts, self.n, self.shape, "object")
        frac = frac.to(torch.float32)
        on_grid = fourier_shift(p, -frac)
        w = self._weights(frac)
        self._num += scatter_windows((w * on_grid)[None], starts[None], self.shape)[0]
        self._den += scatter_windows(w[None], starts[None], self.shape)[0]
        self.count += int(p.shape[0])

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """The stitched object so far.

        Returns
        -------
        obj : np.ndarray
            complex64 ``(H, W)``; NaN (real and imaginary) where not illuminated.
        mask : np.ndarray
            bool ``(H, W)``; True where illuminated.
        """
        den = self._den
        peak = float(den.max()) if self.count else 0.0
        if peak <= 0.0:
            empty = np.full(self.shape, np.nan + 1j * np.nan, dtype=np.complex64)
            return empty, np.zeros(self.shape, dtype=bool)
        illuminated = den >= self.min_weight_fraction * peak
        obj = self._num / (den + 1e-9 * peak)
        nan = torch.full((), complex(float("nan"), float("nan")), dtype=obj.dtype,
                         device=obj.device)
        obj = torch.where(illuminated, obj, nan)
        return obj.cpu().numpy().astype(np.complex64), illuminated.cpu().numpy()


def stitch(patches: Any, positions: Any, object_shape: tuple[int, int], probe: Any,
           weighting: str, batch_size: int,
           reporter: Reporter | None = None,
           device: torch.device | str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stitch all patches in batches (see :class:`Stitcher`).

    ``patches`` may be anything sliceable along its first axis (numpy array, tensor, h5py
    dataset, memmap): only ``batch_size`` patches are converted at a time.

    Returns
    -------
    tuple of np.ndarray
        ``(obj complex64 (H, W) with NaN where not illuminated, mask bool (H, W))``.
    """
    pos = np.asarray(positions.detach().cpu() if torch.is_tensor(positions) else positions,
                     dtype=np.float64)
    total = int(pos.shape[0]) if pos.ndim else 0
    if len(patches) != total:
        raise ValueError(f"stitch: {len(patches)} patches but {total} positions")
    stitcher = Stitcher(object_shape, probe, weighting=weighting, device=device)
    clock = Clock(total=total)
    for start in range(0, total, max(1, int(batch_size))):
        stop = min(total, start + int(batch_size))
        stitcher.add(_slice(patches, start, stop), pos[start:stop])
        if reporter is not None:
            reporter.progress(clock.progress("stitch", stop, unit="pattern"))
    return stitcher.result()


def _slice(patches: Any, start: int, stop: int) -> Any:
    if isinstance(patches, Sequence) and not hasattr(patches, "shape"):
        return np.asarray(patches[start:stop])
    return patches[start:stop]
