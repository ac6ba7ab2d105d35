"""The probe's modes, power and propagation along the beam; the object's spectrum
(``ptycho_gui.model.optics``, numpy only, and the views that show them)."""

from __future__ import annotations

import numpy as np
import pytest

from ptycho_gui.model.optics import (
    angular_spectrum,
    frequency_unit,
    mode_power_fractions,
    object_spectrum,
)

WAVELENGTH = 1e-10  # 12.4 keV
PIXEL = (50e-9, 50e-9)


def gaussian(n: int = 128, waist_m: float = 0.3e-6) -> np.ndarray:
    coords = (np.arange(n) - n // 2) * PIXEL[0]
    r2 = coords[None, :] ** 2 + coords[:, None] ** 2
    return np.exp(-r2 / waist_m ** 2).astype(np.complex128)


def rms_radius(field: np.ndarray) -> float:
    intensity = np.abs(field) ** 2
    n = field.shape[-1]
    coords = (np.arange(n) - n // 2) * PIXEL[0]
    r2 = coords[None, :] ** 2 + coords[:, None] ** 2
    return float(np.sqrt((intensity * r2).sum() / intensity.sum()))


def test_a_gaussian_beam_widens_as_theory_says_and_propagates_back():
    waist = 0.3e-6
    rayleigh = np.pi * waist ** 2 / WAVELENGTH  # 2.8 mm
    beam = gaussian(waist_m=waist)
    far = angular_spectrum(beam, rayleigh, WAVELENGTH, PIXEL)
    # At one Rayleigh range the beam's radius grows by sqrt(2); the power stays.
    assert rms_radius(far) / rms_radius(beam) == pytest.approx(np.sqrt(2), rel=0.01)
    assert np.sum(np.abs(far) ** 2) == pytest.approx(np.sum(np.abs(beam) ** 2), rel=1e-9)
    back = angular_spectrum(far, -rayleigh, WAVELENGTH, PIXEL)
    assert np.allclose(back, beam, atol=1e-9)
    assert np.array_equal(angular_spectrum(beam, 0.0, WAVELENGTH, PIXEL), beam)
    with pytest.raises(ValueError, match="wavelength"):
        angular_spectrum(beam, 1e-3, 0.0, PIXEL)


def test_mode_power_fractions_sum_to_one():
    probe = np.ones((3, 4, 4), np.complex64)
    probe[1] *= 0.5
    probe[2] = 0
    assert mode_power_fractions(probe) == pytest.approx([0.8, 0.2, 0.0])
    assert mode_power_fractions(np.zeros((2, 4, 4))) == pytest.approx([0.0, 0.0])


def test_object_spectrum_puts_a_grating_at_its_frequency():
    rows, cols = 64, 128
    x = np.arange(cols)
    period_px = 8
    obj = np.exp(1j * 0.5 * np.cos(2 * np.pi * x / period_px))[None, :].repeat(rows, 0)
    obj = obj.astype(np.complex64)
    obj[:4] = np.nan  # never illuminated: filled, no false edge
    spectrum = object_spectrum(obj, (20e-9, 20e-9))
    peak_row, peak_col = np.unravel_index(np.argmax(spectrum.log_amplitude),
                                          spectrum.log_amplitude.shape)
    assert peak_row == rows // 2
    frequency = abs(peak_col - cols // 2) * spectrum.step[0]
    assert frequency == pytest.approx(1 / (period_px * 20e-9))  # 6.25 per µm
    assert spectrum.in_metres
    assert frequency_unit(frequency) == ("1/µm", 1e6)
    assert not object_spectrum(obj).in_metres


def test_probe_view_propagates_the_modes_and_keeps_their_power(qtbot):
    from ptycho_gui.views.probe_view import ProbeView

    view = ProbeView()
    qtbot.addWidget(view)
    view.resize(700, 500)  # the view's width at 150 % on a 1600 x 1000 screen
    view.show()
    view.set_pixel_size(PIXEL)
    probe = np.stack([gaussian(64), 0.5 * gaussian(64)]).astype(np.complex64)
    view.set_probe(probe)
    assert view.graphics.ci.getItem(0, 0).titleLabel.text == "mode 1 · 80.0 %"
    assert "power 80.0 / 20.0 %" in view.info.text()
    view.set_distance(1e-3)  # no wavelength yet: shown unpropagated, and why
    assert "not propagated: propagation needs the photon energy" in view.info.text()
    assert view.images[0][0].image.max() == pytest.approx(1.0, rel=1e-4)
    view.set_wavelength(WAVELENGTH)
    assert view.graphics.ci.getItem(0, 0).titleLabel.text == "mode 1 · 80.0 % · z 1 mm"
    assert "λ = 100 pm" in view.info.text()
    # 1 mm is a third of this beam's Rayleigh range: its peak drops, its power stays.
    peak = view.images[0][0].image.max()
    assert 0.8 < peak < 0.99
    assert np.sum(np.abs(view.shown[0]) ** 2) == pytest.approx(
        np.sum(np.abs(probe[0].astype(np.complex128)) ** 2), rel=1e-4)
    # The titles never push the phase column's colour bar label out of the view.
    qtbot.wait(20)
    label = view.colorbars[0][1].axis.label
    assert label.mapRectToScene(label.boundingRect()).right() <= view.graphics.width()


def test_fft_tab_shows_the_objects_spectrum_in_inverse_micrometres(window, qtbot):
    rows, cols = 64, 128
    x = np.arange(cols)
    obj = np.exp(1j * 0.5 * np.cos(2 * np.pi * x / 8))[None, :].repeat(rows, 0)
    window.show_result(obj.astype(np.complex64), "grating", pixel_size=(20e-9, 20e-9))
    view = window.fft_view
    assert view.spectrum is None  # behind another tab: not computed
    window.view_tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: view.spectrum is not None, timeout=2000)
    assert window.view_tabs.tabText(window.view_tabs.currentIndex()) == "FFT"
    assert view.plot.getAxis("bottom").labelText == "fx (1/µm)"
    assert view.plot.getAxis("left").isVisible()
    # The grating's two peaks sit at +-6.25 per µm on the frequency axis.
    image = view.image.image
    row, col = np.unravel_index(np.argmax(image), image.shape)
    rect = view.image.boundingRect()
    fx = view.image.mapToView(pg_point(col + 0.5, row + 0.5)).x()
    assert rect.width() == cols
    assert abs(fx) == pytest.approx(6.25, rel=1e-6)
    assert "period 160 nm" in view.frequency_at(6.25, 0.0)[2]
    assert "Nyquist 25 1/µm" in view.readout.text()
    # A new frame while the tab is shown: computed off the GUI thread, then drawn.
    window.show_frame(np.ones((256, 256), np.complex64), "live: epoch 1, step 3", None)
    assert view.busy
    qtbot.waitUntil(lambda: not view.busy and view.spectrum.log_amplitude.shape == (256, 256),
                    timeout=5000)
    assert view.caption.text() == "spectrum of live: epoch 1, step 3"
    window.clear_result()
    assert view.caption.text().startswith("No reconstruction yet")
    assert not view.plot.getAxis("left").isVisible()


def pg_point(x: float, y: float):
    from PySide6.QtCore import QPointF

    return QPointF(x, y)


def test_export_as_cxi_writes_object_probe_modes_and_positions(window, tmp_path):
    """File > Export with a .cxi name: the registry's CXI writer, read back by the engine."""
    import h5py

    from engine.io import Geometry, write_product
    from engine.io.formats.base import Source
    from engine.io.formats.cxi import read_object
    from ptycho_gui.model.products import read_reconstruction

    obj = np.full((40, 48), 0.9 * np.exp(0.3j), np.complex64)
    obj[:3] = np.nan  # never illuminated
    probe = np.stack([gaussian(16), 0.3 * gaussian(16)]).astype(np.complex64)
    product = write_product(tmp_path / "recon.h5", obj=obj, probe=probe,
                            positions_px=np.array([[20.0, 20.0], [26.0, 22.0]]),
                            object_pixel_size_m=(40e-9, 40e-9),
                            geometry=Geometry(photon_energy_ev=8000.0,
                                              detector_distance_m=2.0,
                                              detector_pixel_size_m=75e-6))
    window.controller.previews.use_reconstruction(read_reconstruction(product))
    assert window.action_export.isEnabled()
    window.controller.dialogs.choose_export_path = lambda parent, start: str(tmp_path / "r.cxi")
    window.action_export.trigger()
    target = tmp_path / "r.cxi"
    assert target.is_file()
    back, mask = read_object(Source(target))
    assert np.allclose(back[mask], obj[np.isfinite(obj)])
    assert not mask[:3].any() and mask[3:].all()
    with h5py.File(target, "r") as h5:
        assert h5["entry_1/image_1/data"].shape == (1, 2, 16, 16)  # two incoherent modes
        assert h5["entry_1/sample_1/geometry_1/translation"].shape == (2, 3)
        assert h5["entry_1/instrument_1/source_1/energy"][()] > 0
    assert any("Exported" in line and "r.cxi" in line for line in window.log_pane.lines())
