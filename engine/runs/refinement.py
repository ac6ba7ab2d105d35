"""The full-object refinement stage of ``train`` and ``infer`` (engine.physics.refine).

After the network's estimate is stitched, :func:`refine_stage` refines the whole object (and,
with ``refinement.refine_probe``, the probe) against every pattern of the data, starting from
that estimate; ``refinement.epochs = 0`` skips it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import SessionConfig
from ..reporting import Reporter, StopToken, stop_requested


@dataclass
class RefinedObject:
    """The stage's output: what ``train``/``infer`` write as the reconstruction.

    Attributes
    ----------
    obj, mask
        complex64 ``(H, W)`` object (NaN where not illuminated) and its mask.
    probe
        complex64 ``(modes, N, N)``: refined, or the one given.
    epochs, seconds, misfit, completed
        Epochs run, wall time, last misfit (Poisson deviance per pixel; None: no epoch),
        False when the stop token ended the stage (the best object so far is kept).
    """

    obj: np.ndarray
    mask: np.ndarray
    probe: np.ndarray
    epochs: int = 0
    seconds: float = 0.0
    misfit: float | None = None
    completed: bool = True

    def summary(self) -> dict[str, Any]:
        """JSON-able figures for run summaries."""
        return {"epochs": self.epochs, "seconds": self.seconds, "misfit": self.misfit,
                "completed": self.completed}


def refine_stage(data: Any, obj: np.ndarray, mask: np.ndarray, probe: np.ndarray,
                 session: SessionConfig, device: Any, reporter: Reporter,
                 stop: StopToken | None) -> RefinedObject:
    """Refine the stitched ``obj`` of ``data`` (a :class:`engine.io.PtychoData`).

    Progress goes to ``reporter`` as stage "refine" (unit pattern), one metrics line per
    epoch; ``stop`` ends it within one mini-batch, keeping the best object so far.
    """
    from ..physics.refine import refine_object

    settings = session.refinement
    if int(settings.epochs) <= 0 or stop_requested(stop):  # a stopped run is not refined
        return RefinedObject(obj=obj, mask=mask, probe=np.asarray(probe, np.complex64),
                             completed=int(settings.epochs) <= 0)
    result = refine_object(data.patterns, data.positions, probe, data.object_shape, settings,
                           seed=session.execution.seed, initial=obj,
                           bad_pixels=data.bad_pixels, device=device, reporter=reporter,
                           stop=stop, stage="refine")
    misfit = result.misfit[-1] if result.misfit else None
    reporter.log("info", f"refined the whole object: {result.epochs} epochs in "
                 f"{result.seconds:.1f} s ({result.patterns_per_s:.0f} patterns/s), misfit "
                 + (f"{misfit:.3f}" if misfit is not None else "-")
                 + f", smoothness {result.smoothness:.3g} for {result.fluence:.3g} photons "
                 "per object pixel"
                 + ("" if result.completed else " (stopped; best object kept)"))
    return RefinedObject(obj=result.obj, mask=result.mask, probe=result.probe,
                         epochs=result.epochs, seconds=result.seconds, misfit=misfit,
                         completed=result.completed)
