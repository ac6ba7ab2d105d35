"""Physical units on the image views: axes in metres, scale bar, colour bar labels, colour
wheel, line profile."""

from __future__ import annotations

import numpy as np
import pytest

from engine.render import format_length, nice_length, scale_bar
from ptycho_gui.model.imaging import HSV
from ptycho_gui.model.units import line_profile
from ptycho_gui.views.image_panel import ImagePanel
from ptycho_gui.views.physical import colour_wheel_rgba


def test_lengths_scale_bars_and_profiles_in_metres():
    assert format_length(5e-7) == "500 nm"
    assert format_length(1.5e-6) == "1.5 µm"
    assert format_length(2e-3) == "2 mm"
    assert [nice_length(x) for x in (0.9, 1.0, 3.7, 7.0, 0.031)] == pytest.approx(
        [0.5, 1.0, 2.0, 5.0, 0.02])
    length_px, text = scale_bar(200, 10e-9)  # 200 px of 10 nm: about 400 nm -> 200 nm bar
    assert (length_px, text) == (pytest.approx(20.0), "200 nm")
    assert scale_bar(37, None) == (5.0, "5 px")
    ramp = np.tile(np.arange(10, dtype=float), (4, 1))  # value = column
    distance, values = line_profile(ramp, (1, 1), (7, 1), pixel_size=(10e-9, 20e-9))
    assert values == pytest.approx(np.arange(1, 8))
    assert distance[-1] == pytest.approx(60e-9)
    _, vertical = line_profile(ramp, (2, 0), (2, 3), pixel_size=(10e-9, 20e-9))
    assert vertical == pytest.approx([2, 2, 2, 2])
    _, outside = line_profile(ramp, (8, 1), (12, 1))
    assert np.isnan(outside[-1]) and outside[0] == pytest.approx(8)


def test_colour_wheel_hue_is_phase_and_outside_transparent():
    wheel = colour_wheel_rgba(65)
    assert wheel[0, 0, 3] == 0 and wheel[32, 32, 3] == 255
    right, top = wheel[32, 63, :3], wheel[1, 32, :3]
    # phase 0 (right) is cyan in the HSV view (hue 0.5), +pi/2 (top) blue-violet (hue 0.75)
    assert right[0] < 30 and right[1] > 200 and right[2] > 200
    assert np.argmax(top) == 2


def test_panel_axes_scale_bar_and_colour_bar_in_physical_units(qtbot):
    panel = ImagePanel(component="phase")
    qtbot.addWidget(panel)
    panel.resize(500, 400)
    panel.show()
    z = np.exp(1j * np.linspace(-3, 3, 100 * 120)).reshape(100, 120)
    panel.set_data(z)
    axis = panel.plot.getAxis("bottom")
    assert axis.labelText == "x (px)" and panel.scale_bar.label.endswith("px")
    assert panel.colorbar.axis.labelText == "phase (rad)"
    panel.set_pixel_size((8e-9, 8e-9))
    qtbot.wait(20)
    assert axis.labelText == "x" and axis.labelUnits == "m" and axis.scale == 8e-9
    assert axis.labelUnitPrefix in ("n", "µ")  # 960 nm across: nm or µm ticks
    assert panel.scale_bar.label.endswith("nm")
    bar_px = panel.scale_bar.size
    assert 0.1 * 120 <= bar_px <= 0.3 * 120  # about a fifth of the width shown
    panel.plot.setRange(xRange=(0, 12), padding=0)  # zoom in 10x: a shorter bar
    assert panel.scale_bar.size < bar_px
    assert "nm" in panel.position_text(3, 4)
    panel.set_component("amplitude")
    assert panel.colorbar.axis.labelText == "amplitude"
    panel.set_component(HSV)
    assert panel.wheel.isVisible() and not panel.colorbar.isVisible()
    panel.set_pixel_size(None)
    assert axis.labelText == "x (px)" and axis.scale == 1.0


def test_line_profile_follows_the_line_in_metres(qtbot):
    panel = ImagePanel(component="amplitude")
    qtbot.addWidget(panel)
    panel.resize(500, 500)
    panel.show()
    ramp = np.tile(np.arange(50, dtype=np.float32), (40, 1)) + 0j  # amplitude = column
    panel.set_data(ramp)
    panel.set_pixel_size((1e-7, 1e-7))
    panel.profile_button.click()
    assert panel.profile.isVisible() and panel.profile.roi is not None
    # view coordinates: pixel c covers [c, c + 1); its centre is c + 0.5
    panel.profile.show_line((10.5, 20.5), (30.5, 20.5))
    assert panel.profile.values == pytest.approx(np.arange(10, 31))
    assert panel.profile.distance[-1] == pytest.approx(2e-6)
    assert "2 µm" in panel.profile.info.text()
    assert panel.profile.plot.getAxis("bottom").labelUnits == "m"
    panel.set_data(2 * ramp)  # a new frame updates the profile
    assert panel.profile.values[0] == pytest.approx(20)
    panel.set_component(HSV)  # the complex view profiles the amplitude
    assert panel.profile.values[-1] == pytest.approx(60)
    panel.profile_button.click()
    assert panel.profile.roi is None and not panel.profile.isVisible()


def test_probe_and_positions_in_metres_with_colour_bars(qtbot):
    from ptycho_gui.views.positions import PositionsView
    from ptycho_gui.views.probe_view import ProbeView

    probe_view = ProbeView()
    qtbot.addWidget(probe_view)
    probe = np.ones((2, 16, 16), dtype=np.complex64)
    probe[1] *= 0.5j
    probe_view.set_probe(probe)
    probe_view.set_pixel_size((20e-9, 20e-9))
    amp_bar, phase_bar = probe_view.colorbars[1]
    assert amp_bar.axis.labelText == "amplitude" and phase_bar.axis.labelText == "phase (rad)"
    assert amp_bar.levels() == pytest.approx((0.0, 0.5))
    assert probe_view.graphics.getItem(0, 1).getAxis("bottom").labelUnits == "m"
    assert "320 nm x 320 nm" in probe_view.info.text()
    assert len(probe_view.scale_bars) == 2
    probe_view.set_probe(probe * 2)  # same layout: units stay
    assert probe_view.graphics.getItem(1, 0).getAxis("left").scale == 20e-9

    view = PositionsView()
    qtbot.addWidget(view)
    view.set_positions(np.array([[10.0, 20.0], [30.0, 25.0]]), (64, 80))
    view.set_pixel_size((1e-8, 1e-8))
    assert "200 nm x 50 nm" in view.info.text() and "800 nm x 640 nm" in view.info.text()
    assert view.plot.getAxis("bottom").labelUnits == "m"
    assert view.scale_bar.label.endswith("nm")


def test_reconstruction_view_units_from_a_square_pixel_side(qtbot):
    from ptycho_gui.model.units import valid_pixel_size
    from ptycho_gui.views.reconstruction import ReconstructionView

    assert valid_pixel_size(5e-9) == (5e-9, 5e-9)
    assert valid_pixel_size((0.0, 1e-9)) is None and valid_pixel_size(None) is None
    assert valid_pixel_size(float("nan")) is None
    view = ReconstructionView()
    qtbot.addWidget(view)
    view.set_object(np.ones((20, 30), np.complex64))
    view.set_pixel_size(5e-9)
    for panel in (view.left, view.right):
        assert panel.pixel_size == (5e-9, 5e-9)
        assert panel.plot.getAxis("left").labelUnits == "m"


def test_linked_panels_fit_the_image_and_keep_a_users_zoom_across_resizes(qtbot):
    from PySide6.QtWidgets import QLabel, QTabWidget

    from ptycho_gui.views.reconstruction import ReconstructionView

    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    view = ReconstructionView()
    tabs.addTab(QLabel("another view"), "first")
    tabs.addTab(view, "Reconstruction")
    tabs.resize(1200, 500)
    tabs.show()
    view.set_object(np.ones((100, 120), np.complex64))  # filled in a hidden tab
    tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: abs(np.mean(view.left.plot.viewRange()[0]) - 60) < 1)
    for panel in (view.left, view.right):
        (x0, x1), (y0, y1) = panel.plot.viewRange()
        assert x0 <= 0 and x1 >= 120 and y0 <= 0 and y1 >= 100  # the whole image
        assert x1 - x0 < 3 * 120  # and not lost in a huge range
    view.left.plot.getViewBox().sigRangeChangedManually.emit([True, True])  # the user zooms
    view.left.plot.setRange(xRange=(10, 20), padding=0)
    tabs.resize(1000, 450)
    qtbot.wait(50)
    x0, x1 = view.left.plot.viewRange()[0]
    assert (x0 + x1) / 2 == pytest.approx(15, abs=0.5) and x1 - x0 < 15  # the zoom is kept
