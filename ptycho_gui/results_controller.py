"""Past results in the window: File > Open reconstruction, the Runs panel, the comparison view,
the FRC view and the physical units of every image view.

``ResultsController`` wires these widgets of the main window to each other; what belongs to
the session (resuming a run, loading a run's settings, exporting the result shown) it asks
for through signals the main controller acts on.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from engine.errors import EngineError

from . import dialogs
from .results import OpenedResult, open_result

RESULT_FILTER = "Reconstructions (*.h5 *.hdf5);;All files (*)"


def choose_reconstruction(parent: QWidget, start: Path) -> str:
    """Ask for a product file (``""`` when cancelled)."""
    return QFileDialog.getOpenFileName(parent, "Open reconstruction", str(start),
                                       RESULT_FILTER)[0]


class ResultsController(QObject):
    """Shows opened results in the views and keeps the Runs panel on the output folder.

    The window provides ``reconstruction_view``, ``loss_view``, ``probe_view``,
    ``positions_view``, ``frc_view``, ``compare_view``, ``runs_panel``, ``view_tabs`` and
    ``action_open_reconstruction``. ``choose_reconstruction`` and ``show_error`` are dialogs
    that tests replace.

    Signals
    -------
    result_shown(object)
        An :class:`~ptycho_gui.results.OpenedResult` is now in the views (it becomes the
        reconstruction Export writes).
    resume_requested(Path)
        The user asked to resume this run folder.
    message(str, str)
        ``(level, text)`` for the log.
    """

    result_shown = Signal(object)
    resume_requested = Signal(Path)
    message = Signal(str, str)

    def __init__(self, window: QWidget, parent: QObject | None = None) -> None:
        super().__init__(parent or window)
        self.window = window
        self.current: OpenedResult | None = None
        self.choose_reconstruction = choose_reconstruction
        self.show_error = dialogs.error_box
        self.start_folder = Path.cwd()
        window.action_open_reconstruction.triggered.connect(
            self._on_action_open_reconstruction_triggered)
        window.runs_panel.open_requested.connect(self._on_runs_panel_open_requested)
        window.runs_panel.compare_requested.connect(self._on_runs_panel_compare_requested)
        window.runs_panel.resume_requested.connect(self.resume_requested)
        window.compare_view.compared.connect(self._on_compare_view_compared)

    # -- intents --------------------------------------------------------------------------
    def open_path(self, path: str | os.PathLike[str]) -> OpenedResult | None:
        """Read a product ``.h5`` or a run folder and show it; errors go to a dialog."""
        try:
            result = open_result(path)
        except (EngineError, OSError) as exc:
            self.message.emit("error", f"Cannot open {path}: {exc}")
            self.show_error(self.window, "Cannot open the reconstruction", str(exc), "")
            return None
        self.show_result(result)
        return result

    def show_result(self, result: OpenedResult) -> None:
        """Put ``result`` in the reconstruction, probe, positions, loss and FRC views."""
        w = self.window
        self.current = result
        recon = result.reconstruction
        where = f" ({result.run.status})" if result.run is not None else ""
        if recon is not None:
            w.reconstruction_view.set_pixel_size(result.object_pixel_size_m)
            w.reconstruction_view.set_object(recon.obj, caption=f"{result.label}{where}: "
                                             f"{result.source}", fit_levels=True)
            if recon.probe is not None:
                w.probe_view.set_pixel_size(result.probe_pixel_size_m
                                            or result.object_pixel_size_m)
                w.probe_view.set_probe(recon.probe)
            if recon.positions is not None:
                w.positions_view.set_pixel_size(result.object_pixel_size_m)
                w.positions_view.set_positions(recon.positions, recon.obj.shape,
                                               background=recon.obj)
        else:
            w.reconstruction_view.clear()
            w.reconstruction_view.caption.setText(
                f"{result.label}{where}: no reconstruction was written; losses and settings "
                "are shown")
        w.loss_view.set_history(result.loss_epochs, result.losses)
        w.frc_view.set_frc(result.frc, result.object_pixel_size_m, caption=result.label)
        if result.run is not None:
            w.runs_panel.select(result.run.path)
        w.view_tabs.setCurrentWidget(w.reconstruction_view if recon is not None
                                     else w.loss_view)
        for warning in result.warnings:
            self.message.emit("warning", f"{result.label}: {warning}")
        self.message.emit("info", f"Opened {result.source or result.run.path}")
        self.result_shown.emit(result)

    def compare(self, a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
        """Open two results in the comparison view (A is the reference)."""
        try:
            first, second = open_result(a), open_result(b)
        except (EngineError, OSError) as exc:
            self.message.emit("error", f"Cannot compare: {exc}")
            self.show_error(self.window, "Cannot compare", str(exc), "")
            return False
        self.window.compare_view.set_pair(first, second)
        self.window.view_tabs.setCurrentWidget(self.window.compare_view)
        return True

    def set_output_folder(self, folder: str | os.PathLike[str] | None) -> None:
        """List the runs of the session's output folder (refreshes the panel)."""
        self.window.runs_panel.set_folder(folder)
        if folder:
            self.start_folder = Path(folder).expanduser()

    # -- slots ----------------------------------------------------------------------------
    def _on_action_open_reconstruction_triggered(self) -> None:
        path = self.choose_reconstruction(self.window, self.start_folder)
        if path:
            self.start_folder = Path(path).parent
            self.open_path(path)

    def _on_runs_panel_open_requested(self, path: Path) -> None:
        self.open_path(path)

    def _on_runs_panel_compare_requested(self, a: Path, b: Path) -> None:
        self.compare(a, b)

    def _on_compare_view_compared(self, text: str) -> None:
        self.message.emit("info", f"Compare: {text}")
