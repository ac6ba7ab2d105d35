"""Previews controller: the data preview of ``data.path`` (inspected on its own thread, the
newest request wins), the live reconstruction frames of a run (at most 10 redraws a second,
the newest frame wins), the finished result, and its export.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from engine.config import ConfigIssue, DataConfig
from engine.errors import EngineError
from engine.reporting import PreviewFrame

from .dialogs import Dialogs
from .document import SessionDocument
from .export import export_reconstruction
from .feature_controller import FeatureController
from .jobs import data_preview_job, open_result_job
from .main_window import MainWindow
from .model.products import DataPreview, Reconstruction, RunOutput
from .worker import JobOutcome, JobRunner

PREVIEW_MIN_INTERVAL_MS = 100
"""Redraw the live reconstruction at most 10 times per second (a frame costs the GUI thread
about 1-2 ms plus its paint; the engine sends one every ``execution.preview_interval_s``)."""

PREVIEW_DEBOUNCE_MS = 400
"""Inspect data.path this long after the last keystroke."""


class PreviewController(FeatureController):
    """What the views show: the data file, a run's live frames and its result.

    Signals
    -------
    state_changed()
        The data problems or the reconstruction changed (actions depend on them).
    """

    state_changed = Signal()

    def __init__(self, window: MainWindow, document: SessionDocument, dialogs: Dialogs,
                 runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(window, document, dialogs, parent)
        self.runner = runner
        self.loader = JobRunner("data-preview", self)
        self.opener = JobRunner("open-result", self)
        self.data_preview: DataPreview | None = None
        self.data_problems: list[str] = []
        self.inspecting: str | None = None
        self.reconstruction: Reconstruction | None = None
        self.closing = False
        self._generation = 0
        self._pending: DataConfig | None = None
        self._frame_timer = QTimer(self)
        self._frame_timer.setSingleShot(True)
        self._frame_timer.timeout.connect(self.show_newest_frame)
        self._debounce = QTimer(self)  # typing a path must not inspect every prefix
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(PREVIEW_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.request_data_preview)
        self.loader.finished.connect(self._on_loader_finished)
        self.loader.signals.log.connect(window.log)
        runner.signals.preview_ready.connect(self._on_preview_ready)
        # A run's last live frame is drawn when it ends, not a frame interval later (a run
        # without a result, e.g. one that failed, would otherwise end on an older frame).
        runner.finished.connect(self._on_runner_finished)
        window.action_export.triggered.connect(lambda: self.export())
        window.action_open_result.triggered.connect(lambda: self.open_reconstruction())
        self.opener.finished.connect(self._on_opener_finished)

    @property
    def problems(self) -> list[ConfigIssue]:
        """The data file's problems, as issues of ``data.path``."""
        return [ConfigIssue("data.path", problem, has_value=False)
                for problem in self.data_problems]

    # -- data preview -----------------------------------------------------------------------
    def schedule_data_preview(self) -> None:
        """Inspect ``data.path`` once typing pauses."""
        self._debounce.start()

    def request_data_preview(self) -> None:
        """Inspect data.path on the loader thread; the newest request wins."""
        self._debounce.stop()
        data = self.document.config.data
        self._generation += 1
        self.data_preview = None
        self.data_problems = []
        self.window.clear_data(keep_probe=self.reconstruction is not None)
        if not data.path:
            self._pending = None
            self.inspecting = None
            self.window.show_inspecting(None)
            self.state_changed.emit()
            return
        self.inspecting = data.path
        self.window.show_inspecting(data.path)
        self.state_changed.emit()
        if self.loader.busy:
            self._pending = data  # started when the current one ends
            return
        self._pending = None
        self.loader.start(data_preview_job(data, self._generation))

    def forget_data(self) -> None:
        """New or Open: nothing of the previous data may stay on screen."""
        self.reconstruction = None
        self.window.clear_result()
        self.request_data_preview()

    @Slot(object)
    def _on_loader_finished(self, outcome: JobOutcome) -> None:
        pending, self._pending = self._pending, None
        if pending is not None and not self.closing:
            self.loader.start(data_preview_job(pending, self._generation))
        if outcome.job.context.get("generation") != self._generation:
            return  # a newer request superseded this one
        self.inspecting = None
        self.window.show_inspecting(None)
        if outcome.status == "failed":
            self.data_problems = [outcome.error]
            self.window.log("warning", f"Data preview: {outcome.error}")
            self.state_changed.emit()
            return
        preview: DataPreview = outcome.result
        self.data_preview = preview
        self.data_problems = list(preview.problems)
        for problem in preview.problems:
            self.window.log("warning", f"{preview.path}: {problem}")
        for warning in preview.warnings:
            self.window.log("warning", f"{preview.path}: {warning}")
        self.window.log("info", preview.report_text)
        label = ""
        if preview.patterns is not None:
            shown = len(preview.patterns)
            label = f"{Path(preview.path).name}: {preview.n_patterns} patterns"
            if shown < preview.n_patterns:
                label += f" (the first {shown} can be browsed)"
        self.window.show_data(patterns=preview.patterns, label=label,
                              positions=preview.positions, object_shape=preview.object_shape,
                              object_guess=preview.object_guess, probe=preview.probe,
                              pixel_size=preview.object_pixel_size_m,
                              bad_pixels=preview.bad_pixels,
                              wavelength_m=preview.wavelength_m)
        self.state_changed.emit()

    # -- live frames and results ----------------------------------------------------------------
    def _on_preview_ready(self) -> None:
        if self._frame_timer.isActive():
            return  # the frame waits in the slot; newer ones replace it
        self.show_newest_frame()

    def _on_runner_finished(self, _outcome: object) -> None:
        self._frame_timer.stop()
        if not self.closing:
            self.show_newest_frame()

    @Slot()
    def show_newest_frame(self) -> None:
        """Draw the newest live frame, if one waits."""
        frame: PreviewFrame | None = self.runner.preview_slot.take()
        if frame is None:
            return
        self.window.show_frame(frame.obj, f"live: epoch {frame.epoch + 1}, step {frame.step}",
                               frame.probe)
        self._frame_timer.start(PREVIEW_MIN_INTERVAL_MS)

    def show_result(self, output: RunOutput) -> None:
        """A run's reconstruction (its final frame first, if one still waits)."""
        recon = output.reconstruction
        if recon is None:
            return
        self.reconstruction = recon
        loss = None
        if output.kind in ("train", "open"):
            loss = ([int(e) for e in recon.loss_epochs], [float(v) for v in recon.loss_values])
        caption = f"{output.kind} result ({output.status})"
        if output.kind == "open" and recon.product_path is not None:
            caption = f"opened {recon.product_path}"
        self.window.show_result(recon.obj, caption, probe=recon.probe,
                                positions=recon.positions, loss=loss,
                                replace_loss=output.kind == "open",
                                pixel_size=recon.object_pixel_size_m,
                                probe_pixel_size=recon.probe_pixel_size_m,
                                wavelength_m=recon.wavelength_m)
        self.window.show_quality(output.summary)
        # A run scored against a ground truth carries its FRC curves (summary.json's): shown
        # at once, not only after Runs > Open; a result without them clears the old ones.
        frc = (output.quality or {}).get("frc")
        self.window.show_frc(frc if isinstance(frc, dict) else None,
                             recon.object_pixel_size_m,
                             caption=output.folder.name if output.folder else "")
        self.state_changed.emit()

    def use_reconstruction(self, recon: Reconstruction | None) -> None:
        """``recon`` (opened from disk) is the result shown and exported from now on."""
        self.reconstruction = recon
        self.state_changed.emit()

    def open_reconstruction(self, path: str | Path | None = None) -> bool:
        """Show the reconstruction of a product file (asked when None), read off the GUI
        thread; a bad file shows its problems and changes nothing."""
        if path is None:
            path = self.dialogs.choose_product(self.window, self.document.folder)
            if not path:
                return False
        return self.opener.start(open_result_job(Path(path)))

    @Slot(object)
    def _on_opener_finished(self, outcome: JobOutcome) -> None:
        if outcome.status == "failed":
            self.window.log("error", f"Cannot open the reconstruction: {outcome.error}")
            if not self.closing:
                self.dialogs.show_error(self.window, "Cannot open the reconstruction",
                                        outcome.error, "" if outcome.user_error
                                        else outcome.details)
            return
        output: RunOutput = outcome.result
        self.window.log("info", f"Opened {outcome.job.context['path']}")
        self.show_result(output)

    # -- export -----------------------------------------------------------------------------
    def export(self, path: str | Path | None = None) -> list[Path]:
        """Export the latest reconstruction (product .h5 or PNG); asks for a path when None."""
        if self.reconstruction is None:
            return []
        if path is None:
            start = self.document.folder / "reconstruction.h5"
            path = self.dialogs.choose_export_path(self.window, start)
            if not path:
                return []
        try:
            written = export_reconstruction(self.reconstruction, path,
                                            self.window.reconstruction_view.displays())
        except (EngineError, OSError, ValueError) as exc:
            self.window.log("error", f"Export failed: {exc}")
            self.dialogs.show_error(self.window, "Export failed", str(exc), "")
            return []
        for file in written:
            self.window.log("info", f"Exported {file}")
        return written

    def shutdown(self, timeout_s: float) -> bool:
        self.closing = True
        self._frame_timer.stop()
        self._debounce.stop()
        ok = self.opener.shutdown(timeout_s)
        return self.loader.shutdown(timeout_s) and ok
