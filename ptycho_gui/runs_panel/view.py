"""The Runs panel: the past runs of a session's output folder, to open, compare or resume.

The panel only lists (``engine.runs_index.list_runs``) and asks: opening, comparing and
resuming are signals the controller acts on. The folder is read on a thread of its own (a
beamtime's thousands of run folders take seconds) and the table filled a few hundred rows per
event-loop turn, so the window never stalls while it lists.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.runs_index import INCOMPLETE, RunInfo

from ..jobs import list_runs_job
from ..model.results import run_checkpoint
from ..views.widgets import FluidLabel, ThreadedView
from ..worker import JobOutcome, NewestJobRunner

FILL_ROWS = 200
"""Rows added to the table per event-loop turn (about 15 ms of the GUI thread)."""
SHUTDOWN_TIMEOUT_S = 30.0

COLUMNS = ("Run", "Status", "Started", "Data file", "Epochs", "Wall time", "Quality")
_STATUS_COLOURS = {"completed": "#2e7d32", "cancelled": "#b26a00", "failed": "#c62828",
                   INCOMPLETE: "#757575", "running": "#1565c0"}
_PATH_ROLE = Qt.ItemDataRole.UserRole


def format_duration(seconds: float | None) -> str:
    """"1:02:03", "4:05" or "" when unknown."""
    if seconds is None:
        return ""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


RUNNING = "running"


def run_row(run: RunInfo, running: bool = False) -> list[str]:
    """The table's texts for one run (:data:`COLUMNS`); ``running``: this app trains it now."""
    epochs = "" if run.epochs is None else str(run.epochs)
    if run.max_epochs is not None and epochs:
        epochs += f" / {run.max_epochs}"
    started = run.started.strftime("%Y-%m-%d %H:%M") if run.started else ""
    if running:
        status = RUNNING
    elif run.status == INCOMPLETE:
        status = "incomplete (running elsewhere or killed)"
    else:
        status = run.status
    return [run.name, status, started, Path(run.data_file).name if run.data_file else "",
            epochs, format_duration(run.wall_time_s), run.quality_text]


class RunsPanel(ThreadedView):
    """A table of runs, newest first, with Open, Compare and Resume.

    Signals
    -------
    open_requested(Path)
        Show this run folder's reconstruction, loss curves and settings.
    compare_requested(Path, Path)
        Compare the reconstructions of two run folders.
    resume_requested(Path)
        Continue this (cancelled, failed or killed) run from its ``last.ckpt``.
    settings_requested(Path)
        Show the settings this run used (its ``session.toml``).
    infer_requested(Path)
        Reconstruct the session's data with this run's checkpoint.
    load_settings_requested(Path)
        Load the settings this run used into the session.
    diff_requested(Path, Path)
        Show the settings in which two runs differ.
    listed()
        The table holds the runs of the folder (after :meth:`refresh`; :attr:`runs`).
    """

    open_requested = Signal(Path)
    compare_requested = Signal(Path, Path)
    resume_requested = Signal(Path)
    settings_requested = Signal(Path)
    infer_requested = Signal(Path)
    load_settings_requested = Signal(Path)
    diff_requested = Signal(Path, Path)
    listed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runs-panel")
        self.folder: Path | None = None
        self.runs: list[RunInfo] = []
        self.running: Path | None = None  # the run this app is training now
        self.loading = False  # listing the folder or filling the table
        self.lister = NewestJobRunner("runs-list", self)
        self.lister.finished.connect(self._on_lister_finished)
        self._order: dict[str, int] = {}
        self._to_fill: list[RunInfo] = []
        self._keep_selected: set[str] = set()
        self._fill_timer = QTimer(self)
        self._fill_timer.setSingleShot(True)
        self._fill_timer.timeout.connect(self._fill_rows)
        self.folder_label = FluidLabel("No output folder.")
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("List the runs of the output folder again")
        self.table = QTreeWidget()
        self.table.setObjectName("runs-table")
        self.table.setColumnCount(len(COLUMNS))
        self.table.setHeaderLabels(list(COLUMNS))
        self.table.setRootIsDecorated(False)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        # Columns sized once, to the first rows: sizing to all contents re-measured every row
        # at each insertion (150 ms per 200 rows of 2,000).
        self.table.header().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.header().setStretchLastSection(True)
        self.table.setUniformRowHeights(True)
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Show the run's reconstruction, loss curves and settings")
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip("Select two runs to compare their reconstructions")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue a cancelled, failed or killed run from its "
                                      "last checkpoint")
        self.infer_button = QPushButton("Infer with this run")
        self.infer_button.setToolTip("Reconstruct the session's data with this run's "
                                     "checkpoint (its best, else its last)")
        self.settings_button = QPushButton("Settings")
        self.settings_button.setToolTip("Show the settings the run used (its session.toml)")
        self.load_settings_button = QPushButton("Load settings")
        self.load_settings_button.setToolTip(
            "Put the settings this run used into the session (its output folder and "
            "inference checkpoint stay)")
        self.diff_button = QPushButton("Diff settings")
        self.diff_button.setToolTip("Select two runs: the settings in which they differ")
        # One line (path, data, truth), whole in its tooltip: the panel stays short and the
        # views above keep their height on a 1280 x 800 screen.
        self.details = QLabel("")
        self.details.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table.setMinimumHeight(60)
        buttons = QHBoxLayout()
        for button in (self.open_button, self.compare_button, self.infer_button,
                       self.resume_button, self.settings_button, self.load_settings_button,
                       self.diff_button):
            buttons.addWidget(button)
        buttons.addWidget(self.folder_label, 1)
        buttons.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)
        self.refresh_button.clicked.connect(self.refresh)
        self.open_button.clicked.connect(self._on_open_button_clicked)
        self.compare_button.clicked.connect(self._on_compare_button_clicked)
        self.resume_button.clicked.connect(self._on_resume_button_clicked)
        self.settings_button.clicked.connect(self._on_settings_button_clicked)
        self.infer_button.clicked.connect(self._on_infer_button_clicked)
        self.load_settings_button.clicked.connect(self._on_load_settings_button_clicked)
        self.diff_button.clicked.connect(self._on_diff_button_clicked)
        self.table.itemSelectionChanged.connect(self._on_table_selection_changed)
        self.table.itemDoubleClicked.connect(self._on_table_item_double_clicked)
        self._on_table_selection_changed()

    # -- contents -------------------------------------------------------------------------
    def set_folder(self, folder: str | os.PathLike[str] | None) -> None:
        """List the runs of ``folder`` (a session's output folder); None empties the panel."""
        self.folder = Path(folder).expanduser() if folder else None
        self.refresh()

    def set_running(self, folder: str | os.PathLike[str] | None) -> None:
        """Mark the run this app is training now (None: none) and list the runs again."""
        self.running = Path(folder).expanduser().resolve() if folder else None
        self.refresh()

    def refresh(self) -> None:
        """Read the folder again off the GUI thread, keeping the selection where the runs
        still exist; :attr:`listed` is emitted once the table holds them."""
        if self.folder is None:
            self._show_runs([])  # a listing under way is for a folder shown no longer
            return
        self.loading = True
        self.folder_label.setText(f"Listing the runs in {self.folder}…")
        self.lister.request(list_runs_job(self.folder))

    def _on_lister_finished(self, outcome: JobOutcome) -> None:
        if self.folder is None or outcome.job.context["folder"] != self.folder:
            return  # listed for a folder shown no longer
        if outcome.status != "completed":
            self._show_runs([])
            self.folder_label.setText(f"Cannot list {self.folder}: {outcome.error}")
            return
        self._show_runs(list(outcome.result))

    def _show_runs(self, runs: list[RunInfo]) -> None:
        """Fill the table with ``runs``, :data:`FILL_ROWS` per event-loop turn."""
        self._keep_selected |= {str(r.path) for r in self.selected_runs()}
        self.runs = runs
        self._order = {str(run.path): i for i, run in enumerate(runs)}
        self._to_fill = list(runs)
        self.loading = True
        self._fill_timer.stop()
        self.table.clear()
        self._fill_rows()

    def _fill_rows(self) -> None:
        first = self.table.topLevelItemCount() == 0
        chunk, self._to_fill = self._to_fill[:FILL_ROWS], self._to_fill[FILL_ROWS:]
        items = []
        for run in chunk:
            running = run.path == self.running
            item = QTreeWidgetItem(run_row(run, running))
            item.setData(0, _PATH_ROLE, str(run.path))
            status = RUNNING if running else run.status
            item.setForeground(1, QColor(_STATUS_COLOURS.get(status, "#000000")))
            item.setToolTip(0, str(run.path))
            item.setToolTip(3, run.data_file)
            items.append(item)
        self.table.addTopLevelItems(items)
        for item in items:
            if item.data(0, _PATH_ROLE) in self._keep_selected:
                item.setSelected(True)
        if first:
            for column in range(len(COLUMNS) - 1):
                self.table.resizeColumnToContents(column)
        if self._to_fill:
            self.folder_label.setText(f"{self.table.topLevelItemCount()} of "
                                      f"{len(self.runs)} runs in {self.folder}…")
            self._fill_timer.start(0)
            return
        self._keep_selected = set()
        if self.folder is None:
            self.folder_label.setText("No output folder.")
        else:
            count = f"{len(self.runs)} run{'s' if len(self.runs) != 1 else ''}"
            self.folder_label.setText(f"{count} in {self.folder}")
        self.loading = False
        self._on_table_selection_changed()
        self.listed.emit()

    def selected_runs(self) -> list[RunInfo]:
        """The selected runs, in table order."""
        order = self._order
        paths = sorted((item.data(0, _PATH_ROLE) for item in self.table.selectedItems()),
                       key=lambda path: order.get(path, -1))
        return [self.runs[order[path]] for path in paths if path in order]

    def shutdown(self, timeout_s: float = SHUTDOWN_TIMEOUT_S) -> bool:
        """End the listing thread (a listing under way is waited for); no new ones."""
        self._fill_timer.stop()
        return self.lister.shutdown(timeout_s)


    def select(self, *paths: str | os.PathLike[str]) -> None:
        """Select the runs of ``paths`` (others are deselected)."""
        wanted = {str(Path(p).resolve()) for p in paths}
        if self.loading:
            self._keep_selected = set(wanted)  # selected as their rows arrive
        for index in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(index)
            if item is not None:
                item.setSelected(item.data(0, _PATH_ROLE) in wanted)

    # -- slots ----------------------------------------------------------------------------
    def _on_table_selection_changed(self) -> None:
        runs = self.selected_runs()
        self.open_button.setEnabled(len(runs) == 1)
        self.compare_button.setEnabled(len(runs) == 2 and all(r.reconstruction for r in runs))
        self.resume_button.setEnabled(len(runs) == 1 and runs[0].resumable
                                      and runs[0].path != self.running)
        self.settings_button.setEnabled(len(runs) == 1 and runs[0].session_file.is_file())
        self.load_settings_button.setEnabled(self.settings_button.isEnabled())
        self.diff_button.setEnabled(len(runs) == 2
                                    and all(r.session_file.is_file() for r in runs))
        self.infer_button.setEnabled(len(runs) == 1 and runs[0].path != self.running
                                     and run_checkpoint(runs[0]) is not None)
        details = self._details(runs[0]) if len(runs) == 1 else ""
        self.details.setText(details)
        self.details.setToolTip(details)

    @staticmethod
    def _details(run: RunInfo) -> str:
        lines = [str(run.path)]
        if run.data_file:
            lines.append(f"data: {run.data_file}")
        if run.ground_truth:
            lines.append(f"ground truth: {run.ground_truth}")
        if run.error:
            lines.append(f"error: {run.error}")
        if run.reconstruction is None:
            lines.append("no reconstruction was written")
        lines += run.problems
        return " · ".join(lines)

    def _on_open_button_clicked(self) -> None:
        runs = self.selected_runs()
        if len(runs) == 1:
            self.open_requested.emit(runs[0].path)

    def _on_compare_button_clicked(self) -> None:
        runs = self.selected_runs()
        if len(runs) == 2:
            self.compare_requested.emit(runs[0].path, runs[1].path)

    def _on_resume_button_clicked(self) -> None:
        runs = self.selected_runs()
        if len(runs) == 1 and runs[0].resumable:
            self.resume_requested.emit(runs[0].path)

    def _on_settings_button_clicked(self) -> None:
        runs = self.selected_runs()
        if len(runs) == 1:
            self.settings_requested.emit(runs[0].path)

    def _on_load_settings_button_clicked(self) -> None:
        runs = self.selected_runs()
        if len(runs) == 1:
            self.load_settings_requested.emit(runs[0].path)

    def _on_diff_button_clicked(self) -> None:
        runs = self.selected_runs()
        if len(runs) == 2:
            self.diff_requested.emit(runs[1].path, runs[0].path)  # older first

    def _on_infer_button_clicked(self) -> None:
        runs = self.selected_runs()
        if len(runs) == 1:
            self.infer_requested.emit(runs[0].path)

    def _on_table_item_double_clicked(self, item: QTreeWidgetItem, _: int) -> None:
        path = item.data(0, _PATH_ROLE)
        if path:
            self.open_requested.emit(Path(path))
