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
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import GUI_SOURCE, DataConfig, ResolvedConfig, amend, resume_config
from engine.errors import EngineError
from engine.reporting import Reporter

from .model.products import DataPreview, Reconstruction, RunOutput, read_reconstruction
from .worker import Job

PREVIEW_PATTERNS = 4096
"""Patterns kept in memory for the browser when the source is not lazy already."""

PREVIEW_BUDGET_MB = 256
"""Above this, the preview leaves patterns on disk (read one at a time as you browse)."""


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
    """Read products or run folders (:func:`ptycho_gui.model.results.open_result`) for the views:
    ``purpose`` "open" (one) or "compare" (two)."""

    def run(reporter: Reporter, stop: threading.Event) -> list[Any]:
        from .model.results import open_result

        return [open_result(path) for path in paths]

    return Job("read-results", run, {"paths": paths, "purpose": purpose})
