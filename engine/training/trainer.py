"""The ONE place that constructs a ``lightning.Trainer``: :func:`build_trainer`.

Every Trainer argument comes from :class:`engine.config.ExecutionConfig` (plus the schedule
limits and callbacks of the run), so what a session says is what the Trainer gets.
"""

from __future__ import annotations

import csv
import datetime
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Checkpoint, EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

from ..atomic import atomic_write_text
from ..config import ExecutionConfig, parse_devices
from ..errors import ConfigError
from .devices import resolve_device
from .faults import AtomicCheckpointIO

CHECKPOINT_DIR = "checkpoints"
LOG_DIR = "logs"


class LastCheckpoint(Checkpoint):
    """Writes ``checkpoints/last.ckpt`` at the end of every ``every_n_epochs``-th epoch.

    Lightning's ``save_last=True`` refreshes last.ckpt only when a best checkpoint is saved in
    the same step, so after an epoch that did not improve it would hold an older state; this
    callback (run after ModelCheckpoint) makes last.ckpt always the latest epoch.
    """

    def __init__(self, path: Path, every_n_epochs: int = 1) -> None:
        self.path = Path(path)
        self.every_n_epochs = max(1, int(every_n_epochs))

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        trainer.save_checkpoint(self.path, weights_only=False)  # full: resumable


def checkpoint_callback(execution: ExecutionConfig, run_dir: str | os.PathLike[str]
                        ) -> ModelCheckpoint:
    """``last.ckpt`` plus the best ``save_top_k`` by ``checkpoint_monitor``."""
    return ModelCheckpoint(
        dirpath=Path(run_dir) / CHECKPOINT_DIR,
        filename="best-{epoch:04d}",
        monitor=execution.checkpoint_monitor,
        mode=execution.checkpoint_mode,
        save_top_k=execution.checkpoint_save_top_k,
        every_n_epochs=execution.checkpoint_every_n_epochs,
        save_last=True,
        auto_insert_metric_name=False,
        enable_version_counter=False,  # one last.ckpt, overwritten, also after a resume
    )


class _ContinuingWriter(ExperimentWriter):
    """Lightning's CSV writer, continuing a resumed run's ``metrics.csv``.

    Lightning deletes an existing ``metrics.csv`` when its logger starts. On a resume the
    rows logged before the checkpoint (``step`` below the checkpoint's step count) are kept
    and the rows a killed run logged after its last checkpoint are dropped (they are logged
    again), so the history reads as one uninterrupted run.
    """

    def __init__(self, log_dir: str, resume_step: int) -> None:
        self._resume_step = resume_step
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        path = Path(self.metrics_file_path)
        if not path.is_file():
            return
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            fields = list(reader.fieldnames or [])
            rows = [r for r in reader if _step(r) < self._resume_step]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(path, buf.getvalue())
        self.metrics_keys = sorted(fields)


def _step(row: dict[str, str]) -> float:
    try:
        return float(row.get("step") or "inf")
    except ValueError:
        return float("inf")


class ContinuingCSVLogger(CSVLogger):
    """:class:`CSVLogger` whose ``metrics.csv`` continues across a resume (see
    :class:`_ContinuingWriter`)."""

    def __init__(self, *args: Any, resume_step: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._resume_step = resume_step

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ContinuingWriter(self.log_dir, self._resume_step)
        return self._experiment  # type: ignore[return-value]


def make_logger(execution: ExecutionConfig, run_dir: str | os.PathLike[str],
                resume_step: int | None = None) -> Logger | bool:
    """The experiment logger named by ``execution.logger`` (step-level logs under logs/);
    ``resume_step``: the resumed checkpoint's step count (the CSV history continues)."""
    if execution.logger == "csv":
        if resume_step is not None:
            return ContinuingCSVLogger(save_dir=str(run_dir), name=LOG_DIR, version="",
                                       resume_step=resume_step)
        return CSVLogger(save_dir=str(run_dir), name=LOG_DIR, version="")
    if execution.logger == "tensorboard":
        try:
            return TensorBoardLogger(save_dir=str(run_dir), name=LOG_DIR, version="")
        except ModuleNotFoundError as exc:
            raise ConfigError([
                "execution.logger = 'tensorboard' needs the tensorboard package "
                f"({exc}); install it (pip install 'ptycho-pinn-app[tensorboard]') or use "
                "'csv'"]) from None
    return False


def build_trainer(
    execution: ExecutionConfig,
    *,
    max_epochs: int,
    run_dir: str | os.PathLike[str],
    callbacks: Sequence[L.Callback] = (),
    logger: Logger | bool | None = None,
    max_time_min: float,
    enable_progress_bar: bool | None = None,
    resume_step: int | None = None,
    **overrides: Any,
) -> L.Trainer:
    """Build the Lightning Trainer of a run from the execution config.

    Parameters
    ----------
    execution
        Accelerator, devices, num_nodes, strategy, precision, determinism, clipping,
        accumulation, checkpointing, early stopping, logger, logging cadence, progress bar,
        matmul precision (applied here with ``torch.set_float32_matmul_precision``).
    max_epochs
        Total epochs of the run (a resumed run continues counting towards it).
    run_dir
        Run directory: checkpoints go to ``run_dir/checkpoints`` and logs to ``run_dir/logs``.
    callbacks
        The run's own callbacks (stop token, reporting, metrics); checkpointing and early
        stopping are added from ``execution``.
    logger
        Overrides ``execution.logger`` when given (False: none).
    max_time_min
        Wall-time limit in minutes (0: none).
    enable_progress_bar
        Overrides ``execution.progress_bar`` (the CLI turns Lightning's bar off when its own
        reporter draws one).
    resume_step
        Step count of the checkpoint a resumed run starts from (keeps the CSV log history).
    **overrides
        Extra Trainer arguments for tests and benchmarks (``limit_train_batches``...).

    Returns
    -------
    lightning.Trainer
    """
    torch.set_float32_matmul_precision(execution.matmul_precision)
    all_callbacks = list(callbacks)
    if execution.checkpointing:
        all_callbacks.append(checkpoint_callback(execution, run_dir))
        all_callbacks.append(LastCheckpoint(Path(run_dir) / CHECKPOINT_DIR / "last.ckpt",
                                            execution.checkpoint_every_n_epochs))
    if execution.early_stopping_patience > 0:
        all_callbacks.append(EarlyStopping(monitor=execution.checkpoint_monitor,
                                           mode=execution.checkpoint_mode,
                                           patience=execution.early_stopping_patience))
    kwargs: dict[str, Any] = {
        # "auto" resolved by the one device rule, so provenance and Lightning agree.
        "accelerator": resolve_device(execution).accelerator,
        "devices": parse_devices(execution.devices),
        "num_nodes": execution.num_nodes,
        "strategy": execution.strategy,
        "precision": execution.precision,
        "deterministic": execution.deterministic,
        "gradient_clip_val": execution.gradient_clip_val or None,
        "gradient_clip_algorithm": execution.gradient_clip_algorithm,
        "accumulate_grad_batches": execution.accumulate_grad_batches,
        "enable_checkpointing": execution.checkpointing,
        "logger": make_logger(execution, run_dir, resume_step) if logger is None else logger,
        "log_every_n_steps": execution.log_every_n_steps,
        "enable_progress_bar": execution.progress_bar if enable_progress_bar is None
        else enable_progress_bar,
        "enable_model_summary": False,
        "callbacks": all_callbacks,
        "max_epochs": int(max_epochs),
        "max_time": datetime.timedelta(minutes=max_time_min) if max_time_min > 0 else None,
        "default_root_dir": str(run_dir),
        "num_sanity_val_steps": 0,
        # Checkpoints written next to their target and renamed: a kill never leaves a
        # truncated last.ckpt (Lightning's default copies across file systems).
        "plugins": [AtomicCheckpointIO()],
    }
    kwargs.update(overrides)
    return L.Trainer(**kwargs)
