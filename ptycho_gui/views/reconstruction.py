"""The live reconstruction: two linked image panels (amplitude and phase by default), and
under them a finished run's quality: per stage (prior, network, solver) and the final misfit
against its Poisson noise floor (orange, with what to try, when far above)."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from engine.render import Display

from ..model.quality import RunQuality
from .image_panel import ImagePanel
from .widgets import FluidLabel

HINT_STYLE = "color: #b26a00;"


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
        # One line each, whole in the tooltip: a long hint never widens or heightens the window.
        self.stages_label = FluidLabel("")
        self.stages_label.setObjectName("stages-label")
        self.misfit_label = FluidLabel("")
        self.misfit_label.setObjectName("misfit-label")
        self.quality: RunQuality | None = None
        layout = QVBoxLayout(self)
        layout.addLayout(panels, 1)
        layout.addLayout(profiles)
        layout.addLayout(footer)
        layout.addWidget(self.stages_label)
        layout.addWidget(self.misfit_label)
        self.set_quality(None)
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

    def set_quality(self, quality: RunQuality | None) -> None:
        """A finished run's per-stage quality and misfit (None: hide both lines)."""
        self.quality = quality
        stages = quality.stages_text if quality is not None else ""
        misfit = quality.misfit_text if quality is not None else ""
        self.stages_label.setText(stages)
        self.stages_label.setVisible(bool(stages))
        self.misfit_label.setText(misfit)
        self.misfit_label.setVisible(bool(misfit))
        far = quality is not None and quality.far_above_floor
        self.misfit_label.setStyleSheet(HINT_STYLE if far else "")

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
        self.set_quality(None)
        self.caption.setText("No reconstruction yet: run Train or Infer.")
