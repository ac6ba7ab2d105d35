"""The live reconstruction: two linked image panels (amplitude and phase by default)."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from engine.render import Display

from .image_panel import ImagePanel
from .widgets import FluidLabel


class ReconstructionView(QWidget):
    """Amplitude and phase side by side; each panel can show any component (or HSV)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.left = ImagePanel("Object", component="amplitude")
        self.right = ImagePanel("Object", component="phase")
        # One zoom for both: panning one pans the other.
        self.right.link_view(self.left)
        self.caption = FluidLabel("No reconstruction yet: run Train or Infer.")
        self.readout = FluidLabel("")
        panels = QHBoxLayout()
        panels.addWidget(self.left)
        panels.addWidget(self.right)
        profiles = QHBoxLayout()  # below both panels: the linked images keep equal sizes
        profiles.addWidget(self.left.profile)
        profiles.addWidget(self.right.profile)
        footer = QHBoxLayout()
        footer.addWidget(self.caption, 1)
        footer.addWidget(self.readout, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(panels, 1)
        layout.addLayout(profiles)
        layout.addLayout(footer)
        self.obj: np.ndarray | None = None
        self.left.hovered.connect(self.readout.setText)
        self.right.hovered.connect(self.readout.setText)

    @property
    def frames(self) -> int:
        """How many frames were drawn since the view was made."""
        return self.left.frames

    def set_pixel_size(self, pixel_size: object) -> None:
        """The object's pixel size in metres (``(width, height)`` or a side; None: pixels)."""
        self.left.set_pixel_size(pixel_size)
        self.right.set_pixel_size(pixel_size)

    def set_object(self, obj: np.ndarray, caption: str = "", fit_levels: bool = False) -> None:
        """Show a complex object (NaN where not illuminated), keeping zoom (and levels unless
        ``fit_levels``: a run's final result gets levels of its own)."""
        self.obj = np.asarray(obj)
        self.left.set_data(self.obj, fit_levels)
        self.right.set_data(self.obj, fit_levels)
        if caption:
            self.caption.setText(caption)

    def refit_next(self) -> None:
        """The next frame (a new run's first) gets colour levels of its own."""
        self.left.refit_next()
        self.right.refit_next()

    def displays(self) -> dict[str, Display]:
        """Colour map and levels of the amplitude and phase as drawn now, for the panels that
        show either (an export then looks like the screen)."""
        shown: dict[str, Display] = {}
        for panel in (self.left, self.right):
            display = panel.display()
            if display is not None and panel.component in ("amplitude", "phase"):
                shown.setdefault(panel.component, display)
        return shown

    def clear(self) -> None:
        self.obj = None
        self.left.clear()
        self.right.clear()
        self.caption.setText("No reconstruction yet: run Train or Infer.")
