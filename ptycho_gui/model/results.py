"""Past results for the views: a ptychodus product file or a run folder, read into memory.

Qt-free (numpy and the engine's readers). Any ptychodus product ``.h5`` opens, ours or
another tool's: object (NaN where the product's illumination mask says "not illuminated"),
probe, positions, pixel sizes and the loss history it holds; a run folder adds the loss
curves of its ``metrics.csv``, its settings file and its FRC against ground truth.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.config import (
    SessionConfig,
    absolutize_paths,
    config_to_dict,
    field_specs,
    load_session,
)
from engine.errors import ConfigError, DataError
from engine.runs_index import (
    CHECKPOINTS,
    SESSION,
    SUMMARY,
    RunInfo,
    is_run_folder,
    loss_history,
    read_run,
)

from .products import Reconstruction, read_reconstruction
from .quality import read_summary


@dataclass
class OpenedResult:
    """A reconstruction read from disk, with what the views need to show it in units.

    Attributes
    ----------
    label
        Short name for titles ("run-003", "scan12-recon.h5").
    reconstruction
        Object, probe, positions, pixel sizes and product path (the export reads the product
        again); None for a run that stopped before writing one (its losses and settings
        remain).
    loss_epochs, losses
        Epochs (0-based) and loss curves by name ("train_loss", "val_loss").
    run
        The run folder's summary when opened from a run, else None.
    summary
        The run folder's ``summary.json`` (empty for a bare product): per-stage quality and
        the misfit against its noise floor (:func:`ptycho_gui.model.quality.run_quality`).
    """

    label: str
    reconstruction: Reconstruction | None
    loss_epochs: list[int] = field(default_factory=list)
    losses: dict[str, list[float]] = field(default_factory=dict)
    run: RunInfo | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> Path:
        """The product file, or the run folder when there is none."""
        if self.reconstruction is not None and self.reconstruction.product_path is not None:
            return self.reconstruction.product_path
        return self.run.path if self.run is not None else Path(self.label)

    @property
    def object_pixel_size_m(self) -> tuple[float, float] | None:
        return self.reconstruction.object_pixel_size_m if self.reconstruction else None

    @property
    def probe_pixel_size_m(self) -> tuple[float, float] | None:
        recon = self.reconstruction
        return (recon.probe_pixel_size_m or recon.object_pixel_size_m) if recon else None

    @property
    def settings_file(self) -> Path | None:
        """The run's ``session.toml`` (None for a bare product)."""
        if self.run is None or not self.run.session_file.is_file():
            return None
        return self.run.session_file

    @property
    def frc(self) -> dict[str, Any] | None:
        return self.run.frc if self.run is not None else None


KEPT_ON_LOAD = ("training.output_dir", "inference.checkpoint", "inference.output")
"""Settings "Load these settings" leaves as they are: where this session writes its runs and
which checkpoint it infers with (a run's own file names its run folder)."""


def flat_settings(config: SessionConfig) -> dict[str, Any]:
    """``{"section.field": value}`` of every setting of ``config``."""
    return {f"{section}.{name}": value
            for section, fields in config_to_dict(config).items()
            for name, value in fields.items()}


def run_settings(run_folder: str | os.PathLike[str], absolute: bool = True) -> dict[str, Any]:
    """The settings a run used (its ``session.toml``), flattened, paths absolute; with
    ``absolute=False`` paths inside the run folder are relative to it (two runs' default
    "simulated" folder is then the same setting).

    Raises
    ------
    ConfigError
        The file is missing or not a valid session (naming the file and the problem).
    """
    path = Path(run_folder) / SESSION
    if not path.is_file():
        # ConfigError takes a list of problems (a bare string was split into its characters)
        raise ConfigError(["no settings file in this run folder (expected session.toml)"],
                          source=str(path))
    values = flat_settings(absolutize_paths(load_session(path), path.parent))
    if not absolute:
        specs = field_specs()
        for key, value in values.items():
            if specs[key].meta.path and value:
                inside = Path(value)
                if inside.is_relative_to(path.parent.resolve()):
                    values[key] = inside.relative_to(path.parent.resolve()).as_posix()
    return values


def settings_diff(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(key, value in a, value in b)`` of every setting that differs, in schema order."""
    return [(key, a.get(key), b.get(key)) for key in dict.fromkeys([*a, *b])
            if a.get(key) != b.get(key)]


def run_checkpoint(run: RunInfo) -> Path | None:
    """The checkpoint to infer with from ``run``: its best (``best-*.ckpt``, the last by name,
    as the engine reports it), else ``last.ckpt``; None when it has neither."""
    folder = run.path / CHECKPOINTS
    best = sorted(folder.glob("best-*.ckpt")) if folder.is_dir() else []
    return best[-1] if best else run.last_checkpoint


def newest_completed(runs: list[RunInfo]) -> RunInfo | None:
    """The newest completed run that left a checkpoint (``runs`` newest first, as
    ``list_runs`` gives them): a cancelled or failed run is never picked over it."""
    return next((run for run in runs
                 if run.status == "completed" and run_checkpoint(run) is not None), None)


def _label(target: Path, run: RunInfo | None) -> str:
    """How a result is named on screen: the run's name, or the file's name with its run
    folder when it lies in one (every run's product is called ``reconstruction.h5``)."""
    if run is not None:
        return str(run.name)
    if is_run_folder(target.parent):
        return f"{target.parent.name}/{target.name}"
    return target.name


def open_result(path: str | os.PathLike[str]) -> OpenedResult:
    """Read a product ``.h5`` or a run folder (its ``reconstruction.h5`` and metrics).

    Raises
    ------
    DataError
        Not a ptychodus product (naming the file and what is missing).
    """
    target = Path(path).expanduser()
    run = read_run(target) if is_run_folder(target) else None
    product_path = run.reconstruction if run is not None else target
    if product_path is not None and product_path.is_dir():
        raise DataError(f"{product_path}: expected a ptychodus product (.h5) or a run folder, "
                        "found a folder without a run")
    if product_path is not None and not product_path.exists():
        raise DataError(f"{product_path}: expected a ptychodus product (.h5), found no such "
                        "file")
    recon = read_reconstruction(product_path)
    result = OpenedResult(label=_label(target, run), reconstruction=recon, run=run)
    if run is not None:
        result.loss_epochs, result.losses = loss_history(run.path)
        result.summary = read_summary(run.path / SUMMARY)
    if not result.losses and recon is not None and len(recon.loss_values):
        result.loss_epochs = [int(e) for e in recon.loss_epochs]
        result.losses = {"train_loss": [float(v) for v in recon.loss_values]}
    return result
