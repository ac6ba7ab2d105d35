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

from ..model.imaging import log_counts, robust_levels
from ..model.units import COMPONENT_UNITS
from ..qtenv import pyqtgraph_module
from .image_panel import LINEAR_MAP, add_image_plot, show_plot_axes
from .physical import FitGroup, label_colorbar
from .widgets import FluidLabel

pg = pyqtgraph_module()

MASK_COLOUR = (230, 20, 60, 200)
"""Bad detector pixels are drawn over the pattern in this RGBA colour."""


def mask_rgba(bad: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool -> ``(H, W, 4)`` uint8: :data:`MASK_COLOUR` on bad pixels, clear
    elsewhere (an overlay drawn over the pattern)."""
    rgba = np.zeros((*bad.shape, 4), dtype=np.uint8)
    rgba[np.asarray(bad, dtype=bool)] = MASK_COLOUR
    return rgba


def add_mask_overlay(plot: Any) -> Any:
    """An image item over ``plot``'s image for :func:`mask_rgba` overlays (hidden at first)."""
    item = pg.ImageItem()
    item.setZValue(10)
    item.setVisible(False)
    plot.addItem(item)
    return item


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
        self.bad_pixels: np.ndarray | None = None  # the data's detector mask (True = bad)
        self.mask_box = QCheckBox("mask")
        self.mask_box.setChecked(True)
        self.mask_box.setToolTip("Draw the data's bad detector pixels (never in a loss) in red")
        self.mask_box.setEnabled(False)
        self.info = FluidLabel("No data: choose a data file in Data > path.")
        self.readout = FluidLabel("")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Pattern"))
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.index_box)
        controls.addWidget(self.log_box)
        controls.addWidget(self.mask_box)
        self.graphics = pg.GraphicsLayoutWidget()
        self.plot, self.image, self.colorbar = add_image_plot(
            self.graphics, LINEAR_MAP, COMPONENT_UNITS["log counts"])
        self.mask_item = add_mask_overlay(self.plot)
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
        self.mask_box.toggled.connect(lambda _: self._show_mask())
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
        self.set_mask(None)

    def set_mask(self, bad_pixels: np.ndarray | None) -> None:
        """The data's bad detector pixels (``(H, W)``, True = bad; None: no mask), drawn in
        red over every pattern while "mask" is ticked."""
        self.bad_pixels = None if bad_pixels is None else np.asarray(bad_pixels, dtype=bool)
        count = 0 if self.bad_pixels is None else int(self.bad_pixels.sum())
        self.mask_box.setEnabled(count > 0)
        self.mask_box.setText(f"mask ({count} px)" if count else "mask")
        if self.bad_pixels is not None:
            self.mask_item.setImage(mask_rgba(self.bad_pixels), autoLevels=False)
        self._show_mask()

    @property
    def mask_shown(self) -> bool:
        """The red mask overlay is drawn over the pattern."""
        return bool(self.mask_item.isVisible())

    def _show_mask(self) -> None:
        bad = self.bad_pixels
        fits = (bad is not None and self.counts is not None and bad.shape == self.counts.shape
                and bool(bad.any()))
        self.mask_item.setVisible(fits and self.mask_box.isChecked())

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
        text = f"pattern {self.index}, (x={col}, y={row}): {self.counts[row, col]:.6g} counts"
        if self.bad_pixels is not None and self.bad_pixels.shape == self.counts.shape \
                and self.bad_pixels[row, col]:
            text += " (masked: never in a loss)"
        return text

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
        self._show_mask()

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
