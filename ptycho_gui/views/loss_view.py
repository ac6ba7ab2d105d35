"""Loss curves: training and validation loss per epoch.

An epoch cut short by Stop is drawn apart (a hollow marker, "partial" in the legend): it
saw only part of the data, so it is neither a full epoch nor the loss minimum.

The Poisson negative log-likelihood is computed without its constant term, so it can be
negative (about -8.8 on the default data), which reads as an error. When any value is negative
the curves show the loss *above its minimum* (the best epoch is 0) on a linear axis, and the
axis label gives the minimum; otherwise the loss itself on a logarithmic axis.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ..qtenv import pyqtgraph_module

pg = pyqtgraph_module()

_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")


class LossView(QWidget):
    """One curve per metric whose name ends in "loss" (train_loss, val_loss...)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget()
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setLabel("bottom", "epoch")
        self.plot.setLabel("left", "loss")
        self.plot.getAxis("left").enableAutoSIPrefix(False)  # no "(x0.001)" on a loss
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.plot.addLegend(offset=(-10, 10))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)
        self.history: dict[str, tuple[list[float], list[float]]] = {}
        self.partial: dict[str, tuple[float, float]] = {}
        """Per curve, the epoch cut short by Stop (1-based) and its value."""
        self._curves: dict[str, Any] = {}
        self._partial_curves: dict[str, Any] = {}

    def add_metrics(self, epoch: int, values: Mapping[str, float],
                    partial: bool = False) -> None:
        """Append the epoch's loss values (epochs shown 1-based); ``partial``: an epoch cut
        short by Stop (drawn apart, not counted in the minimum)."""
        for name, value in values.items():
            if not name.endswith("loss") or not isinstance(value, (int, float)):
                continue
            if not math.isfinite(float(value)):
                continue
            if partial:
                self.partial[name] = (float(epoch + 1), float(value))
                continue
            xs, ys = self.history.setdefault(name, ([], []))
            xs.append(float(epoch + 1))
            ys.append(float(value))
            if name not in self._curves:
                colour = _COLOURS[len(self._curves) % len(_COLOURS)]
                self._curves[name] = self.plot.plot(
                    [], [], pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=5,
                    symbolBrush=colour, name=name.replace("_", " "))
        self._redraw()

    def set_history(self, epochs: list[int], values: Mapping[str, list[float]]) -> None:
        """Replace the curves with a whole history (e.g. a finished run's metrics)."""
        self.clear()
        for i, epoch in enumerate(epochs):
            self.add_metrics(epoch, {k: v[i] for k, v in values.items() if i < len(v)})

    def clear(self) -> None:
        self.history.clear()
        self.partial.clear()
        for curve in (*self._curves.values(), *self._partial_curves.values()):
            self.plot.removeItem(curve)
        self._curves.clear()
        self._partial_curves.clear()
        if self.plot.legend is not None:
            self.plot.legend.clear()

    @property
    def log_y(self) -> bool:
        return bool(self.plot.ctrl.logYCheck.isChecked())

    @property
    def offset(self) -> float:
        """What is subtracted from every value drawn (0 when all values are positive)."""
        values = [y for _, ys in self.history.values() for y in ys]  # full epochs only
        lowest = min(values, default=1.0)
        return 0.0 if lowest > 0 else lowest

    def drawn(self, name: str) -> list[float]:
        """The values of curve ``name`` as drawn."""
        offset = self.offset
        return [y - offset for y in self.history[name][1]]

    def _redraw(self) -> None:
        offset = self.offset
        for name, (xs, _) in self.history.items():
            self._curves[name].setData(xs, self.drawn(name))
        for name, (x, y) in self.partial.items():
            if name not in self._partial_curves:
                colour = _COLOURS[list(self.history).index(name) % len(_COLOURS)
                                  if name in self.history else 0]
                self._partial_curves[name] = self.plot.plot(
                    [], [], pen=pg.mkPen(colour, width=1, style=Qt.PenStyle.DotLine),
                    symbol="o", symbolSize=7, symbolBrush=None,
                    symbolPen=pg.mkPen(colour, width=1.5),
                    name=f"{name.replace('_', ' ')} (partial epoch, stopped)")
            xs, ys = self.history.get(name, ([], []))
            # dotted from the last full epoch to the cut one (above the same minimum)
            self._partial_curves[name].setData(
                [*xs[-1:], x], [*(v - offset for v in ys[-1:]), y - offset])
        self.plot.setLogMode(x=False, y=offset == 0.0)
        self.plot.setLabel("left", "loss" if offset == 0.0 else
                           f"loss above its minimum ({offset:.4g})")
