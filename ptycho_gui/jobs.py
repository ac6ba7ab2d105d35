"""The jobs the GUI runs on its worker thread: thin calls of the engine's public API.

Every run is one generic job, :func:`engine_job`: :func:`engine.runs.run` of a run kind with
one resolved configuration, the entry the command line calls too (``simulate_job``,
``train_job`` and ``infer_job`` only prepare that configuration). Each returns a
:class:`~ptycho_gui.worker.Job` whose function runs on the worker thread, calls the engine
(imported lazily: torch and Lightning load only when a run starts) and turns its result into
plain numpy data the views can show, so the GUI thread never reads files for a run's results.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import GUI_SOURCE, DataConfig, ResolvedConfig, amend, resume_config
from engine.errors import EngineError
from engine.reporting import Reporter

from .worker import Job

PREVIEW_PATTERNS = 4096
"""Patterns kept in memory for the browser when the source is not lazy already."""

PREVIEW_BUDGET_MB = 256
"""Above this, the preview leaves patterns on disk (read one at a time as you browse)."""


@dataclass
class Reconstruction:
    """What the views and the export need from a finished run.

    Attributes
    ----------
    obj
        Complex object (H, W), NaN where never illuminated.
    probe, positions
        Probe (modes, N, N) and window centres (M, 2) in object pixels, when known.
    product_path
        The product file the run wrote (exported by reading and re-writing it).
    loss_epochs, loss_values
        Loss history for the loss view.
    object_pixel_size_m, probe_pixel_size_m
        ``(width, height)`` in metres when the product states them (axes and scale bars).
    wavelength_m
        The X-ray wavelength when the product states the photon energy (the probe's
        propagation needs it).
    """

    obj: np.ndarray
    probe: np.ndarray | None = None
    positions: np.ndarray | None = None
    product_path: Path | None = None
    loss_epochs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    loss_values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    object_pixel_size_m: tuple[float, float] | None = None
    probe_pixel_size_m: tuple[float, float] | None = None
    wavelength_m: float | None = None


@dataclass
class RunOutput:
    """A finished simulate/train/infer job, for the GUI thread."""

    kind: str
    status: str
    raw: Any = None
    folder: Path | None = None
    dataset_path: Path | None = None
    checkpoint: Path | None = None
    reconstruction: Reconstruction | None = None
    message: str = ""
    quality: dict[str, Any] | None = None
    ground_truth: str | None = None
    summary: dict[str, Any] | None = None
    """The run's summary (train, reconstruct: ``summary.json``; infer: its result's
    ``to_dict()``): per-stage quality and the misfit against its noise floor."""


@dataclass
class DataPreview:
    """What the data preview shows before any run.

    ``patterns`` is array-like (numpy, or the engine's lazy array for large files).
    """

    path: str
    report_text: str = ""
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    patterns: Any = None
    n_patterns: int = 0
    positions: np.ndarray | None = None
    probe: np.ndarray | None = None
    object_shape: tuple[int, int] | None = None
    object_guess: np.ndarray | None = None
    object_pixel_size_m: float | None = None
    bad_pixels: np.ndarray | None = None
    """The detector mask (True = bad pixel, never in a loss), when the data have one."""
    wavelength_m: float | None = None
    """The X-ray wavelength when the photon energy is known."""


def read_reconstruction(path: Path | None) -> Reconstruction | None:
    """Read a ptychodus product (ours or another tool's; None when there is none).

    Raises
    ------
    DataError
        The file is not a readable product.
    """
    if path is None or not Path(path).is_file():
        return None
    from engine.io import read_product

    product = read_product(path)
    return Reconstruction(
        obj=product.object_masked, probe=product.probe, positions=product.positions,
        product_path=Path(path), loss_epochs=np.asarray(product.loss_epochs),
        loss_values=np.asarray(product.loss_values),
        object_pixel_size_m=product.object_pixel_size_m,
        probe_pixel_size_m=product.probe_pixel_size_m,
        wavelength_m=product.geometry.wavelength_m)


def engine_job(kind: str, resolved: ResolvedConfig) -> Job:
    """The one engine job: :func:`engine.runs.run` of ``kind`` with ``resolved`` (the same
    entry the command line calls), its result turned into a :class:`RunOutput`."""

    def run(reporter: Reporter, stop: threading.Event) -> RunOutput:
        from engine.runs import run as run_kind

        return _run_output(kind, run_kind(kind, resolved, reporter, stop))

    context: dict[str, Any] = {"config": resolved.config, "resolved": resolved,
                               "plan_kind": kind}
    if kind in ("train", "resume"):
        context["run_dir"] = resolved.config.training.output_dir
    elif kind == "simulate":
        context["out_dir"] = resolved.config.simulation.output_dir
    return Job("train" if kind == "resume" else kind, run, context)


def _run_output(kind: str, raw: Any) -> RunOutput:
    """What the GUI thread needs from an engine result (arrays, no file reading there)."""
    if kind == "simulate":
        dataset = raw.files.get("dataset")
        return RunOutput("simulate", raw.status, raw=raw, folder=Path(raw.out_dir),
                         dataset_path=Path(dataset) if dataset else None)
    if kind in ("train", "resume"):
        checkpoints = raw.checkpoints or {}
        checkpoint = checkpoints.get("best") or checkpoints.get("last")
        summary = raw.summary or {}
        return RunOutput("train", raw.status, raw=raw, folder=Path(raw.run_dir),
                         checkpoint=Path(checkpoint) if checkpoint else None,
                         reconstruction=read_reconstruction(raw.reconstruction),
                         quality=summary.get("quality"),
                         ground_truth=summary.get("ground_truth"), summary=summary)
    if kind == "reconstruct":
        summary = raw.summary or {}
        return RunOutput("reconstruct", raw.status, raw=raw, folder=Path(raw.folder),
                         reconstruction=read_reconstruction(raw.product),
                         quality=summary.get("quality"),
                         ground_truth=summary.get("ground_truth"), summary=summary)
    recon = read_reconstruction(raw.output)
    if recon is not None:
        recon.obj = np.asarray(raw.obj)  # the in-memory object keeps its NaN exactly
    elif raw.status == "completed":
        recon = Reconstruction(obj=np.asarray(raw.obj))
    return RunOutput("infer", raw.status, raw=raw,
                     folder=Path(raw.output).parent if raw.output else None,
                     reconstruction=recon, quality=raw.quality, ground_truth=raw.ground_truth,
                     summary=raw.to_dict())


def simulate_job(resolved: ResolvedConfig, out_dir: Path) -> Job:
    """Simulate into ``out_dir`` (dataset.npz, product.h5, diffraction.h5, truth.h5); every
    other setting keeps its source."""
    return engine_job("simulate", amend(resolved, {"simulation.output_dir": str(out_dir)},
                                        f"{GUI_SOURCE} folder chosen"))


def train_job(resolved: ResolvedConfig, resume: bool = False) -> Job:
    """Train on ``data.path`` into ``training.output_dir``; ``resume``: continue the run
    there with its own ``session.toml`` and the changes made in this window (as
    ``ptycho-engine train --resume RUN --set ...``)."""
    if resume:
        return engine_job("resume", resume_in_window(resolved))
    return engine_job("train", resolved)


def resume_in_window(resolved: ResolvedConfig) -> ResolvedConfig:
    """The configuration that resumes the run in ``resolved``'s ``training.output_dir``: the
    run's own ``session.toml``, then the values edited in this window (source "gui...")."""
    changes = {key: (value, source) for key, value, source in resolved.explain()
               if source.startswith(GUI_SOURCE) and key != "training.output_dir"}
    return resume_config(resolved.config.training.output_dir, gui=changes)


def infer_job(resolved: ResolvedConfig) -> Job:
    """Reconstruct ``inference.data_path`` (or ``data.path``) with ``inference.checkpoint``
    (the engine's rule, as on the command line)."""
    return engine_job("infer", resolved)


def open_result_job(path: Path) -> Job:
    """Read the reconstruction in product ``path`` (any ptychodus product)."""

    def run(reporter: Reporter, stop: threading.Event) -> RunOutput:
        from engine.errors import DataError

        recon = read_reconstruction(path)
        if recon is None:
            raise DataError(f"{path}: file not found")
        return RunOutput("open", "completed", folder=path.parent, reconstruction=recon)

    return Job("open", run, {"path": str(path)})


def data_preview_job(data: DataConfig, generation: int) -> Job:
    """Inspect and load ``data.path`` for the preview; problems become messages."""

    def run(reporter: Reporter, stop: threading.Event) -> DataPreview:
        from engine.io import inspect, load_dataset

        report = inspect(data)  # raises DataError only when the file cannot be opened
        preview = DataPreview(path=data.path, report_text=report.format(),
                              problems=[str(p) for p in report.problems],
                              warnings=[str(w) for w in report.warnings])
        if preview.problems or stop.is_set():
            return preview  # loading would only repeat the problems
        try:
            # A smaller budget than a run's: the preview must not hold gigabytes.
            dataset = load_dataset(data, memory_budget_mb=min(data.memory_budget_mb,
                                                              PREVIEW_BUDGET_MB))
        except EngineError as exc:
            preview.problems.append(str(exc))
            return preview
        patterns = dataset.patterns
        if isinstance(patterns, np.ndarray) and len(patterns) > PREVIEW_PATTERNS:
            patterns = patterns[:PREVIEW_PATTERNS].copy()  # a view would keep them all alive
        preview.patterns = patterns
        preview.n_patterns = dataset.n_patterns
        preview.positions = np.asarray(dataset.positions)
        preview.probe = np.asarray(dataset.probe)
        rows, cols = dataset.object_shape
        preview.object_shape = (int(rows), int(cols))
        if dataset.object_guess is not None:
            preview.object_guess = np.asarray(dataset.object_guess)
        preview.object_pixel_size_m = dataset.object_pixel_size_m
        preview.wavelength_m = dataset.geometry.wavelength_m
        if dataset.bad_pixels is not None:
            preview.bad_pixels = np.asarray(dataset.bad_pixels, dtype=bool)
        warnings = preview.warnings + [str(w) for w in dataset.warnings]
        preview.warnings = list(dict.fromkeys(warnings))  # inspect and load say some twice
        return preview

    return Job("preview", run, {"generation": generation, "path": data.path})


def list_runs_job(folder: Path) -> Job:
    """List the runs of ``folder`` (``engine.runs_index.list_runs``: every run folder's
    summary, provenance and settings read), newest first."""

    def run(reporter: Reporter, stop: threading.Event) -> list[Any]:
        from engine.runs_index import list_runs

        return list_runs(folder)

    return Job("list-runs", run, {"folder": folder})


def read_results_job(paths: tuple[Path, ...], purpose: str) -> Job:
    """Read products or run folders (:func:`ptycho_gui.results.open_result`) for the views:
    ``purpose`` "open" (one) or "compare" (two)."""

    def run(reporter: Reporter, stop: threading.Event) -> list[Any]:
        from .results import open_result

        return [open_result(path) for path in paths]

    return Job("read-results", run, {"paths": paths, "purpose": purpose})
