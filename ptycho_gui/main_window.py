"""The main window's widgets and actions, and the intent methods controllers call.

Controllers (:mod:`ptycho_gui.controller` and the three it composes) never touch the widgets
below; they call intent methods (:meth:`MainWindow.show_progress`, :meth:`~MainWindow.show_result`,
:meth:`~MainWindow.set_busy`...), so a widget can change without any controller changing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMenu,
    QProgressBar,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.config import ConfigIssue, SessionConfig

from .config_form import ConfigForm
from .icons import icon
from .model.quality import run_quality
from .runs_panel.view import RunsPanel
from .views.compare import CompareView
from .views.fft_view import FftView
from .views.frc_view import FrcView
from .views.log_pane import LogPane
from .views.loss_view import LossView
from .views.patterns import PatternBrowser
from .views.positions import PositionsView
from .views.probe_view import ProbeView
from .views.reconstruction import ReconstructionView
from .views.widgets import FluidLabel

if TYPE_CHECKING:
    from .controller import MainController
    from .model.results import OpenedResult

APP_NAME = "Ptycho PINN"

ERROR_STYLE = "color: #d32f2f;"

SETTINGS_MIN_WIDTH = 360
SETTINGS_WIDTH = 420

PROGRESS_TEXT_SAMPLE = "refine · epoch 10/10 · 12345/12345 pattern"
TIME_TEXT_SAMPLE = "elapsed 1:02:03 · ETA ≥ 1:02:03"
DEVICE_TEXT_SAMPLE = "device: cuda:0 (2)"
"""The longest usual texts of the status bar's fixed-size fields (longer ones are cut, whole
in their tooltips)."""


class MainWindow(QMainWindow):
    """Settings dock (left), views (centre), log dock (bottom), run status (status bar)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("main-window")
        self.setWindowIcon(icon("app"))
        self.resize(1400, 860)
        self.close_guard: Callable[[], bool] | None = None
        self.layout_restored = False  # the user's saved dock layout was restored
        self._shown_once = False
        self.controller: MainController | None = None  # set by ptycho_gui.app
        self._build_views()
        self._build_settings_dock()
        self._build_log_dock()
        self._build_runs_dock()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self.action_copy_view.triggered.connect(self.copy_current_view)

    # -- layout ---------------------------------------------------------------------------
    def _build_views(self) -> None:
        self.view_tabs = QTabWidget()
        self.reconstruction_view = ReconstructionView()
        self.loss_view = LossView()
        self.pattern_browser = PatternBrowser()
        self.positions_view = PositionsView()
        self.probe_view = ProbeView()
        self.fft_view = FftView()
        self.frc_view = FrcView()
        self.compare_view = CompareView()
        for widget, title in ((self.reconstruction_view, "Reconstruction"),
                              (self.loss_view, "Loss"),
                              (self.pattern_browser, "Patterns"),
                              (self.positions_view, "Positions"),
                              (self.probe_view, "Probe"),
                              (self.fft_view, "FFT"),
                              (self.frc_view, "FRC"),
                              (self.compare_view, "Compare")):
            self.view_tabs.addTab(widget, title)
        self.setCentralWidget(self.view_tabs)

    def _build_settings_dock(self) -> None:
        self.form = ConfigForm()
        self.advanced_box = QCheckBox("Show advanced settings")
        self.advanced_box.setToolTip("Unfold the settings marked ⚙")
        self.issues_label = QLabel("")
        self.issues_label.setObjectName("issues-label")
        self.issues_label.setWordWrap(True)
        self.issues_label.setStyleSheet("color: #d32f2f;")
        self.issues_label.setVisible(False)
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.advanced_box)
        layout.addWidget(self.issues_label)
        layout.addWidget(self.form, 1)
        self.settings_dock = QDockWidget("Settings", self)
        self.settings_dock.setObjectName("settings-dock")
        self.settings_dock.setWidget(panel)
        self.settings_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                                       | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        # Narrow enough for 1280-px screens and 150 % scaling (the form scrolls inside).
        panel.setMinimumWidth(SETTINGS_MIN_WIDTH)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.settings_dock)

    def _build_log_dock(self) -> None:
        self.log_pane = LogPane()
        self.log_dock = QDockWidget("Log", self)
        self.log_dock.setObjectName("log-dock")
        self.log_dock.setWidget(self.log_pane)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.resizeDocks([self.log_dock], [150], Qt.Orientation.Vertical)

    def _build_runs_dock(self) -> None:
        """The Runs panel, a tab next to the log."""
        self.runs_panel = RunsPanel()
        self.runs_dock = QDockWidget("Runs", self)
        self.runs_dock.setObjectName("runs-dock")
        self.runs_dock.setWidget(self.runs_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.runs_dock)
        self.tabifyDockWidget(self.log_dock, self.runs_dock)
        self.log_dock.raise_()

    def _action(self, text: str, icon_name: str | None = None,
                shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
                tip: str = "") -> QAction:
        action = QAction(icon(icon_name) if icon_name else icon(""), text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        return action

    def _build_actions(self) -> None:
        K = QKeySequence.StandardKey
        self.action_new = self._action("&New session", "new", K.New, "Start from the defaults")
        self.action_open = self._action("&Open session…", "open", K.Open, "Open a session file")
        self.action_save = self._action("&Save session", "save", K.Save, "Save the session")
        self.action_open_result = self._action(
            "Open &reconstruction…", None, "Ctrl+Shift+O",
            "Show a reconstruction from a ptychodus product .h5 (ours or another tool's)")
        self.action_save_as = self._action("Save session &as…", None, K.SaveAs,
                                           "Save the session to a new file")
        self.action_export = self._action(
            "&Export reconstruction…", "export", "Ctrl+E",
            "Write the reconstruction as a product .h5, a CXI file, PNG pictures or float32 TIFF "
            "images")
        self.action_copy_view = self._action(
            "&Copy view", None, "Ctrl+Shift+C",
            "Copy the view shown (its images, axes and colour bars) to the clipboard")
        self.action_quit = self._action("&Quit", None, K.Quit, "Quit (stops a running job)")
        self.action_simulate = self._action("Simulate", "simulate", "Ctrl+Shift+M",
                                            "Simulate a dataset with known ground truth")
        self.action_train = self._action("Train", "train", "Ctrl+R",
                                         "Train the network on data.path")
        self.action_infer = self._action("Infer", "infer", "Ctrl+I",
                                         "Reconstruct with a trained checkpoint")
        self.action_reconstruct = self._action(
            "Reconstruct", "reconstruct", "Ctrl+Shift+R",
            "Reconstruct data.path with the iterative solver alone (no network)")
        self.action_declare_layout = self._action(
            "&Declare data layout…", None, "Ctrl+L",
            "Say where the patterns, positions, probe and mask are in a beamline's NPZ/HDF5")
        self.action_stop = self._action("Stop", "stop", "Ctrl+.", "Stop the running job")
        self.action_cluster = self._action(
            "Run on a &cluster…", None, None,
            "Write the session and a SLURM batch script into a run folder, submit, follow it")
        self.action_follow = self._action("&Follow a run folder…", None, None,
                                          "Follow a run another process writes (a cluster job)")
        self.action_stop.setEnabled(False)
        self.action_export.setEnabled(False)
        self.run_actions = {"simulate": self.action_simulate, "train": self.action_train,
                            "infer": self.action_infer, "reconstruct": self.action_reconstruct}
        self.action_guide = self._action("&User guide", None, K.HelpContents,
                                         "How to run a session, step by step")
        self.action_shortcuts = self._action("&Keyboard shortcuts", None, "Ctrl+/",
                                             "Every keyboard shortcut of the window")
        self.action_about = self._action("&About", None, None,
                                         "Versions of the app, torch, Lightning, Qt; device")

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addActions([self.action_new, self.action_open])
        self.recent_menu = QMenu("Open &recent", self)
        file_menu.addMenu(self.recent_menu)
        file_menu.addAction(self.action_open_result)
        file_menu.addAction(self.action_declare_layout)
        file_menu.addSeparator()
        file_menu.addActions([self.action_save, self.action_save_as])
        file_menu.addSeparator()
        file_menu.addAction(self.action_export)
        file_menu.addSeparator()
        file_menu.addAction(self.action_quit)
        run_menu = self.menuBar().addMenu("&Run")
        run_menu.addActions([self.action_simulate, self.action_train, self.action_infer,
                             self.action_reconstruct])
        self.preset_menu = QMenu("Apply simulation &preset", self)
        self.preset_menu.setToolTip("Set the simulation (and pattern size) of a named preset")
        run_menu.addMenu(self.preset_menu)
        run_menu.addSeparator()
        run_menu.addActions([self.action_cluster, self.action_follow])
        run_menu.addSeparator()
        run_menu.addAction(self.action_stop)
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.action_copy_view)
        view_menu.addSeparator()
        view_menu.addAction(self.settings_dock.toggleViewAction())
        view_menu.addAction(self.log_dock.toggleViewAction())
        view_menu.addAction(self.runs_dock.toggleViewAction())
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addActions([self.action_guide, self.action_shortcuts])
        help_menu.addSeparator()
        help_menu.addAction(self.action_about)

    def _build_toolbar(self) -> None:
        bar = self.addToolBar("Main")
        bar.setObjectName("main-toolbar")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.addActions([self.action_new, self.action_open, self.action_save])
        bar.addSeparator()
        bar.addActions([self.action_simulate, self.action_train, self.action_infer,
                        self.action_reconstruct, self.action_stop])
        bar.addSeparator()
        bar.addAction(self.action_export)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.state_label = FluidLabel("Ready")  # a long message never widens the window
        self.state_label.setObjectName("state-label")
        metrics = self.fontMetrics()
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("run-progress")
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat("idle")
        self.progress_bar.setValue(0)
        self.time_label = FluidLabel("")
        self.time_label.setObjectName("time-label")
        self.device_label = FluidLabel("")
        self.device_label.setObjectName("device-label")
        # Fixed sizes, wide enough for their longest texts: a progress report (ten a
        # second) then never relayouts the whole window (25-50 ms of the GUI thread each).
        for widget, longest in ((self.progress_bar, PROGRESS_TEXT_SAMPLE),
                                (self.time_label, TIME_TEXT_SAMPLE),
                                (self.device_label, DEVICE_TEXT_SAMPLE)):
            widget.setFixedSize(metrics.horizontalAdvance(longest) + 24,
                                max(metrics.height() + 6, widget.sizeHint().height()))
            widget.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.inspect_label = QLabel("")
        self.inspect_label.setObjectName("inspect-label")
        self.inspect_label.setVisible(False)
        status.addWidget(self.state_label, 1)
        status.addWidget(self.inspect_label)
        status.addPermanentWidget(self.progress_bar)
        status.addPermanentWidget(self.time_label)
        status.addPermanentWidget(self.device_label)

    def copy_current_view(self) -> QPixmap:
        """Put a picture of the view shown (as on screen) on the clipboard; returns it."""
        picture = self.view_tabs.currentWidget().grab()
        QApplication.clipboard().setPixmap(picture)
        self.show_state(f"Copied the {self.view_tabs.tabText(self.view_tabs.currentIndex())} "
                        f"view ({picture.width()} x {picture.height()} px) to the clipboard")
        return picture

    def all_actions(self) -> list[QAction]:
        """Every action of the window (menus, toolbar), each once."""
        return list(dict.fromkeys(self.findChildren(QAction)))

    # -- intents: session -------------------------------------------------------------------
    def show_session(self, name: str, modified: bool) -> None:
        """The title: the session's file name, ``*`` when it has unsaved changes."""
        self.setWindowTitle(f"{name}{'*' if modified else ''} — {APP_NAME}")

    def load_config(self, config: SessionConfig) -> None:
        """Show every value of ``config`` in the settings form."""
        self.form.set_config(config)

    def show_value(self, key: str, value: Any) -> None:
        """Show one value set elsewhere (a run's output, a preset) in its field."""
        self.form.show_value(key, value)

    def show_issues(self, issues: Sequence[ConfigIssue]) -> None:
        """Mark problems at their fields; those of no field go above the form."""
        unplaced = self.form.show_issues(issues)
        self.issues_label.setText("\n".join(str(issue) for issue in unplaced))
        self.issues_label.setVisible(bool(unplaced))

    def set_show_advanced(self, show: bool) -> None:
        self.form.set_show_advanced(show)

    def set_recent_files(self, paths: Sequence[str], open_one: Callable[[str], None],
                         clear: Callable[[], None]) -> None:
        """Fill File > Open recent."""
        menu = self.recent_menu
        menu.clear()
        for path in paths:
            action = menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: open_one(p))
        if paths:
            menu.addSeparator()
            menu.addAction("Clear list", clear)
        menu.setEnabled(bool(paths))

    def set_presets(self, names: Iterable[str], apply: Callable[[str], object]) -> None:
        """Fill Run > Apply simulation preset."""
        self.preset_menu.clear()
        for name in names:
            self.preset_menu.addAction(name, partial(apply, name))

    # -- intents: runs -----------------------------------------------------------------------
    def set_busy(self, busy: bool, *, stop_enabled: bool, blockers: Mapping[str, list[str]],
                 can_export: bool) -> None:
        """Enable the actions: runs when idle and unblocked (the reasons in their tooltips)."""
        for kind, action in self.run_actions.items():
            reasons = blockers.get(kind, [])
            action.setEnabled(not busy and not reasons)
            tip = action.statusTip()
            if busy:
                tip += "\n(a job is running)"
            elif reasons:
                tip += "\nCannot run: " + "; ".join(reasons)
            action.setToolTip(tip)
        self.action_stop.setEnabled(busy and stop_enabled)
        self.action_export.setEnabled(can_export)
        for action in (self.action_new, self.action_open):
            action.setEnabled(not busy)

    def show_state(self, text: str, error: bool = False) -> None:
        """The status bar's message (red for a problem)."""
        self.state_label.setText(text)
        self.state_label.setStyleSheet(ERROR_STYLE if error else "")

    def show_job_started(self, kind: str) -> None:
        """A job started: the bar is busy until its first progress report."""
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setFormat(f"{kind}: starting")
        self.time_label.setText("")
        self.device_label.setText("")
        if kind == "train":
            self.loss_view.clear()
        if kind in ("train", "infer", "reconstruct"):
            # The new run's first frame gets colour levels of its own (not the range of the
            # image shown before, e.g. a truth file); the FRC of an earlier result goes.
            self.reconstruction_view.refit_next()
            self.reconstruction_view.set_quality(None)  # the earlier result's
            self.frc_view.clear()
            self.view_tabs.setCurrentWidget(self.reconstruction_view)

    def show_progress(self, done: int | None, total: int | None, text: str,
                      times: str = "") -> None:
        """The bar at ``done`` of ``total`` (busy when the total is unknown) and its text."""
        bar = self.progress_bar
        if total:
            bar.setRange(0, int(total))
            bar.setValue(min(int(done or 0), int(total)))
        else:
            bar.setRange(0, 0)
        bar.setFormat(text)
        bar.setToolTip(text)
        self.time_label.setText(times)

    def show_job_finished(self, kind: str, status: str, took: str = "") -> None:
        """The bar full (completed), empty (failed) or where it stopped (cancelled); the time
        the job took instead of its ETA."""
        bar = self.progress_bar
        reached = 100 * bar.value() // bar.maximum() if bar.maximum() > 0 else 0
        bar.setRange(0, 100)
        bar.setValue({"completed": 100, "failed": 0}.get(status, max(0, reached)))
        bar.setFormat(f"{kind}: {status}")
        if took:
            self.time_label.setText(f"took {took}")

    def show_device(self, text: str) -> None:
        self.device_label.setText(text)

    def show_metrics(self, epoch: int, values: Mapping[str, float],
                     partial: bool = False) -> None:
        """An epoch's losses (``partial``: the epoch a Stop cut short)."""
        self.loss_view.add_metrics(epoch, values, partial)

    def show_frame(self, obj: np.ndarray, caption: str, probe: np.ndarray | None) -> None:
        """A live preview of the object (and probe) during a run."""
        self.reconstruction_view.set_object(obj, caption=caption)
        self.fft_view.set_object(obj, caption)
        if probe is not None:
            self.probe_view.set_probe(probe)

    def show_result(self, obj: np.ndarray, caption: str, *, probe: np.ndarray | None = None,
                    positions: np.ndarray | None = None,
                    loss: tuple[list[int], list[float]] | None = None,
                    replace_loss: bool = False, pixel_size: Any = None,
                    probe_pixel_size: Any = None, wavelength_m: float | None = None) -> None:
        """A finished reconstruction, with its probe, positions and loss history if known
        (the history replaces the curves shown when ``replace_loss``, else only fills an
        empty view); with the object's (and probe's) pixel size the views are in metres,
        with the wavelength the probe can be propagated."""
        if pixel_size is not None:
            self.set_pixel_size(pixel_size, probe_pixel_size)
        if wavelength_m is not None:
            self.probe_view.set_wavelength(wavelength_m)
        self.reconstruction_view.set_object(obj, caption=caption, fit_levels=True)
        self.fft_view.set_object(obj, caption)
        if probe is not None:
            self.probe_view.set_probe(probe)
        if positions is not None:
            self.positions_view.set_positions(positions, obj.shape, background=obj)
        if replace_loss:
            self.loss_view.clear()
        if loss is not None and len(loss[1]) and not self.loss_view.history:
            self.loss_view.set_history(loss[0], {"train_loss": list(loss[1])})

    def show_quality(self, summary: Mapping[str, Any] | None) -> None:
        """Under the reconstruction: the run's per-stage quality and its misfit against the
        noise floor, from its summary (None or a summary without them: nothing)."""
        self.reconstruction_view.set_quality(run_quality(summary))

    def show_frc(self, frc: Mapping[str, Any] | None, pixel_size: Any = None,
                 caption: str = "") -> None:
        """The FRC curves of the result shown (None: it was not scored; the tab says why)."""
        self.frc_view.set_frc(frc, pixel_size, caption=caption)

    def set_pixel_size(self, pixel_size: Any, probe_pixel_size: Any = None) -> None:
        """Object pixel size in metres (a side or ``(width, height)``; None: pixels) for the
        reconstruction, positions and probe views (the probe's own when given)."""
        self.reconstruction_view.set_pixel_size(pixel_size)
        self.fft_view.set_pixel_size(pixel_size)
        self.positions_view.set_pixel_size(pixel_size)
        self.probe_view.set_pixel_size(probe_pixel_size if probe_pixel_size is not None
                                       else pixel_size)

    # -- intents: past results ------------------------------------------------------------------
    def show_opened_result(self, result: OpenedResult) -> None:
        """A result read from disk: object, probe, positions in metres, losses and FRC."""
        recon = result.reconstruction
        status = f" ({result.run.status})" if result.run is not None else ""
        if recon is not None:
            self.show_result(recon.obj, f"{result.label}{status}: {result.source}",
                             probe=recon.probe, positions=recon.positions,
                             pixel_size=result.object_pixel_size_m,
                             probe_pixel_size=result.probe_pixel_size_m,
                             wavelength_m=recon.wavelength_m)
        else:
            self.reconstruction_view.clear()
            self.fft_view.clear()
            self.reconstruction_view.caption.setText(
                f"{result.label}{status}: no reconstruction was written; its losses are in "
                "the Loss tab")
        self.loss_view.set_history(result.loss_epochs, result.losses)
        self.show_quality(result.summary)
        self.show_frc(result.frc, result.object_pixel_size_m, caption=result.label)
        if result.run is not None:
            self.runs_panel.select(result.run.path)
        self.view_tabs.setCurrentWidget(self.reconstruction_view if recon is not None
                                        else self.loss_view)

    def show_comparison(self, a: OpenedResult, b: OpenedResult) -> None:
        """Two results side by side (A the reference) and their aligned difference."""
        self.compare_view.set_pair(a, b)
        self.view_tabs.setCurrentWidget(self.compare_view)

    def show_runs_folder(self, folder: Path | None) -> None:
        """List the runs of the session's output folder in the Runs panel."""
        self.runs_panel.set_folder(folder)

    def refresh_runs(self, running: Path | str | None = None) -> None:
        """List the runs again; ``running`` is the run folder being trained now."""
        self.runs_panel.set_running(running)

    def log(self, level: str, message: str) -> None:
        """A line in the log pane ("info", "warning", "error")."""
        self.log_pane.append_line(level, message)

    # -- intents: data preview ----------------------------------------------------------------
    def show_data(self, *, patterns: Any = None, label: str = "",
                  positions: np.ndarray | None = None,
                  object_shape: tuple[int, int] | None = None,
                  object_guess: np.ndarray | None = None,
                  probe: np.ndarray | None = None, pixel_size: Any = None,
                  bad_pixels: np.ndarray | None = None,
                  wavelength_m: float | None = None) -> None:
        """The data of a file: patterns (with the detector mask), scan positions and probe
        guess (what is known), in metres when the object's pixel size is known."""
        self.set_pixel_size(pixel_size)
        self.probe_view.set_wavelength(wavelength_m)
        if patterns is not None:
            self.pattern_browser.set_patterns(patterns, label)
            self.pattern_browser.set_mask(bad_pixels)
        if positions is not None:
            self.positions_view.set_positions(positions, object_shape, background=object_guess)
        if probe is not None:
            self.probe_view.set_probe(probe)

    def show_inspecting(self, path: str | None) -> None:
        """Say that ``path`` is being inspected (None: nothing is)."""
        text = f"Inspecting {Path(path).name}…" if path else ""
        self.inspect_label.setText(text)
        self.inspect_label.setToolTip(path or "")
        self.inspect_label.setVisible(bool(path))

    def clear_result(self) -> None:
        """No reconstruction: empty the object, probe and loss views."""
        self.reconstruction_view.clear()
        self.fft_view.clear()
        self.probe_view.clear()
        self.loss_view.clear()
        self.frc_view.clear()

    def clear_data(self, keep_probe: bool = False) -> None:
        """No data: empty the patterns and positions (and the probe unless a result has one)."""
        self.pattern_browser.clear()
        self.positions_view.clear()
        if not keep_probe:
            self.probe_view.clear()

    # -- events ---------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if not self._shown_once and not self.layout_restored:
            # The views get the room: the form scrolls inside a narrower settings dock (once
            # the window has its size: the next event-loop turn).
            QTimer.singleShot(0, self, self._size_settings_dock)
        self._shown_once = True

    def _size_settings_dock(self) -> None:
        self.resizeDocks([self.settings_dock], [SETTINGS_WIDTH], Qt.Orientation.Horizontal)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        if self.close_guard is not None and not self.close_guard():
            event.ignore()
            return
        event.accept()
