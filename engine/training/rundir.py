"""The run directory: one folder per training run, every file written atomically.

Layout (docs/training.md)::

    RUN_DIR/
      session.toml        complete resolved config; `ptycho-engine train --session` re-runs it
      provenance.json     source of every value, resolved accelerator/devices, versions, start
      checkpoints/        last.ckpt and the best ones (best-EPOCH.ckpt)
      metrics.csv         one row per epoch: epoch, train_loss, val_loss, lr, epoch_time_s,
                          patterns_per_s
      reconstruction.h5   stitched object of the training data (ptychodus product + losses)
      amplitude.png, phase.png
      summary.json        status, epochs, wall time, throughput, losses, quality metrics
      logs/               Lightning's step-level logger output (csv or tensorboard)

Only global rank 0 writes here.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..config import SessionConfig, save_session
from ..errors import RunError
from ..locks import FolderLock, lock_folder
from ..runs_index import (  # the run folder's layout, shared with the runs listing
    AMPLITUDE_PNG,
    CHECKPOINTS,
    LAST_CHECKPOINT,
    LIVE_PREVIEW,
    METRIC_COLUMNS,
    METRICS,
    PHASE_PNG,
    PROVENANCE,
    RECONSTRUCTION,
    RUN_MARKERS,
    SESSION,
    SUMMARY,
    read_metrics,
)
from .faults import check_output_folder


def json_safe(value: Any) -> Any:
    """``value`` with NaN/inf floats turned into None and numpy scalars into Python ones."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: str | os.PathLike[str], payload: Mapping[str, Any]) -> Path:
    """Write strict JSON (no NaN) atomically."""
    p = Path(path)
    atomic_write_text(p, json.dumps(json_safe(payload), indent=2, allow_nan=False) + "\n")
    return p


class RunDirectory:
    """Paths and writers of one run directory."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).resolve()

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / LAST_CHECKPOINT

    def holds_run(self) -> bool:
        """True when the folder already holds a run's files."""
        return any((self.path / marker).exists() for marker in RUN_MARKERS)

    def prepare(self, *, resume: bool, overwrite: bool) -> FolderLock:
        """Create the folder and take its writer lock; refuse to mix a new run into an old one.

        Returns the held :class:`~engine.locks.FolderLock` (release it when the run ends);
        taking it removes the temporary files of a writer killed earlier.

        Raises
        ------
        RunError
            The folder is a file, cannot be written or created, its disk is nearly full
            (:data:`engine.training.faults.MIN_FREE_BYTES`), another process writes there
            (:class:`~engine.locks.FolderInUseError`, "in use by PID N"), holds a previous
            run (and neither ``resume`` nor ``overwrite``), or ``resume`` is asked without
            ``last.ckpt``. Nothing is changed then.
        """
        if self.path.exists() and not self.path.is_dir():
            raise RunError(f"training.output_dir = '{self.path}': expected a folder for the "
                           "run, found a file")
        check_output_folder(self.path, "training.output_dir")  # writable, disk not full
        existed = self.path.exists()
        lock = lock_folder(self.path, "resuming a training run" if resume else "training")
        try:
            self._check(resume=resume, overwrite=overwrite)
            if not resume:
                if self.holds_run():
                    self._clear_previous()
                self.checkpoints.mkdir(exist_ok=True)
        except OSError as exc:
            self._give_up(lock, existed)
            raise RunError(f"training.output_dir = '{self.path}': cannot create the run "
                           f"folder ({exc.strerror})") from None
        except BaseException:
            self._give_up(lock, existed)
            raise
        return lock

    def _check(self, *, resume: bool, overwrite: bool) -> None:
        if resume:
            if not self.last_checkpoint.is_file():
                raise RunError(f"cannot resume from '{self.path}': expected "
                               f"{CHECKPOINTS}/{LAST_CHECKPOINT} in it, found none")
            return
        if self.holds_run() and not overwrite:
            raise RunError(
                f"training.output_dir = '{self.path}' already holds a run (session.toml, "
                "summary.json or checkpoints/); choose another folder (--out DIR), continue "
                "it with --resume, or set training.overwrite = true to replace it")

    def _give_up(self, lock: FolderLock, existed: bool) -> None:
        """Release the lock of a refused run; remove the folder if this call created it."""
        lock.release()
        if not existed:
            with contextlib.suppress(OSError):
                self.path.rmdir()

    def abandon(self, lock: FolderLock, existed: bool) -> None:
        """Give up a prepared run that wrote nothing (stopped during start-up): release the
        lock and remove the empty folders :meth:`prepare` made (``existed``: the run folder
        was there before)."""
        with contextlib.suppress(OSError):
            self.checkpoints.rmdir()  # only when empty
        self._give_up(lock, existed)

    def _clear_previous(self) -> None:
        """Remove the files of a previous run (only the names this module writes)."""
        for name in (SESSION, PROVENANCE, METRICS, SUMMARY, RECONSTRUCTION, AMPLITUDE_PNG,
                     PHASE_PNG, LIVE_PREVIEW):  # a killed job's last live frame too
            (self.path / name).unlink(missing_ok=True)
        if self.checkpoints.is_dir():
            for ckpt in self.checkpoints.glob("*.ckpt"):
                ckpt.unlink()

    def write_session(self, config: SessionConfig, defaults: Iterable[str] = ()) -> Path:
        """The run's own ``session.toml``; path fields named in ``defaults`` (left at their
        default) are written as the default, so they resolve inside the run folder."""
        return save_session(config, self.file(SESSION), defaults=defaults)

    def write_provenance(self, payload: Mapping[str, Any]) -> Path:
        return write_json(self.file(PROVENANCE), payload)

    def write_summary(self, payload: Mapping[str, Any]) -> Path:
        return write_json(self.file(SUMMARY), payload)

    def read_metrics(self) -> list[dict[str, float]]:
        """Rows of an existing metrics.csv (empty when there is none)."""
        path = self.file(METRICS)
        return read_metrics(path) if path.is_file() else []

    def write_metrics(self, rows: Sequence[Mapping[str, float]]) -> Path:
        """Rewrite metrics.csv with every row (atomic; small: one line per epoch)."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(METRIC_COLUMNS)
        for row in rows:
            writer.writerow([_csv_value(row.get(k)) for k in METRIC_COLUMNS])
        path = self.file(METRICS)
        atomic_write_text(path, buf.getvalue())
        return path

    def best_checkpoints(self) -> list[Path]:
        """The best-*.ckpt files, sorted by name."""
        return sorted(self.checkpoints.glob("best-*.ckpt")) if self.checkpoints.is_dir() else []


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)
