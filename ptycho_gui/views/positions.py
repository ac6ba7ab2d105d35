"""Scan positions over the object: a scatter of window centres on the object's amplitude."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from engine.render import format_length

from ..model.units import PixelSize, valid_pixel_size
from ..qtenv import pyqtgraph_module
from .image_panel import LINEAR_MAP, qt_colormap
from .physical import FitGroup, attach_scale_bar, set_physical_axes
from .widgets import FluidLabel

pg = pyqtgraph_module()


class PositionsView(QWidget):
    """Positions in object pixels (x = column, y = row, window centres); with the object's
    pixel size the axes, the scale bar and the scan extent are in metres.

    A pixel's centre is at integer coordinates in the engine's convention while pyqtgraph
    draws pixel i over [i, i + 1); markers are shifted by half a pixel so that they sit on
    the pixel centres of the image below.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget()
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)
        self.pixel_size: PixelSize = None
        self.fit_group = FitGroup(self)
        self.fit_group.add(self.plot)
        set_physical_axes(self.plot, None)
        self.scale_bar = attach_scale_bar(self.plot)
        self.background = pg.ImageItem()
        self.background.setColorMap(qt_colormap(LINEAR_MAP))
        self.plot.addItem(self.background)
        dashed = pg.mkPen("#888888", width=1, style=Qt.PenStyle.DashLine)
        self.outline = pg.PlotCurveItem(pen=dashed)
        self.plot.addItem(self.outline)
        self.scatter = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(255, 80, 80, 200))
        self.plot.addItem(self.scatter)
        self.info = FluidLabel("No positions yet.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.info)
        self.positions: np.ndarray | None = None
        self.object_shape: tuple[int, int] | None = None

    def set_pixel_size(self, pixel_size: object) -> None:
        """The object's pixel ``(width, height)`` in metres (None: pixels)."""
        self.pixel_size = valid_pixel_size(pixel_size)
        set_physical_axes(self.plot, self.pixel_size)
        self.scale_bar.set_pixel_size(self.pixel_size)
        if self.positions is not None:
            self._update_info()

    def set_positions(self, positions: np.ndarray, object_shape: tuple[int, int] | None = None,
                      background: np.ndarray | None = None) -> None:
        """Show ``positions`` (M, 2) over an object of ``object_shape`` (H, W)."""
        self.positions = np.asarray(positions, dtype=np.float64)
        self.object_shape = object_shape
        self.scatter.setData(self.positions[:, 0] + 0.5, self.positions[:, 1] + 0.5)
        if object_shape is not None:
            h, w = object_shape
            self.outline.setData([0, w, w, 0, 0], [0, 0, h, h, 0])
        if background is not None:
            amp = np.abs(np.asarray(background)).astype(np.float32)
            self.background.setImage(amp, autoLevels=False,
                                     levels=_finite_range(amp))
        else:
            self.background.clear()
        self._update_info()
        self.fit_group.refit()

    def _update_info(self) -> None:
        positions, shape = self.positions, self.object_shape
        if positions is None:
            return
        extent = np.ptp(positions, axis=0) if len(positions) else np.zeros(2)
        text = f"{len(positions)} positions, extent {extent[0]:.1f} x {extent[1]:.1f} px"
        if self.pixel_size is not None:
            text += (f" = {format_length(extent[0] * self.pixel_size[0])} x "
                     f"{format_length(extent[1] * self.pixel_size[1])}")
        if shape:
            text += f", object {shape[1]} x {shape[0]} px"
            if self.pixel_size is not None:
                text += (f" = {format_length(shape[1] * self.pixel_size[0])} x "
                         f"{format_length(shape[0] * self.pixel_size[1])}, pixel "
                         f"{format_length(self.pixel_size[0])}")
        self.info.setText(text)

    def set_background(self, obj: np.ndarray) -> None:
        """Replace the image under the positions (e.g. with the latest reconstruction)."""
        amp = np.abs(np.asarray(obj)).astype(np.float32)
        self.background.setImage(amp, autoLevels=False, levels=_finite_range(amp))

    def clear(self) -> None:
        self.positions = None
        self.object_shape = None
        self.scatter.clear()
        self.outline.setData([], [])
        self.background.clear()
        self.info.setText("No positions yet.")


def _finite_range(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return (0.0, 1.0)
    low, high = float(finite.min()), float(finite.max())
    return (low, high if high > low else low + 1.0)
