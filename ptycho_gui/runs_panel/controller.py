"""Results controller: past results at hand. The Runs panel on the session's output folder
(open a run with its loss curves and FRC, compare two, resume a cancelled one) and the
comparison view. (File > Open reconstruction of a single product is the preview
controller's: it reads the file off the GUI thread.)

Like the other controllers it never touches a widget: it listens to the window's actions and
the Runs panel's requests and calls the window's intent methods
(:meth:`~ptycho_gui.main_window.MainWindow.show_opened_result`, ...). Resuming a run and
exporting the result shown belong to the run and preview controllers: it asks for them with
signals the main controller connects.

Nothing here reads files on the GUI thread: the Runs panel lists its folder on a thread of
its own, and opened and compared results are read on the ``read-results`` thread (the
newest request wins).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from engine.config import GUI_SOURCE
from engine.errors import EngineError
from engine.runs_index import SESSION

from ..dialogs import Dialogs
from ..document import SessionDocument
from ..feature_controller import FeatureController
from ..jobs import read_results_job
from ..main_window import MainWindow
from ..model.results import (
    KEPT_ON_LOAD,
    OpenedResult,
    flat_settings,
    newest_completed,
    run_checkpoint,
    run_settings,
    settings_diff,
)
from ..worker import JobOutcome, NewestJobRunner


class ResultsController(FeatureController):
    """Opens results from disk and keeps the Runs panel on ``training.output_dir``.

    Signals
    -------
    result_opened(object)
        An :class:`~ptycho_gui.results.OpenedResult` is shown; its reconstruction (or None)
        is what Export writes from now on.
    resume_requested(Path)
        Continue the run in this folder from its ``last.ckpt``.
    infer_requested(Path)
        Reconstruct the session's data with this checkpoint (a run's best or last).
    newest_checkpoint_found(Path)
        After :meth:`show_newest_run`: the checkpoint of the newest completed run.
    """

    result_opened = Signal(object)
    resume_requested = Signal(Path)
    infer_requested = Signal(Path)
    newest_checkpoint_found = Signal(Path)

    def __init__(self, window: MainWindow, document: SessionDocument, dialogs: Dialogs,
                 parent: QObject | None = None) -> None:
        super().__init__(window, document, dialogs, parent)
        self.current: OpenedResult | None = None
        self.runs_folder: Path | None = None
        self.reader = NewestJobRunner("read-results", self)
        self.reader.finished.connect(self._on_reader_finished)
        self._newest_wanted = False
        window.runs_panel.listed.connect(self._on_runs_panel_listed)
        window.runs_panel.open_requested.connect(self.open_path)
        window.runs_panel.compare_requested.connect(self.compare)
        window.runs_panel.resume_requested.connect(self.resume_requested)
        window.runs_panel.settings_requested.connect(self.show_settings)
        window.runs_panel.infer_requested.connect(self.infer_with_run)
        window.runs_panel.load_settings_requested.connect(self.load_run_settings)
        window.runs_panel.diff_requested.connect(self.show_settings_diff)
        window.compare_view.compared.connect(self._on_compare_view_compared)
        document.changed.connect(self.follow_output_folder)
        self.follow_output_folder()

    # -- intents --------------------------------------------------------------------------
    @property
    def reading(self) -> bool:
        """A result is being read (off the GUI thread)."""
        return self.reader.busy

    def open_path(self, path: str | os.PathLike[str]) -> bool:
        """Read a product ``.h5`` or a run folder off the GUI thread, then show it (errors:
        log and dialog; the result shown stays)."""
        return self.reader.request(read_results_job((Path(path),), "open"))

    def compare(self, a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
        """Read two results off the GUI thread, then show them side by side (A the
        reference) with their difference."""
        return self.reader.request(read_results_job((Path(a), Path(b)), "compare"))

    def show_newest_run(self) -> None:
        """Once the Runs panel has listed the output folder: show its newest completed run
        that has a reconstruction, else the newest with one (a session opened again after a
        restart shows where it left off; a cancelled run is not picked over a completed
        one), and report the newest completed run's checkpoint
        (:attr:`newest_checkpoint_found`)."""
        self._newest_wanted = True
        panel = self.window.runs_panel
        if not panel.loading and panel.folder == self.runs_folder:
            self._on_runs_panel_listed()

    def _on_runs_panel_listed(self) -> None:
        if not self._newest_wanted:
            return
        self._newest_wanted = False
        runs = self.window.runs_panel.runs
        shown = (run for run in runs if run.reconstruction is not None)
        newest = next((run for run in runs
                       if run.status == "completed" and run.reconstruction is not None),
                      None) or next(shown, None)
        if newest is not None:
            self.open_path(newest.path)
        done = newest_completed(runs)
        checkpoint = run_checkpoint(done) if done is not None else None
        if checkpoint is not None:
            self.newest_checkpoint_found.emit(checkpoint)

    def _on_reader_finished(self, outcome: JobOutcome) -> None:
        paths, purpose = outcome.job.context["paths"], outcome.job.context["purpose"]
        if outcome.status != "completed":
            what = f"open {paths[0]}" if purpose == "open" else "compare"
            title = "Cannot open the reconstruction" if purpose == "open" else "Cannot compare"
            self.window.log("error", f"Cannot {what}: {outcome.error}")
            self.dialogs.show_error(self.window, title, outcome.error,
                                    "" if outcome.user_error else outcome.details)
            return
        results: list[OpenedResult] = outcome.result
        if purpose == "compare":
            self.window.show_comparison(results[0], results[1])
            return
        result = results[0]
        self.current = result
        self.window.show_opened_result(result)
        self.window.log("info", f"Opened {result.source}")
        if result.run is not None and result.run.quality_text:
            self.window.log("info", f"{result.label}: {result.run.quality_text}")
        self.result_opened.emit(result)

    def infer_with_run(self, run_folder: Path) -> None:
        """Ask for an inference with the checkpoint of ``run_folder``."""
        from engine.runs_index import read_run

        checkpoint = run_checkpoint(read_run(run_folder))
        if checkpoint is None:
            self.window.log("error", f"{run_folder} holds no checkpoint to infer with")
            return
        self.infer_requested.emit(checkpoint)

    def show_settings(self, run_folder: Path) -> None:
        """Show the complete settings a run used (its ``session.toml``), read-only."""
        path = Path(run_folder) / SESSION
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            self.window.log("error", f"Cannot read {path}: {exc.strerror}")
            return
        self.dialogs.show_text(self.window, f"Settings of {Path(run_folder).name}",
                               f"`{path}` (run it again: `ptycho-engine train --session "
                               f"{path}`)\n\n```toml\n{text}\n```\n")

    def load_run_settings(self, run_folder: Path) -> bool:
        """Put the settings ``run_folder`` used into the session, as edits (Save writes them
        to the session file); the session's output folder and checkpoint stay."""
        try:
            values = run_settings(run_folder)
        except EngineError as exc:
            self.window.log("error", f"Cannot load the settings of {run_folder}: {exc}")
            self.dialogs.show_error(self.window, "Cannot load the settings", str(exc), "")
            return False
        current = flat_settings(self.document.config)
        name = Path(run_folder).name
        layer = {key: (value, f"{GUI_SOURCE} settings of {name}")
                 for key, value in values.items()
                 if key not in KEPT_ON_LOAD and current.get(key) != value}
        if layer:
            self.document.set_values(layer)
        changed = ", ".join(layer) or "none: the session has them already"
        self.window.log("info", f"Loaded the settings of {name}; changed: {changed}")
        return True

    def show_settings_diff(self, a: Path, b: Path) -> None:
        """The settings in which runs ``a`` and ``b`` differ, in a read-only text."""
        try:
            rows = settings_diff(run_settings(a, absolute=False),
                                 run_settings(b, absolute=False))
        except EngineError as exc:
            self.window.log("error", f"Cannot compare the settings: {exc}")
            self.dialogs.show_error(self.window, "Cannot compare the settings", str(exc), "")
            return
        title = f"Settings: {Path(a).name} vs {Path(b).name}"
        if not rows:
            text = "The two runs used the same settings."
        else:
            lines = [f"| setting | {Path(a).name} | {Path(b).name} |", "|---|---|---|"]
            lines += [f"| `{key}` | `{va!r}` | `{vb!r}` |" for key, va, vb in rows]
            text = f"{len(rows)} setting(s) differ:\n\n" + "\n".join(lines) + "\n"
        self.dialogs.show_text(self.window, title, text)

    def follow_output_folder(self) -> None:
        """List the runs of the session's ``training.output_dir`` (when it changed)."""
        folder = Path(self.document.folder, self.document.config.training.output_dir)
        if folder != self.runs_folder:
            self.runs_folder = folder
            self.window.show_runs_folder(folder)

    def shutdown(self, timeout_s: float) -> bool:
        """End the reading thread (a read under way is waited for)."""
        return self.reader.shutdown(timeout_s)

    def refresh_runs(self, running: str | os.PathLike[str] | None = None) -> None:
        """A run started or ended: list the runs again (``running``: the folder trained now)."""
        self.window.refresh_runs(Path(running) if running else None)

    # -- slots ----------------------------------------------------------------------------
    def _on_compare_view_compared(self, text: str) -> None:
        self.window.log("info", f"Compare: {text}")
