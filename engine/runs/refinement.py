"""The iterative-solver stage of ``train``, ``infer``, ``reconstruct`` and ``bench``
(engine.solvers).

:func:`refine_stage` reconstructs the whole object -- and, as the session asks, the probe and
its modes, the positions and a background -- against every pattern of the data, with the
solver of ``refinement.algorithm``, starting from a given object (the network's stitched
estimate, one read from a file) or from a flat one; ``refinement.epochs = 0`` skips it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import SessionConfig
from ..reporting import Reporter, StopToken, stop_requested


@dataclass
class RefinedObject:
    """The stage's output: what the workflows write as the reconstruction.

    Attributes
    ----------
    obj, mask
        complex64 ``(H, W)`` object (NaN where not illuminated) and its mask.
    probe
        complex64 ``(modes, N, N)``: refined (modes orthogonal, strongest first), or the one
        given.
    positions
        ``(M, 2)`` window centres ``(x, y)`` to write in the product: the refined ones, or
        the given ones; None when the stage did not run and none were given.
    epochs, seconds, misfit, completed
        Epochs run, wall time, the kept state's whole-scan misfit (Poisson deviance per good
        pixel; None: not measured), False when the stop token ended the stage.
    solve
        The solver's :meth:`engine.solvers.SolveResult.summary` (empty when it did not run):
        algorithm, chosen epoch, stop reason, noise floor and ratio, hint, mode powers,
        position RMS change.
    """

    obj: np.ndarray
    mask: np.ndarray
    probe: np.ndarray
    positions: np.ndarray | None = None
    epochs: int = 0
    seconds: float = 0.0
    misfit: float | None = None
    completed: bool = True
    solve: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-able figures for run summaries."""
        return {"epochs": self.epochs, "seconds": self.seconds, "misfit": self.misfit,
                "completed": self.completed, **self.solve}


def refine_stage(data: Any, obj: np.ndarray | None, mask: np.ndarray | None,
                 probe: np.ndarray, session: SessionConfig, device: Any, reporter: Reporter,
                 stop: StopToken | None, *, stage: str = "refine",
                 job_share: tuple[float, float] | None = None,
                 positions: np.ndarray | None = None) -> RefinedObject:
    """Reconstruct ``data`` (a :class:`engine.io.PtychoData`) from the starting ``obj``
    (None: flat) and ``probe`` with the session's solver (the contract is in
    :mod:`engine.solvers`).

    ``positions`` (default ``data.positions``) are the starting positions. Progress goes to
    ``reporter`` as ``stage`` (unit pattern), one log line per epoch and one at the end (the
    kept epoch and why the run ended, the misfit against its Poisson noise floor and, when far
    above, a hint); ``stop`` ends it within one mini-batch, keeping the best state so far.
    """
    from ..solvers import solve

    settings = session.refinement
    start = np.asarray(data.positions if positions is None else positions, np.float64)
    if int(settings.epochs) <= 0 or stop_requested(stop):  # a stopped run is not refined
        if obj is None:
            obj = np.ones(tuple(data.object_shape), np.complex64)
        if mask is None:
            mask = np.isfinite(obj)
        return RefinedObject(obj=obj, mask=mask, probe=np.asarray(probe, np.complex64),
                             positions=start, completed=int(settings.epochs) <= 0)
    algorithm = str(settings.algorithm)
    probe_section = getattr(session, "probe", None)
    result = solve(data.patterns, start, probe, data.object_shape, settings,
                   options=getattr(session, algorithm, None), seed=session.execution.seed,
                   initial=obj, bad_pixels=data.bad_pixels,
                   modes=int(getattr(probe_section, "modes", 0) or 0), device=device,
                   reporter=reporter, stop=stop, stage=stage, job_share=job_share)
    reporter.log("info", result.describe() + f" ({result.patterns_per_s:.0f} patterns/s; "
                 f"smoothness {result.smoothness:.3g} for {result.fluence:.3g} photons per "
                 "object pixel)" + ("" if result.completed else "; best state kept"))
    if result.hint:
        reporter.log("warning", result.hint)
    if settings.position_correction and not result.position_rms_px \
            and not type_supports_positions(algorithm):
        reporter.log("warning", f"refinement.algorithm = {algorithm} does not correct "
                     "positions; the nominal ones are kept")
    return RefinedObject(obj=result.obj, mask=result.mask, probe=result.probe,
                         positions=result.positions, epochs=result.epochs,
                         seconds=result.seconds, misfit=result.final_misfit,
                         completed=result.completed, solve=result.summary())


def type_supports_positions(algorithm: str) -> bool:
    """Whether the solver ``algorithm`` corrects positions."""
    from ..solvers import get_solver

    return bool(get_solver(algorithm).supports_positions)
