"""Runs controller: starts simulate/train/infer jobs from the document's resolved config, stops
them, and shows their progress and results through the window's intent methods.

Each Train writes a new numbered run folder under the session's ``training.output_dir``;
after a training, ``inference.checkpoint`` follows the newest run unless the user typed or
chose one in the form (a pin).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from engine.config import GUI_SOURCE, ResolvedConfig, output_path_warning, outside_output_paths
from engine.errors import EngineError
from engine.locks import held_files
from engine.reporting import Progress, epoch_line

from .dialogs import Dialogs
from .document import SessionDocument
from .feature_controller import FeatureController
from .jobs import engine_job, infer_job, simulate_job, train_job
from .main_window import MainWindow
from .model.products import RunOutput
from .model.progress import JobProgress, plan_for
from .worker import Job, JobOutcome, JobRunner

NEWEST_RUN_SOURCE = f"{GUI_SOURCE} newest run"
"""Source label of an inference checkpoint set from the newest training (not a pin)."""

RUN_FOLDER_SOURCE = f"{GUI_SOURCE} new run folder"
"""Source label of the run folder a GUI training writes."""

OUTPUT_KEYS = {"train": "training.output_dir", "infer": "inference.output",
               "reconstruct": "reconstruct.output_dir"}
"""The output path setting of each kind of run (asked about when a session file sets it
outside the session's folder)."""

RUN_PREFIX = "run-"
_RUN_NAME = re.compile(rf"{RUN_PREFIX}(\d+)$")


def format_duration(seconds: float | None) -> str:
    """``75.3`` -> ``1:15``; ``3725`` -> ``1:02:05``; None -> ``?``."""
    if seconds is None or not np.isfinite(seconds):
        return "?"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def describe_progress(progress: Progress) -> str:
    """The progress bar's text: stage, epoch, units."""
    parts = [progress.stage]
    if progress.epoch is not None:
        total = f"/{progress.max_epochs}" if progress.max_epochs else ""
        parts.append(f"epoch {progress.epoch + 1}{total}")
    if progress.total:
        parts.append(f"{progress.done}/{progress.total} {progress.unit}")
    else:
        parts.append(f"{progress.done} {progress.unit}")
    return " · ".join(parts)


def describe_device(info: dict[str, Any]) -> str:
    """The resolved device from ``run_started`` info."""
    if info.get("device"):
        return f"device: {info['device']}"
    accelerator, devices = info.get("accelerator"), info.get("devices")
    if accelerator is None:
        return ""
    return f"device: {accelerator}" + (f" ({devices})" if devices not in (None, "") else "")


def next_run_folder(output_dir: str | Path) -> Path:
    """``output_dir/run-NNN``, one more than the highest number there (``run-001`` first)."""
    root = Path(output_dir)
    numbers = [int(m.group(1)) for p in (root.iterdir() if root.is_dir() else ())
               if (m := _RUN_NAME.match(p.name))]
    return root / f"{RUN_PREFIX}{max(numbers, default=0) + 1:03d}"


class RunController(FeatureController):
    """The engine jobs of a session: one at a time on :attr:`runner`'s thread.

    Signals
    -------
    state_changed()
        Busy, stopping or idle changed (the main controller updates the actions).
    result_ready(object)
        A :class:`~ptycho_gui.jobs.RunOutput` with a reconstruction to show.
    dataset_ready(str)
        A simulation wrote this dataset (``data.path`` now points at it: preview it).
    """

    state_changed = Signal()
    result_ready = Signal(object)
    dataset_ready = Signal(str)

    def __init__(self, window: MainWindow, document: SessionDocument, dialogs: Dialogs,
                 parent: QObject | None = None) -> None:
        super().__init__(window, document, dialogs, parent)
        self.runner = JobRunner("engine-run", self)
        # (session file, key, target) the user agreed to write to outside the session's folder
        self._confirmed_outputs: set[tuple[Path, str, Path]] = set()
        self.run_state = "idle"
        self.last_outcome: JobOutcome | None = None
        self.job_progress: JobProgress | None = None
        self.last_device = ""
        """The device the last run reported (for About)."""
        self.clock = time.monotonic
        """Time source of the progress estimate (tests pass a fake one)."""
        self.closing = False
        w = window
        w.action_simulate.triggered.connect(lambda: self.start_simulate())
        w.action_train.triggered.connect(lambda: self.start_train())
        w.action_infer.triggered.connect(lambda: self.start_infer())
        w.action_reconstruct.triggered.connect(lambda: self.start_reconstruct())
        w.action_stop.triggered.connect(self.stop)
        self.runner.started.connect(self._on_runner_started)
        self.runner.finished.connect(self._on_runner_finished)
        signals = self.runner.signals
        signals.run_started.connect(self._on_reporter_run_started)
        signals.progress_ready.connect(self.show_progress)
        signals.metrics.connect(self._on_reporter_metrics)
        signals.log.connect(w.log)

    @property
    def busy(self) -> bool:
        return self.runner.busy

    def run_blockers(self, kind: str) -> list[str]:
        """Why ``kind`` ("simulate", "train", "infer") cannot start now (empty: it can)."""
        reasons = [str(issue) for issue in self.document.issues]
        config = self.document.config
        if kind in ("train", "reconstruct") and not config.data.path:
            reasons.append("choose a data file first (Data > path)")
        if kind == "infer":
            if not config.inference.checkpoint:
                reasons.append("choose a trained checkpoint first (Inference > checkpoint)")
            if not (config.inference.data_path or config.data.path):
                reasons.append("choose the data to reconstruct (Data > path)")
        return reasons

    # -- starting and stopping ----------------------------------------------------------------
    def start_simulate(self, out_dir: str | Path | None = None) -> bool:
        """Simulate into ``out_dir`` (asked when None); then data.path points at the result."""
        if out_dir is None:
            out_dir = self.dialogs.choose_folder(self.window, "Folder for the simulated dataset",
                                                 self.document.folder)
            if not out_dir:
                return False
        extra = None
        if held_files(out_dir):
            if not self.dialogs.ask_confirm(
                    self.window, "Folder not empty",
                    f"{out_dir} already holds files. Simulate into it anyway? The "
                    "simulation's own files there are replaced; other files stay."):
                return False
            extra = {"simulation.overwrite": (True, f"{GUI_SOURCE} (asked)")}
        resolved = self._resolved("simulate", extra)
        return resolved is not None and self._start(simulate_job(resolved, Path(out_dir)))

    def start_train(self, resume_from: str | Path | None = None) -> bool:
        """Train into a new run folder under ``training.output_dir`` (or continue the run in
        ``resume_from``)."""
        if resume_from is not None:
            extra = {"training.output_dir": (str(resume_from), f"{GUI_SOURCE} resume")}
        else:
            if not self.confirm_outputs("train"):
                return False
            base = self.document.config.training.output_dir
            folder = next_run_folder(Path(self.document.folder, base))
            extra = {"training.output_dir": (str(folder), RUN_FOLDER_SOURCE)}
        resolved = self._resolved("train", extra)
        return resolved is not None and self._start(
            train_job(resolved, resume=resume_from is not None))

    def start_infer(self) -> bool:
        if not self.confirm_outputs("infer"):
            return False
        extra = None
        inference = self.document.config.inference
        if inference.output and Path(inference.output).exists() and not inference.overwrite:
            # The engine replaces an existing output only when asked (inference.overwrite).
            if not self.dialogs.ask_confirm(
                    self.window, "Output exists",
                    f"{inference.output} already exists. Replace it (and its PNG pictures)?"):
                return False
            extra = {"inference.overwrite": (True, f"{GUI_SOURCE} (asked)")}
        resolved = self._resolved("infer", extra)
        return resolved is not None and self._start(infer_job(resolved))

    def start_reconstruct(self) -> bool:
        """The solver alone on ``data.path`` (no network), into ``reconstruct.output_dir``:
        the engine's ``reconstruct`` run, as ``ptycho-engine reconstruct``."""
        if not self.confirm_outputs("reconstruct"):
            return False
        extra = None
        section = self.document.config.reconstruct
        folder = Path(self.document.folder, section.output_dir)
        if held_files(folder) and not section.overwrite:
            if not self.dialogs.ask_confirm(
                    self.window, "Folder not empty",
                    f"{folder} already holds a reconstruction. Replace its files?"):
                return False
            extra = {"reconstruct.overwrite": (True, f"{GUI_SOURCE} (asked)")}
        resolved = self._resolved("reconstruct", extra)
        return resolved is not None and self._start(engine_job("reconstruct", resolved))

    def confirm_outputs(self, kind: str) -> bool:
        """Ask before a run writes where the session file (not the user in this window)
        points outside the session's folder; asked once per session file, key and target.
        False when the user declines."""
        key, path = OUTPUT_KEYS.get(kind), self.document.path
        if key is None or path is None or not self.document.source_of(key).startswith("session"):
            return True
        try:
            target = outside_output_paths(path).get(key)
        except EngineError:  # the file changed on disk: the document's values still hold
            return True
        if target is None or (path, key, target) in self._confirmed_outputs:
            return True
        if not self.dialogs.ask_confirm(self.window, "Output outside the session's folder",
                                        output_path_warning(path, key, target)
                                        + ".\n\nWrite there?"):
            self.window.show_state(f"Not started: {key} points outside the session's folder",
                                   error=True)
            return False
        self._confirmed_outputs.add((path, key, target))
        return True

    def _resolved(self, kind: str, extra: dict[str, tuple[Any, str]] | None = None,
                  ) -> ResolvedConfig | None:
        reasons = self.run_blockers(kind)
        if not reasons:
            try:
                return self.document.run_config(extra)
            except EngineError as exc:
                reasons = [str(exc)]
        self.window.show_state("Cannot run: " + "; ".join(reasons), error=True)
        return None

    def _start(self, job: Job) -> bool:
        if self.runner.busy:
            return False
        return self.runner.start(job)

    def stop(self) -> None:
        """Ask the running job to stop in whatever stage it is (it ends as "cancelled")."""
        if self.runner.busy and not self.runner.stop_requested():
            self.runner.stop()
            self.run_state = "stopping"
            job = self.runner.current_job
            self.window.show_state(f"Stopping {job.kind if job else 'the job'}…")
            self.window.log("info", "Stop requested")
            self.state_changed.emit()

    def shutdown(self, timeout_s: float) -> bool:
        return self.runner.shutdown(timeout_s)

    # -- job events ---------------------------------------------------------------------------
    @Slot(object)
    def _on_runner_started(self, job: Job) -> None:
        self.run_state = "running"
        config = job.context.get("config") or self.document.config
        self.job_progress = JobProgress(plan_for(job.kind, config), clock=self.clock)
        self.window.show_state(f"Running {job.kind}…")
        self.window.show_job_started(job.kind)
        if job.kind == "train" and job.context.get("run_dir"):
            self.window.log("info", f"Train started in {job.context['run_dir']}")
        else:
            self.window.log("info", f"{job.kind.capitalize()} started")
        self.state_changed.emit()

    def _on_reporter_run_started(self, info: dict) -> None:
        device = describe_device(info)
        self.last_device = device.removeprefix("device: ")
        self.window.show_device(device)
        if device:
            self.window.log("info", f"Running on {device.removeprefix('device: ')}")
        groups = int(info.get("groups_train", 0)) + int(info.get("groups_val", 0))
        if self.job_progress is not None and groups:
            for name in ("stitch", "align"):
                self.job_progress.set_units(name, groups)
        patterns = int(info.get("n_patterns", 0))
        config = self.document.config
        if self.job_progress is not None and patterns and config.refinement.epochs > 0:
            # the refinement counts pattern updates over all its epochs
            self.job_progress.set_units("refine", patterns * config.refinement.epochs)

    @Slot()
    def show_progress(self) -> None:
        """Show the newest progress report: one bar and one ETA for the whole job."""
        progress = self.runner.progress_slot.take()
        if progress is None:
            return
        job = self.job_progress
        if job is None:
            return
        estimate = job.update(progress)
        elapsed = f"elapsed {format_duration(estimate.elapsed_s)}"
        if estimate.eta_s is not None:
            times = f"{elapsed} · ETA {format_duration(estimate.eta_s)}"
        elif (at_least := job.lower_bound()) is not None:
            times = f"{elapsed} · ETA ≥ {format_duration(at_least)}"  # later stages unknown
        else:
            times = elapsed
        if estimate.fraction is None:
            self.window.show_progress(progress.done, progress.total,
                                      describe_progress(progress), times)
        else:
            self.window.show_progress(round(1000 * estimate.fraction), 1000,
                                      describe_progress(progress), times)

    def _on_reporter_metrics(self, epoch: int, values: dict) -> None:
        # Metrics that come after Stop are those of the epoch it cut short (a stop between
        # two epochs sends none): not a full epoch.
        partial = self.runner.stop_requested()
        self.window.show_metrics(epoch, values, partial)
        line = epoch_line(epoch, values)
        if partial:
            line = line.replace(":", " (cut short by Stop):", 1)
        self.window.log("info", line)

    @Slot(object)
    def _on_runner_finished(self, outcome: JobOutcome) -> None:
        self.last_outcome = outcome
        self.show_progress()
        kind = outcome.job.kind
        self.run_state = outcome.status
        self.window.show_job_finished(kind, outcome.status, format_duration(outcome.elapsed_s))
        if outcome.status == "failed":
            self.window.show_state(
                f"{kind.capitalize()} failed: {outcome.error.splitlines()[0]}", error=True)
            self.window.log("error", f"{kind} failed: {outcome.error}")
            if not self.closing:
                self.dialogs.show_error(self.window, f"{kind.capitalize()} failed",
                                        outcome.error, outcome.details)
        else:
            took = format_duration(outcome.elapsed_s)
            self.window.show_state(f"{kind.capitalize()} {outcome.status} in {took}")
            self.window.log("info" if outcome.status == "completed" else "warning",
                            f"{kind.capitalize()} {outcome.status} after {took}")
            if isinstance(outcome.result, RunOutput):
                self._use_run_output(outcome.result)
        self.state_changed.emit()

    def _use_run_output(self, output: RunOutput) -> None:
        w = self.window
        if output.folder is not None:
            w.log("info", f"Output: {output.folder}")
        if output.quality and output.kind in ("infer", "reconstruct"):  # train logs its own
            from engine.metrics import format_table

            w.log("info", f"quality against {output.ground_truth}:\n"
                  + format_table(output.quality))
        if output.kind == "simulate" and output.dataset_path is not None:
            path = str(output.dataset_path)
            self.document.set_value("data.path", path, f"{GUI_SOURCE} simulated")
            w.show_value("data.path", path)
            w.log("info", f"data.path set to the simulated {path}")
            self.dataset_ready.emit(path)
        # Inference follows the newest completed run; a cancelled or failed one only while
        # there is no checkpoint at all (it never replaces a completed run's).
        if (output.checkpoint is not None and self.checkpoint_follows_runs()
                and (output.status == "completed"
                     or not self.document.config.inference.checkpoint)):
            self.follow_checkpoint(output.checkpoint)
        if output.reconstruction is not None:
            self.result_ready.emit(output)

    def follow_checkpoint(self, checkpoint: str | Path) -> None:
        """``inference.checkpoint`` follows the newest run (not a pin: a later run moves it)."""
        self.document.set_value("inference.checkpoint", str(checkpoint), NEWEST_RUN_SOURCE)
        self.window.show_value("inference.checkpoint", str(checkpoint))
        self.window.log("info", f"inference.checkpoint set to the newest run: {checkpoint}")

    def infer_with(self, checkpoint: str | Path) -> bool:
        """Infer with ``checkpoint`` (the user chose it: a pin, later runs leave it)."""
        if self.busy:
            self.window.log("warning", "Cannot infer while a job runs")
            return False
        self.document.set_value("inference.checkpoint", str(checkpoint), GUI_SOURCE)
        self.window.show_value("inference.checkpoint", str(checkpoint))
        self.window.log("info", f"Inference with {checkpoint}")
        return self.start_infer()

    def checkpoint_follows_runs(self) -> bool:
        """False when the user pinned ``inference.checkpoint`` (typed or chose it)."""
        return self.document.source_of("inference.checkpoint") != GUI_SOURCE
