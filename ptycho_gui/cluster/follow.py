"""Runs > Follow a run folder: a window that follows a run another process writes (a cluster job).

:class:`FollowWindow` polls :func:`engine.runs_index.watch_run` with a ``QTimer``. A poll that
finds nothing changed costs a few ``stat`` calls, so it runs on the GUI thread; only a poll
that sees a file change reads the folder (small JSON/CSV files and the two PNG figures). The
writer's lock is never taken: the job is never held up by the window. Shown: the status
(queued, running with its epoch, completed...), "updated N s ago" (the newest file's
modification time), the loss curves of ``metrics.csv`` and the run's amplitude and phase.
While the job trains, the pictures are its live preview (``live/preview.npz``, which a run
keeps up to date every few seconds: :mod:`engine.live_preview`) with its stage, epoch and
age; when it ends, its own figures (``amplitude.png``, ``phase.png``). The preview is read
only when its modification time changed (a ~2 MB file at most: a few ms); a frame that cannot
be read (replaced or removed mid-read) is tried again at the next poll, the last good one
staying on screen.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from engine.live_preview import LiveFrame, read_live_preview
from engine.render import LINEAR_MAP, PHASE_DISPLAY, colorize, robust_levels
from engine.runs_index import (
    AMPLITUDE_PNG,
    INCOMPLETE,
    LIVE_PREVIEW,
    PHASE_PNG,
    RunState,
    loss_history,
    watch_run,
)

from ..views.loss_view import LossView
from ..views.widgets import FluidLabel

POLL_INTERVAL_MS = 2000
"""Time between two polls of the followed folder."""

NO_FIGURE_YET = ("nothing to show yet: the live preview appears with the job's first "
                 "training frame, the run's figures when it ends")


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
    return f"updated {_ago(seconds)}"


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def describe_live(frame: LiveFrame, now: float | None = None) -> str:
    """ "live preview · train · epoch 3 · step 120 · updated 4 s ago"."""
    age = max(0.0, (time.time() if now is None else now) - frame.time)
    parts = ["live preview", frame.stage or "?", f"epoch {frame.epoch + 1}",
             f"step {frame.step}", f"updated {_ago(age)}"]
    if frame.binning > 1:
        parts.append(f"every {frame.binning}th pixel")
    return " · ".join(parts)


def _pixmap(rgb: np.ndarray) -> QPixmap:
    """An ``(H, W, 3)`` uint8 picture as a pixmap."""
    rgb = np.ascontiguousarray(rgb)
    height, width = rgb.shape[:2]
    image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


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
        return self.show_pixmap(QPixmap(str(path)))

    def show_pixmap(self, pixmap: QPixmap) -> bool:
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
    live
        The live preview frame on screen (None when the pictures are the run's figures or
        nothing).
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
        self.live: LiveFrame | None = None
        self._live_mtime: float | None = None  # of the preview file last read successfully
        self.status_label = FluidLabel("")
        self.status_label.setObjectName("follow-status")
        self.age_label = QLabel("")
        self.age_label.setObjectName("follow-age")
        self.problems_label = FluidLabel("")
        self.problems_label.setStyleSheet("color: #d32f2f;")
        self.live_label = FluidLabel("")
        self.live_label.setObjectName("follow-live")
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
        layout.addWidget(self.live_label)
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
        if state.image == self.folder / LIVE_PREVIEW:
            # Read again while the last try failed (replaced or removed mid-read).
            if state.image_mtime != self._live_mtime:
                self._show_live(state.image_mtime)
        elif "image" in changes.changed:
            self.live, self._live_mtime = None, None
            self.live_label.setText("")
            for picture, name in ((self.amplitude, AMPLITUDE_PNG), (self.phase, PHASE_PNG)):
                if (self.folder / name).is_file():
                    picture.show_file(self.folder / name)
        if self.live is not None:
            self.live_label.setText(describe_live(self.live))
        self.age_label.setText(describe_age(state.seconds_since_update()))
        self.last_poll_ms = (time.perf_counter() - start) * 1000

    def _show_live(self, mtime: float | None) -> None:
        """Show the live preview file; on a failed read keep what is shown (next poll retries)."""
        frame = read_live_preview(self.folder)
        if frame is None:
            return
        # Drawn as on screen (engine.render), from the stored components: no complex array.
        amplitude = colorize(frame.amplitude, LINEAR_MAP,
                             robust_levels(frame.amplitude, "amplitude"))
        self.amplitude.show_pixmap(_pixmap(amplitude))
        self.phase.show_pixmap(_pixmap(colorize(frame.phase, PHASE_DISPLAY.cmap,
                                                PHASE_DISPLAY.levels)))
        self.live, self._live_mtime = frame, mtime

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
