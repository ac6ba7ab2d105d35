"""Lightning callbacks: stop token, per-epoch metrics, reporter events and the live preview.

None of them imports Qt; they talk to whoever started the run through
:class:`engine.reporting.Reporter` and a stop token (``threading.Event``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import lightning as L
import numpy as np
import torch

from ..physics import probe_intensity
from ..reporting import PreviewFrame, Progress, Reporter, StopToken, Throttle


class StopOnToken(L.Callback):
    """Ends training cooperatively when the stop token is set.

    Checked after every optimisation step (and before each one), so a run stops within one
    step; the run is then recorded as "cancelled" by :func:`engine.runs.train` (Lightning
    itself reports a normally finished fit). In multi-process runs the decision is shared so
    that every rank stops at the same step.
    """

    def __init__(self, stop: StopToken | None) -> None:
        self.stop = stop
        self.cancelled = False

    def _check(self, trainer: L.Trainer) -> None:
        requested = self.stop is not None and self.stop.is_set()
        if trainer.world_size > 1:
            requested = trainer.strategy.reduce_boolean_decision(requested, all=False)
        if requested and not self.cancelled:
            self.cancelled = True
            trainer.should_stop = True
            module: Any = trainer.lightning_module
            module.cancelled = True  # validation steps become no-ops (see PINNModule)

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        if self.stop is not None:
            self._check(trainer)

    def on_train_epoch_start(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        if self.stop is not None:
            self._check(trainer)


class EpochMetrics(L.Callback):
    """Collects one row per epoch: loss, validation loss, learning rate, time, throughput.

    ``on_epoch(row)`` is called on global rank 0 with
    ``{"epoch", "train_loss", "val_loss", "lr", "epoch_time_s", "patterns_per_s"}``;
    ``patterns_per_s`` counts every pattern of every training group (C per group) processed
    by all ranks, over the training part of the epoch (validation excluded).
    """

    def __init__(self, on_epoch: Callable[[dict[str, float]], None], channels: int) -> None:
        self.on_epoch = on_epoch
        self.channels = channels
        self.rows: list[dict[str, float]] = []
        self._start = 0.0
        self._train_end = 0.0
        self._groups = 0

    def on_train_epoch_start(self, trainer: L.Trainer, *args: Any) -> None:
        self._start = time.perf_counter()
        self._train_end = 0.0
        self._groups = 0

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: Any, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self._groups += int(batch["counts"].shape[0])
        self._train_end = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        if self._groups == 0:
            # A stop taken at the start of an epoch: Lightning still ends that epoch, but
            # nothing was trained in it; a row would repeat the last losses as a new epoch.
            return
        now = time.perf_counter()
        train_s = max((self._train_end or now) - self._start, 1e-9)
        metrics = trainer.callback_metrics
        lr = trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else math.nan
        row = {
            "epoch": int(trainer.current_epoch),
            "train_loss": _scalar(metrics.get("train_loss")),
            "val_loss": _scalar(metrics.get("val_loss")),
            "lr": float(lr),
            "epoch_time_s": now - self._start,
            "patterns_per_s": self._groups * self.channels * trainer.world_size / train_s,
        }
        if trainer.is_global_zero:
            self.rows.append(row)
            self.on_epoch(row)


def _scalar(value: Any) -> float:
    if value is None:
        return math.nan
    return float(value.detach().cpu()) if torch.is_tensor(value) else float(value)


class PreviewCanvas:
    """A running stitched estimate built from the patches training computes anyway.

    Every training batch's raw patches are added at their integer-rounded windows, weighted by
    the probe intensity (index_add on the model's device: well under 1 % of a step). The
    estimate shown is this epoch's sum plus a tenth of the previous epoch's, so regions not yet
    visited in the current epoch are not blank. Integer placement is enough for a picture; the
    stored reconstruction uses the exact sub-pixel :class:`engine.physics.Stitcher`.
    """

    def __init__(self, object_shape: tuple[int, int], probe: torch.Tensor) -> None:
        self.shape = (int(object_shape[0]), int(object_shape[1]))
        self.weight = probe_intensity(probe.detach()).to(torch.float32)
        self.n = int(self.weight.shape[-1])
        self._num: torch.Tensor | None = None
        self._den: torch.Tensor | None = None
        self._prev: tuple[torch.Tensor, torch.Tensor] | None = None
        self._added = False

    def _ensure(self, device: torch.device) -> None:
        if self._num is None or self._num.device != device:
            h, w = self.shape
            self._num = torch.zeros(h * w, dtype=torch.complex64, device=device)
            self._den = torch.zeros(h * w, dtype=torch.float32, device=device)
            self.weight = self.weight.to(device)

    @torch.no_grad()
    def add(self, batch: dict[str, torch.Tensor], patches: torch.Tensor) -> None:
        device = patches.device
        self._ensure(device)
        assert self._num is not None and self._den is not None
        h, w = self.shape
        n = self.n
        pos = batch["positions"].reshape(-1, 2).to(device)
        starts = torch.round(pos - (n - 1) / 2).to(torch.int64)
        starts[:, 0].clamp_(0, w - n)
        starts[:, 1].clamp_(0, h - n)
        ar = torch.arange(n, device=device)
        index = ((starts[:, 1, None, None] + ar[None, :, None]) * w
                 + starts[:, 0, None, None] + ar[None, None, :]).reshape(-1)
        p = patches.detach().reshape(-1, n, n).to(torch.complex64)
        wgt = self.weight.expand(p.shape[0], n, n)
        self._num.index_add_(0, index, (p * wgt).reshape(-1))
        self._den.index_add_(0, index, wgt.reshape(-1))
        self._added = True

    def end_epoch(self) -> None:
        """The epoch's sums, plus a tenth of the previous ones, become the previous epoch's:
        where an epoch cut short by a stop did not reach, the earlier estimate stays (the
        cancelled run's image must not shrink to the part the cut epoch covered), without
        seams where the two meet."""
        if self._num is not None and self._den is not None and self._added:
            num, den = self._num.clone(), self._den.clone()
            if self._prev is not None:
                num += 0.1 * self._prev[0]
                den += 0.1 * self._prev[1]
            self._prev = (num, den)
            self._num.zero_()
            self._den.zero_()
        self._added = False

    def image(self) -> np.ndarray | None:
        """The current estimate, complex64 ``(H, W)`` numpy with NaN where never covered."""
        if self._num is None or self._den is None:
            return None
        num, den = self._num, self._den
        if self._prev is not None:
            num = num + 0.1 * self._prev[0]
            den = den + 0.1 * self._prev[1]
        peak = float(den.max())
        if peak <= 0:
            return None
        obj = (num / (den + 1e-9 * peak)).reshape(self.shape).cpu().numpy().astype(np.complex64)
        obj[(den < 1e-3 * peak).reshape(self.shape).cpu().numpy()] = np.nan + 1j * np.nan
        return obj


class ReportProgress(L.Callback):
    """Forwards training progress, per-epoch metrics and previews to a :class:`Reporter`.

    Progress: ``stage="train"``, ``done``/``total`` = batches of the current epoch,
    ``epoch``/``max_epochs``, ``elapsed_s`` since training started and ``eta_s`` = estimated
    seconds until the last epoch ends. Previews are sent at most every
    ``preview_interval_s``. Only global rank 0 reports.
    """

    def __init__(self, reporter: Reporter, preview: PreviewCanvas | None,
                 preview_interval_s: float, start_epoch: int = 0) -> None:
        self.reporter = reporter
        self.canvas = preview
        self.preview_throttle = Throttle(preview_interval_s)
        self.progress_throttle = Throttle(0.1)
        self.start_epoch = start_epoch
        self._t0 = time.monotonic()
        self._done_batches = 0

    def on_train_start(self, trainer: L.Trainer, pl_module: Any) -> None:
        self._t0 = time.monotonic()
        self._done_batches = 0
        if self.canvas is not None and trainer.is_global_zero:
            pl_module.batch_observers.append(self.canvas.add)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: Any, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if not trainer.is_global_zero:
            return
        self._done_batches += 1
        per_epoch = _batches_per_epoch(trainer)
        last = per_epoch is not None and batch_idx + 1 >= per_epoch
        if self.progress_throttle.ready() or last:
            elapsed = time.monotonic() - self._t0
            eta = None
            if per_epoch and trainer.max_epochs is not None:
                left = (trainer.max_epochs - trainer.current_epoch) * per_epoch - (batch_idx + 1)
                eta = max(0.0, elapsed / self._done_batches * left)
            self.reporter.progress(Progress(
                stage="train", done=batch_idx + 1, total=per_epoch, epoch=trainer.current_epoch,
                max_epochs=trainer.max_epochs, elapsed_s=elapsed, eta_s=eta, unit="batch"))
        if self.canvas is not None and self.preview_throttle.ready():
            image = self.canvas.image()
            if image is not None:
                self.reporter.preview(PreviewFrame(obj=image, epoch=trainer.current_epoch,
                                                   step=trainer.global_step))

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        if self.canvas is not None:
            self.canvas.end_epoch()

    def on_train_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        if self.canvas is not None and self.canvas.add in pl_module.batch_observers:
            pl_module.batch_observers.remove(self.canvas.add)


def _batches_per_epoch(trainer: L.Trainer) -> int | None:
    n = trainer.num_training_batches
    return int(n) if isinstance(n, (int, float)) and math.isfinite(n) else None


class NetworkGainCheck(L.Callback):
    """Stops training once the network's estimate no longer helps the solver.

    Every ``every`` epochs (never after the last one: training ends then anyway) the live
    estimate training builds from its own batches (:class:`PreviewCanvas`, no extra pass of
    the network) starts ``solve(block, obj, mask, probe)`` -- a few epochs of the session's
    solver, returning an :class:`engine.runs.refinement.RefinedObject` -- on a fixed compact
    block of ``patterns`` patterns (those nearest the scan's centre); the same solver from a
    flat object with the data's probe, on the same block, is the baseline (run once). The
    gain is the fraction of the flat start's misfit above the Poisson noise floor that the
    network's start removes::

        gain = (misfit_flat - misfit_network) / (misfit_flat - noise_floor)

    Training stops (``trainer.should_stop``) when the gain is below ``min_gain`` (the network
    adds nothing over a flat start) or grew by less than ``min_gain`` since the previous
    check (more training stopped paying). Every check is passed to ``on_check`` (rank 0) as
    ``{"epoch", "gain", "misfit_network", "misfit_flat", "noise_floor", "seconds",
    "decision"}``; :attr:`stopped_reason` says why training was stopped (None: it was not).
    """

    def __init__(self, data: Any, canvas: PreviewCanvas, solve: Callable[..., Any], *,
                 every: int, patterns: int, min_gain: float,
                 on_check: Callable[[dict[str, Any]], None],
                 stop: StopToken | None = None) -> None:
        self.data = data
        self.canvas = canvas
        self.solve = solve
        self.every = int(every)
        self.min_gain = float(min_gain)
        self.on_check = on_check
        self.stop = stop
        self.checks: list[dict[str, Any]] = []
        self.stopped_reason: str | None = None
        self._block = _central_block(np.asarray(data.positions, np.float64), int(patterns))
        self._flat: Any = None
        self._registered = False

    def on_train_start(self, trainer: L.Trainer, pl_module: Any) -> None:
        if trainer.is_global_zero and self.canvas.add not in pl_module.batch_observers:
            pl_module.batch_observers.append(self.canvas.add)
            self._registered = True

    def on_train_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        if self._registered and self.canvas.add in pl_module.batch_observers:
            pl_module.batch_observers.remove(self.canvas.add)
        self._registered = False

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        done = int(trainer.current_epoch) + 1
        last = trainer.max_epochs is not None and done >= int(trainer.max_epochs)
        if self.every <= 0 or done % self.every or last or trainer.should_stop:
            return
        should = False
        if trainer.is_global_zero and not (self.stop is not None and self.stop.is_set()):
            probe = pl_module.net.effective_probe().detach().cpu().numpy()
            check = self.measure(done, probe)
            should = check is not None and check["decision"] == "stop"
        if trainer.world_size > 1:
            should = bool(trainer.strategy.broadcast(should, src=0))
        if should:
            trainer.should_stop = True

    def measure(self, epoch: int, probe: np.ndarray) -> dict[str, Any] | None:
        """One check after ``epoch`` epochs: the solver from the live estimate (with the
        network's ``probe``) against the solver from a flat object, added to :attr:`checks`
        and passed to ``on_check``; None when there is no live estimate yet or the solver
        measured no misfit."""
        image = self.canvas.image()
        if image is None:
            return None
        t0 = time.perf_counter()
        block = self.data.subset(self._block)
        if self._flat is None:
            self._flat = self.solve(block, None, None, np.asarray(self.data.probe))
        mask = np.isfinite(image)
        start = np.where(mask, image, 1.0).astype(np.complex64)
        net = self.solve(block, start, mask, probe)
        flat_misfit, net_misfit = self._flat.misfit, net.misfit
        if flat_misfit is None or net_misfit is None or not net.completed:
            return None
        floor = self._flat.solve.get("noise_floor")
        floor = float(floor) if floor is not None and math.isfinite(floor) else 0.0
        excess = float(flat_misfit) - floor
        gain = (float(flat_misfit) - float(net_misfit)) / excess if excess > 0 else 0.0
        previous = self.checks[-1]["gain"] if self.checks else None
        if gain < self.min_gain:
            decision, reason = "stop", (f"the network's start removes {gain:.1%} of the flat "
                                        f"start's misfit above the noise floor (less than "
                                        f"{self.min_gain:.1%})")
        elif previous is not None and gain - previous < self.min_gain:
            decision, reason = "stop", (f"the network's start gained {gain - previous:+.1%} "
                                        f"since the previous check (less than "
                                        f"{self.min_gain:.1%})")
        else:
            decision, reason = "continue", f"the network's start removes {gain:.1%}"
        if decision == "stop":
            self.stopped_reason = f"stopped after epoch {epoch}: {reason}"
        check = {"epoch": int(epoch), "gain": float(gain), "misfit_network": float(net_misfit),
                 "misfit_flat": float(flat_misfit), "noise_floor": floor,
                 "patterns": int(len(self._block)),
                 "seconds": time.perf_counter() - t0, "decision": decision, "reason": reason}
        self.checks.append(check)
        self.on_check(check)
        return check


def _central_block(positions: np.ndarray, count: int) -> np.ndarray:
    """Indexes (sorted) of the ``count`` positions nearest the scan's centre."""
    count = max(1, min(int(count), len(positions)))
    centre = np.median(positions, axis=0)
    nearest = np.argsort(np.sum((positions - centre) ** 2, axis=1), kind="stable")[:count]
    return np.sort(nearest)
