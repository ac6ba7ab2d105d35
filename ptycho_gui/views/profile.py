"""The line-profile tool: a line drawn on an image plot and the values along it, in metres."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from engine.render import format_length

from ..model.units import PixelSize, line_profile
from ..qtenv import pyqtgraph_module
from .physical import AXIS_WIDTH
from .widgets import FluidLabel

pg = pyqtgraph_module()

ImageSource = Callable[[], "np.ndarray | None"]


class LineProfile(QWidget):
    """A plot of the image values along a draggable line (``LineSegmentROI``) on ``plot``.

    ``source`` returns the scalar image shown (``(H, W)``, or None). The line lives in view
    coordinates where pixel ``(r, c)`` covers ``[c, c + 1) x [r, r + 1)``; its ends can be
    dragged, the whole line moved.

    Signals
    -------
    changed()
        The profile was recomputed (line moved, new image).
    """

    changed = Signal()

    def __init__(self, plot: Any, source: ImageSource, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("line-profile")
        self._image_plot = plot
        self._source = source
        self.pixel_size: PixelSize = None
        self.value_label = "value"
        self.roi: Any = None
        self.distance = np.zeros(0)
        self.values = np.zeros(0)
        self.plot_widget = pg.PlotWidget()
        # Short: the images above keep most of the height (a 1280 x 800 screen included).
        self.plot_widget.setMinimumHeight(90)
        self.plot_widget.setMaximumHeight(160)
        self.plot = self.plot_widget.getPlotItem()
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        values_axis = self.plot.getAxis("left")
        values_axis.enableAutoSIPrefix(False)  # "phase (rad)", never "(x0.001)"
        values_axis.setWidth(AXIS_WIDTH)
        self.curve = self.plot.plot([], [], pen=pg.mkPen("#ffb000", width=2))
        # The read-out never widens the window (it did, past a 1280-px screen).
        self.info = FluidLabel("")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.info)
        self._label_axes()

    # -- line -----------------------------------------------------------------------------
    def show_line(self, start: tuple[float, float] | None = None,
                  end: tuple[float, float] | None = None) -> None:
        """Put the line on the image (default: across the middle row of the image, from 10 %
        to 90 % of its width, wherever the view is)."""
        if start is None or end is None:
            image = self._source()
            rows, cols = np.shape(image)[:2] if image is not None else (1, 1)
            start, end = (0.1 * cols, rows / 2), (0.9 * cols, rows / 2)
        if self.roi is None:
            self.roi = pg.LineSegmentROI([start, end], pen=pg.mkPen("#ffb000", width=2))
            self._image_plot.addItem(self.roi, ignoreBounds=True)
            self.roi.sigRegionChanged.connect(self._on_roi_changed)
        else:
            self.roi.movePoint(self.roi.getHandles()[0], start, finish=False)
            self.roi.movePoint(self.roi.getHandles()[1], end)
        self.update_profile()

    def hide_line(self) -> None:
        if self.roi is not None:
            self._image_plot.removeItem(self.roi)
            self.roi = None

    def endpoints(self) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The line's ends in view coordinates, or None when no line is shown."""
        if self.roi is None:
            return None
        view = self._image_plot.getViewBox()
        ends = [self.roi.mapToItem(view.childGroup, h.pos()) for h in self.roi.endpoints]
        return (ends[0].x(), ends[0].y()), (ends[1].x(), ends[1].y())

    # -- data -----------------------------------------------------------------------------
    def set_units(self, pixel_size: PixelSize, value_label: str) -> None:
        self.pixel_size = pixel_size
        self.value_label = value_label
        self._label_axes()
        self.update_profile()

    def update_profile(self) -> None:
        """Recompute the values along the line from the image shown."""
        ends = self.endpoints()
        image = self._source()
        if ends is None or image is None or np.ndim(image) != 2:
            self.distance, self.values = np.zeros(0), np.zeros(0)
            self.curve.setData([], [])
            self.info.setText("")
            return
        # View coordinates -> pixel-index coordinates (pixel centres at +0.5).
        (x0, y0), (x1, y1) = ends
        self.distance, self.values = line_profile(image, (x0 - 0.5, y0 - 0.5),
                                                  (x1 - 0.5, y1 - 0.5), self.pixel_size)
        finite = np.isfinite(self.values)
        self.curve.setData(self.distance, self.values, connect="finite")
        length = float(self.distance[-1]) if self.distance.size else 0.0
        text = format_length(length) if self.pixel_size else f"{length:.1f} px"
        stats = (f", mean {np.mean(self.values[finite]):.4g}, min {np.min(self.values[finite]):.4g}"
                 f", max {np.max(self.values[finite]):.4g}" if finite.any() else "")
        self.info.setText(f"profile: length {text}, {self.values.size} samples{stats}")
        self.changed.emit()

    def _label_axes(self) -> None:
        if self.pixel_size is None:
            self.plot.setLabel("bottom", "distance (px)", units="")
        else:
            self.plot.setLabel("bottom", "distance", units="m")
        self.plot.setLabel("left", self.value_label)

    def _on_roi_changed(self, _: Any) -> None:
        self.update_profile()
