"""The main window's widgets and actions (the wiring lives in :mod:`ptycho_gui.controller`)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMenu,
    QProgressBar,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .config_form import ConfigForm
from .icons import icon
from .views.log_pane import LogPane
from .views.loss_view import LossView
from .views.patterns import PatternBrowser
from .views.positions import PositionsView
from .views.probe_view import ProbeView
from .views.reconstruction import ReconstructionView

APP_NAME = "Ptycho PINN"


class MainWindow(QMainWindow):
    """Settings dock (left), views (centre), log dock (bottom), run status (status bar)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("main-window")
        self.setWindowIcon(icon("app"))
        self.resize(1400, 860)
        self.close_guard: Callable[[], bool] | None = None
        self._build_views()
        self._build_settings_dock()
        self._build_log_dock()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()

    # -- layout ---------------------------------------------------------------------------
    def _build_views(self) -> None:
        self.view_tabs = QTabWidget()
        self.reconstruction_view = ReconstructionView()
        self.loss_view = LossView()
        self.pattern_browser = PatternBrowser()
        self.positions_view = PositionsView()
        self.probe_view = ProbeView()
        for widget, title in ((self.reconstruction_view, "Reconstruction"),
                              (self.loss_view, "Loss"),
                              (self.pattern_browser, "Patterns"),
                              (self.positions_view, "Positions"),
                              (self.probe_view, "Probe")):
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
        panel.setMinimumWidth(480)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.settings_dock)

    def _build_log_dock(self) -> None:
        self.log_pane = LogPane()
        self.log_dock = QDockWidget("Log", self)
        self.log_dock.setObjectName("log-dock")
        self.log_dock.setWidget(self.log_pane)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.resizeDocks([self.log_dock], [150], Qt.Orientation.Vertical)

    def _action(self, text: str, icon_name: str | None = None, shortcut: object = None,
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
        self.action_save_as = self._action("Save session &as…", None, K.SaveAs,
                                           "Save the session to a new file")
        self.action_export = self._action("&Export reconstruction…", "export", "Ctrl+E",
                                          "Write the reconstruction as a product .h5 or PNG")
        self.action_quit = self._action("&Quit", None, K.Quit, "Quit (stops a running job)")
        self.action_simulate = self._action("Simulate", "simulate", "Ctrl+Shift+S",
                                            "Simulate a dataset with known ground truth")
        self.action_train = self._action("Train", "train", "Ctrl+R",
                                         "Train the network on data.path")
        self.action_infer = self._action("Infer", "infer", "Ctrl+I",
                                         "Reconstruct with a trained checkpoint")
        self.action_stop = self._action("Stop", "stop", "Ctrl+.", "Stop the running job")
        self.action_stop.setEnabled(False)
        self.action_export.setEnabled(False)
        self.run_actions = {"simulate": self.action_simulate, "train": self.action_train,
                            "infer": self.action_infer}

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addActions([self.action_new, self.action_open])
        self.recent_menu = QMenu("Open &recent", self)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        file_menu.addActions([self.action_save, self.action_save_as])
        file_menu.addSeparator()
        file_menu.addAction(self.action_export)
        file_menu.addSeparator()
        file_menu.addAction(self.action_quit)
        run_menu = self.menuBar().addMenu("&Run")
        run_menu.addActions([self.action_simulate, self.action_train, self.action_infer])
        self.preset_menu = QMenu("Apply simulation &preset", self)
        self.preset_menu.setToolTip("Set the simulation (and pattern size) of a named preset")
        run_menu.addMenu(self.preset_menu)
        run_menu.addSeparator()
        run_menu.addAction(self.action_stop)
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.settings_dock.toggleViewAction())
        view_menu.addAction(self.log_dock.toggleViewAction())

    def _build_toolbar(self) -> None:
        bar = self.addToolBar("Main")
        bar.setObjectName("main-toolbar")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.addActions([self.action_new, self.action_open, self.action_save])
        bar.addSeparator()
        bar.addActions([self.action_simulate, self.action_train, self.action_infer,
                        self.action_stop])
        bar.addSeparator()
        bar.addAction(self.action_export)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.state_label = QLabel("Ready")
        self.state_label.setObjectName("state-label")
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("run-progress")
        self.progress_bar.setMinimumWidth(260)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat("idle")
        self.progress_bar.setValue(0)
        self.time_label = QLabel("")
        self.time_label.setObjectName("time-label")
        self.device_label = QLabel("")
        self.device_label.setObjectName("device-label")
        status.addWidget(self.state_label, 1)
        status.addPermanentWidget(self.progress_bar)
        status.addPermanentWidget(self.time_label)
        status.addPermanentWidget(self.device_label)

    # -- events ---------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        if self.close_guard is not None and not self.close_guard():
            event.ignore()
            return
        event.accept()
