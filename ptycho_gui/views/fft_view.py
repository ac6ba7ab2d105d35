"""The object's spatial-frequency spectrum: ``log10 |FFT|`` of the complex object, with
frequency axes in inverse length (1/µm, 1/nm) when the pixel size is known, else in cycles
per pixel; the read-out gives the frequency and period under the mouse.

The spectrum (:func:`ptycho_gui.model.optics.object_spectrum`) is computed off the GUI thread
(a 1024 x 1024 object takes about 0.3 s; the newest frame wins) and only while the tab is
visible: live frames arriving behind another tab cost nothing.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

from engine.render import LINEAR_MAP, format_length, robust_levels

from ..model.optics import Spectrum, frequency_unit, object_spectrum
from ..model.units import PixelSize, valid_pixel_size
from ..qtenv import pyqtgraph_module
from ..worker import Job, JobOutcome, NewestJobRunner
from .image_panel import add_image_plot, show_plot_axes
from .physical import AXIS_WIDTH, FitGroup
from .widgets import FluidLabel, ThreadedView

pg = pyqtgraph_module()

NO_OBJECT = "No reconstruction yet: the spectrum of the object appears here."
VALUE_LABEL = "log10 |FFT|"


class FftView(ThreadedView):
    """``log10 |FFT(object)|``, zero frequency at the centre."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.plot, self.image, self.colorbar = add_image_plot(self.graphics, LINEAR_MAP,
                                                              VALUE_LABEL)
        self.plot.getAxis("left").setWidth(AXIS_WIDTH)
        for side in ("left", "bottom"):
            self.plot.getAxis(side).enableAutoSIPrefix(False)
        self.fit_group = FitGroup(self)
        self.fit_group.add(self.plot)
        self.caption = FluidLabel(NO_OBJECT)
        self.readout = FluidLabel("")
        for label in (self.caption, self.readout):
            label.setContentsMargins(4, 0, 4, 0)  # the view has no margins: off the border
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.caption)
        layout.addWidget(self.readout)
        self.obj: np.ndarray | None = None
        self.pixel_size: PixelSize = None
        self.spectrum: Spectrum | None = None
        self.unit: tuple[str, float] = ("1/px", 1.0)
        self._stale = False
        self._request = 0  # a result computed for an earlier request (before a clear) is dropped
        self.computer = NewestJobRunner("spectrum", self)
        self.computer.finished.connect(self._on_computer_finished)
        show_plot_axes(self.plot, self.colorbar, False)
        self.graphics.scene().sigMouseMoved.connect(self._on_scene_mouse_moved)

    def set_object(self, obj: np.ndarray, caption: str = "") -> None:
        """The complex object whose spectrum to show (computed when the tab is visible)."""
        self.obj = np.asarray(obj)
        if caption:
            self.caption.setText(f"spectrum of {caption}")
        self._stale = True
        if self.isVisible():
            self.update_spectrum()

    def set_pixel_size(self, pixel_size: object) -> None:
        """The object's pixel size in metres (None: frequencies in cycles per pixel)."""
        size = valid_pixel_size(pixel_size)
        if size == self.pixel_size:
            return
        self.pixel_size = size
        if self.obj is not None:
            self._stale = True
            if self.isVisible():
                self.update_spectrum()

    @property
    def busy(self) -> bool:
        """A spectrum is being computed."""
        return self.computer.busy

    def update_spectrum(self) -> None:
        """Compute the spectrum of the object held now (off the GUI thread), then draw it."""
        if self.obj is None or not self._stale:
            return
        self._stale = False
        obj, pixel_size = self.obj, self.pixel_size

        def compute(reporter: object, stop: object) -> Spectrum:
            return object_spectrum(obj, pixel_size)

        self.computer.request(Job("spectrum", compute, {"request": self._request,
                                                        "pixel_size": pixel_size}))

    def _on_computer_finished(self, outcome: JobOutcome) -> None:
        if outcome.job.context["request"] != self._request or self.obj is None:
            return  # cleared meanwhile
        if outcome.status != "completed":
            self.readout.setText(f"No spectrum: {outcome.error}")
            return
        self._draw(outcome.result, outcome.job.context["pixel_size"])

    def _draw(self, spectrum: Spectrum, pixel_size: PixelSize) -> None:
        first = self.spectrum is None
        old_shape = None if first else self.spectrum.log_amplitude.shape  # type: ignore[union-attr]
        self.spectrum = spectrum
        if spectrum.in_metres:
            rows, cols = spectrum.log_amplitude.shape
            self.unit = frequency_unit(max(cols * spectrum.step[0], rows * spectrum.step[1]) / 2)
        else:
            self.unit = ("1/px", 1.0)
        name, scale = self.unit
        x0, y0, width, height = (v / scale for v in spectrum.extent())
        self.image.setImage(spectrum.log_amplitude, autoLevels=False)
        self.image.setRect(QRectF(x0, y0, width, height))
        self.colorbar.setLevels(robust_levels(spectrum.log_amplitude, "log amplitude"))
        self.plot.setLabel("bottom", f"fx ({name})")
        self.plot.setLabel("left", f"fy ({name})")
        self.plot.setAspectLocked(True, ratio=1.0)
        show_plot_axes(self.plot, self.colorbar, True)
        if first or old_shape != spectrum.log_amplitude.shape:
            self.fit_group.refit()
        nyquist = 1.0 / (2 * pixel_size[0]) if pixel_size else 0.5
        limit = (f"Nyquist {nyquist / scale:.3g} {name} (period {format_length(1 / nyquist)})"
                 if pixel_size else "Nyquist 0.5 1/px (period 2 px)")
        self.readout.setText(f"{limit}; Hann window, mean removed")

    def frequency_at(self, x: float, y: float) -> tuple[float, float, str]:
        """``(fx, fy)`` in the axis unit at view point ``(x, y)`` and the period's text."""
        name, scale = self.unit
        radius = math.hypot(x, y) * scale  # per metre, or per pixel
        if radius <= 0:
            period = "infinite period"
        elif self.spectrum is not None and self.spectrum.in_metres:
            period = f"period {format_length(1 / radius)}"
        else:
            period = f"period {1 / radius:.3g} px"
        return x, y, period

    def _on_scene_mouse_moved(self, pos: object) -> None:
        if self.spectrum is None or not self.plot.sceneBoundingRect().contains(pos):
            return
        point = self.plot.getViewBox().mapSceneToView(pos)
        fx, fy, period = self.frequency_at(point.x(), point.y())
        self.readout.setText(f"f = ({fx:.3g}, {fy:.3g}) {self.unit[0]}, {period}")

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self.update_spectrum()

    def shutdown(self, timeout_s: float = 30.0) -> bool:
        """End the computing thread (a computation under way is waited for)."""
        return self.computer.shutdown(timeout_s)


    def clear(self) -> None:
        self._request += 1
        self.obj = None
        self.spectrum = None
        self._stale = False
        self.image.clear()
        self.plot.setLabel("bottom", "")
        self.plot.setLabel("left", "")
        show_plot_axes(self.plot, self.colorbar, False)  # after the labels: they show axes
        self.caption.setText(NO_OBJECT)
        self.readout.setText("")
