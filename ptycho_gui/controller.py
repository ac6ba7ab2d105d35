"""The main controller: composes the session, runs and previews controllers of a window and
keeps what depends on more than one of them (the actions' state, the status message,
closing).

- :class:`~ptycho_gui.session_controller.SessionController`: form edits, New/Open/Save,
  recent files, presets.
- :class:`~ptycho_gui.run_controller.RunController`: simulate/train/infer jobs, Stop,
  progress and results.
- :class:`~ptycho_gui.preview_controller.PreviewController`: the data preview, live frames,
  the result and its export.
- :class:`~ptycho_gui.runs_panel.controller.ResultsController`: File > Open reconstruction, the
  Runs panel (open, compare, resume) and the comparison view.

None of them touches a widget: they call the window's intent methods.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QTimer

from . import help
from .cluster.controller import ClusterController
from .dialogs import Dialogs
from .document import SessionDocument
from .layout_dialog import open_layout_dialog
from .main_window import MainWindow
from .model.products import RunOutput
from .model.results import OpenedResult
from .preview_controller import PreviewController
from .run_controller import RunController
from .runs_panel.controller import ResultsController
from .session_controller import SessionController

SHUTDOWN_TIMEOUT_S = 5.0
"""Closing waits this long for the worker threads once their jobs have ended."""


class MainController(QObject):
    """Owns the controllers of a :class:`MainWindow` and the shared :class:`Dialogs`."""

    def __init__(self, window: MainWindow, settings: QSettings,
                 document: SessionDocument | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.dialogs = Dialogs()
        self.document = document or SessionDocument(self)
        self.session = SessionController(window, self.document, self.dialogs, settings, self)
        self.runs = RunController(window, self.document, self.dialogs, self)
        self.previews = PreviewController(window, self.document, self.dialogs,
                                          self.runs.runner, self)
        self.results = ResultsController(window, self.document, self.dialogs, self)
        self.cluster = ClusterController(window, self.document, self.dialogs, self)
        self._quit_when_idle = False
        self._close_confirmed = False
        self.document.changed.connect(self.update_state)
        self.session.data_path_edited.connect(self.previews.schedule_data_preview)
        self.session.session_replaced.connect(self._on_session_replaced)
        self.runs.state_changed.connect(self.update_state)
        self.runs.result_ready.connect(self._on_runs_result_ready)
        self.runs.dataset_ready.connect(lambda _: self.previews.request_data_preview())
        self.previews.state_changed.connect(self.update_state)
        self.runs.state_changed.connect(self._on_runs_state_changed)
        # The engine has made the run folder: list it as running.
        self.runs.runner.signals.run_started.connect(lambda _: self._on_runs_state_changed())
        self.results.result_opened.connect(self._on_results_result_opened)
        self.results.resume_requested.connect(self._on_results_resume_requested)
        self.results.infer_requested.connect(self.runs.infer_with)
        self.results.newest_checkpoint_found.connect(self._on_results_newest_checkpoint_found)
        window.action_declare_layout.triggered.connect(lambda: open_layout_dialog(
            window, self.document, self.previews.request_data_preview))
        window.action_quit.triggered.connect(window.close)
        window.action_guide.triggered.connect(self.show_user_guide)
        window.action_shortcuts.triggered.connect(self.show_shortcuts)
        window.action_about.triggered.connect(self.show_about)
        window.close_guard = self.confirm_close
        self._restore_window()
        self.update_state()

    # -- state that depends on several controllers ------------------------------------------
    def run_blockers(self, kind: str) -> list[str]:
        """Why ``kind`` cannot start now: session problems, then the data file's."""
        reasons = self.runs.run_blockers(kind)
        config = self.document.config
        uses_data = kind in ("train", "reconstruct") or (kind == "infer"
                                                        and not config.inference.data_path)
        if uses_data and config.data.path:
            if self.previews.inspecting:
                reasons.append(f"inspecting {self.previews.inspecting}…")
            reasons += [f"data.path: {problem}" for problem in self.previews.data_problems]
        return reasons

    def update_state(self) -> None:
        """Title, problems, actions and the idle status message from the current state."""
        doc, w = self.document, self.window
        w.show_session(doc.display_name, doc.modified)
        issues = doc.issues
        w.show_issues(issues + self.previews.problems)
        busy = self.runs.busy
        w.set_busy(busy, stop_enabled=not self.runs.runner.stop_requested(),
                   blockers={kind: self.run_blockers(kind) for kind in w.run_actions},
                   can_export=self.previews.reconstruction is not None)
        if busy:
            return
        if issues:
            more = f" (+{len(issues) - 1} more)" if len(issues) > 1 else ""
            self.runs.run_state = "invalid"
            w.show_state(f"Cannot run: {issues[0]}{more}", error=True)
        elif self.runs.run_state == "invalid":
            self.runs.run_state = "idle"
            w.show_state("Ready")
        if self._quit_when_idle:
            self._quit_when_idle = False
            w.close()

    def _on_session_replaced(self) -> None:
        self.runs.run_state = "idle"
        self.window.show_state("Ready")
        self.previews.forget_data()
        if self.document.path is not None:  # a session file: show its newest run's result
            self.results.show_newest_run()  # once its runs are listed (off the GUI thread)
        self.update_state()

    def _on_results_newest_checkpoint_found(self, checkpoint: Path) -> None:
        # After a restart Infer works at once: with the newest completed run's checkpoint
        # unless the session names one.
        if not self.document.config.inference.checkpoint:
            self.runs.follow_checkpoint(checkpoint)
            self.update_state()

    def _on_runs_result_ready(self, output: RunOutput) -> None:
        self.previews.show_newest_frame()  # the final frame if one waits, then the result
        self.previews.show_result(output)

    def _on_runs_state_changed(self) -> None:
        job = self.runs.runner.current_job if self.runs.busy else None
        running = job.context.get("run_dir") if job is not None else None
        # Listed in an event-loop turn of its own: a run's start and end already keep the GUI
        # thread busy (the result, the actions), and listing the runs reads every run folder.
        QTimer.singleShot(0, self, lambda: self.results.refresh_runs(running))

    def _on_results_result_opened(self, result: OpenedResult) -> None:
        self.previews.use_reconstruction(result.reconstruction)

    def _on_results_resume_requested(self, folder: Path) -> None:
        if self.runs.busy:
            self.window.log("warning", f"Cannot resume {folder} while a job runs")
            return
        self.window.log("info", f"Resuming {folder}")
        self.runs.start_train(resume_from=folder)

    # -- help -----------------------------------------------------------------------------
    def show_user_guide(self) -> None:
        text, folder = help.user_guide()
        self.dialogs.show_text(self.window, "User guide", text, folder)

    def show_shortcuts(self) -> None:
        self.dialogs.show_text(self.window, "Keyboard shortcuts",
                               help.shortcuts_markdown(self.window.all_actions()))

    def show_about(self) -> None:
        self.dialogs.show_text(self.window, "About Ptycho PINN",
                               help.about_markdown(self.runs.last_device))

    # -- closing --------------------------------------------------------------------------
    def confirm_close(self) -> bool:
        """Called by the window on close: ask about changes and a running job, stop it and
        close once it has written its files, save geometry, end the threads."""
        if not self._close_confirmed:
            # The running job first: saving the session is only worth asking about once
            # the user has agreed to stop it.
            if self.runs.busy:
                job = self.runs.runner.current_job
                if not self.dialogs.ask_stop_run(self.window, job.kind if job else "a job"):
                    return False
            if not self.session.maybe_save():
                return False
            self._close_confirmed = True
        if self.runs.busy or self.previews.loader.busy:
            # Close when the jobs have ended (a cancelled run is written); the window stays
            # responsive meanwhile.
            self.runs.closing = self.previews.closing = True
            self.runs.stop()
            self.previews.loader.stop()
            self.window.show_state("Stopping the job, then quitting…")
            self._quit_when_idle = True
            return False
        self.settings.setValue("window/geometry", self.window.saveGeometry())
        self.settings.setValue("window/state", self.window.saveState())
        self.settings.sync()
        self.shutdown()
        return True

    def shutdown(self, timeout_s: float = SHUTDOWN_TIMEOUT_S) -> bool:
        """Stop every worker thread (runs, previews, comparisons) and wait for them; True
        when all ended."""
        self._quit_when_idle = False
        self.runs.closing = True
        ok = self.previews.shutdown(timeout_s)
        ok = self.window.compare_view.shutdown(timeout_s) and ok
        ok = self.window.runs_panel.shutdown(timeout_s) and ok
        ok = self.window.fft_view.shutdown(timeout_s) and ok
        ok = self.results.shutdown(timeout_s) and ok
        return self.runs.shutdown(timeout_s) and ok

    def _restore_window(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.window.restoreGeometry(geometry)
        state = self.settings.value("window/state")
        if state is not None:
            self.window.layout_restored = bool(self.window.restoreState(state))
