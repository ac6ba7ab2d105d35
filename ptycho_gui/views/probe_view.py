"""The probe: amplitude and phase of each incoherent mode, with its share of the power, at
the sample or propagated along the beam by a chosen distance.

Each image has a labelled colour bar; with the probe's pixel size the axes are in metres and
the amplitude carries a scale bar. Propagation (angular spectrum,
:func:`ptycho_gui.model.optics.angular_spectrum`) needs the wavelength (the photon energy of
the data or product) and the pixel size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.render import format_length

from ..model.imaging import PHASE_LEVELS
from ..model.optics import angular_spectrum, mode_power_fractions
from ..model.units import PixelSize, valid_pixel_size
from ..qtenv import pyqtgraph_module
from .image_panel import CYCLIC_MAP, LINEAR_MAP, add_image_plot, value_label
from .physical import FitGroup, attach_scale_bar, set_physical_axes
from .widgets import FluidLabel

pg = pyqtgraph_module()

TITLE_SIZE = "9pt"
MAX_DISTANCE_UM = 1e6
"""The propagation distance box spans +-1 m (in micrometres)."""


class ProbeView(QWidget):
    """A grid: one row per mode, amplitude left and phase right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.info = FluidLabel("No probe yet.")
        # Room between the amplitude's colour bar label and the phase plot's axis label.
        self.graphics.ci.layout.setHorizontalSpacing(28)
        self.distance_box = QDoubleSpinBox()
        self.distance_box.setObjectName("probe-distance")
        self.distance_box.setRange(-MAX_DISTANCE_UM, MAX_DISTANCE_UM)
        self.distance_box.setDecimals(1)
        self.distance_box.setSuffix(" µm")
        self.distance_box.setKeyboardTracking(False)  # propagate on Return, not per digit
        self.distance_box.setToolTip(
            "Propagate the probe along the beam by this distance (angular spectrum; positive:"
            " downstream of the sample plane). Needs the photon energy and the pixel size.")
        self.distance_box.valueChanged.connect(self._on_distance_box_value_changed)
        controls = QHBoxLayout()
        controls.setContentsMargins(4, 2, 4, 2)
        controls.addWidget(QLabel("Propagate by z ="))
        controls.addWidget(self.distance_box)
        controls.addWidget(self.info, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 1)
        layout.addLayout(controls)
        self.probe: np.ndarray | None = None
        self.shown: np.ndarray | None = None
        """The modes drawn: the probe, propagated by :attr:`distance_m` when it can be."""
        self.wavelength_m: float | None = None
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
        self._label_last_row_only()
        for bar in self.scale_bars:
            bar.set_pixel_size(self.pixel_size)
        if self.probe is not None:
            self._draw(refit=False)

    def set_wavelength(self, wavelength_m: float | None) -> None:
        """The X-ray wavelength in metres (None: unknown; the probe cannot be propagated)."""
        valid = wavelength_m is not None and np.isfinite(wavelength_m) and wavelength_m > 0
        self.wavelength_m = float(wavelength_m) if valid else None  # type: ignore[arg-type]
        if self.probe is not None:
            self._draw(refit=False)

    @property
    def distance_m(self) -> float:
        """The propagation distance chosen, in metres."""
        return self.distance_box.value() * 1e-6

    def set_distance(self, metres: float) -> None:
        """Propagate by ``metres`` (as typing it into the box)."""
        self.distance_box.setValue(metres * 1e6)

    @property
    def propagation_problem(self) -> str:
        """Why the probe is not propagated ("" when it can be)."""
        missing = [what for what, value in (("the photon energy", self.wavelength_m),
                                            ("the pixel size", self.pixel_size))
                   if value is None]
        return f"propagation needs {' and '.join(missing)}" if missing else ""

    def set_probe(self, probe: np.ndarray) -> None:
        """Show a complex probe ``(modes, N, N)`` (or ``(N, N)``)."""
        probe = np.asarray(probe)
        if probe.ndim == 2:
            probe = probe[None]
        same_layout = self.probe is not None and self.probe.shape == probe.shape
        self.probe = probe
        if not same_layout:
            self._build_layout(probe.shape[0])
        self._draw(refit=not same_layout)

    def _propagated(self, probe: np.ndarray) -> np.ndarray:
        z = self.distance_m
        if z == 0 or self.propagation_problem:
            return probe
        return angular_spectrum(probe, z, self.wavelength_m,  # type: ignore[arg-type]
                                self.pixel_size)  # type: ignore[arg-type]

    def _draw(self, refit: bool) -> None:
        probe = self.probe
        assert probe is not None
        share = mode_power_fractions(probe)
        self.shown = self._propagated(probe)
        # Short titles in a smaller font: a title sets its column's minimum width, and a long
        # one pushed the phase column's colour bar label out of the view at 1280 px.
        at = f" · z {format_length(self.distance_m)}" if self.shown is not probe else ""
        for mode, (amp_item, phase_item) in enumerate(self.images):
            amp = np.abs(self.shown[mode]).astype(np.float32)
            amp_item.setImage(amp, autoLevels=False)
            self.colorbars[mode][0].setLevels((0.0, float(amp.max()) or 1.0))
            phase_item.setImage(np.angle(self.shown[mode]).astype(np.float32),
                                autoLevels=False)
            self.colorbars[mode][1].setLevels(PHASE_LEVELS)
            plots = self.graphics.ci.getItem(mode, 0), self.graphics.ci.getItem(mode, 1)
            plots[0].setTitle(f"mode {mode + 1} · {100 * share[mode]:.1f} %{at}", size=TITLE_SIZE)
            plots[1].setTitle(f"mode {mode + 1} phase", size=TITLE_SIZE)
            if refit:
                self.fit_groups[mode].refit()  # phase is linked to amplitude
        self._update_info(probe)

    def _on_distance_box_value_changed(self, _value: float) -> None:
        if self.probe is not None:
            self._draw(refit=False)

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
        self._label_last_row_only()

    def _label_last_row_only(self) -> None:
        """Only the last row names its x axis (the rows share it): each mode's images get
        the height of the labels they no longer repeat (three modes at 150 %)."""
        for mode in range(len(self.images) - 1):
            for col in (0, 1):
                self.graphics.getItem(mode, col).getAxis("bottom").showLabel(False)

    def _update_info(self, probe: np.ndarray) -> None:
        n_rows, n_cols = probe.shape[-2:]
        size = ""
        if self.pixel_size is not None:
            size = (f" = {format_length(n_cols * self.pixel_size[0])} x "
                    f"{format_length(n_rows * self.pixel_size[1])}, pixel "
                    f"{format_length(self.pixel_size[0])}")
        shares = " / ".join(f"{100 * v:.1f}" for v in mode_power_fractions(probe))
        text = f"{probe.shape[0]} mode(s) of {n_cols} x {n_rows} px{size}; power {shares} %"
        if self.wavelength_m is not None:
            text += f"; λ = {format_length(self.wavelength_m)}"
        problem = self.propagation_problem
        if problem and self.distance_m != 0:
            text += f"; not propagated: {problem}"
        self.info.setText(text)
        self.distance_box.setToolTip(problem or "Propagate the probe along the beam by this "
                                     "distance (angular spectrum; positive: downstream)")

    def clear(self) -> None:
        self.graphics.clear()
        self.images, self.colorbars, self.scale_bars = [], [], []
        self._drop_fit_groups()
        self.probe = None
        self.shown = None
        self.info.setText("No probe yet.")

    def _drop_fit_groups(self) -> None:
        for group in self.fit_groups:
            group.deleteLater()
        self.fit_groups = []
