"""Views: complex components, in-place image updates, pattern browser, probe, positions,
PNG export."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.render import FIGURE_MARGIN, figure_zoom
from ptycho_gui.export import export_png
from ptycho_gui.model.imaging import COMPONENTS, HSV, component_image, hsv_image
from ptycho_gui.views.image_panel import ImagePanel
from ptycho_gui.views.loss_view import LossView
from ptycho_gui.views.patterns import PatternBrowser
from ptycho_gui.views.positions import PositionsView
from ptycho_gui.views.probe_view import ProbeView


def test_components_of_a_complex_image():
    z = np.array([[2 * np.exp(0.5j), -1j], [1e-3, np.nan]], dtype=np.complex64)
    assert component_image(z, "amplitude")[0, 0] == pytest.approx(2)
    assert component_image(z, "phase")[0, 0] == pytest.approx(0.5)
    assert component_image(z, "real")[0, 1] == pytest.approx(0)
    assert component_image(z, "imaginary")[0, 1] == pytest.approx(-1)
    assert component_image(z, "log amplitude")[1, 0] == pytest.approx(-3, abs=1e-5)
    assert np.isnan(component_image(z, "amplitude")[1, 1])
    rgb = hsv_image(z)
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[1, 1]) == (0, 0, 0)  # never illuminated: black
    assert rgb[0, 0].max() == 255  # the brightest pixel is at full value
    with pytest.raises(ValueError):
        component_image(z, "bogus")


def test_hsv_hue_follows_phase():
    phases = np.array([[-np.pi + 1e-6, -np.pi / 3, np.pi / 3]])
    rgb = hsv_image(np.exp(1j * phases))
    # hue 0 (phase -pi) is red, hue 1/3 (-pi/3) green, hue 2/3 (+pi/3) blue
    assert np.argmax(rgb[0, 0]) == 0 and np.argmax(rgb[0, 1]) == 1 and np.argmax(rgb[0, 2]) == 2


def test_new_frames_keep_zoom_and_levels(qtbot):
    panel = ImagePanel(component="amplitude")
    qtbot.addWidget(panel)
    panel.resize(400, 300)
    panel.show()
    rng = np.random.default_rng(0)
    panel.set_data(rng.random((50, 60)) + 0j)
    panel.colorbar.setLevels((0.2, 0.4))
    panel.plot.setRange(xRange=(10, 20), yRange=(5, 15), padding=0)
    zoom = panel.plot.viewRange()
    panel.set_data(5 * rng.random((50, 60)) + 0j)
    assert panel.levels() == pytest.approx((0.2, 0.4))
    assert np.allclose(panel.plot.viewRange(), zoom)
    assert panel.frames == 2
    panel.fit_button.click()
    low, high = panel.levels()
    assert high > 1.0  # fitted to the new, brighter frame


def test_component_choice_changes_image_and_levels(qtbot):
    panel = ImagePanel(component="amplitude")
    qtbot.addWidget(panel)
    z = 3 * np.exp(1j * np.linspace(-3, 3, 64)).reshape(8, 8)
    panel.set_data(z)
    assert panel.shown_image()[0, 0] == pytest.approx(3)
    panel.set_component("phase")
    assert panel.shown_image()[0, 0] == pytest.approx(-3)
    assert panel.levels() == pytest.approx((-np.pi, np.pi))  # the whole colour wheel
    panel.set_data(np.exp(0.1j * np.angle(z)))  # a weak phase object
    assert panel.colorbar.colorMap().name == "CET-C1"  # cyclic for the whole turn
    panel.fit_levels()
    low, high = panel.levels()
    assert -0.5 < low < high < 0.5  # fitted for contrast...
    assert panel.colorbar.colorMap().name != "CET-C1"  # ...with a linear map: no false wrap
    assert "fitted" in panel.title.text()
    panel.set_component("amplitude")
    panel.set_component("phase")
    assert panel.colorbar.colorMap().name == "CET-C1" and "fitted" not in panel.title.text()
    panel.set_component(HSV)
    assert panel.shown_image().shape == (8, 8, 3)
    assert not panel.colorbar.isVisible()
    assert set(COMPONENTS) == {panel.component_box.itemText(i)
                               for i in range(panel.component_box.count())}


def test_pattern_browser_index_log_scale_and_readout(qtbot):
    browser = PatternBrowser()
    qtbot.addWidget(browser)
    patterns = np.zeros((5, 16, 16), dtype=np.float32)
    for i in range(5):
        patterns[i, 8, 8] = 10.0 ** (i + 1)
    browser.set_patterns(patterns, "5 patterns")
    assert browser.slider.maximum() == 4
    browser.slider.setValue(3)
    assert browser.index == 3
    assert browser.counts[8, 8] == 1e4
    assert "10000 counts" in browser.readout_at(8, 8)
    assert "pattern 3, (x=8, y=8)" in browser.readout_at(8, 8)
    assert browser.image.image[8, 8] == pytest.approx(np.log10(1 + 1e4))
    browser.log_box.setChecked(False)
    assert browser.image.image[8, 8] == pytest.approx(1e4)
    assert browser.readout_at(99, 0) == ""


def test_probe_view_shows_each_mode(qtbot):
    view = ProbeView()
    qtbot.addWidget(view)
    probe = np.ones((2, 8, 8), dtype=np.complex64)
    probe[1] *= 0.5j
    view.set_probe(probe)
    assert len(view.images) == 2
    assert "80.0 %" in view.graphics.ci.getItem(0, 0).titleLabel.text
    amp, phase = view.images[1]
    assert amp.image[0, 0] == pytest.approx(0.5)
    assert phase.image[0, 0] == pytest.approx(np.pi / 2)


def test_positions_sit_on_pixel_centres(qtbot):
    view = PositionsView()
    qtbot.addWidget(view)
    positions = np.array([[10.0, 20.0], [31.5, 12.25]])
    view.set_positions(positions, (64, 80), background=np.ones((64, 80), np.complex64))
    xs, ys = view.scatter.getData()
    assert list(xs) == [10.5, 32.0] and list(ys) == [20.5, 12.75]
    assert "2 positions" in view.info.text() and "80 x 64" in view.info.text()


def test_loss_view_switches_to_linear_for_negative_losses(qtbot):
    view = LossView()
    qtbot.addWidget(view)
    view.add_metrics(0, {"train_loss": 2.0, "lr": 1e-3})
    assert view.log_y and "lr" not in view.history
    view.add_metrics(1, {"train_loss": -0.5})
    assert not view.log_y


def test_negative_poisson_losses_are_drawn_above_their_minimum(qtbot):
    view = LossView()
    qtbot.addWidget(view)
    for epoch, (train, val) in enumerate(((-7.9, -7.5), (-8.6, -8.3), (-8.8, -8.4))):
        view.add_metrics(epoch, {"train_loss": train, "val_loss": val})
    assert view.history["train_loss"][1] == [-7.9, -8.6, -8.8]  # the values themselves kept
    drawn = view.drawn("train_loss") + view.drawn("val_loss")
    assert min(drawn) == 0.0 and all(v >= 0 for v in drawn)  # nothing negative on screen
    assert view.drawn("train_loss")[0] == pytest.approx(0.9)
    label = view.plot.getAxis("left").labelText
    assert "above its minimum" in label and "-8.8" in label
    _, ys = view._curves["val_loss"].getData()
    assert list(ys) == pytest.approx([1.3, 0.5, 0.4])


def test_png_export_writes_amplitude_and_phase(tmp_path):
    obj = np.exp(1j * np.linspace(-3, 3, 12 * 10)).reshape(12, 10).astype(np.complex64)
    obj[0, 0] = np.nan
    written = export_png(obj, tmp_path / "recon.png")
    assert [p.name for p in written] == ["recon-amplitude.png", "recon-phase.png"]
    phase = np.asarray(Image.open(written[1]))
    zoom = figure_zoom(obj.shape)  # a figure: the picture enlarged, a colour bar beside it
    assert phase.shape[0] == 12 * zoom + 2 * FIGURE_MARGIN
    assert phase.shape[1] > 10 * zoom + 2 * FIGURE_MARGIN
    assert tuple(phase[FIGURE_MARGIN, FIGURE_MARGIN]) == (0, 0, 0)  # NaN shown black
    assert len({tuple(px) for px in phase.reshape(-1, 3)}) > 20  # a real colour ramp


def test_final_result_gets_its_own_levels_but_keeps_the_zoom(qtbot):
    panel = ImagePanel(component="amplitude")
    qtbot.addWidget(panel)
    panel.resize(400, 300)
    panel.show()
    panel.set_data(np.full((30, 30), 1.0 + 0j) + np.linspace(0, 0.01, 900).reshape(30, 30))
    panel.plot.setRange(xRange=(3, 9), yRange=(3, 9), padding=0)
    zoom = panel.plot.viewRange()
    panel.set_data(np.linspace(0, 5, 900).reshape(30, 30) + 0j, fit_levels=True)
    low, high = panel.levels()
    assert low < 0.5 and high > 4.5
    assert np.allclose(panel.plot.viewRange(), zoom)
