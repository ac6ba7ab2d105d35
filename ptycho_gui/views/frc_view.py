"""The Fourier ring correlation against ground truth: amplitude and phase curves, the 1/7
threshold and the resolution where each curve first drops below it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from engine.render import format_length

from ..model.units import PixelSize, valid_pixel_size
from ..qtenv import pyqtgraph_module

pg = pyqtgraph_module()

_PENS = {"amplitude": "#1f77b4", "phase": "#ff7f0e"}
NO_FRC = "No FRC: it needs a ground truth (a simulated dataset or truth.h5 next to the data)."


class FrcView(QWidget):
    """FRC curves (``engine.metrics.evaluate``'s ``frc``) against spatial frequency.

    With the object's pixel size the frequency axis is in inverse metres (SI prefix chosen by
    pyqtgraph, e.g. µm⁻¹) and resolutions are lengths; otherwise cycles per pixel.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget()
        self.plot = self.plot_widget.getPlotItem()
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.plot.setLabel("left", "FRC")
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        # One row (amplitude, phase): the comparison's short FRC plot at 1280 x 800 cut the
        # second row of a stacked legend.
        self.legend = self.plot.addLegend(offset=(-10, 10), colCount=2)
        self.plot.setYRange(-0.1, 1.05, padding=0)
        dashed = pg.mkPen("#888888", width=1, style=Qt.PenStyle.DashLine)
        self.threshold = pg.InfiniteLine(angle=0, pen=dashed, label="threshold {value:.3g}",
                                         labelOpts={"position": 0.08})  # the legend is right
        self.threshold.setVisible(False)
        self.plot.addItem(self.threshold)
        self.curves = {name: self.plot.plot([], [], pen=pg.mkPen(colour, width=2), name=name)
                       for name, colour in _PENS.items()}
        self.info = QLabel(NO_FRC)
        self.info.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.info)
        self.pixel_size: PixelSize = None
        self.resolutions_px: dict[str, float] = {}
        self._label_axis()

    def set_frc(self, frc: Mapping[str, Any] | None, pixel_size: object = None,
                caption: str = "") -> None:
        """Show the curves of ``frc`` (keys ``frequency_per_px``, ``amplitude``, ``phase``,
        ``threshold``)."""
        from engine.metrics import FRC_THRESHOLD, frc_resolution  # scipy: loaded on first use

        self.pixel_size = valid_pixel_size(pixel_size)
        self._label_axis()
        self.resolutions_px = {}
        if not frc or not frc.get("frequency_per_px"):
            self.clear()
            return
        freq_px = np.asarray(frc["frequency_per_px"], dtype=np.float64)
        freq = freq_px / self.pixel_size[0] if self.pixel_size else freq_px
        threshold = float(frc.get("threshold") or FRC_THRESHOLD)
        self.threshold.setVisible(True)  # first: a hidden line's label does not follow
        self.threshold.setPos(threshold)
        self.threshold.label.valueChanged()
        parts = []
        for name, curve in self.curves.items():
            values = np.asarray(frc.get(name) or [], dtype=np.float64)
            if values.shape != freq.shape:
                curve.setData([], [])
                continue
            curve.setData(freq, values)
            res = frc_resolution(freq_px, values, threshold)
            self.resolutions_px[name] = res
            length = f" = {format_length(res * self.pixel_size[0])}" if self.pixel_size else ""
            parts.append(f"{name} {res:.2f} px{length}")
        self.plot.setXRange(0, float(freq.max()), padding=0.02)
        prefix = f"{caption}: " if caption else ""
        self.info.setText(f"{prefix}resolution where the FRC drops below {threshold:.3g}: "
                          + ", ".join(parts))

    def clear(self) -> None:
        for curve in self.curves.values():
            curve.setData([], [])
        self.threshold.setVisible(False)
        self.resolutions_px = {}
        self.info.setText(NO_FRC)

    def _label_axis(self) -> None:
        if self.pixel_size is None:
            self.plot.setLabel("bottom", "spatial frequency (cycles/px)", units="")
        else:
            self.plot.setLabel("bottom", "spatial frequency", units="m⁻¹", unitPower=-1)
