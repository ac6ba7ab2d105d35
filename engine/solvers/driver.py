"""The epoch loop every solver runs, and its stopping rule (physics.md §8b).

After every epoch the misfit of the whole scan is measured with the forward model alone
(:meth:`IterativeSolver.misfit`: every pattern, masked pixels out, whatever the batch size),
so it means the same thing at every epoch. The run stops when that misfit has fallen by
less than ``refinement.tolerance`` (relative) over the last ``refinement.patience`` epochs
(*plateau*), at ``refinement.epochs`` (*epoch cap*), before an epoch that would end after
``refinement.time_limit_s`` judged by the last one's time (*time cap*), or at the stop token
(*stopped*). A plateau reached while the mini-batches are smaller than the scan is their
noise, not the data's: the batch size doubles (:meth:`IterativeSolver.grow_batch`) and the
window starts again, so a run stops on a plateau only with whole-scan batches.

The state returned (object, probe, positions, background) is the last one when its misfit
is within what the rule calls no change (``patience x tolerance``, relative) of the lowest
(a lower misfit there is photon noise fitted by smaller batches), else the one of the
lowest whole-scan misfit, epoch 0 being the starting state; :class:`SolveResult` says which
epoch and why the run ended, and how far the misfit is from its Poisson noise floor.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from ..reporting import Clock, Progress, Reporter, StopToken
from .base import IterativeSolver
from .noise import misfit_hint

STOP_REASONS = {
    "plateau": "the misfit stopped falling",
    "epochs": "the epoch cap (refinement.epochs)",
    "time": "the time cap (refinement.time_limit_s)",
    "stopped": "stopped by the user",
}
"""Why a run ended -> the words the log and the summary use."""


@dataclass
class SolveResult:
    """What :func:`run_solver` (and :func:`engine.solvers.solve`) return.

    Attributes
    ----------
    obj, mask
        complex64 ``(H, W)`` object of the chosen epoch (NaN where not illuminated) and the
        illuminated mask.
    probe
        complex64 ``(modes, N, N)`` of the chosen epoch, modes orthogonal, strongest first.
    positions
        ``(M, 2)`` float64 window centres ``(x, y)`` of the chosen epoch (the given ones when
        positions are not corrected).
    background
        ``(N, N)`` float32 background counts per detector pixel, DC at the centre (zeros when
        not refined).
    misfit
        The whole-scan misfit (Poisson deviance per good detector pixel) after each epoch;
        ``misfit[0]`` is the starting state's.
    chosen_epoch
        The epoch whose state is returned (0 = the starting state).
    stop_reason
        A key of :data:`STOP_REASONS`.
    noise_floor
        The expected deviance per good pixel of Poisson data drawn from the chosen state's
        intensities; ``misfit_ratio`` = chosen misfit / noise floor (1 = fits to the noise).
    hint
        A plain sentence when the misfit is far above its floor, else "".
    mode_power
        Fraction of the probe's power per mode.
    position_rms_px
        RMS distance (px) of the returned positions from the given ones after removing
        their mean offset (0 when not corrected).
    """

    obj: np.ndarray
    mask: np.ndarray
    probe: np.ndarray
    positions: np.ndarray
    background: np.ndarray
    algorithm: str = ""
    misfit: list[float] = field(default_factory=list)
    chosen_epoch: int = 0
    epochs: int = 0
    seconds: float = 0.0
    stop_reason: str = "epochs"
    noise_floor: float = float("nan")
    misfit_ratio: float = float("nan")
    hint: str = ""
    mode_power: list[float] = field(default_factory=list)
    position_rms_px: float = 0.0
    n_patterns: int = 0
    fluence: float = 0.0
    smoothness: float = 0.0

    @property
    def completed(self) -> bool:
        """False when the stop token ended the run."""
        return self.stop_reason != "stopped"

    @property
    def final_misfit(self) -> float | None:
        """The chosen state's whole-scan misfit (None: none measured)."""
        return self.misfit[self.chosen_epoch] if len(self.misfit) > self.chosen_epoch else None

    @property
    def patterns_per_s(self) -> float:
        """Pattern updates per second over the whole run."""
        return self.n_patterns * self.epochs / self.seconds if self.seconds > 0 else float("nan")

    def summary(self) -> dict[str, Any]:
        """JSON-able figures for run summaries and product comments."""
        return {"algorithm": self.algorithm, "epochs": self.epochs, "seconds": self.seconds,
                "chosen_epoch": self.chosen_epoch, "stop_reason": self.stop_reason,
                "stop_reason_text": STOP_REASONS[self.stop_reason],
                "misfit": self.final_misfit, "noise_floor": self.noise_floor,
                "misfit_ratio": self.misfit_ratio, "hint": self.hint,
                "mode_power": list(self.mode_power), "position_rms_px": self.position_rms_px,
                "fluence": self.fluence, "smoothness": self.smoothness,
                "completed": self.completed}

    def describe(self) -> str:
        """One log line: which epoch was kept and why the run ended, the misfit against its
        floor, the modes' power and the positions' change."""
        misfit = self.final_misfit
        text = (f"{self.algorithm}: {self.epochs} epochs in {self.seconds:.1f} s, ended by "
                f"{STOP_REASONS[self.stop_reason]}; kept epoch {self.chosen_epoch}")
        if misfit is not None:
            text += (f", misfit {misfit:.4g} per pixel = {self.misfit_ratio:.2f} x the Poisson "
                     f"noise floor {self.noise_floor:.4g}")
        if len(self.mode_power) > 1:
            text += ", probe mode power " + "/".join(f"{p:.3f}" for p in self.mode_power)
        if self.position_rms_px > 0:
            text += f", positions moved {self.position_rms_px:.2f} px RMS from the nominal"
        return text


def run_solver(solver: IterativeSolver, *, reporter: Reporter | None = None,
               stop: StopToken | None = None, stage: str = "refine",
               job_share: tuple[float, float] | None = None,
               t0: float | None = None) -> SolveResult:
    """Run ``solver`` epoch after epoch under the stopping rule (module docstring).

    Progress goes to ``reporter`` as ``stage`` (unit "pattern", ``done`` counts pattern
    updates over all epochs), one log line per epoch (whole-scan misfit, seconds; not
    :meth:`Reporter.metrics`, which are the training epochs); ``job_share`` = ``(start,
    end)`` fractions of the whole job before and after this stage (every :class:`Progress`
    then carries ``job_fraction``). ``stop`` is checked between mini-batches.
    """
    report = reporter or Reporter()
    t0 = time.perf_counter() if t0 is None else t0
    s = solver.settings
    epochs = int(s.epochs)
    window, tolerance = int(s.patience), float(s.tolerance)
    limit = float(getattr(s, "time_limit_s", 0.0))
    clock = Clock(total=max(1, epochs) * solver.m)
    reason = "epochs"
    start = solver.misfit(stop)
    misfit = [start] if start is not None else []
    since = 0  # the stopping window starts here (moved when the batches grow)
    best = (start if start is not None else math.inf, solver.state(), 0)
    if start is None:
        reason = "stopped"

    def progress(done_in_epoch: int) -> None:
        done = solver.epochs_done * solver.m + done_in_epoch
        p = clock.progress(stage, done, unit="pattern", epoch=solver.epochs_done,
                           max_epochs=epochs)
        report.progress(_with_share(p, job_share))

    while reason != "stopped" and solver.epochs_done < epochs:
        t_epoch = time.perf_counter()
        if solver.epoch(stop, on_batch=progress) is None:
            reason = "stopped"
            break
        value = solver.misfit(stop)
        if value is None:
            reason = "stopped"
            break
        misfit.append(value)
        # A log line, not Reporter.metrics: those are the training epochs (loss curves,
        # metrics.csv), which the refinement epochs must not extend.
        report.log("info", f"refinement epoch {solver.epochs_done}: misfit {value:.6g} "
                           f"({time.perf_counter() - t_epoch:.2f} s)")
        if value < best[0]:
            best = (value, solver.state(), solver.epochs_done)
        if window > 0 and len(misfit) - since > window:
            before = misfit[-1 - window]
            if before - value <= tolerance * abs(before):
                # a plateau before the batches cover the scan is the mini-batches' noise:
                # larger batches, and a new window, before the run may stop
                if not solver.grow_batch():
                    reason = "plateau"
                    break
                since = len(misfit) - 1
                report.log("info", f"refinement epoch {solver.epochs_done}: the misfit "
                                   f"stopped falling; batches of {solver.batch_size()} patterns")
        # the time cap holds: no epoch is started that would end after it (with half an
        # epoch's time left for the noise floor's pass over the scan)
        now = time.perf_counter()
        if limit > 0 and (now - t0) + 1.5 * (now - t_epoch) >= limit:
            reason = "time"
            break
    state, chosen = best[1], best[2]
    if (reason in ("plateau", "epochs", "time") and misfit and chosen < solver.epochs_done
            and misfit[-1] - best[0] <= window * tolerance * abs(best[0])):
        # within what the stopping rule calls no change, the lowest misfit is the noise
        # fitted by a smaller batch: the last state (the most patterns averaged) is kept
        state, chosen = solver.state(), solver.epochs_done
    solver.obj, solver.probe = state["obj"], state["probe"]
    solver.background = state["background"]
    solver._set_positions(state["positions"])
    floor = solver.noise_floor() if misfit and reason != "stopped" else float("nan")
    kept = misfit[chosen] if len(misfit) > chosen else math.inf
    ratio = kept / floor if floor > 0 and math.isfinite(kept) else float("nan")
    obj, mask = solver.result_arrays(state["obj"])
    offset = (state["positions"] - solver.nominal)
    offset = offset - offset.mean(dim=0)
    if solver.device.type == "cuda":
        torch.cuda.synchronize(solver.device)
    result = SolveResult(
        obj=obj, mask=mask, probe=state["probe"].cpu().numpy().astype(np.complex64),
        positions=state["positions"].cpu().numpy().astype(np.float64),
        background=torch.fft.fftshift(state["background"], dim=(-2, -1)).cpu().numpy(),
        algorithm=solver.name, misfit=misfit, chosen_epoch=chosen,
        epochs=solver.epochs_done, seconds=time.perf_counter() - t0, stop_reason=reason,
        noise_floor=floor, misfit_ratio=ratio,
        hint=misfit_hint(ratio, refine_probe=bool(s.refine_probe),
                         refine_positions=bool(s.position_correction)
                         and solver.supports_positions),
        mode_power=solver.mode_power(),
        position_rms_px=float(offset.square().sum(dim=1).mean().sqrt()),
        n_patterns=solver.m, fluence=solver.fluence, smoothness=solver.smoothness)
    return result


def _with_share(progress: Progress, share: tuple[float, float] | None) -> Progress:
    if share is None:
        return progress
    frac = progress.fraction or 0.0
    return replace(progress, job_fraction=share[0] + (share[1] - share[0]) * frac)
