"""``train(config, reporter, stop) -> RunResult``: one training run, start to run directory.

Steps: take the resolved config (validated once, by the resolver); load and check the data
(bad input is refused before anything is written); prepare the run directory (rank 0); seed
everything; group and split; normalisers from the training split (or the checkpoint when
resuming); build the module and the one Trainer; write ``session.toml`` and
``provenance.json``; fit; on cancel make sure ``last.ckpt`` exists; stitch the training data
into ``reconstruction.h5`` + PNGs; score against ground truth when there is one; write
``summary.json``. A failure after the
run directory was prepared writes ``summary.json`` with status "failed" and re-raises.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import ResolvedConfig, SessionConfig
from ..errors import DiskFullError, EngineError, RunError
from ..reporting import Reporter, StopToken, stop_requested
from .common import as_resolved, versions

if TYPE_CHECKING:
    from ..training.rundir import RunDirectory


@dataclass
class RunResult:
    """What a training run produced.

    Attributes
    ----------
    run_dir
        The run directory (absolute).
    status
        "completed", "cancelled" or "failed".
    epochs
        Epochs completed in total (a resumed run counts the earlier ones too).
    history
        Rows of ``metrics.csv`` (one dict per epoch).
    summary
        The content of ``summary.json``.
    checkpoints
        ``{"last": path, "best": path or None}``.
    reconstruction
        ``reconstruction.h5`` of the training data (None if the run failed before it).
    """

    run_dir: Path
    status: str
    epochs: int
    history: list[dict[str, float]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    checkpoints: dict[str, Path | None] = field(default_factory=dict)
    reconstruction: Path | None = None


def _runtime_info(trainer: Any) -> dict[str, Any]:
    """What Lightning decided beyond the device (see :func:`engine.training.resolve_device`)."""
    return {
        "num_nodes": int(trainer.num_nodes),
        "world_size": int(trainer.world_size),
        "strategy": type(trainer.strategy).__name__,
        "precision": str(trainer.precision),
    }


def train(config: SessionConfig | ResolvedConfig, reporter: Reporter | None = None,
          stop: StopToken | None = None, *, resume: bool = False) -> RunResult:
    """Train the PINN on ``config.data`` and write a complete run directory.

    Parameters
    ----------
    config
        A :class:`ResolvedConfig` (validated once, by the resolver) whose sources are recorded
        in ``provenance.json``; a :class:`SessionConfig` from the API is resolved once (see
        :func:`engine.runs.common.as_resolved`).
    reporter
        Receives ``run_started`` (resolved accelerator/devices, sizes, run folder),
        ``progress``, per-epoch ``metrics``, ``preview`` frames, ``log`` lines and
        ``run_finished`` (the summary).
    stop
        Stop token (``threading.Event``): training ends within one optimisation step, the
        run is written with status "cancelled" and a loadable ``last.ckpt``.
    resume
        Continue the run in ``training.output_dir`` from its ``checkpoints/last.ckpt``; the
        epoch count continues towards ``training.max_epochs``.

    Returns
    -------
    RunResult

    Raises
    ------
    EngineError
        Bad configuration, data or run folder: refused before anything is written. A
        failure once the run has started (out of memory: a :class:`RunError` naming the
        batch size) writes ``summary.json`` with status "failed".

    Examples
    --------
    >>> import engine                                                    # doctest: +SKIP
    >>> cfg = engine.resolve_config(overrides={"data.path": "scan.npz",
    ...                                         "training.max_epochs": 5})
    >>> result = engine.train(cfg)                                       # doctest: +SKIP
    >>> result.status, result.summary["quality"]                         # doctest: +SKIP
    """
    from ..io import load_dataset
    from ..training.devices import launch_rank
    from ..training.rundir import RunDirectory
    from ..training.setup import check_data_matches

    resolved = as_resolved(config, "train")
    cfg = resolved.config
    run_dir = RunDirectory(cfg.training.output_dir)
    is_zero = launch_rank() == 0
    # Bad data (or data that do not fit the model) are refused before anything is written.
    data = load_dataset(cfg.data, probe=cfg.probe)
    check_data_matches(cfg, data)
    if stop_requested(stop):  # a stop during start-up: nothing was made, nothing is
        return _not_started(run_dir, reporter)
    existed = run_dir.path.exists()
    # One writer per run folder (rank 0 holds the lock for the whole run); a refused start
    # (folder in use, a previous run, a checkpoint that cannot be resumed) changes nothing.
    lock = run_dir.prepare(resume=resume, overwrite=cfg.training.overwrite) if is_zero \
        else None
    try:
        run = _Run(cfg, resolved, run_dir, reporter, stop, resume, is_zero, data)
        if resume:
            run.resume_from = _resumable(run_dir, cfg.training.max_epochs)
        return run.execute()
    except _StoppedAtStart:
        if lock is not None:
            run_dir.abandon(lock, existed)
        return _not_started(run_dir, reporter)
    finally:
        if lock is not None:
            lock.release()


class _StoppedAtStart(Exception):
    """The stop token was set before the run wrote anything (start-up)."""


def _not_started(run_dir: RunDirectory, reporter: Reporter | None) -> RunResult:
    """The result of a run stopped during its start-up: nothing written, the folder as it
    was (one this run created is removed again)."""
    summary = {"status": "cancelled", "epochs": 0, "run_dir": str(run_dir.path),
               "note": "stopped during start-up; nothing was written"}
    if reporter is not None:
        reporter.log("info", f"stopped during start-up: nothing was written to {run_dir.path}")
        reporter.run_finished(summary)
    return RunResult(run_dir.path, "cancelled", 0, summary=summary)


def resume(config: SessionConfig | ResolvedConfig, reporter: Reporter | None = None,
           stop: StopToken | None = None) -> RunResult:
    """Continue the run in ``training.output_dir`` from its ``checkpoints/last.ckpt`` up to
    ``training.max_epochs`` (:func:`train` with ``resume=True``). ``config`` is the run's own
    ``session.toml`` with the changes asked for: :func:`engine.config.resume_config`.

    Raises
    ------
    RunError
        No ``last.ckpt``, or the run already trained ``training.max_epochs`` epochs: refused,
        the run unchanged.
    """
    return train(config, reporter, stop, resume=True)


def _resumable(run_dir: RunDirectory, max_epochs: int) -> dict[str, Any]:
    """The checkpoint a resume starts from, read (and refused) before anything is written.

    Raises
    ------
    CheckpointError
        ``last.ckpt`` cannot be read.
    RunError
        The run already trained more than ``training.max_epochs`` epochs, or as many and
        completed: nothing to continue (Lightning would otherwise start, fail, and the run's
        files would say "failed").
    """
    from ..training.checkpoint import read_checkpoint

    ckpt = read_checkpoint(run_dir.last_checkpoint)
    done = _epochs_done(ckpt)
    # All epochs trained but the run not finished (a full disk while writing its
    # reconstruction): resuming writes what is missing. Finished, or fewer epochs asked for
    # than trained: nothing to continue.
    if done > max_epochs or (done == max_epochs and _finished(run_dir)):
        raise RunError(f"{run_dir.path} already trained {done} epoch{'s' if done != 1 else ''}"
                       f"; ask for more than {done} (--set training.max_epochs={done + 1} or "
                       "more); the run is left as it was")
    return ckpt


def _finished(run_dir: RunDirectory) -> bool:
    """The run's summary.json says it completed."""
    import json

    try:
        return json.loads(run_dir.file("summary.json").read_text())["status"] == "completed"
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _epochs_done(ckpt: dict[str, Any]) -> int:
    """Whole epochs a checkpoint has finished (Lightning's fit-loop progress)."""
    try:
        return int(ckpt["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"])
    except (KeyError, TypeError, ValueError):
        return int(ckpt.get("epoch", -1)) + 1


class _Run:
    """The state of one training run (kept out of :func:`train` to keep it readable)."""

    def __init__(self, cfg: SessionConfig, resolved: ResolvedConfig, run_dir: RunDirectory,
                 reporter: Reporter | None, stop: StopToken | None, resume: bool,
                 is_zero: bool, data: Any) -> None:
        self.cfg = cfg
        self.data = data
        self.resolved = resolved
        self.run_dir = run_dir
        self.reporter = reporter or Reporter()
        self.user_reporter = reporter
        self.stop = stop
        self.resume = resume
        self.is_zero = is_zero
        self.started = datetime.now(UTC)
        self.t0 = time.perf_counter()
        self.history: list[dict[str, float]] = []
        self.device: dict[str, Any] = {}
        self.trainer: Any = None
        self.writing = False
        self.resume_from: dict[str, Any] | None = None
        self.live_estimate: Any = None  # PreviewCanvas of a run with a reporter
        self.gain_check: Any = None  # NetworkGainCheck when training.gain_check_every > 0

    # -- the run ---------------------------------------------------------------------------
    def execute(self) -> RunResult:
        import torch

        # deterministic=True switches torch into deterministic mode process-wide; a GUI or
        # notebook that trains again should get back the mode it had.
        was_deterministic = torch.are_deterministic_algorithms_enabled()
        try:
            return self._execute()
        except BaseException as exc:
            # Only a run that has started writing records its failure: a refused resume
            # leaves the folder (and a completed run's summary.json) as it was.
            if self.is_zero and self.writing and (self.trainer is None
                                                  or self.trainer.is_global_zero):
                summary = self._summary("failed", error=exc)
                try:
                    self.run_dir.write_summary(summary)
                except (EngineError, OSError) as write_error:
                    # A full disk: summary.json stays at its last complete version, and the
                    # error the user sees is the one that stopped the run.
                    self.reporter.log("warning", f"summary.json not updated: {write_error}")
                finally:
                    self.reporter.log("error", f"training failed: {exc}")
                    self.reporter.run_finished(summary)
            if isinstance(exc, DiskFullError) and self.writing and self.is_zero:
                # The run folder stays resumable (from its last checkpoint): say how.
                folder = self.run_dir.path
                then = (f"resume: ptycho-engine train --resume {folder}"
                        if self.run_dir.last_checkpoint.is_file() else
                        "start again (no checkpoint was written yet): ptycho-engine train "
                        f"--session {folder / 'session.toml'} --set training.overwrite=true")
                raise DiskFullError(
                    f"no space left on the disk while writing {exc.path or folder} during "
                    f"training (files keep their last complete version); free some space and "
                    f"{then}", exc.path) from exc
            raise
        finally:
            torch.use_deterministic_algorithms(was_deterministic)

    def _execute(self) -> RunResult:
        import lightning as L

        from ..model.pinn import Normalisers
        from ..training.callbacks import EpochMetrics, PreviewCanvas, ReportProgress, StopOnToken
        from ..training.checkpoint import read_checkpoint
        from ..training.devices import resolve_device
        from ..training.faults import explain_faults
        from ..training.setup import prepare_fit
        from ..training.trainer import build_trainer

        cfg, ex = self.cfg, self.cfg.execution
        L.seed_everything(ex.seed, workers=True, verbose=False)
        data = self.data
        for warning in data.warnings:
            self.reporter.log("warning", warning)
        ckpt_path = self.run_dir.last_checkpoint if self.resume else None
        normalisers = None
        resume_step = None
        if ckpt_path is not None:
            ckpt = self.resume_from if self.resume_from is not None \
                else read_checkpoint(ckpt_path)
            saved = ckpt["hyper_parameters"]["normalisers"]
            resume_step = _resume_step(ckpt)
            normalisers = Normalisers(saved["input_scale"], saved["loss_scale"])
            self.history = self.run_dir.read_metrics()
        self._check_start()
        prepared = prepare_fit(cfg, data, normalisers)
        self._check_start()
        split, dm, module = prepared.split, prepared.datamodule, prepared.module
        normalisers = prepared.normalisers

        self.stopper = StopOnToken(self.stop)
        self.epoch_metrics = EpochMetrics(self._on_epoch, cfg.model.gridsize**2)
        callbacks: list[Any] = [self.stopper, self.epoch_metrics]
        canvas_preview = None
        if self.user_reporter is not None:
            canvas_preview = PreviewCanvas(data.object_shape, module.net.probe)
            self.live_estimate = canvas_preview
            callbacks.append(ReportProgress(self.reporter, canvas_preview,
                                            ex.preview_interval_s))
        self.device_info = resolve_device(ex)
        gain_check = self._gain_check(data, module, canvas_preview)
        if gain_check is not None:
            callbacks.append(gain_check)
        # No validation groups (val_fraction 0 or tiny data): no validation loop at all.
        no_validation: dict[str, Any] = {"limit_val_batches": 0} if split.val.size == 0 else {}
        self.trainer = trainer = build_trainer(
            ex, max_epochs=cfg.training.max_epochs, run_dir=self.run_dir.path,
            callbacks=callbacks, max_time_min=cfg.training.max_time_min,
            enable_progress_bar=ex.progress_bar and self.user_reporter is None,
            resume_step=resume_step, **no_validation)
        self.device = {**self.device_info.to_dict(), **_runtime_info(trainer)}
        self._check_start()
        if trainer.is_global_zero:
            self.writing = True
            self.run_dir.write_session(cfg, defaults=self.resolved.default_keys())
            self.run_dir.write_provenance(self._provenance(data, split, normalisers))
            self.reporter.run_started({
                "run_dir": str(self.run_dir.path), **self.device,
                "n_patterns": data.n_patterns, "N": data.N,
                "groups_train": int(split.train.size), "groups_val": int(split.val.size),
                "gridsize": cfg.model.gridsize, "max_epochs": cfg.training.max_epochs,
                "resume": self.resume, "data": data.source,
            })
        # Lightning's ddp launcher re-runs the program in new processes from here.
        with explain_faults("training", batch_size=cfg.training.batch_size, unit="groups",
                            setting="training.batch_size", device=self.device["device"],
                            folder=self.run_dir.path):
            trainer.fit(module, datamodule=dm, ckpt_path=str(ckpt_path) if ckpt_path else None)

        cancelled = self.stopper.cancelled
        if cancelled or not self.run_dir.last_checkpoint.is_file():
            if ex.checkpointing or cancelled:
                trainer.save_checkpoint(self.run_dir.last_checkpoint, weights_only=False)
        if not trainer.is_global_zero:
            return RunResult(self.run_dir.path, "cancelled" if cancelled else "completed",
                             int(trainer.current_epoch))
        return self._finish(module, "cancelled" if cancelled else "completed")

    def _gain_check(self, data: Any, module: Any, canvas: Any) -> Any:
        """The :class:`engine.training.callbacks.NetworkGainCheck` of this run (None: off;
        no solver after the network, whose estimate is then the result; or a beamtime
        model, whose worth is on new scans, not on the one it trains with)."""
        from ..training.callbacks import NetworkGainCheck, PreviewCanvas

        settings = self.cfg.training
        if settings.gain_check_every <= 0:
            return None
        if self.cfg.refinement.epochs <= 0:
            self.reporter.log("info", "gain check off: with refinement.epochs = 0 the "
                              "network's estimate is the reconstruction")
            return None
        if self.cfg.beamtime.simulated_training:
            self.reporter.log("info", "gain check off for a beamtime model: it is made for "
                              "new scans, and trains all training.max_epochs")
            return None
        from .refinement import refine_stage

        if canvas is None:
            canvas = PreviewCanvas(data.object_shape, module.net.probe)
        session = dataclasses.replace(self.cfg, refinement=dataclasses.replace(
            self.cfg.refinement, epochs=settings.gain_check_solver_epochs))
        device, quiet = self.device_info.torch_device(), Reporter()

        def solve(block: Any, obj: Any, mask: Any, probe: Any) -> Any:
            return refine_stage(block, obj, mask, probe, session, device, quiet, self.stop,
                                stage="gain check")

        self.gain_check = NetworkGainCheck(
            data, canvas, solve, every=settings.gain_check_every,
            patterns=settings.gain_check_patterns, min_gain=settings.gain_check_min_gain,
            on_check=self._on_gain_check, stop=self.stop)
        return self.gain_check

    def _on_gain_check(self, check: dict[str, Any]) -> None:
        then = "training stops" if check["decision"] == "stop" else "training goes on"
        self.reporter.log("info", f"gain check after epoch {check['epoch']}: the solver "
                          f"({check['patterns']} patterns, "
                          f"{self.cfg.training.gain_check_solver_epochs} epochs) from the "
                          f"network's estimate reaches misfit {check['misfit_network']:.4g}, "
                          f"from a flat object {check['misfit_flat']:.4g} (noise floor "
                          f"{check['noise_floor']:.4g}): {check['reason']}; {then} "
                          f"({check['seconds']:.1f} s)")

    def _check_start(self) -> None:
        """End a run stopped before it wrote anything (Ctrl-C during start-up)."""
        if stop_requested(self.stop) and not self.writing:
            raise _StoppedAtStart

    # -- callbacks -------------------------------------------------------------------------
    def _on_epoch(self, row: dict[str, float]) -> None:
        self.history = [r for r in self.history if int(r["epoch"]) < int(row["epoch"])]
        self.history.append(row)
        self.run_dir.write_metrics(self.history)
        self.reporter.metrics(int(row["epoch"]),
                              {k: float(v) for k, v in row.items() if k != "epoch"})

    # -- outputs ---------------------------------------------------------------------------
    def _finish(self, module: Any, status: str) -> RunResult:
        from ..model.reconstruct import reconstruct
        from ..training.rundir import AMPLITUDE_PNG, PHASE_PNG, RECONSTRUCTION
        from .pipeline import Start, solve_write_score

        cfg, data = self.cfg, self.data
        self.train_time_s = time.perf_counter() - self.t0
        device = self.device_info.torch_device()
        stitched = self._live_stitch() if status == "cancelled" else None
        if stitched is None and status == "cancelled":
            # Stopped before the network saw a batch (or with no live estimate): a Stop is
            # answered at once, not after a pass of the network over the whole scan.
            return self._write_cancelled_without_image()
        if stitched is None:
            self.reporter.log("info", "stitching the training data into reconstruction.h5")
            stitched = reconstruct(
                module.net, data.patterns, data.positions, data.object_shape,
                n_neighbours=cfg.model.n_neighbours, seed=cfg.execution.seed,
                batch_size=cfg.execution.inference_batch_size, device=device,
                weighting=cfg.inference.stitch_weighting,
                refine_iterations=cfg.inference.refine_iterations,
                alignment_passes=cfg.inference.alignment_passes, reporter=self.reporter,
                # a Stop during the stitching of a completed training ends it
                stop=self.stop, stage="stitch")
            if not stitched.completed:
                status = "cancelled"
                stitched = self._live_stitch() or stitched
        module.net.to("cpu")
        # The pipeline: the network's stitched estimate -> solve -> write -> score.
        start = Start("network", stitched.obj, stitched.mask,
                      module.net.effective_probe().detach().cpu().numpy(),
                      "the network's stitched estimate", float(stitched.seconds))
        outcome = solve_write_score(
            data, start, cfg, device=device, reporter=self.reporter, stop=self.stop,
            product=self.run_dir.file(RECONSTRUCTION),
            pngs=(self.run_dir.file(AMPLITUDE_PNG), self.run_dir.file(PHASE_PNG)),
            name="ptycho-engine reconstruction of the training data",
            comments=f"trained by ptycho-engine; run {self.run_dir.path}",
            data_source=str(cfg.data.path), write_cancelled=True,
            loss=([int(r["epoch"]) for r in self.history],
                  [float(r["train_loss"]) for r in self.history]),
            solve=status == "completed")
        refined, recon_path = outcome.refined, outcome.product
        if status == "completed" and outcome.status != "completed":
            status = "cancelled"  # stopped during the solver: its best state is written
        scores, truth = outcome.quality, outcome.ground_truth
        summary = self._summary(status, stitched=stitched, quality=scores,
                                truth_source=truth)
        summary["refinement"] = refined.summary()
        summary["stages"] = _stages(outcome.stages, self.train_time_s)
        self.run_dir.write_summary(summary)
        self.reporter.run_finished(summary)
        best = self.run_dir.best_checkpoints()
        return RunResult(
            run_dir=self.run_dir.path, status=status, epochs=summary["epochs"],
            history=list(self.history), summary=summary,
            checkpoints={"last": self.run_dir.last_checkpoint,
                         "best": _best_path(self.trainer) or (best[-1] if best else None)},
            reconstruction=recon_path)

    def _write_cancelled_without_image(self) -> RunResult:
        self.reporter.log("info", "cancelled before a live training estimate existed: no "
                          "reconstruction.h5 (resume the run, or infer with its checkpoint)")
        summary = self._summary("cancelled")
        self.run_dir.write_summary(summary)
        self.reporter.run_finished(summary)
        return RunResult(run_dir=self.run_dir.path, status="cancelled",
                         epochs=summary["epochs"], history=list(self.history),
                         summary=summary, checkpoints={"last": self.run_dir.last_checkpoint,
                                                       "best": None})

    def _provenance(self, data: Any, split: Any, normalisers: Any) -> dict[str, Any]:
        return {
            "started": self.started.isoformat(timespec="seconds"),
            "resumed": self.resume,
            "sources": dict(self.resolved.sources),
            "resolved": self.device,
            "configured": {"accelerator": self.cfg.execution.accelerator,
                           "devices": self.cfg.execution.devices,
                           "strategy": self.cfg.execution.strategy},
            "versions": versions(),
            "data": {"source": data.source, "n_patterns": data.n_patterns, "N": data.N,
                     "lazy": bool(getattr(data, "is_lazy", False)),
                     "probe_scale_factor": data.probe_scale_factor,
                     "groups_train": int(split.train.size), "groups_val": int(split.val.size)},
            "normalisers": dataclasses.asdict(normalisers),
            "argv": list(sys.argv),
        }

    def _live_stitch(self) -> Any:
        """A cancelled run's reconstruction without another pass of the network: the live
        estimate training built from its own batches (what the GUI showed), so a Stop is
        answered within moments. None when there is none (no live previews, or no batch
        yet); then the network stitches the whole scan."""
        from ..model.reconstruct import Stitched

        image = self.live_estimate.image() if self.live_estimate is not None else None
        if image is None:
            return None
        self.reporter.log("info", "cancelled: reconstruction.h5 holds the live training "
                          "estimate (resume the run, or infer with its checkpoint, for the "
                          "full stitched and refined reconstruction)")
        mask = np.isfinite(image)
        return Stitched(obj=image, mask=mask, n_patterns=int(self.data.n_patterns),
                        seconds=0.0, completed=False)

    def _summary(self, status: str, *, error: BaseException | None = None,
                 stitched: Any = None, quality: dict[str, Any] | None = None,
                 truth_source: str | None = None) -> dict[str, Any]:
        rows = self.history
        rates = [r["patterns_per_s"] for r in rows if math.isfinite(r["patterns_per_s"])]
        last = rows[-1] if rows else {}
        done = int(last["epoch"]) + 1 if rows else 0
        return {
            "status": status,
            "epochs": done,
            "max_epochs": self.cfg.training.max_epochs,
            "resumed": self.resume,
            "started": self.started.isoformat(timespec="seconds"),
            "wall_time_s": time.perf_counter() - self.t0,
            "train_time_s": getattr(self, "train_time_s", None),
            "throughput": {
                "train_patterns_per_s": float(np.median(rates)) if rates else None,
                "inference_patterns_per_s": (stitched.patterns_per_s
                                             if stitched and stitched.seconds > 0 else None),
            },
            "final": {"train_loss": last.get("train_loss"), "val_loss": last.get("val_loss"),
                      "lr": last.get("lr")},
            "device": self.device,
            "quality": quality,
            "ground_truth": truth_source,
            "run_dir": str(self.run_dir.path),
            "error": None if error is None else f"{type(error).__name__}: {error}",
            "network_gain": self._gain_summary(),
        }

    def _gain_summary(self) -> dict[str, Any]:
        """What the gain checks measured and decided (see ``training.gain_check_every``)."""
        check = self.gain_check
        return {"every": int(self.cfg.training.gain_check_every) if check else 0,
                "checks": list(check.checks) if check else [],
                "stopped": check.stopped_reason if check else None}


def _stages(stages: dict[str, dict[str, Any]], train_s: float) -> dict[str, Any]:
    """The pipeline's stages as a training run reports them: ``network`` (training plus
    stitching time, the stitched estimate's quality) and ``solver``."""
    start = dict(stages.get("start", {}))
    start.pop("kind", None)
    stitch_s = float(start.get("seconds", 0.0))
    network = {"seconds": train_s + stitch_s, "train_seconds": train_s,
               "stitch_seconds": stitch_s, "quality": start.get("quality")}
    return {"network": network, "solver": stages.get("solver", {})}


def _resume_step(ckpt: dict[str, Any]) -> int:
    """Optimiser steps done when ``ckpt`` was written (Lightning's log step counter)."""
    try:
        loop = ckpt["loops"]["fit_loop"]["epoch_loop.state_dict"]
        return int(loop["_batches_that_stepped"])
    except (KeyError, TypeError, ValueError):
        return int(ckpt.get("global_step", 0))


def _best_path(trainer: Any) -> Path | None:
    cb = getattr(trainer, "checkpoint_callback", None)
    path = getattr(cb, "best_model_path", "") if cb is not None else ""
    return Path(path) if path else None
