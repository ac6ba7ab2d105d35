"""The desktop app as the beamline hub (issue 20): views that never show an earlier image's
numbers or colours, the FRC of a fresh run, a layout that fits the screen."""

from __future__ import annotations

import numpy as np
import pytest

from ptycho_gui.model.products import Reconstruction, RunOutput
from ptycho_gui.worker import Job

RUN_TIMEOUT_MS = 20_000


def _object(value: float, shape=(40, 48)) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (value * (1.0 + 0.1 * np.sin(xx / 4.0))).astype(np.complex64) * np.exp(
        1j * 0.2 * np.cos(yy / 5.0)).astype(np.complex64)


def _finish(window, qtbot, output: RunOutput, before=None) -> None:
    """Run a job that returns ``output`` (after ``before(reporter)``) through the window."""

    def run(reporter, stop):
        if before is not None:
            before(reporter)
        return output

    c = window.controller
    with qtbot.waitSignal(c.runs.runner.finished, timeout=RUN_TIMEOUT_MS):
        assert c.runs.runner.start(Job(output.kind, run, {}))


def test_profile_follows_an_image_opened_while_its_tab_is_hidden(window, qtbot):
    view = window.reconstruction_view
    view.set_object(_object(1.0), fit_levels=True)
    view.left.profile_button.setChecked(True)
    assert view.left.profile.values.size and np.nanmax(view.left.profile.values) < 1.2
    window.view_tabs.setCurrentWidget(window.compare_view)  # e.g. comparing, then Open
    view.set_object(_object(5.0), fit_levels=True)
    window.view_tabs.setCurrentWidget(view)
    # Both the curve and its read-out are the new image's, not the earlier run's.
    assert np.nanmin(view.left.profile.values) > 4.0
    assert f"max {np.nanmax(view.left.profile.values):.4g}" in view.left.profile.info.text()


def test_frc_tab_shows_a_fresh_runs_curves_at_once(window, qtbot):
    from engine.metrics import evaluate

    truth = _object(1.0)
    quality = evaluate(truth * np.exp(0.05j), truth, register=False)
    output = RunOutput("train", "completed", reconstruction=Reconstruction(obj=truth),
                       quality=quality, ground_truth="truth.h5")
    _finish(window, qtbot, output)
    frc = window.frc_view
    assert "needs a ground truth" not in frc.info.text()
    assert set(frc.resolutions_px) == {"amplitude", "phase"}
    # The next run without ground truth does not keep showing the old curves.
    _finish(window, qtbot, RunOutput("train", "completed",
                                     reconstruction=Reconstruction(obj=truth)))
    assert "needs a ground truth" in frc.info.text() and not frc.resolutions_px


def test_a_new_runs_live_view_gets_its_own_colour_range(window, qtbot):
    from engine.reporting import PreviewFrame

    view = window.reconstruction_view
    view.set_object(_object(50.0), fit_levels=True)  # e.g. a truth file opened before
    low, high = view.left.levels()
    assert low > 40
    frames = []

    def stream(reporter):
        reporter.preview(PreviewFrame(obj=_object(1.0), epoch=0, step=1))

    view.set_object = lambda obj, caption="", fit_levels=False, f=view.set_object: (
        frames.append(caption), f(obj, caption, fit_levels))
    _finish(window, qtbot, RunOutput("train", "cancelled"), before=stream)
    del view.set_object
    assert frames and frames[0].startswith("live")
    low, high = view.left.levels()
    assert 0.5 < low and high < 1.5  # the live frame's range, not the truth file's


def _settle(qtbot, window):
    qtbot.wait(50)
    window.repaint()


@pytest.mark.parametrize("size", [(1280, 800), (1600, 1000)])
def test_profile_never_widens_the_window_and_images_keep_their_height(window, qtbot, size):
    window.resize(*size)
    view = window.reconstruction_view
    obj = _object(1.0, shape=(300, 500))
    obj[:, :3] = np.nan
    view.set_object(obj, caption="run-007 (completed): /a/long/path/" + "x" * 120,
                    fit_levels=True)
    window.runs_dock.raise_()
    for panel in (view.left, view.right):
        panel.profile_button.setChecked(True)
    _settle(qtbot, window)
    assert len(view.left.profile.info.text()) > 60  # a long read-out...
    assert (window.width(), window.height()) == size  # ...that leaves the window as it was
    assert window.minimumSizeHint().width() <= size[0]
    assert view.left.graphics.height() >= 0.3 * size[1]  # images stay the main thing


def test_window_fits_a_1600_x_1000_screen_at_150_percent(window):
    # Qt sizes are device-independent: at QT_SCALE_FACTOR=1.5 a 1600 x 1000 screen is
    # 1066 x 666 of them, less the title bar and the panel of the desktop.
    hint = window.minimumSizeHint()
    assert hint.width() <= 1600 / 1.5 - 20 and hint.height() <= 1000 / 1.5 - 60


def test_every_settings_section_is_one_click_away_at_1280(window, qtbot):
    window.resize(1280, 800)
    _settle(qtbot, window)
    bar = window.form.section_bar
    names = [b.text() for b in bar.buttons]
    assert "Execution" in names and len(names) == window.form.tabs.count()
    for button in bar.buttons:  # all on screen, none behind a scroll arrow
        assert button.isVisible() and bar.rect().contains(button.geometry())
        assert button.width() >= button.sizeHint().width() - 2  # the text is not cut
    execution = bar.buttons[names.index("Execution")]
    execution.click()
    assert window.form.tabs.tabText(window.form.tabs.currentIndex()) == "Execution"
    window.form.focus_field("data.path")
    assert bar.buttons[names.index("Data")].isChecked()


def test_compare_images_keep_their_height_at_1280_with_the_runs_panel(window, qtbot):
    window.resize(1280, 800)
    window.runs_dock.raise_()
    window.view_tabs.setCurrentWidget(window.compare_view)
    _settle(qtbot, window)
    assert window.compare_view.panel_a.graphics.height() >= 220


def test_colour_wheel_sits_beside_the_image_not_over_it(qtbot):
    from ptycho_gui.model.imaging import HSV
    from ptycho_gui.views.image_panel import ImagePanel

    panel = ImagePanel(component="amplitude")
    qtbot.addWidget(panel)
    panel.resize(600, 500)
    panel.show()
    panel.set_data(_object(1.0))
    qtbot.wait(20)
    view_box = panel.plot.getViewBox()
    before = view_box.sceneBoundingRect()
    panel.set_component(HSV)
    qtbot.wait(20)
    assert panel.wheel.isVisible() and not panel.colorbar.isVisible()
    after = view_box.sceneBoundingRect()
    assert after.width() == pytest.approx(before.width(), abs=1)  # the image does not move
    wheel = panel.wheel.sceneBoundingRect()
    assert wheel.left() >= after.right() - 8  # beside the image (at most its margin over it)


def test_empty_views_show_no_axes(window):
    view = window.reconstruction_view
    assert not view.left.axes_shown and not view.left.colorbar.isVisible()
    view.set_object(_object(1.0))
    assert view.left.axes_shown and view.left.colorbar.isVisible()
    assert "x0.001" not in view.left.plot.getAxis("bottom").labelString()
    window.clear_result()
    assert not view.left.axes_shown and not view.right.axes_shown
    patterns = window.pattern_browser  # the pattern browser without data, too
    assert not patterns.plot.getAxis("bottom").isVisible() and not patterns.colorbar.isVisible()
    patterns.set_patterns(np.ones((3, 16, 16), np.float32), "three")
    assert patterns.plot.getAxis("bottom").isVisible() and patterns.colorbar.isVisible()
    patterns.clear()
    assert not patterns.colorbar.isVisible()


def test_a_stopped_runs_partial_epoch_is_drawn_apart_and_not_the_minimum(window, qtbot):
    import threading

    c = window.controller
    stopped = threading.Event()

    def run(reporter, stop):
        reporter.metrics(0, {"train_loss": -5.0, "val_loss": -4.0})
        reporter.metrics(1, {"train_loss": -6.0, "val_loss": -5.0})
        stopped.set()
        while not stop.is_set():
            stop.wait(0.01)
        reporter.metrics(2, {"train_loss": -9.0})  # the epoch the Stop cut short
        return RunOutput("train", "cancelled")

    with qtbot.waitSignal(c.runs.runner.finished, timeout=RUN_TIMEOUT_MS):
        c.runs.runner.start(Job("train", run, {}))
        qtbot.waitUntil(stopped.is_set, timeout=5000)
        qtbot.wait(50)  # the two full epochs reach the view before the Stop
        c.runs.stop()
    loss = window.loss_view
    assert loss.history["train_loss"] == ([1.0, 2.0], [-5.0, -6.0])  # full epochs only
    assert loss.partial == {"train_loss": (3.0, -9.0)}
    assert loss.offset == -6.0  # the minimum of full epochs
    assert "cut short by Stop" in window.log_pane.toPlainText()


def test_closing_during_a_run_asks_about_the_job_before_saving(window, qtbot):
    import threading

    c = window.controller
    c.session.set_field("training.max_epochs", 7)  # unsaved changes
    asked = []
    c.dialogs.ask_stop_run = lambda parent, kind: asked.append("stop") or False
    c.dialogs.ask_save_changes = lambda parent, name: asked.append("save") or "discard"
    started = threading.Event()

    def run(reporter, stop):
        started.set()
        while not stop.is_set():
            stop.wait(0.01)
        return RunOutput("train", "cancelled")

    c.runs.runner.start(Job("train", run, {}))
    qtbot.waitUntil(started.is_set, timeout=5000)
    assert not window.close()
    assert asked == ["stop"]  # refused: no question about saving at all
    c.dialogs.ask_stop_run = lambda parent, kind: asked.append("stop") or True
    with qtbot.waitSignal(c.runs.runner.finished, timeout=RUN_TIMEOUT_MS):
        window.close()
    assert asked == ["stop", "stop", "save"]
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)


def test_export_float32_tiffs_with_the_pixel_size(window, tmp_path):
    tifffile = pytest.importorskip("tifffile")
    obj = _object(2.0)
    obj[:3] = np.nan
    recon = Reconstruction(obj=obj, object_pixel_size_m=(25e-9, 25e-9))
    c = window.controller
    c.previews.show_result(RunOutput("train", "completed", reconstruction=recon))
    written = c.previews.export(tmp_path / "scan12.tif")
    assert [p.name for p in written] == ["scan12-amplitude.tif", "scan12-phase.tif"]
    with tifffile.TiffFile(written[0]) as tif:
        amplitude = tif.asarray()
        assert tif.imagej_metadata["unit"] == "um"
        x_res = tif.pages[0].tags["XResolution"].value  # pixels per µm
    assert amplitude.dtype == np.float32 and amplitude.shape == obj.shape
    assert np.isnan(amplitude[0, 0]) and amplitude[10, 10] == pytest.approx(abs(obj[10, 10]))
    assert x_res[0] / x_res[1] == pytest.approx(40.0, rel=1e-3)  # 25 nm pixels
    phase = tifffile.imread(written[1])
    assert phase[10, 10] == pytest.approx(np.angle(obj[10, 10]), abs=1e-6)


def test_copy_view_puts_the_shown_view_on_the_clipboard(window, qtbot):
    from PySide6.QtWidgets import QApplication

    window.reconstruction_view.set_object(_object(1.0))
    window.action_copy_view.trigger()
    image = QApplication.clipboard().image()
    view = window.reconstruction_view
    assert (image.width(), image.height()) == (view.width(), view.height())
    assert "Copied the Reconstruction view" in window.state_label.text()


def test_unwrapped_phase_view_removes_the_2_pi_jumps(qtbot):
    from ptycho_gui.model.imaging import UNWRAPPED
    from ptycho_gui.views.image_panel import ImagePanel

    yy, xx = np.mgrid[:48, :64]
    ramp = 0.4 * xx  # 25 rad across: four turns on the wrapped phase
    obj = np.exp(1j * ramp).astype(np.complex64)
    obj[:4] = np.nan
    panel = ImagePanel(component="phase")
    qtbot.addWidget(panel)
    panel.set_data(obj)
    assert np.nanmax(panel.shown_image()) - np.nanmin(panel.shown_image()) < 2 * np.pi
    panel.set_component(UNWRAPPED)
    shown = panel.shown_image()
    assert np.isnan(shown[0, 0])
    assert np.allclose(np.diff(shown[10]), 0.4, atol=1e-3)  # one smooth ramp
    assert panel.colorbar.axis.labelText.startswith("unwrapped phase")
    assert panel.display().cmap != "CET-C1"  # not the cyclic wheel: values pass 2 pi
    # Live frames are unwrapped at most 10 % of the time; a final result always is.
    frames = panel.frames
    panel._unwrap_again_at = float("inf")
    panel.set_data(obj * np.exp(0.1j))
    assert panel.frames == frames
    panel.set_data(obj * np.exp(0.2j), fit_levels=True)
    assert panel.frames == frames + 1


def test_status_bar_progress_text_fits_and_never_relayouts_the_window(window, qtbot):
    window.resize(1280, 800)
    text = "train · epoch 12/50 · 123/456 batch"
    window.show_progress(500, 1000, text, "elapsed 1:02:03 · ETA ≥ 0:45:10")
    bar, times = window.progress_bar, window.time_label
    assert bar.fontMetrics().horizontalAdvance(text) <= bar.width() - 12  # not clipped
    assert times.fontMetrics().horizontalAdvance(times.text()) <= times.width()
    # Fixed sizes: ten progress reports a second never relayout (repaint) the whole window.
    for widget in (bar, times, window.device_label):
        assert widget.minimumSize() == widget.maximumSize()
    hint = window.minimumSizeHint()
    window.show_state("x" * 400)
    window.reconstruction_view.caption.setText("live: " + "y" * 400)
    assert window.minimumSizeHint() == hint and window.width() == 1280


def test_solver_sections_are_titled_as_their_algorithms(window):
    """The options sections of the solvers read LSQML and rPIE (not 'Lsqml', 'Rpie'), and a
    field of such a section still brings its tab forward."""
    titles = [window.form.tabs.tabText(i) for i in range(window.form.tabs.count())]
    assert "LSQML" in titles and "rPIE" in titles and "Lsqml" not in titles
    window.form.focus_field("rpie.alpha")
    assert window.form.tabs.tabText(window.form.tabs.currentIndex()) == "rPIE"
