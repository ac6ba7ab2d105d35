"""An image plot with a colour bar, a component chooser and in-place updates.

After the first frame, new frames replace the pixels only (``autoLevels=False``, no
``autoRange``): the user's zoom and colour levels stay where they were. Levels are reset when
the component or the image shape changes, or when the user presses "Fit levels".
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from engine.render import CYCLIC_MAP, LINEAR_MAP

from ..qtenv import pyqtgraph_module
from .imaging import COMPONENTS, HSV, component_image, robust_levels

pg = pyqtgraph_module()


def add_image_plot(graphics: object, colormap: str) -> tuple[object, object, object]:
    """Add an image plot to a ``GraphicsLayoutWidget``: (plot, image item, colour bar).

    The plot keeps square pixels and puts row 0 at the top, as images are read.
    """
    plot = graphics.addPlot()
    plot.setAspectLocked(True)
    plot.invertY(True)
    image = pg.ImageItem()
    plot.addItem(image)
    colorbar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get(colormap),
                               interactive=True, width=15)
    colorbar.setImageItem(image, insert_in=plot)
    return plot, image, colorbar


class ImagePanel(QWidget):
    """One image (complex or real data) with its colour bar and controls.

    Signals
    -------
    hovered(str)
        A read-out of the pixel under the mouse ("" when outside).
    """

    hovered = Signal(str)

    def __init__(self, title: str = "", component: str = "amplitude",
                 components: tuple[str, ...] = COMPONENTS, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._data: np.ndarray | None = None
        self._shown: np.ndarray | None = None
        self._fresh = True  # next frame sets levels and range
        self.frames = 0
        self._title = title
        self.title = QLabel(title)
        self.component_box = QComboBox()
        self.component_box.addItems(list(components))
        self.component_box.setCurrentText(component)
        self.component_box.setToolTip("Which part of the complex image to show")
        self.fit_button = QPushButton("Fit levels")
        self.fit_button.setToolTip("Reset the colour levels to the current image")
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.component_box)
        header.addWidget(self.fit_button)
        self.graphics = pg.GraphicsLayoutWidget()
        self.plot, self.image, self.colorbar = add_image_plot(
            self.graphics, CYCLIC_MAP if component == "phase" else LINEAR_MAP)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.graphics, 1)
        self.component_box.currentTextChanged.connect(self._on_component_box_changed)
        self.fit_button.clicked.connect(self._on_fit_button_clicked)
        self.graphics.scene().sigMouseMoved.connect(self._on_scene_mouse_moved)

    # -- data -----------------------------------------------------------------------------
    @property
    def component(self) -> str:
        return self.component_box.currentText()

    def set_component(self, component: str) -> None:
        self.component_box.setCurrentText(component)

    def set_data(self, data: np.ndarray, fit_levels: bool = False) -> None:
        """Show ``data`` (2-D, complex or real); keeps zoom and levels after the first frame.

        ``fit_levels`` re-fits the colour levels (a final result) but keeps the zoom.
        """
        data = np.asarray(data)
        if self._data is None or data.shape != self._data.shape:
            self._fresh = True
        self._data = data
        self._render()
        if fit_levels:
            self.fit_levels()

    def clear(self) -> None:
        self._data = None
        self._shown = None
        self._fresh = True
        self.image.clear()

    def levels(self) -> tuple[float, float]:
        low, high = self.colorbar.levels()
        return (float(low), float(high))

    def shown_image(self) -> np.ndarray | None:
        """The array currently drawn (after component selection)."""
        return self._shown

    def value_at(self, row: int, col: int) -> float | None:
        """The shown value at a pixel (None outside or for HSV)."""
        if self._shown is None or self._shown.ndim != 2:
            return None
        if 0 <= row < self._shown.shape[0] and 0 <= col < self._shown.shape[1]:
            return float(self._shown[row, col])
        return None

    def _render(self) -> None:
        if self._data is None:
            return
        component = self.component
        shown = component_image(self._data, component)
        self._shown = shown
        self.colorbar.setVisible(component != HSV)
        if component == HSV:
            self.image.setImage(shown, autoLevels=False, levels=(0, 255))
        elif self._fresh:
            self._reset_colormap()
            levels = robust_levels(shown, component)
            self.image.setImage(shown, autoLevels=False)
            self.colorbar.setLevels(levels)
        else:
            self.image.setImage(shown, autoLevels=False)
        if self._fresh:
            self.plot.autoRange(padding=0.02)
        self._fresh = False
        self.frames += 1

    @staticmethod
    def _colormap(component: str) -> object:
        return pg.colormap.get(CYCLIC_MAP if component == "phase" else LINEAR_MAP)

    # -- slots ----------------------------------------------------------------------------
    def _on_component_box_changed(self, component: str) -> None:
        self._reset_colormap()
        self._fresh = True
        if self._data is not None:
            # Changing component resets levels but must not reset the zoom.
            shape_range = self.plot.viewRange()
            self._render()
            self.plot.setRange(xRange=shape_range[0], yRange=shape_range[1], padding=0)

    def fit_levels(self) -> None:
        """Fit the colour levels to the image shown (robust percentiles, phase included).

        A phase fitted to less than its full turn is drawn with a linear colour map: on a
        cyclic one both ends of the range would get the same colour.
        """
        if self._shown is None or self._shown.ndim != 2:
            return
        self.colorbar.setLevels(robust_levels(self._shown, self.component, fit=True))
        if self.component == "phase":
            self.colorbar.setColorMap(pg.colormap.get(LINEAR_MAP))
            self.title.setText(f"{self._title} (phase range fitted: linear colours)")

    def _reset_colormap(self) -> None:
        self.colorbar.setColorMap(self._colormap(self.component))
        self.title.setText(self._title)

    def _on_fit_button_clicked(self) -> None:
        self.fit_levels()

    def _on_scene_mouse_moved(self, pos: object) -> None:
        if self._shown is None or not self.plot.sceneBoundingRect().contains(pos):
            self.hovered.emit("")
            return
        point = self.image.mapFromScene(pos)
        row, col = int(np.floor(point.y())), int(np.floor(point.x()))
        value = self.value_at(row, col)
        self.hovered.emit("" if value is None else f"(x={col}, y={row}) {value:.6g}")
