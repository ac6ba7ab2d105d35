"""An image plot with a colour bar, a component chooser and in-place updates.

After the first frame, new frames replace the pixels only (``autoLevels=False``, no
``autoRange``): the user's zoom and colour levels stay where they were. Levels are reset when
the component or the image shape changes, or when the user presses "Fit levels".

With a pixel size (:meth:`ImagePanel.set_pixel_size`) the axes are in metres with a scale bar;
the colour bar is labelled with the component's unit, the complex (HSV) view gets a colour
wheel, and "Profile" draws a line whose values are plotted against the distance along it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.render import (
    CYCLIC_MAP,
    LINEAR_MAP,
    Display,
    colour_map_names,
    colour_table,
    format_length,
)

from ..model.imaging import COMPONENTS, HSV, UNWRAPPED, component_image, robust_levels
from ..model.units import COMPONENT_UNITS, PixelSize, valid_pixel_size
from ..qtenv import pyqtgraph_module
from .physical import (
    FitGroup,
    attach_colour_wheel,
    attach_scale_bar,
    label_colorbar,
    set_physical_axes,
)
from .profile import LineProfile
from .widgets import FluidLabel

pg = pyqtgraph_module()

DIVERGING_MAP = "CET-D1"

DEFAULT_MAP = "default"
"""The colour-map menu's first entry: the panel's own choice (linear, cyclic for the phase,
diverging for differences)."""


def qt_colormap(name: str) -> Any:
    """pyqtgraph's colour map of ``name`` built from :func:`engine.render.colour_table`: the
    screen and the PNG export draw with the same 256 colours."""
    return pg.ColorMap(np.linspace(0.0, 1.0, 256), colour_table(name), name=name)


def levels_dialog(parent: QWidget | None, low: float, high: float) -> tuple[QDialog, list[Any]]:
    """The "Colour levels" dialog, showing ``low`` and ``high``: (dialog, [low box, high box])."""
    from ..spinboxes import NumberBox

    dialog = QDialog(parent)
    dialog.setWindowTitle("Colour levels")
    boxes = []
    form = QFormLayout(dialog)
    for label, value in (("low", low), ("high", high)):
        box = NumberBox(False)
        box.setRange(-1e30, 1e30)
        box.setValue(float(f"{value:.6g}"))  # float32 levels without their binary digits
        box.setMinimumWidth(160)
        form.addRow(label, box)
        boxes.append(box)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                               | QDialogButtonBox.StandardButton.Cancel)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    form.addRow(buttons)
    return dialog, boxes


def ask_levels(parent: QWidget, low: float, high: float) -> tuple[float, float] | None:
    """Ask for the colour levels (low, high) of a panel; None when cancelled."""
    dialog, boxes = levels_dialog(parent, low, high)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return (float(boxes[0].value()), float(boxes[1].value()))


def add_image_plot(graphics: Any, colormap: str, label: str = "", row: int | None = None,
                   col: int | None = None) -> tuple[Any, Any, Any]:
    """Add an image plot to a ``GraphicsLayoutWidget``: (plot, image item, colour bar).

    The plot keeps square pixels and puts row 0 at the top, as images are read; ``label``
    names the colour bar's values and unit; ``row``, ``col`` place the plot in the layout.
    """
    plot = graphics.addPlot(row=row, col=col)
    plot.setAspectLocked(True)
    plot.invertY(True)
    image = pg.ImageItem()
    plot.addItem(image)
    colorbar = pg.ColorBarItem(values=(0, 1), colorMap=qt_colormap(colormap),
                               interactive=True, width=15)
    colorbar.setImageItem(image, insert_in=plot)
    label_colorbar(colorbar, label)
    return plot, image, colorbar


def show_plot_axes(plot: Any, colorbar: Any, shown: bool) -> None:
    """Axes and colour bar of an image plot: only with an image (over nothing, a colour bar
    and axes of a 0..1 range mean nothing)."""
    for side in ("left", "bottom"):
        plot.showAxis(side, shown)
    colorbar.setVisible(shown)


def value_label(component: str) -> str:
    """The colour bar's label of a component ("phase (rad)", "amplitude"...)."""
    return COMPONENT_UNITS.get(component, component)


class ImagePanel(QWidget):
    """One image (complex or real data) with its colour bar and controls.

    Signals
    -------
    hovered(str)
        A read-out of the pixel under the mouse ("" when outside).
    """

    hovered = Signal(str)

    def __init__(self, title: str = "", component: str = "amplitude",
                 components: tuple[str, ...] = COMPONENTS, parent: QWidget | None = None,
                 labels: dict[str, str] | None = None, diverging: bool = False) -> None:
        super().__init__(parent)
        self.labels = dict(labels or {})  # colour bar labels that replace the defaults
        self.diverging = diverging  # differences: a diverging map, levels symmetric about 0
        self._data: np.ndarray | None = None
        self._shown: np.ndarray | None = None
        self._fresh = True  # next frame sets levels and range
        self._new_levels = False  # next frame sets levels (keeping the range)
        self._unwrap_again_at = 0.0  # live frames are not unwrapped before (monotonic s)
        self.frames = 0
        self._title = title
        # A long title (a run's path, "phase range fitted") is cut at the panel's edge
        # instead of widening the panel (side-by-side panels would run off the window).
        self.title = FluidLabel(title)
        self.component_box = QComboBox()
        self.component_box.addItems(list(components))
        self.component_box.setCurrentText(component)
        self.component_box.setToolTip("Which part of the complex image to show")
        # Sized for a short name (longer ones are cut in the closed box, whole in its list):
        # two side-by-side panels must fit a 1600 x 1000 screen at 150 % scaling.
        self.component_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.component_box.setMinimumContentsLength(6)
        # Tool buttons: compact, so that the title keeps room in three side-by-side panels.
        self.fit_button = QToolButton()
        self.fit_button.setText("Fit levels")
        self.fit_button.setToolTip("Reset the colour levels to the current image")
        self.profile_button = QToolButton()
        self.profile_button.setText("Profile")
        self.profile_button.setCheckable(True)
        self.profile_button.setToolTip("Draw a line on the image and plot the values along it")
        self.user_maps: dict[str, str] = {}  # component -> colour map the user chose
        self.ask_levels = ask_levels  # (parent, low, high) -> levels or None (tests swap it)
        self.colours_button = QToolButton()
        self.colours_button.setText("Colours")
        self.colours_button.setToolTip("Colour map and levels of this panel")
        self.colours_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.colours_menu = QMenu(self.colours_button)
        self.colours_menu.addAction("Set levels…", self.edit_levels)
        self.colours_menu.addSeparator()
        self.map_actions = QActionGroup(self.colours_menu)
        self.map_actions.setExclusive(True)
        for name in [DEFAULT_MAP] + colour_map_names():
            action = QAction(name, self.colours_menu)
            action.setCheckable(True)
            action.setData(name)
            self.map_actions.addAction(action)
            self.colours_menu.addAction(action)
        self.map_actions.actions()[0].setChecked(True)
        self.map_actions.triggered.connect(
            lambda action: self.set_colormap(str(action.data())))
        self.colours_button.setMenu(self.colours_menu)
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.component_box)
        header.addWidget(self.fit_button)
        header.addWidget(self.colours_button)
        header.addWidget(self.profile_button)
        self.graphics = pg.GraphicsLayoutWidget()
        self.colormap_name = self._colormap_name(component)
        self.plot, self.image, self.colorbar = add_image_plot(
            self.graphics, self.colormap_name, self.value_label(component))
        self.pixel_size: PixelSize = None
        self.fit_group = FitGroup(self)
        self.fit_group.add(self.plot)
        set_physical_axes(self.plot, None)
        self.scale_bar = attach_scale_bar(self.plot)
        self.scale_bar.setVisible(False)  # shown with the first image
        self.wheel = attach_colour_wheel(self.plot, self.colorbar)
        self._show_axes(False)  # until the first image
        # The profile plot sits below the image; views of several linked panels move it
        # below their row of panels, so that the linked images keep equal sizes.
        self.profile = LineProfile(self.plot, self._profile_image)
        self.profile.setVisible(False)
        self.profile.set_units(None, self.value_label(component))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.profile)
        self.component_box.currentTextChanged.connect(self._on_component_box_changed)
        self.fit_button.clicked.connect(self._on_fit_button_clicked)
        self.profile_button.toggled.connect(self._on_profile_button_toggled)
        self.graphics.scene().sigMouseMoved.connect(self._on_scene_mouse_moved)

    # -- data -----------------------------------------------------------------------------
    @property
    def component(self) -> str:
        return self.component_box.currentText()

    def set_component(self, component: str) -> None:
        self.component_box.setCurrentText(component)

    def link_view(self, leader: ImagePanel) -> None:
        """Share ``leader``'s zoom and pan (and its fit to the image)."""
        self.plot.setXLink(leader.plot)
        self.plot.setYLink(leader.plot)
        self.fit_group.remove(self.plot)
        self.fit_group = leader.fit_group
        self.fit_group.add(self.plot)

    def _show_title(self, text: str) -> None:
        self.title.setText(text)  # whole in its tooltip, where the panel cuts it

    def set_title(self, title: str) -> None:
        self._title = title
        self._show_title(title)

    def value_label(self, component: str) -> str:
        """The colour bar's label of ``component`` (``labels`` first, then the defaults)."""
        return self.labels.get(component) or value_label(component)

    def set_labels(self, labels: dict[str, str]) -> None:
        """Replace the colour bar labels (e.g. "phase B - A (rad)")."""
        self.labels = dict(labels)
        label_colorbar(self.colorbar, self.value_label(self.component))
        self.profile.set_units(self.pixel_size, self.value_label(self._profile_component()))

    def set_origin(self, x: float, y: float) -> None:
        """Draw pixel (0, 0) at view coordinates ``(x, y)`` (to line up with another image)."""
        self.image.setPos(x, y)

    def set_pixel_size(self, pixel_size: object) -> None:
        """Object pixel ``(width, height)`` in metres: axes, scale bar and profile in metres.

        None (or an invalid size) shows pixels.
        """
        self.pixel_size = valid_pixel_size(pixel_size)
        set_physical_axes(self.plot, self.pixel_size)
        self.scale_bar.set_pixel_size(self.pixel_size)
        self.profile.set_units(self.pixel_size, self.profile.value_label)

    def position_text(self, row: int, col: int) -> str:
        """"x = 1.2 µm, y = 3.4 µm (col 12, row 34)" (pixels only without a pixel size)."""
        if self.pixel_size is None:
            return f"(x={col}, y={row})"
        x = format_length((col + 0.5) * self.pixel_size[0])
        y = format_length((row + 0.5) * self.pixel_size[1])
        return f"(x={x}, y={y}; px {col}, {row})"

    def set_data(self, data: np.ndarray, fit_levels: bool = False) -> None:
        """Show ``data`` (2-D, complex or real); keeps zoom and levels after the first frame.

        ``fit_levels`` re-fits the colour levels (a final result) but keeps the zoom.
        """
        data = np.asarray(data)
        if self._data is None or data.shape != self._data.shape:
            self._fresh = True
        self._data = data
        if (not fit_levels and not self._fresh and self.component == UNWRAPPED
                and time.monotonic() < self._unwrap_again_at):
            return  # a live frame while unwrapping is costly: the next one is drawn
        self._render()
        if fit_levels:
            self.fit_levels()

    def clear(self) -> None:
        self._data = None
        self._shown = None
        self._fresh = True
        self.image.clear()
        self.scale_bar.setVisible(False)  # a length bar over nothing only confuses
        self.wheel.setVisible(False)
        self._show_axes(False)  # so do axes and a colour bar of no image

    def _show_axes(self, shown: bool) -> None:
        show_plot_axes(self.plot, self.colorbar, shown)
        self.colorbar.setVisible(shown and self.component != HSV)  # HSV: the colour wheel

    @property
    def axes_shown(self) -> bool:
        """The plot's axes are drawn (only when it shows an image)."""
        return bool(self.plot.getAxis("bottom").isVisible())

    @property
    def profile_on(self) -> bool:
        """The line profile is switched on (whether or not the panel is on screen now)."""
        return self.profile_button.isChecked()

    def refit_next(self) -> None:
        """The next image gets levels (and colour map) of its own: a new run's first live
        frame must not keep the colour range of the image shown before it (the zoom stays)."""
        self._new_levels = True

    def levels(self) -> tuple[float, float]:
        low, high = self.colorbar.levels()
        return (float(low), float(high))

    def display(self) -> Display | None:
        """The colour map and levels the panel draws with now (None for HSV): an export of
        this component looks like the screen, levels the user set included."""
        if self.component == HSV:
            return None
        return Display(self.colormap_name, self.levels())

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

    def _render(self, fit_range: bool = True) -> None:
        if self._data is None:
            return
        component = self.component
        started = time.monotonic()
        shown = component_image(self._data, component)
        if component == UNWRAPPED:
            # Unwrapping a large object takes a while (0.4 s for 400 x 400 noise): live
            # frames are unwrapped at most 10 % of the time, the final result always.
            self._unwrap_again_at = started + 10 * (time.monotonic() - started)
        self._shown = shown
        self.scale_bar.setVisible(True)
        self._show_axes(True)
        self.wheel.setVisible(component == HSV)
        if component == HSV:
            self.image.setImage(shown, autoLevels=False, levels=(0, 255))
        elif self._fresh or self._new_levels:
            self._reset_colormap()
            self.image.setImage(shown, autoLevels=False)
            self.colorbar.setLevels(self._levels(shown, component, fit=False))
        else:
            self.image.setImage(shown, autoLevels=False)
        if self._fresh and fit_range:
            self.fit_group.refit()
        self._fresh = self._new_levels = False
        self.frames += 1
        if self.profile_on:  # also while the panel's tab is hidden: no stale numbers later
            self.profile.update_profile()

    def set_colormap(self, name: str) -> None:
        """Draw the current component with colour map ``name`` (one of
        :func:`engine.render.colour_map_names`; :data:`DEFAULT_MAP`: the panel's own); the
        export draws with it too. Each component keeps its own choice."""
        if name == DEFAULT_MAP:
            self.user_maps.pop(self.component, None)
        else:
            colour_table(name)  # an unknown name is refused before anything changes
            self.user_maps[self.component] = name
        self._reset_colormap()
        self._check_map_action()

    def set_levels(self, low: float, high: float) -> None:
        """Fix the colour levels of this panel (live frames keep them; a new component,
        "Fit levels" or a new run's first frame fits them again)."""
        if not (np.isfinite(low) and np.isfinite(high)) or high <= low:
            raise ValueError(f"colour levels: expected low < high, found {low}, {high}")
        self.colorbar.setLevels((low, high))

    def edit_levels(self) -> None:
        """Colours > Set levels…: ask for the levels and set them."""
        chosen = self.ask_levels(self, *self.levels())
        if chosen is None:
            return
        try:
            self.set_levels(*chosen)
        except ValueError as exc:
            self.hovered.emit(str(exc))

    def _check_map_action(self) -> None:
        chosen = self.user_maps.get(self.component, DEFAULT_MAP)
        for action in self.map_actions.actions():
            action.setChecked(action.data() == chosen)

    def _colormap_name(self, component: str) -> str:
        if component in self.user_maps:
            return self.user_maps[component]
        if self.diverging:
            return DIVERGING_MAP
        return CYCLIC_MAP if component == "phase" else LINEAR_MAP

    def _levels(self, shown: np.ndarray, component: str, fit: bool) -> tuple[float, float]:
        if not self.diverging:
            return robust_levels(shown, component, fit=fit)
        low, high = robust_levels(shown, "difference", fit=True)
        top = max(abs(low), abs(high)) or 1.0
        return (-top, top)

    # -- slots ----------------------------------------------------------------------------
    def _on_component_box_changed(self, component: str) -> None:
        self._reset_colormap()
        self._check_map_action()
        label_colorbar(self.colorbar, self.value_label(component))
        self.profile.set_units(self.pixel_size, self.value_label(self._profile_component()))
        self._fresh = True
        if self._data is not None:
            self._render(fit_range=False)  # new levels, same zoom

    def fit_levels(self) -> None:
        """Fit the colour levels to the image shown (robust percentiles, phase included).

        A phase fitted to less than its full turn is drawn with a linear colour map: on a
        cyclic one both ends of the range would get the same colour.
        """
        if self._shown is None or self._shown.ndim != 2:
            return
        self.colorbar.setLevels(self._levels(self._shown, self.component, fit=True))
        if self.component == "phase" and not self.diverging \
                and self.component not in self.user_maps:
            self.colormap_name = LINEAR_MAP
            self.colorbar.setColorMap(qt_colormap(LINEAR_MAP))
            self._show_title(f"{self._title} (phase range fitted: linear colours)")

    def _reset_colormap(self) -> None:
        self.colormap_name = self._colormap_name(self.component)
        self.colorbar.setColorMap(qt_colormap(self.colormap_name))
        self._show_title(self._title)

    def _on_fit_button_clicked(self) -> None:
        self.fit_levels()

    def _profile_component(self) -> str:
        return "amplitude" if self.component == HSV else self.component

    def _profile_image(self) -> np.ndarray | None:
        """The scalar image the profile samples (the amplitude for the HSV view)."""
        if self._data is None:
            return None
        if self.component == HSV:
            return component_image(self._data, "amplitude")
        return self._shown

    def _on_profile_button_toggled(self, on: bool) -> None:
        self.profile.setVisible(on)
        if on:
            self.profile.show_line()
        else:
            self.profile.hide_line()

    def _on_scene_mouse_moved(self, pos: object) -> None:
        if self._shown is None or not self.plot.sceneBoundingRect().contains(pos):
            self.hovered.emit("")
            return
        point = self.image.mapFromScene(pos)
        row, col = int(np.floor(point.y())), int(np.floor(point.x()))
        value = self.value_at(row, col)
        self.hovered.emit("" if value is None else
                          f"{self.position_text(row, col)} {self.value_label(self.component)} "
                          f"{value:.6g}")
