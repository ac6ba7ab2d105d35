"""The probe: amplitude and phase of each incoherent mode, with its share of the power."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..qtenv import pyqtgraph_module
from .image_panel import CYCLIC_MAP, LINEAR_MAP
from .imaging import PHASE_LEVELS

pg = pyqtgraph_module()


class ProbeView(QWidget):
    """A grid: one row per mode, amplitude left and phase right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.info = QLabel("No probe yet.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.info)
        self.probe: np.ndarray | None = None
        self.images: list[tuple[Any, Any]] = []

    def set_probe(self, probe: np.ndarray) -> None:
        """Show a complex probe ``(modes, N, N)`` (or ``(N, N)``)."""
        probe = np.asarray(probe)
        if probe.ndim == 2:
            probe = probe[None]
        same_layout = self.probe is not None and self.probe.shape == probe.shape
        self.probe = probe
        power = np.sum(np.abs(probe) ** 2, axis=(-2, -1))
        share = power / power.sum() if power.sum() > 0 else np.zeros_like(power)
        if not same_layout:
            self.graphics.clear()
            self.images = []
            for mode in range(probe.shape[0]):
                amp_plot = self.graphics.addPlot(row=mode, col=0)
                phase_plot = self.graphics.addPlot(row=mode, col=1)
                pair = []
                for plot, cmap in ((amp_plot, LINEAR_MAP), (phase_plot, CYCLIC_MAP)):
                    plot.setAspectLocked(True)
                    plot.invertY(True)
                    plot.hideAxis("bottom")
                    plot.hideAxis("left")
                    item = pg.ImageItem()
                    item.setColorMap(pg.colormap.get(cmap))
                    plot.addItem(item)
                    pair.append(item)
                phase_plot.setXLink(amp_plot)
                phase_plot.setYLink(amp_plot)
                self.images.append((pair[0], pair[1]))
        for mode, (amp_item, phase_item) in enumerate(self.images):
            amp = np.abs(probe[mode]).astype(np.float32)
            amp_item.setImage(amp, autoLevels=False, levels=(0.0, float(amp.max()) or 1.0))
            phase_item.setImage(np.angle(probe[mode]).astype(np.float32), autoLevels=False,
                                levels=PHASE_LEVELS)
            plots = self.graphics.ci.getItem(mode, 0), self.graphics.ci.getItem(mode, 1)
            plots[0].setTitle(f"mode {mode + 1} amplitude ({100 * share[mode]:.1f} %)")
            plots[1].setTitle(f"mode {mode + 1} phase")
            if not same_layout:
                plots[0].autoRange(padding=0.02)  # phase is linked to it
        n = probe.shape[-1]
        self.info.setText(f"{probe.shape[0]} mode(s) of {n} x {n} px")

    def clear(self) -> None:
        self.graphics.clear()
        self.images = []
        self.probe = None
        self.info.setText("No probe yet.")
