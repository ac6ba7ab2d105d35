"""The one controller: wires the session document, the settings form, the job runners and
the views. Slots are named ``_on_<source>_<event>``; the newest preview frame wins and stale
ones are dropped; the newest data-preview request wins and stale results are ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QSettings, QTimer, Slot

from engine.config import ConfigIssue, SessionConfig, absolutize_paths, validate
from engine.errors import EngineError
from engine.reporting import PreviewFrame, Progress

from . import dialogs
from .document import SessionDocument
from .export import export_reconstruction
from .jobs import (
    DataPreview,
    Reconstruction,
    RunOutput,
    data_preview_job,
    infer_job,
    simulate_job,
    train_job,
)
from .main_window import APP_NAME, MainWindow
from .recent import RecentFiles
from .worker import JobOutcome, JobRunner

PREVIEW_MIN_INTERVAL_MS = 250
"""Redraw the live reconstruction at most 4 times per second."""

PREVIEW_DEBOUNCE_MS = 400
"""Inspect data.path this long after the last keystroke."""

SHUTDOWN_TIMEOUT_S = 30.0


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
    for key in ("device", "resolved_device"):
        if info.get(key):
            return f"device: {info[key]}"
    accelerator = info.get("accelerator") or info.get("resolved_accelerator")
    devices = info.get("devices") or info.get("resolved_devices")
    if accelerator is None:
        return ""
    return f"device: {accelerator}" + (f" ({devices})" if devices not in (None, "") else "")


class MainController(QObject):
    """Owns the wiring between the session, the runners and the views of a :class:`MainWindow`.

    The attributes ``ask_save_changes``, ``show_error``, ``choose_open_session``,
    ``choose_save_session``, ``choose_folder`` and ``choose_export_path`` are the dialogs
    (functions of :mod:`ptycho_gui.dialogs`); tests replace them.
    """

    def __init__(self, window: MainWindow, settings: QSettings,
                 document: SessionDocument | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.document = document or SessionDocument(self)
        self.recent = RecentFiles(settings)
        self.runner = JobRunner("engine-run", self)
        self.loader = JobRunner("data-preview", self)
        self.ask_save_changes = dialogs.ask_save_changes
        self.show_error = dialogs.error_box
        self.choose_open_session = dialogs.choose_open_session
        self.choose_save_session = dialogs.choose_save_session
        self.choose_folder = dialogs.choose_folder
        self.choose_export_path = dialogs.choose_export_path
        self.issues: list[ConfigIssue] = []
        self.data_problems: list[str] = []
        self.run_state = "idle"
        self.last_outcome: JobOutcome | None = None
        self.reconstruction: Reconstruction | None = None
        self.data_preview: DataPreview | None = None
        self._preview_generation = 0
        self._pending_preview: SessionConfig | None = None
        self._frame_timer = QTimer(self)
        self._frame_timer.setSingleShot(True)
        self._frame_timer.timeout.connect(self._on_frame_timer_timeout)
        self._preview_timer = QTimer(self)  # typing a path must not inspect every prefix
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DEBOUNCE_MS)
        self._preview_timer.timeout.connect(self.request_data_preview)
        self._closing = False
        self._connect()
        window.close_guard = self.confirm_close
        window.form.set_config(self.document.config)
        self._restore_window()
        self._rebuild_recent_menu()
        self._on_document_changed()

    # -- wiring ---------------------------------------------------------------------------
    def _connect(self) -> None:
        w = self.window
        w.form.value_edited.connect(self._on_form_value_edited)
        w.advanced_box.toggled.connect(self._on_advanced_box_toggled)
        self.document.changed.connect(self._on_document_changed)
        self.document.replaced.connect(self._on_document_replaced)
        w.action_new.triggered.connect(self._on_action_new_triggered)
        w.action_open.triggered.connect(self._on_action_open_triggered)
        w.action_save.triggered.connect(self._on_action_save_triggered)
        w.action_save_as.triggered.connect(self._on_action_save_as_triggered)
        w.action_export.triggered.connect(self._on_action_export_triggered)
        w.action_quit.triggered.connect(w.close)
        w.action_simulate.triggered.connect(self._on_action_simulate_triggered)
        w.action_train.triggered.connect(self._on_action_train_triggered)
        w.action_infer.triggered.connect(self._on_action_infer_triggered)
        w.action_stop.triggered.connect(self._on_action_stop_triggered)
        w.preset_menu.aboutToShow.connect(self._on_preset_menu_about_to_show)
        self.runner.started.connect(self._on_runner_started)
        self.runner.finished.connect(self._on_runner_finished)
        signals = self.runner.signals
        signals.run_started.connect(self._on_reporter_run_started)
        signals.progress_ready.connect(self._on_reporter_progress_ready)
        signals.metrics.connect(self._on_reporter_metrics)
        signals.preview_ready.connect(self._on_reporter_preview_ready)
        signals.log.connect(self._on_reporter_log)
        self.loader.finished.connect(self._on_loader_finished)
        self.loader.signals.log.connect(self._on_reporter_log)

    # -- session --------------------------------------------------------------------------
    def _on_form_value_edited(self, key: str, value: Any) -> None:
        self.document.set_value(key, value)
        if key.startswith("data."):
            self._preview_timer.start()

    def set_field(self, key: str, value: Any) -> None:
        """Set ``section.field`` in the session and its widget (an edit: marks modified)."""
        self.window.form.editor(key).set_value(value)
        self.document.set_value(key, value)

    def _on_advanced_box_toggled(self, checked: bool) -> None:
        self.window.form.set_show_advanced(checked)

    def _on_document_replaced(self) -> None:
        self.window.form.set_config(self.document.config)
        self.data_problems = []
        self.request_data_preview()

    def _on_document_changed(self) -> None:
        doc = self.document
        self.window.setWindowTitle(
            f"{doc.display_name}{'*' if doc.modified else ''} — {APP_NAME}")
        self.issues = validate(doc.config)
        self._show_issues()
        self._update_actions()

    def _show_issues(self) -> None:
        extra = [ConfigIssue("data.path", problem, has_value=False)
                 for problem in self.data_problems]
        unplaced = self.window.form.show_issues(self.issues + extra)
        label = self.window.issues_label
        label.setText("\n".join(str(issue) for issue in unplaced))
        label.setVisible(bool(unplaced))

    def run_blockers(self, kind: str) -> list[str]:
        """Why ``kind`` ("simulate", "train", "infer") cannot start now (empty: it can)."""
        reasons = [str(issue) for issue in self.issues]
        config = self.document.config
        if kind == "train" and not config.data.path:
            reasons.append("choose a data file first (Data > path)")
        if kind == "infer":
            if not config.inference.checkpoint:
                reasons.append("choose a trained checkpoint first (Inference > checkpoint)")
            if not (config.inference.data_path or config.data.path):
                reasons.append("choose the data to reconstruct (Data > path)")
        return reasons

    def _update_actions(self) -> None:
        w = self.window
        busy = self.runner.busy
        for kind, action in w.run_actions.items():
            reasons = self.run_blockers(kind)
            action.setEnabled(not busy and not reasons)
            tip = action.statusTip()
            if busy:
                tip += "\n(a job is running)"
            elif reasons:
                tip += "\nCannot run: " + "; ".join(reasons)
            action.setToolTip(tip)
        w.action_stop.setEnabled(busy and not self.runner.stop_requested())
        w.action_export.setEnabled(self.reconstruction is not None)
        for action in (w.action_new, w.action_open):
            action.setEnabled(not busy)
        if busy:
            return
        if self.issues:
            first = self.issues[0]
            more = f" (+{len(self.issues) - 1} more)" if len(self.issues) > 1 else ""
            self.run_state = "invalid"
            self.set_state_text(f"Cannot run: {first}{more}", error=True)
        elif self.run_state == "invalid":
            self.run_state = "idle"
            self.set_state_text("Ready")

    def set_state_text(self, text: str, error: bool = False) -> None:
        label = self.window.state_label
        label.setText(text)
        label.setToolTip(text)
        label.setStyleSheet("color: #d32f2f;" if error else "")

    def new_session(self) -> bool:
        """Defaults, after asking about unsaved changes; False when the user cancelled."""
        if not self.maybe_save():
            return False
        self.document.new()
        self.log("info", "New session (defaults)")
        return True

    def open_session(self, path: str | Path) -> bool:
        """Open ``path``; a bad file shows its problems and changes nothing."""
        try:
            self.document.open(path)
        except EngineError as exc:
            self.log("error", str(exc))
            self.show_error(self.window, "Cannot open session", str(exc), "")
            return False
        self.recent.add(path)
        self._rebuild_recent_menu()
        self.log("info", f"Opened {path}")
        return True

    def save_session(self, path: str | Path | None = None) -> bool:
        """Save (to ``path``, or the current file, or ask); False when nothing was written."""
        if path is None and self.document.path is None:
            chosen = self.choose_save_session(self.window, self.document.folder / "session.toml")
            if not chosen:
                return False
            path = chosen
        try:
            written = self.document.save(path)
        except EngineError as exc:
            self.log("error", str(exc))
            self.show_error(self.window, "Cannot save session", str(exc), "")
            return False
        except OSError as exc:
            message = f"cannot write {path or self.document.path}: {exc.strerror or exc}"
            self.log("error", message)
            self.show_error(self.window, "Cannot save session", message, "")
            return False
        self.recent.add(written)
        self._rebuild_recent_menu()
        self.log("info", f"Saved {written}")
        return True

    def maybe_save(self) -> bool:
        """Ask about unsaved changes: True to go on (saved or discarded), False to stay."""
        if not self.document.modified:
            return True
        answer = self.ask_save_changes(self.window, self.document.display_name)
        if answer == "save":
            return self.save_session()
        return answer == "discard"

    def _on_action_new_triggered(self) -> None:
        self.new_session()

    def _on_action_open_triggered(self) -> None:
        if not self.maybe_save():
            return
        path = self.choose_open_session(self.window, self.document.folder)
        if path:
            self.open_session(path)

    def _on_action_save_triggered(self) -> None:
        self.save_session()

    def _on_action_save_as_triggered(self) -> None:
        chosen = self.choose_save_session(self.window, self.document.folder / (
            self.document.path.name if self.document.path else "session.toml"))
        if chosen:
            self.save_session(chosen)

    def _rebuild_recent_menu(self) -> None:
        menu = self.window.recent_menu
        menu.clear()
        paths = self.recent.paths()
        for path in paths:
            action = menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self._on_recent_triggered(p))
        if paths:
            menu.addSeparator()
            menu.addAction("Clear list", self._on_recent_clear_triggered)
        menu.setEnabled(bool(paths))

    def _on_recent_triggered(self, path: str) -> None:
        if not Path(path).is_file():
            self.recent.remove(path)
            self._rebuild_recent_menu()
            self.show_error(self.window, "Cannot open session", f"{path}: file not found", "")
            return
        if self.maybe_save():
            self.open_session(path)

    def _on_recent_clear_triggered(self) -> None:
        self.recent.clear()
        self._rebuild_recent_menu()

    def apply_preset(self, name: str) -> bool:
        """Set the fields of simulation preset ``name`` (e.g. "tiny") in the session."""
        from engine.config import apply_preset

        try:
            resolved = apply_preset(self.document.config, name)
        except EngineError as exc:
            self.show_error(self.window, f"Cannot apply preset {name}", str(exc), "")
            return False
        changed = [key for key, source in resolved.sources.items() if source.startswith("preset")]
        self.document.set_config(resolved.config)
        self.log("info", f"Preset {name} applied" + (f": {', '.join(changed)}" if changed else
                                                      " (the defaults)"))
        return True

    def _on_preset_menu_about_to_show(self) -> None:
        from engine.config import PRESETS

        menu = self.window.preset_menu
        menu.clear()
        for name in PRESETS:
            menu.addAction(name, lambda n=name: self.apply_preset(n))

    # -- runs -----------------------------------------------------------------------------
    def run_config(self) -> SessionConfig:
        """The session with relative paths made absolute against the session's folder."""
        return absolutize_paths(self.document.config, self.document.folder)

    def start_simulate(self, out_dir: str | Path | None = None) -> bool:
        """Simulate into ``out_dir`` (asked when None); then data.path points at the result."""
        if out_dir is None:
            out_dir = self.choose_folder(self.window, "Folder for the simulated dataset",
                                         self.document.folder)
            if not out_dir:
                return False
        return self._start(simulate_job(self.run_config(), Path(out_dir)))

    def start_train(self) -> bool:
        return self._start(train_job(self.run_config()))

    def start_infer(self) -> bool:
        return self._start(infer_job(self.run_config()))

    def _start(self, job: Any) -> bool:
        reasons = self.run_blockers(job.kind)
        if reasons:
            self.set_state_text("Cannot run: " + "; ".join(reasons), error=True)
            return False
        return self.runner.start(job)

    def stop(self) -> None:
        """Ask the running job to stop (it ends as "cancelled")."""
        if self.runner.busy:
            self.runner.stop()
            self.run_state = "stopping"
            self.set_state_text(f"Stopping {self.runner.current_job.kind}…")
            self.log("info", "Stop requested")
            self._update_actions()

    def _on_action_simulate_triggered(self) -> None:
        self.start_simulate()

    def _on_action_train_triggered(self) -> None:
        self.start_train()

    def _on_action_infer_triggered(self) -> None:
        self.start_infer()

    def _on_action_stop_triggered(self) -> None:
        self.stop()

    @Slot(object)
    def _on_runner_started(self, job: Any) -> None:
        w = self.window
        self.run_state = "running"
        self.set_state_text(f"Running {job.kind}…")
        w.progress_bar.setRange(0, 0)  # busy until the first progress report
        w.progress_bar.setFormat(f"{job.kind}: starting")
        w.time_label.setText("")
        w.device_label.setText("")
        if job.kind == "train":
            w.loss_view.clear()
        if job.kind in ("train", "infer"):
            w.view_tabs.setCurrentWidget(w.reconstruction_view)
        self.log("info", f"{job.kind.capitalize()} started")
        self._update_actions()

    @Slot(object)
    def _on_runner_finished(self, outcome: JobOutcome) -> None:
        self.last_outcome = outcome
        self._on_frame_timer_timeout()  # draw the final frame if one is waiting
        self._on_reporter_progress_ready()
        kind = outcome.job.kind
        self.run_state = outcome.status
        w = self.window
        w.progress_bar.setRange(0, 100)
        if outcome.status == "failed":
            w.progress_bar.setValue(0)
            w.progress_bar.setFormat(f"{kind}: failed")
            self.set_state_text(f"{kind.capitalize()} failed: {outcome.error.splitlines()[0]}",
                                error=True)
            self.log("error", f"{kind} failed: {outcome.error}")
            if not self._closing:
                self.show_error(w, f"{kind.capitalize()} failed", outcome.error, outcome.details)
        else:
            if outcome.status == "completed":
                w.progress_bar.setValue(100)
            w.progress_bar.setFormat(f"{kind}: {outcome.status}")
            self.set_state_text(f"{kind.capitalize()} {outcome.status} "
                                f"in {format_duration(outcome.elapsed_s)}")
            self.log("info" if outcome.status == "completed" else "warning",
                     f"{kind.capitalize()} {outcome.status} after "
                     f"{format_duration(outcome.elapsed_s)}")
            if isinstance(outcome.result, RunOutput):
                self._use_run_output(outcome.result)
        self._update_actions()

    def _use_run_output(self, output: RunOutput) -> None:
        if output.folder is not None:
            self.log("info", f"Output: {output.folder}")
        if output.kind == "simulate" and output.dataset_path is not None:
            self.set_field("data.path", str(output.dataset_path))
            self.log("info", f"data.path set to the simulated {output.dataset_path}")
            self.request_data_preview()
        if output.checkpoint is not None and not self.document.config.inference.checkpoint:
            self.set_field("inference.checkpoint", str(output.checkpoint))
            self.log("info", f"inference.checkpoint set to {output.checkpoint}")
        recon = output.reconstruction
        if recon is not None:
            self.reconstruction = recon
            self.window.reconstruction_view.set_object(
                recon.obj, caption=f"{output.kind} result ({output.status})", fit_levels=True)
            if recon.probe is not None:
                self.window.probe_view.set_probe(recon.probe)
            if recon.positions is not None:
                self.window.positions_view.set_positions(recon.positions, recon.obj.shape,
                                                         background=recon.obj)
            if output.kind == "train" and len(recon.loss_values) and \
                    not self.window.loss_view.history:
                self.window.loss_view.set_history(
                    [int(e) for e in recon.loss_epochs], {"train_loss": list(recon.loss_values)})

    # -- reporter signals -----------------------------------------------------------------
    def _on_reporter_run_started(self, info: dict) -> None:
        device = describe_device(info)
        self.window.device_label.setText(device)
        if device:
            self.log("info", f"Running on {device.removeprefix('device: ')}")

    def _on_reporter_progress_ready(self) -> None:
        progress = self.runner.progress_slot.take()
        if progress is None:
            return
        bar = self.window.progress_bar
        if progress.total:
            bar.setRange(0, int(progress.total))
            bar.setValue(min(int(progress.done), int(progress.total)))
        else:
            bar.setRange(0, 0)
        bar.setFormat(describe_progress(progress))
        self.window.time_label.setText(
            f"elapsed {format_duration(progress.elapsed_s)} · "
            f"ETA {format_duration(progress.eta_s)}")

    def _on_reporter_metrics(self, epoch: int, values: dict) -> None:
        self.window.loss_view.add_metrics(epoch, values)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in values.items()
                          if isinstance(v, (int, float)) and not isinstance(v, bool))
        self.log("info", f"epoch {epoch + 1}: {shown}")

    def _on_reporter_preview_ready(self) -> None:
        if self._frame_timer.isActive():
            return  # the frame waits in the slot; newer ones replace it
        self._on_frame_timer_timeout()

    def _on_frame_timer_timeout(self) -> None:
        frame: PreviewFrame | None = self.runner.preview_slot.take()
        if frame is None:
            return
        self.window.reconstruction_view.set_object(
            frame.obj, caption=f"live: epoch {frame.epoch + 1}, step {frame.step}")
        if frame.probe is not None:
            self.window.probe_view.set_probe(frame.probe)
        self._frame_timer.start(PREVIEW_MIN_INTERVAL_MS)

    def _on_reporter_log(self, level: str, message: str) -> None:
        self.log(level, message)

    def log(self, level: str, message: str) -> None:
        self.window.log_pane.append_line(level, message)

    # -- data preview ---------------------------------------------------------------------
    def request_data_preview(self) -> None:
        """Inspect data.path on the loader thread; the newest request wins."""
        self._preview_timer.stop()
        config = self.run_config()
        self._preview_generation += 1
        if not config.data.path:
            self._pending_preview = None
            self._clear_data_views()
            return
        if self.loader.busy:
            self._pending_preview = config  # started when the current one ends
            return
        self._pending_preview = None
        self.loader.start(data_preview_job(config.data, self._preview_generation))

    def _clear_data_views(self) -> None:
        self.data_preview = None
        self.data_problems = []
        w = self.window
        w.pattern_browser.clear()
        w.positions_view.clear()
        if self.reconstruction is None:
            w.probe_view.clear()
        self._show_issues()

    @Slot(object)
    def _on_loader_finished(self, outcome: JobOutcome) -> None:
        pending, self._pending_preview = self._pending_preview, None
        if pending is not None and not self._closing:
            self.loader.start(data_preview_job(pending.data, self._preview_generation))
        if outcome.job.context.get("generation") != self._preview_generation:
            return  # a newer request superseded this one
        if outcome.status == "failed":
            self.data_problems = [outcome.error]
            self.log("warning", f"Data preview: {outcome.error}")
            self._show_issues()
            return
        preview: DataPreview = outcome.result
        self.data_preview = preview
        self.data_problems = list(preview.problems)
        self._show_issues()
        for problem in preview.problems:
            self.log("warning", f"{preview.path}: {problem}")
        for warning in preview.warnings:
            self.log("warning", f"{preview.path}: {warning}")
        self.log("info", preview.report_text)
        w = self.window
        if preview.patterns is not None:
            shown = len(preview.patterns)
            label = f"{Path(preview.path).name}: {preview.n_patterns} patterns"
            if shown < preview.n_patterns:
                label += f" (the first {shown} can be browsed)"
            w.pattern_browser.set_patterns(preview.patterns, label)
        if preview.positions is not None:
            w.positions_view.set_positions(preview.positions, preview.object_shape,
                                           background=preview.object_guess)
        if preview.probe is not None:
            w.probe_view.set_probe(preview.probe)

    # -- export ---------------------------------------------------------------------------
    def export(self, path: str | Path | None = None) -> list[Path]:
        """Export the latest reconstruction (product .h5 or PNG); asks for a path when None."""
        if self.reconstruction is None:
            return []
        if path is None:
            start = self.document.folder / "reconstruction.h5"
            path = self.choose_export_path(self.window, start)
            if not path:
                return []
        try:
            written = export_reconstruction(self.reconstruction, path)
        except (EngineError, OSError, ValueError) as exc:
            self.log("error", f"Export failed: {exc}")
            self.show_error(self.window, "Export failed", str(exc), "")
            return []
        for file in written:
            self.log("info", f"Exported {file}")
        return written

    def _on_action_export_triggered(self) -> None:
        self.export()

    # -- closing --------------------------------------------------------------------------
    def confirm_close(self) -> bool:
        """Called by the window on close: ask about changes, stop any run, save geometry."""
        if not self.maybe_save():
            return False
        self._closing = True
        if self.runner.busy:
            self.log("info", "Stopping the running job before quitting…")
        self.settings.setValue("window/geometry", self.window.saveGeometry())
        self.settings.setValue("window/state", self.window.saveState())
        self.settings.sync()
        self.shutdown()
        return True

    def shutdown(self, timeout_s: float = SHUTDOWN_TIMEOUT_S) -> bool:
        """Stop both worker threads and wait for them; True when both ended."""
        self._frame_timer.stop()
        self._preview_timer.stop()
        ok = self.runner.shutdown(timeout_s)
        ok = self.loader.shutdown(timeout_s) and ok
        return ok

    def _restore_window(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.window.restoreGeometry(geometry)
        state = self.settings.value("window/state")
        if state is not None:
            self.window.restoreState(state)
