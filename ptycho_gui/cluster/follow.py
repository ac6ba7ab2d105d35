"""Runs > Follow a run folder: a window that follows a run another process writes (a cluster job).

:class:`FollowWindow` polls :func:`engine.runs_index.watch_run` with a ``QTimer``. A poll that
finds nothing changed costs a few ``stat`` calls, so it runs on the GUI thread; only a poll
that sees a file change reads the folder (small JSON/CSV files and the two PNG figures). The
writer's lock is never taken: the job is never held up by the window. Shown: the status
(queued, running with its epoch, completed...), "updated N s ago" (the newest file's
modification time), the loss curves of ``metrics.csv`` and the run's amplitude and phase
figures once it writes them. A training run writes its figures only when it ends (its live
estimate stays in the job's memory, the folder holds only ``metrics.csv`` and checkpoints
meanwhile), and the placeholders say so.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from engine.runs_index import (
    AMPLITUDE_PNG,
    INCOMPLETE,
    PHASE_PNG,
    RunState,
    loss_history,
    watch_run,
)

from ..views.loss_view import LossView
from ..views.widgets import FluidLabel

POLL_INTERVAL_MS = 2000
"""Time between two polls of the followed folder."""

NO_FIGURE_YET = ("not written yet: a run writes its figures when it ends (until then its "
                 "epochs and losses show its progress)")


def describe_status(state: RunState) -> str:
    """One line: "queued…", "running · epoch 3/10 · train loss 0.25", "completed · 10 epochs"."""
    epochs, total = state.epochs, state.info.max_epochs
    count = f"{epochs}/{total}" if epochs is not None and total else str(epochs or 0)
    if not state.stamps:
        return "no run files in this folder (yet)"
    if state.status == INCOMPLETE:
        if not state.started:
            return "queued: waiting for the job to start writing"
        parts = ["running", f"epoch {count}"]
        loss = (state.latest_metrics or {}).get("train_loss")
        if isinstance(loss, float) and math.isfinite(loss):
            parts.append(f"train loss {loss:.4g}")
        return " · ".join(parts)
    text = f"{state.status} · {epochs if epochs is not None else '?'} epochs"
    if state.info.quality_text:
        text += f" · {state.info.quality_text}"
    if state.info.error:
        text += f" · {state.info.error}"
    return text


def describe_age(seconds: float | None) -> str:
    """ "updated 12 s ago", "updated 3 min ago", "no files yet"."""
    if seconds is None:
        return "no files yet"
    if seconds < 120:
        return f"updated {seconds:.0f} s ago"
    if seconds < 7200:
        return f"updated {seconds / 60:.0f} min ago"
    return f"updated {seconds / 3600:.1f} h ago"


class _Picture(QLabel):
    """A PNG figure scaled to the label (never widening the window)."""

    def __init__(self, caption: str) -> None:
        super().__init__(f"{caption}: {NO_FIGURE_YET}")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMinimumSize(160, 160)
        self.source = QPixmap()

    def show_file(self, path: Path) -> bool:
        pixmap = QPixmap(str(path))
        if pixmap.isNull():
            return False
        self.source = pixmap
        self._rescale()
        return True

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if not self.source.isNull():
            self.setPixmap(self.source.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                              Qt.TransformationMode.SmoothTransformation))


class FollowWindow(QWidget):
    """A top-level window following the run folder ``folder`` until it is closed.

    Attributes
    ----------
    state
        The last :class:`~engine.runs_index.RunState` seen (None before the first poll).
    last_poll_ms
        How long the last poll took on the GUI thread.
    """

    def __init__(self, folder: str | Path, interval_ms: int = POLL_INTERVAL_MS,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.folder = Path(folder).expanduser().resolve()
        self.setObjectName("follow-window")
        self.setWindowTitle(f"Following {self.folder.name} — {self.folder}")
        self.resize(900, 640)
        self.state: RunState | None = None
        self.last_poll_ms = 0.0
        self._epochs_shown: list[int] = []
        self.status_label = FluidLabel("")
        self.status_label.setObjectName("follow-status")
        self.age_label = QLabel("")
        self.age_label.setObjectName("follow-age")
        self.problems_label = FluidLabel("")
        self.problems_label.setStyleSheet("color: #d32f2f;")
        self.amplitude = _Picture("amplitude")
        self.phase = _Picture("phase")
        self.loss_view = LossView()
        header = QHBoxLayout()
        header.addWidget(self.status_label, 1)
        header.addWidget(self.age_label)
        pictures = QHBoxLayout()
        pictures.addWidget(self.amplitude)
        pictures.addWidget(self.phase)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.problems_label)
        layout.addLayout(pictures, 3)
        layout.addWidget(self.loss_view, 2)
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.poll)
        self.timer.start()
        self.poll()

    def poll(self) -> None:
        """Look at the folder once; update what changed, and the age of the newest file."""
        start = time.perf_counter()
        changes = watch_run(self.folder, self.state)
        self.state = state = changes.state
        if changes.changed:
            self.status_label.setText(describe_status(state))
            self.problems_label.setText("; ".join(state.info.problems))
        if changes.changed & {"epochs", "metrics"}:
            self._show_losses(*loss_history(self.folder))
        if "image" in changes.changed:
            for picture, name in ((self.amplitude, AMPLITUDE_PNG), (self.phase, PHASE_PNG)):
                if (self.folder / name).is_file():
                    picture.show_file(self.folder / name)
        self.age_label.setText(describe_age(state.seconds_since_update()))
        self.last_poll_ms = (time.perf_counter() - start) * 1000

    def _show_losses(self, epochs: list[int], values: dict[str, list[float]]) -> None:
        """Append the new epochs' losses (redrawing the whole plot costs ~40 ms); a history
        that does not continue the one shown (a run started again) replaces it."""
        shown = len(self._epochs_shown)
        if epochs[:shown] == self._epochs_shown:
            for i in range(shown, len(epochs)):
                self.loss_view.add_metrics(epochs[i], {k: v[i] for k, v in values.items()})
        else:
            self.loss_view.set_history(epochs, values)
        self._epochs_shown = list(epochs)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.timer.stop()
        super().closeEvent(event)
