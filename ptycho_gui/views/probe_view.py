"""The probe: amplitude and phase of each incoherent mode, with its share of the power.

Each image has a labelled colour bar; with the probe's pixel size the axes are in metres and
the amplitude carries a scale bar.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtWidgets import QVBoxLayout, QWidget

from engine.render import format_length

from ..qtenv import pyqtgraph_module
from .image_panel import CYCLIC_MAP, LINEAR_MAP, add_image_plot, value_label
from .imaging import PHASE_LEVELS
from .physical import FitGroup, attach_scale_bar, set_physical_axes
from .units import PixelSize, valid_pixel_size
from .widgets import FluidLabel

pg = pyqtgraph_module()


class ProbeView(QWidget):
    """A grid: one row per mode, amplitude left and phase right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.info = FluidLabel("No probe yet.")
        # Room between the amplitude's colour bar label and the phase plot's axis label.
        self.graphics.ci.layout.setHorizontalSpacing(28)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.info)
        self.probe: np.ndarray | None = None
        self.images: list[tuple[Any, Any]] = []
        self.colorbars: list[tuple[Any, Any]] = []
        self.fit_groups: list[FitGroup] = []
        self.scale_bars: list[Any] = []
        self.pixel_size: PixelSize = None

    def set_pixel_size(self, pixel_size: object) -> None:
        """The probe's pixel ``(width, height)`` in metres (None: pixels)."""
        self.pixel_size = valid_pixel_size(pixel_size)
        for mode in range(len(self.images)):
            for col in (0, 1):
                set_physical_axes(self.graphics.getItem(mode, col), self.pixel_size)
        for bar in self.scale_bars:
            bar.set_pixel_size(self.pixel_size)
        if self.probe is not None:
            self._update_info(self.probe)

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
            self._build_layout(probe.shape[0])
        for mode, (amp_item, phase_item) in enumerate(self.images):
            amp = np.abs(probe[mode]).astype(np.float32)
            amp_item.setImage(amp, autoLevels=False)
            self.colorbars[mode][0].setLevels((0.0, float(amp.max()) or 1.0))
            phase_item.setImage(np.angle(probe[mode]).astype(np.float32), autoLevels=False)
            self.colorbars[mode][1].setLevels(PHASE_LEVELS)
            plots = self.graphics.ci.getItem(mode, 0), self.graphics.ci.getItem(mode, 1)
            plots[0].setTitle(f"mode {mode + 1} amplitude ({100 * share[mode]:.1f} %)")
            plots[1].setTitle(f"mode {mode + 1} phase")
            if not same_layout:
                self.fit_groups[mode].refit()  # phase is linked to amplitude
        self._update_info(probe)

    def _build_layout(self, modes: int) -> None:
        """Per mode: amplitude and phase plots (linked), each with its colour bar."""
        self.graphics.clear()
        self.images, self.colorbars, self.scale_bars = [], [], []
        self._drop_fit_groups()
        for mode in range(modes):
            items, bars = [], []
            for col, cmap, component in ((0, LINEAR_MAP, "amplitude"), (1, CYCLIC_MAP, "phase")):
                plot, item, bar = add_image_plot(self.graphics, cmap, value_label(component),
                                                 row=mode, col=col)
                set_physical_axes(plot, self.pixel_size)
                items.append(item)
                bars.append(bar)
                if col == 0:
                    self.scale_bars.append(attach_scale_bar(plot, self.pixel_size))
                    group = FitGroup(self)
                    group.add(plot)
                    self.fit_groups.append(group)
                else:
                    plot.setXLink(self.graphics.getItem(mode, 0))
                    plot.setYLink(self.graphics.getItem(mode, 0))
            self.images.append((items[0], items[1]))
            self.colorbars.append((bars[0], bars[1]))

    def _update_info(self, probe: np.ndarray) -> None:
        n_rows, n_cols = probe.shape[-2:]
        size = ""
        if self.pixel_size is not None:
            size = (f" = {format_length(n_cols * self.pixel_size[0])} x "
                    f"{format_length(n_rows * self.pixel_size[1])}, pixel "
                    f"{format_length(self.pixel_size[0])}")
        self.info.setText(f"{probe.shape[0]} mode(s) of {n_cols} x {n_rows} px{size}")

    def clear(self) -> None:
        self.graphics.clear()
        self.images, self.colorbars, self.scale_bars = [], [], []
        self._drop_fit_groups()
        self.probe = None
        self.info.setText("No probe yet.")

    def _drop_fit_groups(self) -> None:
        for group in self.fit_groups:
            group.deleteLater()
        self.fit_groups = []
