"""File > Declare data layout…: say where a beamline's NPZ/HDF5 keeps its patterns, positions,
probe and mask, and how they are stored, with a live preview of what the engine reads.

The dialog lists the file's arrays (:func:`engine.io.list_arrays`: key, shape, dtype), offers
them for the ``data.layout_*`` settings (the ``[data.layout]`` table of a session file) and
shows, as the choices change:

- pattern 0 as stored in the file (:func:`engine.io.read_array`),
- pattern 0 as the engine reads it with these settings (``data.fftshifted`` applied: the zero
  frequency in the centre) with its detector mask drawn over it in red,
- the scan positions as the engine reads them (order, origin and unit applied).

The preview loads on a thread of its own (:func:`engine.io.load_dataset` with the declared
settings); its refusals are shown in the dialog. OK writes the settings into the session
document (GUI edits, saved with the session).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.config import GUI_SOURCE, DataConfig, field_specs
from engine.errors import EngineError
from engine.reporting import Reporter

from .document import SessionDocument
from .model.imaging import log_counts, robust_levels
from .qtenv import pyqtgraph_module
from .views.image_panel import LINEAR_MAP, add_image_plot
from .views.patterns import add_mask_overlay, mask_rgba
from .views.positions import PositionsView
from .worker import Job, JobOutcome, JobRunner

pg = pyqtgraph_module()

KEY_FIELDS = ("layout_patterns", "layout_positions", "layout_probe", "layout_mask")
"""Settings naming an array of the file (chosen from its list)."""

CHOICE_FIELDS = ("layout_position_order", "layout_position_origin", "layout_position_units",
                 "fftshifted")
"""Settings with a fixed set of choices (from the schema)."""

TEXT_FIELDS = ("mask_values",)

PREVIEW_DELAY_MS = 300
"""The preview is read this long after the last change."""


@dataclasses.dataclass
class LayoutPreview:
    """What the preview shows (read on the worker thread)."""

    stored: np.ndarray | None = None
    read: np.ndarray | None = None
    bad_pixels: np.ndarray | None = None
    positions: np.ndarray | None = None
    object_shape: tuple[int, int] | None = None
    n_patterns: int = 0
    messages: list[str] = dataclasses.field(default_factory=list)
    error: str = ""


def read_layout_preview(cfg: DataConfig) -> LayoutPreview:
    """Pattern 0 as stored and as read, the detector mask and the positions for ``cfg``
    (problems become ``error``; nothing raises for a bad choice)."""
    from engine.io import load_dataset, read_array

    preview = LayoutPreview()
    try:
        preview.stored = np.asarray(read_array(cfg.path, cfg.layout_patterns, cfg, first=True),
                                    dtype=np.float32)
    except EngineError as exc:
        preview.error = str(exc)
        return preview
    try:
        data = load_dataset(cfg)
    except EngineError as exc:
        preview.error = str(exc)
        return preview
    preview.read = np.asarray(data.patterns[0], dtype=np.float32)
    preview.bad_pixels = None if data.bad_pixels is None else np.asarray(data.bad_pixels)
    preview.positions = np.asarray(data.positions)
    rows, cols = data.object_shape
    preview.object_shape = (int(rows), int(cols))
    preview.n_patterns = int(data.n_patterns)
    preview.messages = list(dict.fromkeys(str(w) for w in data.warnings))
    return preview


class LayoutDialog(QDialog):
    """The declared-layout settings of the data file ``cfg.path``, with a live preview."""

    def __init__(self, cfg: DataConfig, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Declare data layout")
        self.setObjectName("layout-dialog")
        self.cfg = cfg
        self.preview: LayoutPreview | None = None
        self.runner = JobRunner("layout-preview", self)
        self.runner.finished.connect(self._on_preview_finished)
        self._again = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PREVIEW_DELAY_MS)
        self._timer.timeout.connect(self.refresh_preview)
        specs = field_specs()
        self.arrays = QTreeWidget()
        self.arrays.setHeaderLabels(["Array (key or dataset)", "Shape", "Type"])
        self.arrays.setRootIsDecorated(False)
        self.arrays.setToolTip("The arrays of the file: pick them in the settings on the right")
        self.file_error = QLabel("")
        self.file_error.setWordWrap(True)
        self.file_error.setStyleSheet("color: #b00020")
        keys = self._list_arrays()
        form = QFormLayout()
        self.editors: dict[str, QComboBox | QLineEdit] = {}
        self.key_boxes: dict[str, QComboBox] = {}
        for name in KEY_FIELDS:
            box = QComboBox()
            box.setEditable(True)  # a path the list missed can still be typed
            box.addItems([""] + keys)
            box.setCurrentText(str(getattr(cfg, name)))
            box.currentTextChanged.connect(self._changed)
            self.editors[name] = self.key_boxes[name] = box
        for name in CHOICE_FIELDS:
            box = QComboBox()
            box.addItems([str(c) for c in specs[f"data.{name}"].meta.choices or ()])
            box.setCurrentText(str(getattr(cfg, name)))
            box.currentTextChanged.connect(self._changed)
            self.editors[name] = box
        for name in TEXT_FIELDS:
            line = QLineEdit(str(getattr(cfg, name)))
            line.textChanged.connect(self._changed)
            self.editors[name] = line
        for name, editor in self.editors.items():
            spec = specs[f"data.{name}"]
            editor.setToolTip(spec.meta.help)
            form.addRow(name.removeprefix("layout_").replace("_", " "), editor)
        if not cfg.layout_patterns:
            self._guess_keys(keys)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.graphics = pg.GraphicsLayoutWidget()
        self.stored_plot, self.stored_image, self.stored_bar = add_image_plot(
            self.graphics, LINEAR_MAP, "log10(1 + counts)", row=0, col=0)
        self.stored_plot.setTitle("pattern 0 as stored")
        self.read_plot, self.read_image, self.read_bar = add_image_plot(
            self.graphics, LINEAR_MAP, "log10(1 + counts)", row=0, col=1)
        self.read_plot.setTitle("as read (mask in red)")
        self.mask_item = add_mask_overlay(self.read_plot)
        self.positions_view = PositionsView()
        top = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(QLabel(f"<b>{Path(cfg.path).name}</b>"))
        left.addWidget(self.arrays, 1)
        left.addWidget(self.file_error)
        top.addLayout(left, 1)
        top.addLayout(form, 1)
        views = QHBoxLayout()
        views.addWidget(self.graphics, 2)
        views.addWidget(self.positions_view, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(views, 1)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        screen = self.screen().availableGeometry()  # 1280 x 800 screens too
        self.resize(min(1200, int(screen.width() * 0.92)), min(780, int(screen.height() * 0.9)))
        self._changed()

    # -- the file's arrays ----------------------------------------------------------------
    def _list_arrays(self) -> list[str]:
        from engine.io import list_arrays

        try:
            rows = list_arrays(self.cfg.path, self.cfg)
        except EngineError as exc:
            self.file_error.setText(str(exc))
            return []
        for row in rows:
            item = QTreeWidgetItem([row.key, " × ".join(map(str, row.shape)) or "scalar",
                                    row.dtype])
            self.arrays.addTopLevelItem(item)
        for column in range(3):
            self.arrays.resizeColumnToContents(column)
        return [row.key for row in rows]

    def _guess_keys(self, keys: list[str]) -> None:
        """Pre-select the arrays whose shape fits when nothing is declared yet: the largest
        3-D or more array as patterns, an array of (..., M, 2+) as positions."""
        from engine.io import list_arrays

        try:
            rows = list_arrays(self.cfg.path, self.cfg)
        except EngineError:
            return
        stacks = [r for r in rows if len(r.shape) >= 3 and "complex" not in r.dtype]
        if not stacks:
            return
        patterns = max(stacks, key=lambda r: int(np.prod(r.shape)))
        count = [s for s in patterns.shape[:-2] if s != 1]
        self.key_boxes["layout_patterns"].setCurrentText(patterns.key)
        for row in rows:
            shape = [s for s in row.shape if s != 1]
            if len(shape) == 2 and shape[-1] in (2, 3) and count and shape[0] == count[-1]:
                self.key_boxes["layout_positions"].setCurrentText(row.key)
                break

    # -- values and preview ---------------------------------------------------------------
    def values(self) -> dict[str, str]:
        """``{"data.layout_patterns": ..., ...}``: the settings as chosen in the dialog."""
        out = {}
        for name, editor in self.editors.items():
            text = editor.currentText() if isinstance(editor, QComboBox) else editor.text()
            out[f"data.{name}"] = text.strip()
        return out

    def data_config(self) -> DataConfig:
        changes: dict[str, Any] = {k.removeprefix("data."): v for k, v in self.values().items()}
        return dataclasses.replace(self.cfg, **changes)

    def _changed(self, *_: Any) -> None:
        self._timer.start()

    def refresh_preview(self) -> None:
        """Read the preview with the current choices (on the dialog's thread of work)."""
        self._timer.stop()
        cfg = self.data_config()
        if not cfg.layout_patterns:
            self.message.setText("Choose the array of the patterns (and of the positions).")
            return
        if self.runner.busy:
            self._again = True  # read again once the running preview ends
            return

        def run(reporter: Reporter, stop: threading.Event) -> LayoutPreview:
            return read_layout_preview(cfg)

        self.message.setText("Reading…")
        self.runner.start(Job("layout-preview", run, {}))

    def _on_preview_finished(self, outcome: JobOutcome) -> None:
        if self._again:
            self._again = False
            self.refresh_preview()
            return
        if outcome.status == "failed":
            self.show_preview(LayoutPreview(error=outcome.error))
        elif isinstance(outcome.result, LayoutPreview):
            self.show_preview(outcome.result)

    def show_preview(self, preview: LayoutPreview) -> None:
        self.preview = preview
        for image, bar, data in ((self.stored_image, self.stored_bar, preview.stored),
                                 (self.read_image, self.read_bar, preview.read)):
            if data is None or data.ndim != 2:
                image.clear()
                continue
            shown = log_counts(data)
            image.setImage(shown, autoLevels=False)
            bar.setLevels(robust_levels(shown, "counts"))
        if preview.read is not None and preview.bad_pixels is not None \
                and preview.bad_pixels.shape == preview.read.shape:
            self.mask_item.setImage(mask_rgba(preview.bad_pixels), autoLevels=False)
            self.mask_item.setVisible(True)
        else:
            self.mask_item.setVisible(False)
        if preview.positions is not None and len(preview.positions):
            self.positions_view.set_positions(preview.positions, preview.object_shape)
        if preview.error:
            self.message.setStyleSheet("color: #b00020")
            self.message.setText(preview.error)
            return
        self.message.setStyleSheet("")
        masked = 0 if preview.bad_pixels is None else int(np.count_nonzero(preview.bad_pixels))
        lines = [f"{preview.n_patterns} patterns of {preview.read.shape[0]} × "
                 f"{preview.read.shape[1]} px; {masked} masked pixels"
                 if preview.read is not None else ""]
        self.message.setText("\n".join(lines + preview.messages))

    def done(self, result: int) -> None:  # noqa: D102 (Qt override: the thread ends with it)
        self.runner.shutdown(10.0)
        super().done(result)


def apply_layout(document: SessionDocument, values: dict[str, str]) -> list[str]:
    """Write the dialog's settings into ``document`` (GUI edits); the keys that changed."""
    config = document.config.data
    changed = [key for key, value in values.items()
               if getattr(config, key.removeprefix("data.")) != value]
    for key in changed:
        document.set_value(key, values[key], GUI_SOURCE)
    return changed


def open_layout_dialog(window: Any, document: SessionDocument,
                       applied: Callable[[], object] | None = None) -> LayoutDialog | None:
    """File > Declare data layout…: open the dialog for ``data.path`` (window-modal, the
    event loop keeps going); OK writes the settings into ``document``, shows them in the
    window's form and calls ``applied`` (the data preview reads the file again). Without a
    data file, says so in the status bar and opens nothing."""
    config = document.config.data
    if not config.path:
        window.show_state("Declare layout: choose a data file first (Data > path)", error=True)
        return None
    dialog = LayoutDialog(config, window)

    def accepted() -> None:
        changed = apply_layout(document, dialog.values())
        for key in changed:
            window.show_value(key, getattr(document.config.data, key.removeprefix("data.")))
        if changed:
            window.log("info", "Declared layout: " + ", ".join(
                f"{key} = {dialog.values()[key]!r}" for key in changed))
            if applied is not None:
                applied()

    dialog.accepted.connect(accepted)
    dialog.open()
    return dialog
