"""Run a trained PINN over a whole dataset and stitch the object, streaming.

Grouping at inference (gridsize > 1): every pattern anchors one group with ``C - 1`` of its
nearest neighbours, exactly as in training (:func:`engine.physics.group_neighbours`, the
run's seed). The network predicts all C patches of every group and every one of them is
stitched at its own position, probe-weighted (:class:`engine.physics.Stitcher`), so each
window is the weighted average of about C predictions. For gridsize 1 each pattern is its own
group. Batches are read with sorted index arrays, so lazy (on-disk) data stream through.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..physics import Stitcher, extract_patches, group_neighbours, probe_intensity
from ..reporting import Clock, Reporter, StopToken, stop_requested
from ..training.data import GroupDataset
from ..training.faults import explain_faults
from .pinn import PINN, refine_estimate


@dataclass
class Stitched:
    """A stitched object and how it was made.

    Attributes
    ----------
    obj
        complex64 ``(H, W)``, NaN where not illuminated.
    mask
        bool ``(H, W)``, True where illuminated.
    n_patterns
        Patterns reconstructed (M).
    seconds
        Wall time of network and stitching.
    completed
        False when the stop token ended it early (the object then covers part of the scan).
    """

    obj: np.ndarray
    mask: np.ndarray
    n_patterns: int
    seconds: float
    completed: bool = True

    @property
    def patterns_per_s(self) -> float:
        return self.n_patterns / self.seconds if self.seconds > 0 else float("nan")


ALIGNMENT_RELAXATION = 1.8
"""Over-relaxation of the per-group phase alignment (1: plain Jacobi sweeps; 1.8 converged
about twice as fast on the embedded default, and stayed stable)."""

CACHE_LIMIT_BYTES = 1 << 30
"""Predicted patches are kept in memory between alignment passes up to this size; larger
data are predicted again in each pass (same result, more time)."""


def _rotation(theta: torch.Tensor) -> torch.Tensor:
    return torch.polar(torch.ones_like(theta), theta)[:, None, None, None]


@torch.no_grad()
def reconstruct(net: PINN, patterns: Any, positions: np.ndarray, object_shape: tuple[int, int],
                *, n_neighbours: int, seed: int, batch_size: int,
                device: torch.device | str, weighting: str,
                refine_iterations: int, alignment_passes: int,
                reporter: Reporter | None = None, stop: StopToken | None = None,
                stage: str = "infer") -> Stitched:
    """Predict every pattern's patches and stitch them into the object.

    Parameters
    ----------
    net
        The trained network (moved to ``device`` here and put in eval mode).
    patterns, positions, object_shape
        The data (counts ``(M, N, N)`` in memory or lazy, positions ``(M, 2)`` (x, y) px).
    n_neighbours, seed
        Grouping (see the module docstring).
    batch_size
        Patterns per batch (groups per batch = batch_size // C, at least 1).
    device
        Where the network and the stitcher run.
    weighting
        ``"probe"`` or ``"mask"`` (:class:`engine.physics.Stitcher`).
    refine_iterations
        Parameter-free group iterations (:func:`engine.model.pinn.refine_estimate`)
        applied to the network's patches before stitching.
    alignment_passes
        Extra stitching passes that rotate each group's patches by the global phase that
        best matches the object stitched so far (over-relaxed by
        :data:`ALIGNMENT_RELAXATION`): the loss cannot see a group's global phase, so
        neighbouring groups drift apart slowly; these passes make them agree.
    reporter, stop
        Progress (``stage``, then "align", unit "group") and cancellation between batches.
    """
    device = torch.device(device)
    net = net.to(device).eval()
    groups = group_neighbours(np.asarray(positions), net.gridsize, n_neighbours, seed)
    dataset = GroupDataset(patterns, positions, groups)
    probe = net.effective_probe().detach()
    weight = probe_intensity(probe).to(device)
    per_batch = max(1, int(batch_size) // net.channels)
    total = len(dataset)
    starts = list(range(0, total, per_batch))
    # Predictions are kept for the alignment sweeps only (a single sweep never re-reads them).
    use_cache = alignment_passes > 0 and total * net.channels * net.N**2 * 8 <= CACHE_LIMIT_BYTES
    cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    theta = torch.zeros(total, device=device)
    start_time = time.perf_counter()
    completed = True
    obj = mask = None

    def predict(first: int) -> tuple[torch.Tensor, torch.Tensor]:
        if first in cache:
            return cache[first]
        batch = dataset.__getitems__(list(range(first, min(total, first + per_batch))))
        counts = batch["counts"].to(device, non_blocking=True)
        offsets = batch["offsets"].to(device)
        with explain_faults("inference", batch_size=int(batch_size), unit="patterns",
                            setting="execution.inference_batch_size", device=device):
            patches = net(counts, offsets)
            if refine_iterations > 0:
                patches = refine_estimate(patches, counts, probe, offsets, refine_iterations,
                                          None, net.amplitude_max)
        result = (patches, batch["positions"].reshape(-1, 2).to(device))
        if use_cache:
            cache[first] = result
        return result

    for sweep in range(1 + max(0, int(alignment_passes))):
        reference = None
        if obj is not None:
            reference = torch.from_numpy(np.nan_to_num(obj, nan=0.0)).to(device)
        stitcher = Stitcher(object_shape, probe, weighting=weighting, device=device)
        clock = Clock(total=total)
        for first in starts:
            if stop_requested(stop):
                completed = False
                break
            patches, pos = predict(first)
            rows = slice(first, first + patches.shape[0])
            if reference is not None:
                current = patches * _rotation(theta[rows])
                ref = extract_patches(reference, pos, net.N).reshape(current.shape)
                match = (weight * ref * current.conj()).sum(dim=(1, 2, 3))
                theta[rows] += ALIGNMENT_RELAXATION * torch.angle(match)
            stitcher.add((patches * _rotation(theta[rows])).reshape(-1, net.N, net.N), pos)
            if reporter is not None:
                done = min(total, first + per_batch)
                reporter.progress(clock.progress(stage if sweep == 0 else "align", done,
                                                 unit="group"))
        if not completed:
            break
        obj, mask = stitcher.result()
    if obj is None or mask is None:
        obj, mask = stitcher.result()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return Stitched(obj=obj, mask=mask, n_patterns=total,
                    seconds=time.perf_counter() - start_time, completed=completed)
