"""Two results side by side with one zoom, and their difference after alignment.

The difference is taken the way the quality metrics compare a reconstruction with the truth
(``engine.metrics.align``): B is brought onto A (common region, optional sub-pixel
registration), the global phase offset (optionally a phase ramp) is removed and B's amplitude
scaled by the least-squares factor; then ``phase(B) - phase(A)`` (wrapped) or
``|B| - |A|`` is shown. The scores and the FRC of B against A are the ones
``engine.metrics.evaluate`` reports (A plays the truth).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.errors import EngineError

from ..model.results import OpenedResult, open_result
from ..model.units import PixelSize, valid_pixel_size
from ..worker import Job, JobOutcome, NewestJobRunner
from .frc_view import FrcView
from .image_panel import ImagePanel
from .widgets import ThreadedView

COMPARED = ("phase", "amplitude")
SHUTDOWN_TIMEOUT_S = 30.0
"""How long closing waits for a running comparison (seconds for the largest objects)."""
DIFFERENCE_LABELS = {"phase": "phase B - A (rad)", "amplitude": "amplitude B - A"}
PRODUCT_FILTER = "Reconstructions (*.h5 *.hdf5);;All files (*)"


def compare_job(a: np.ndarray, b: np.ndarray, register: bool, phase_ramp: bool,
                request: int) -> Job:
    """Align B onto A and score it (``engine.metrics``), off the GUI thread: for large
    objects this takes seconds (about 5 s for two 2048 x 2048 objects on two cores)."""

    def run(reporter: Any, stop: Any) -> tuple[Any, dict[str, Any]]:
        from engine.metrics import align, evaluate  # scipy and scikit-image: on first use

        aligned = align(b, a, register=register, phase_ramp=phase_ramp)
        return aligned, evaluate(b, a, register=register, phase_ramp=phase_ramp)

    return Job("compare", run, {"request": request})


def centre_offsets(shape_a: tuple[int, ...], shape_b: tuple[int, ...]
                   ) -> tuple[tuple[int, int], tuple[int, int]]:
    """``((row, col) of the common centre crop in A, same in B)``, as ``engine.metrics``
    crops two objects of different shapes."""
    h, w = min(shape_a[0], shape_b[0]), min(shape_a[1], shape_b[1])
    return (((shape_a[0] - h) // 2, (shape_a[1] - w) // 2),
            ((shape_b[0] - h) // 2, (shape_b[1] - w) // 2))


class CompareView(ThreadedView):
    """Results A and B (linked zoom and pan) and the difference B - A.

    Signals
    -------
    compared(str)
        A comparison was computed: its one-line summary (or the reason it failed).
    """

    compared = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compare-view")
        self.a: OpenedResult | None = None
        self.b: OpenedResult | None = None
        self.scores: dict[str, Any] | None = None
        self.difference: np.ndarray | None = None
        self._aligned: Any = None
        # Comparisons run on a thread of their own, which lives only while one runs (a view
        # destroyed while idle takes no running thread with it); only the newest request's
        # result is shown (NewestJobRunner).
        self._comparer = NewestJobRunner("compare", self)
        self._comparer.finished.connect(self._on_comparer_finished)
        self._closed = False
        self._request = 0
        # Replaced in tests: returns a chosen file path or "".
        self.choose_file: Callable[[str], str] = self._choose_file
        self.open_a_button = QPushButton("Open A…")
        self.open_b_button = QPushButton("Open B…")
        for button, which in ((self.open_a_button, "A"), (self.open_b_button, "B")):
            button.setToolTip(f"Choose result {which}: a reconstruction .h5 or a run folder's "
                              "reconstruction.h5")
        self.swap_button = QPushButton("Swap")
        self.swap_button.setToolTip("Exchange A and B (A is the reference of the difference)")
        self.component_box = QComboBox()
        self.component_box.addItems(list(COMPARED))
        self.component_box.setToolTip("Compare phases or amplitudes")
        self.register_box = QCheckBox("register")
        self.register_box.setToolTip("Shift B onto A with sub-pixel precision before the "
                                     "difference (off: same scan, same pixel grid)")
        self.ramp_box = QCheckBox("remove phase ramp")
        self.ramp_box.setToolTip("Also remove a linear phase ramp between the two")
        header = QHBoxLayout()
        for widget in (self.open_a_button, self.open_b_button, self.swap_button,
                       QLabel("Show"), self.component_box, self.register_box, self.ramp_box):
            header.addWidget(widget)
        header.addStretch(1)
        self.panel_a = ImagePanel("A", component="phase", components=COMPARED)
        self.panel_b = ImagePanel("B", component="phase", components=COMPARED)
        # The difference is a real image: shown as is ("real"), labelled by what it is.
        self.panel_diff = ImagePanel("B - A (aligned)", component="real", components=("real",),
                                     diverging=True,
                                     labels={"real": DIFFERENCE_LABELS["phase"]})
        for panel in (self.panel_a, self.panel_b, self.panel_diff):
            panel.component_box.setVisible(False)  # one chooser for the three
        for panel in (self.panel_b, self.panel_diff):
            panel.link_view(self.panel_a)
        panels = QHBoxLayout()
        for panel in (self.panel_a, self.panel_b, self.panel_diff):
            panels.addWidget(panel, 1)
        profiles = QHBoxLayout()  # below the row: the linked images keep equal sizes
        for panel in (self.panel_a, self.panel_b, self.panel_diff):
            profiles.addWidget(panel.profile)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(header)
        top_layout.addLayout(panels, 1)
        top_layout.addLayout(profiles)
        self.frc_view = FrcView()
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.frc_view)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        self.frc_view.setMinimumHeight(110)
        self.summary = QLabel("Choose two results: Open A and Open B, or Compare in the Runs "
                              "panel.")
        self.summary.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.summary)
        self.open_a_button.clicked.connect(self._on_open_a_button_clicked)
        self.open_b_button.clicked.connect(self._on_open_b_button_clicked)
        self.swap_button.clicked.connect(self._on_swap_button_clicked)
        self.component_box.currentTextChanged.connect(self._on_component_box_changed)
        self.register_box.toggled.connect(self._on_option_toggled)
        self.ramp_box.toggled.connect(self._on_option_toggled)
        self.frc_view.info.setText("FRC of B against A appears here.")

    # -- data -----------------------------------------------------------------------------
    def set_pair(self, a: OpenedResult | None, b: OpenedResult | None) -> None:
        """Compare ``a`` (the reference) with ``b``; either may be None (not chosen yet)."""
        self.a, self.b = a, b
        self._show(self.panel_a, a, "A")
        self._show(self.panel_b, b, "B")
        self.update_difference()
        self._fit_levels()

    def set_a(self, result: OpenedResult) -> None:
        self.set_pair(result, self.b)

    def set_b(self, result: OpenedResult) -> None:
        self.set_pair(self.a, result)

    @property
    def pixel_size(self) -> PixelSize:
        """A's object pixel size: the frame of all three images."""
        return valid_pixel_size(self.a.object_pixel_size_m) if self.a else None

    def update_difference(self) -> None:
        """Align B onto A and show the difference, the scores and the FRC (computed off the
        GUI thread; :attr:`compared` fires when they are shown)."""
        self._request += 1
        self.scores, self.difference = None, None
        a, b = self._objects()
        if a is None or b is None or self.a is None or self.b is None:
            self.panel_diff.clear()
            self.frc_view.clear()
            return
        self.summary.setText(f"Comparing {self.b.label} with {self.a.label}…")
        self._start_newest()

    @property
    def busy(self) -> bool:
        """A comparison is being computed."""
        return self._comparer.busy

    def _start_newest(self) -> None:
        a, b = self._objects()
        if a is None or b is None or self._closed:
            return
        self._comparer.request(compare_job(a, b, self.register_box.isChecked(),
                                         self.ramp_box.isChecked(), self._request))

    def _on_comparer_finished(self, outcome: JobOutcome) -> None:
        if outcome.job.context["request"] != self._request or self.a is None \
                or self.b is None:
            return  # superseded (a result was cleared meanwhile)
        label_a, label_b = self.a.label, self.b.label
        if outcome.status != "completed":
            self.panel_diff.clear()
            self.frc_view.clear()
            self._report(f"Cannot compare {label_a} with {label_b}: {outcome.error}")
            return
        aligned, self.scores = outcome.result
        register = self.register_box.isChecked()
        rows, cols = aligned.box  # on A's pixel grid
        self.panel_diff.set_origin(cols.start, rows.start)
        self._aligned = aligned
        self._show_difference()
        self.panel_diff.set_pixel_size(self.pixel_size)
        self.frc_view.set_frc(self.scores["frc"], self.pixel_size,
                              caption=f"{label_b} against {label_a}")
        details = self.scores["details"]
        dy, dx = details["shift_px"]
        text = (f"B = {label_b} against A = {label_a}: phase offset "
                f"{details['offset_rad']:.3f} rad and amplitude scale "
                f"{details['amplitude_scale']:.4g} removed")
        if register:
            text += f", shift (dy, dx) = ({dy:.2f}, {dx:.2f}) px"
        for name in COMPARED:
            row = self.scores[name]
            text += f"; {name} PSNR {row['psnr']:.2f} dB, SSIM {row['ssim']:.3f}"
        text += self._pixel_warning()
        self._report(text)

    def shutdown(self, timeout_s: float = SHUTDOWN_TIMEOUT_S) -> bool:
        """End the comparison thread (a running comparison is waited for); no new ones."""
        self._closed = True
        return self._comparer.shutdown(timeout_s)


    def _objects(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        def obj(result: OpenedResult | None) -> np.ndarray | None:
            if result is None or result.reconstruction is None:
                return None
            return np.asarray(result.reconstruction.obj)
        return obj(self.a), obj(self.b)

    def _show(self, panel: ImagePanel, result: OpenedResult | None, which: str) -> None:
        if result is None or result.reconstruction is None:
            panel.clear()
            panel.set_title(which)
            return
        panel.set_title(f"{which}: {result.label}")
        obj = np.asarray(result.reconstruction.obj)
        if which == "B" and self.a is not None and self.a.reconstruction is not None:
            (row_a, col_a), (row_b, col_b) = centre_offsets(
                np.shape(self.a.reconstruction.obj), obj.shape)
            panel.set_origin(col_a - col_b, row_a - row_b)  # centres line up with A
        else:
            panel.set_origin(0, 0)
        panel.set_pixel_size(self.pixel_size)
        panel.set_data(obj, fit_levels=False)

    def _fit_levels(self) -> None:
        """A and B each fitted to their own values (a phase of 0..1 rad would otherwise fill
        a sliver of the full-turn colour wheel). Not one shared scale: a reconstruction's
        global phase and amplitude scale are arbitrary (0.4 rad and x0.8 between a run and
        its truth are common), so shared levels would wash one of the two out; the
        difference panel compares values after removing both."""
        for panel in (self.panel_a, self.panel_b):
            panel.fit_levels()

    def _show_difference(self) -> None:
        aligned = self._aligned
        if self.component_box.currentText() == "phase":
            diff = aligned.phase_difference
        else:
            diff = aligned.amplitude_difference
        self.difference = diff.astype(np.float32)
        self.panel_diff.set_data(self.difference)
        self.panel_diff.fit_levels()

    def _pixel_warning(self) -> str:
        pa = valid_pixel_size(self.a.object_pixel_size_m) if self.a else None
        pb = valid_pixel_size(self.b.object_pixel_size_m) if self.b else None
        if pa and pb and abs(pa[0] - pb[0]) > 0.01 * pa[0]:
            return (f". Warning: the pixel sizes differ ({pa[0]:.3g} m and {pb[0]:.3g} m); "
                    "the images are compared pixel by pixel")
        return ""

    def _report(self, text: str) -> None:
        self.summary.setText(text)
        self.compared.emit(text)

    # -- slots ----------------------------------------------------------------------------
    def _choose_file(self, which: str) -> str:
        path, _ = QFileDialog.getOpenFileName(self, f"Open result {which}", "", PRODUCT_FILTER)
        return path

    def _open(self, which: str) -> None:
        path = self.choose_file(which)
        if not path:
            return
        try:
            result = open_result(path)
        except EngineError as exc:
            self._report(str(exc))
            return
        if which == "A":
            self.set_a(result)
        else:
            self.set_b(result)

    def _on_open_a_button_clicked(self) -> None:
        self._open("A")

    def _on_open_b_button_clicked(self) -> None:
        self._open("B")

    def _on_swap_button_clicked(self) -> None:
        self.set_pair(self.b, self.a)

    def _on_component_box_changed(self, component: str) -> None:
        for panel in (self.panel_a, self.panel_b):
            panel.set_component(component)
        self._fit_levels()
        self.panel_diff.set_labels({"real": DIFFERENCE_LABELS[component]})
        if self.difference is not None:
            self._show_difference()

    def _on_option_toggled(self, _: bool) -> None:
        self.update_difference()
