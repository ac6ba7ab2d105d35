"""Physical units on pyqtgraph image plots: axes in metres, a scale bar, a colour wheel.

Images stay in pixel coordinates (pixel ``(r, c)`` covers ``[c, c + 1) x [r, r + 1)``), so
positions, ROIs and linked views keep working in pixels; only the axis tick labels are scaled
(``AxisItem.setScale``, with SI prefixes: "x (µm)") and the scale bar is sized in pixels from
the pixel size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPixmap

from engine.render import scale_bar

from ..model.imaging import hsv_image
from ..model.units import PixelSize
from ..qtenv import pyqtgraph_module

pg = pyqtgraph_module()
GraphicsWidgetAnchor = pg.GraphicsWidgetAnchor

AXIS_WIDTH = 62
"""Fixed width (screen pixels) of vertical axes with scaled ticks and of colour bar axes: room
for a label and ticks like "-12.5". An axis that resizes itself to its tick texts can do so
while the interpreter tears the widgets down at exit, which crashes PySide6."""


def set_physical_axes(plot: Any, pixel_size: PixelSize, x_name: str = "x",
                      y_name: str = "y") -> None:
    """Label a plot's axes in metres (SI prefix chosen by pyqtgraph) or, without a pixel size,
    in pixels. Non-square pixels keep their true aspect ratio."""
    plot.getAxis("left").setWidth(AXIS_WIDTH)
    if pixel_size is None:
        for side, name in (("bottom", x_name), ("left", y_name)):
            axis = plot.getAxis(side)
            axis.setScale(1.0)
            axis.enableAutoSIPrefix(False)  # pixels are counted: never "x (px) (x0.001)"
            axis.setLabel(f"{name} (px)", units="")
        plot.setAspectLocked(True, ratio=1.0)
        return
    width, height = pixel_size
    for side, name, scale in (("bottom", x_name, width), ("left", y_name, height)):
        axis = plot.getAxis(side)
        axis.setScale(scale)
        axis.enableAutoSIPrefix(True)  # "x (µm)"
        axis.setLabel(name, units="m")
    # ratio = xScale / yScale (screen pixels per view unit): a pixel is width x height metres.
    plot.setAspectLocked(True, ratio=width / height)


class FitGroup(QObject):
    """Plots whose zoom is linked, kept fitted to the first one's image until the user zooms.

    A plot filled while hidden (another tab) or before the window has its size would keep
    the range of that size; so the group fits again when any of its views is resized (also
    when first shown), until the user zooms or pans one of them (then the zoom is theirs,
    also across new frames). :meth:`refit` starts fitting again (a new image).
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.plots: list[Any] = []
        self.manual = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.fit)

    def add(self, plot: Any) -> None:
        """Add ``plot``; the first plot added leads the fit."""
        self.plots.append(plot)
        view = plot.getViewBox()
        view.sigRangeChangedManually.connect(self._on_range_changed_manually)
        view.sigResized.connect(self._on_view_resized)

    def remove(self, plot: Any) -> None:
        """Stop following ``plot`` (it joins another group)."""
        view = plot.getViewBox()
        view.sigRangeChangedManually.disconnect(self._on_range_changed_manually)
        view.sigResized.disconnect(self._on_view_resized)
        self.plots.remove(plot)

    def refit(self) -> None:
        """Fit now and after every show or resize until the user zooms."""
        self.manual = False
        self.fit()

    def fit(self) -> None:
        if self.plots and not self.manual:
            self.plots[0].autoRange(padding=0.02)

    def _on_view_resized(self, *_: Any) -> None:
        if not self.manual:
            self._timer.start(0)  # once, after every view of the group has its size

    def _on_range_changed_manually(self, *_: Any) -> None:
        self.manual = True


def label_colorbar(colorbar: Any, text: str) -> None:
    """Name a colour bar's values and unit on its tick side ("phase (rad)", "counts")."""
    colorbar.axis.setLabel(text)
    colorbar.axis.enableAutoSIPrefix(False)  # "phase (rad)", never "phase (rad) (x0.001)"
    colorbar.axis.setWidth(AXIS_WIDTH)  # room for the label next to the ticks


class PhysicalScaleBar(pg.ScaleBar):  # type: ignore[name-defined,misc]
    """A scale bar in the lower right corner whose round length follows the zoom."""

    def __init__(self, pixel_size: PixelSize = None) -> None:
        super().__init__(size=1.0, width=6, brush=pg.mkBrush("w"), pen=pg.mkPen("k"),
                         suffix="", offset=(-20, -20))
        self.pixel_size = pixel_size
        self.label = ""
        self.text.setColor(QColor("white"))
        font = QFont()
        font.setBold(True)
        self.text.setFont(font)

    def set_pixel_size(self, pixel_size: PixelSize) -> None:
        self.pixel_size = pixel_size
        self.updateBar()

    def updateBar(self) -> None:  # noqa: N802 (pyqtgraph override)
        view = self.parentItem()
        if view is None:
            return
        (x0, x1), _ = view.viewRange()
        self.size, self.label = scale_bar(abs(x1 - x0),
                                          None if self.pixel_size is None
                                          else self.pixel_size[0])
        self.text.setText(self.label)
        super().updateBar()


def attach_scale_bar(plot: Any, pixel_size: PixelSize = None) -> PhysicalScaleBar:
    """A :class:`PhysicalScaleBar` in ``plot``'s view box."""
    bar = PhysicalScaleBar(pixel_size)
    bar.setParentItem(plot.getViewBox())
    bar.updateBar()
    return bar


def colour_wheel_rgba(size: int) -> np.ndarray:
    """``(size, size, 4)`` uint8: the HSV view's legend (hue = phase counter-clockwise from
    +x, brightness = amplitude growing outwards), transparent outside the disk."""
    c = (size - 1) / 2
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    dx, dy = (xx - c) / c, (c - yy) / c  # screen y points down; phase grows upwards
    radius = np.hypot(dx, dy)
    rgb = hsv_image(np.minimum(radius, 1.0) * np.exp(1j * np.arctan2(dy, dx)))
    alpha = np.where(radius <= 1.0, 255, 0).astype(np.uint8)
    return np.concatenate([rgb, alpha[..., None]], axis=-1)


def colour_wheel_pixmap(size: int, text_colour: str = "#dddddd") -> QPixmap:
    """The wheel of :func:`colour_wheel_rgba` with its phase ticks (0, π/2, ±π, −π/2) and a
    caption, on a transparent background."""
    margin = 22
    rgba = np.ascontiguousarray(colour_wheel_rgba(size))
    wheel = QImage(rgba.data, size, size, 4 * size, QImage.Format.Format_RGBA8888).copy()
    pixmap = QPixmap(size + 2 * margin, size + 2 * margin + 16)
    pixmap.fill(QColor(0, 0, 0, 0))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, 170))  # readable over any image
    painter.drawRoundedRect(QRectF(pixmap.rect()), 8, 8)
    painter.drawImage(margin, margin, wheel)
    painter.setPen(QColor(text_colour))
    c = margin + size / 2
    r = size / 2 + 10
    for text, (ux, uy) in (("0", (1, 0)), ("π/2", (0, -1)), ("±π", (-1, 0)), ("−π/2", (0, 1))):
        box = QRectF(0, 0, 40, 14)
        box.moveCenter(QPointF(c + ux * r, c + uy * r))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
    painter.drawText(QRectF(0, size + 2 * margin - 2, size + 2 * margin, 16),
                     Qt.AlignmentFlag.AlignCenter, "phase (rad)")
    painter.end()
    return pixmap


class ColourWheelItem(GraphicsWidgetAnchor, pg.GraphicsObject):  # type: ignore[name-defined,misc,valid-type]
    """The legend of the complex (HSV) view, drawn where the hidden colour bar keeps its room
    (beside the image, never over it; linked panels keep equal sizes)."""

    def __init__(self, size: int = 40) -> None:
        pg.GraphicsObject.__init__(self)
        GraphicsWidgetAnchor.__init__(self)
        self.pixmap = colour_wheel_pixmap(size)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setToolTip("Complex view: hue is the phase (rad), brightness the amplitude")

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        return QRectF(self.pixmap.rect())

    def paint(self, painter: QPainter, *_: Any) -> None:
        painter.drawPixmap(0, 0, self.pixmap)


def attach_colour_wheel(plot: Any, colorbar: Any) -> ColourWheelItem:
    """A hidden :class:`ColourWheelItem` at ``plot``'s upper right, in the room of its
    ``colorbar`` (hidden while the wheel shows, its room kept so the image does not move)."""
    policy = colorbar.sizePolicy()
    policy.setRetainSizeWhenHidden(True)
    colorbar.setSizePolicy(policy)
    item = ColourWheelItem()
    item.setParentItem(plot)
    item.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(0, 2))
    item.setVisible(False)
    return item
