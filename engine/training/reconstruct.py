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

from ..physics import Stitcher, group_neighbours
from ..reporting import Clock, Reporter, StopToken, stop_requested
from .data import GroupDataset
from .faults import explain_faults
from .pinn import PINN


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


@torch.no_grad()
def reconstruct(net: PINN, patterns: Any, positions: np.ndarray, object_shape: tuple[int, int],
                *, n_neighbours: int, seed: int, batch_size: int = 256,
                device: torch.device | str = "cpu", weighting: str = "probe",
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
    reporter, stop
        Progress (``stage``, unit "pattern") and cancellation between batches.
    """
    device = torch.device(device)
    net = net.to(device).eval()
    groups = group_neighbours(np.asarray(positions), net.gridsize, n_neighbours, seed)
    dataset = GroupDataset(patterns, positions, groups)
    stitcher = Stitcher(object_shape, net.effective_probe().detach(), weighting=weighting,
                        device=device)
    per_batch = max(1, int(batch_size) // net.channels)
    total = len(dataset)
    clock = Clock(total=total)
    start = time.perf_counter()
    completed = True
    for first in range(0, total, per_batch):
        if stop_requested(stop):
            completed = False
            break
        batch = dataset.__getitems__(list(range(first, min(total, first + per_batch))))
        counts = batch["counts"].to(device, non_blocking=True)
        with explain_faults("inference", batch_size=int(batch_size), unit="patterns",
                            setting="execution.inference_batch_size", device=device):
            patches = net(counts, batch["offsets"].to(device))
            stitcher.add(patches.reshape(-1, net.N, net.N),
                         batch["positions"].reshape(-1, 2).to(device))
        if reporter is not None:
            done = min(total, first + per_batch)
            reporter.progress(clock.progress(stage, done, unit="pattern"))
    obj, mask = stitcher.result()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return Stitched(obj=obj, mask=mask, n_patterns=total, seconds=time.perf_counter() - start,
                    completed=completed)
