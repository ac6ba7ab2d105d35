"""Diffraction pattern browser: index slider, log scale, read-out of the counts under the mouse."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..qtenv import pyqtgraph_module
from .image_panel import LINEAR_MAP, add_image_plot, show_plot_axes
from .imaging import log_counts, robust_levels
from .physical import FitGroup, label_colorbar
from .units import COMPONENT_UNITS
from .widgets import FluidLabel

pg = pyqtgraph_module()


class PatternBrowser(QWidget):
    """Browse patterns of any array-like ``(M, N, N)`` source (numpy or lazy h5py-backed).

    Only the pattern shown is read, so a lazy source is never loaded whole.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._source: Any = None
        self._count = 0
        self.counts: np.ndarray | None = None  # the raw counts of the pattern shown
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.index_box = QSpinBox()
        self.log_box = QCheckBox("log scale")
        self.log_box.setChecked(True)
        self.info = FluidLabel("No data: choose a data file in Data > path.")
        self.readout = FluidLabel("")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Pattern"))
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.index_box)
        controls.addWidget(self.log_box)
        self.graphics = pg.GraphicsLayoutWidget()
        self.plot, self.image, self.colorbar = add_image_plot(
            self.graphics, LINEAR_MAP, COMPONENT_UNITS["log counts"])
        self.fit_group = FitGroup(self)
        self.fit_group.add(self.plot)
        footer = QHBoxLayout()
        footer.addWidget(self.info, 1)
        footer.addWidget(self.readout, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.graphics, 1)
        layout.addLayout(footer)
        self.slider.valueChanged.connect(self.index_box.setValue)
        self.index_box.valueChanged.connect(self.slider.setValue)
        self.index_box.valueChanged.connect(self._on_index_box_changed)
        self.log_box.toggled.connect(self._on_log_box_toggled)
        self.graphics.scene().sigMouseMoved.connect(self._on_scene_mouse_moved)
        self._set_count(0)
        show_plot_axes(self.plot, self.colorbar, False)  # until the first pattern

    def set_patterns(self, source: Any, label: str = "") -> None:
        """Browse ``source`` (indexable by int, with ``len``); shows pattern 0."""
        self._source = source
        self._set_count(len(source) if source is not None else 0)
        self.info.setText(label)
        if self._count:
            self.show_index(0, fit=True)
        else:
            self.counts = None
            self.image.clear()
            show_plot_axes(self.plot, self.colorbar, False)

    def clear(self) -> None:
        self.set_patterns(None, "No data: choose a data file in Data > path.")

    @property
    def index(self) -> int:
        return self.index_box.value()

    def show_index(self, index: int, fit: bool = False) -> None:
        """Show pattern ``index``."""
        if not self._count:
            return
        if index != self.index_box.value():
            self.index_box.setValue(index)  # re-enters through the signal
            return
        self.counts = np.asarray(self._source[index], dtype=np.float32)
        self._draw(fit)

    def readout_at(self, row: int, col: int) -> str:
        """The text shown when hovering pixel (row, col): counts of the raw pattern."""
        if self.counts is None or not (0 <= row < self.counts.shape[0]
                                       and 0 <= col < self.counts.shape[1]):
            return ""
        return f"pattern {self.index}, (x={col}, y={row}): {self.counts[row, col]:.6g} counts"

    def _set_count(self, count: int) -> None:
        self._count = count
        top = max(0, count - 1)
        for widget in (self.slider, self.index_box):
            widget.blockSignals(True)
            widget.setRange(0, top)
            widget.setValue(0)
            widget.blockSignals(False)
        self.slider.setEnabled(count > 1)
        self.index_box.setEnabled(count > 1)

    def _draw(self, fit: bool) -> None:
        if self.counts is None:
            return
        log = self.log_box.isChecked()
        shown = log_counts(self.counts) if log else self.counts
        label_colorbar(self.colorbar, COMPONENT_UNITS["log counts" if log else "counts"])
        first = self.image.image is None
        show_plot_axes(self.plot, self.colorbar, True)
        self.image.setImage(shown, autoLevels=False)
        if first or fit:
            self.colorbar.setLevels(robust_levels(shown, "counts"))
            self.fit_group.refit()

    def _on_index_box_changed(self, index: int) -> None:
        if self._count:
            self.show_index(index)

    def _on_log_box_toggled(self, _: bool) -> None:
        self._draw(fit=True)

    def _on_scene_mouse_moved(self, pos: Any) -> None:
        if self.counts is None:
            return
        point = self.image.mapFromScene(pos)
        self.readout.setText(self.readout_at(int(np.floor(point.y())), int(np.floor(point.x()))))
